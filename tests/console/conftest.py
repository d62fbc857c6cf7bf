"""The staff console in a real browser: Debian's Chromium driven by Playwright, against the
service on a live loopback server (the test app, on the session's database).

`console(token)` opens /console signed in as `token` (a bearer header from conftest, or a
raw token); `shot(page, name)` saves a screenshot, into docs/console when CONSOLE_SCREENSHOTS
names that folder (`make screenshots`), else into the test's tmp folder.
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.servers import ROOT, debian_program

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.browser
# As the machine's probe runs it: no sandbox as root, and nothing reaching for the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium():
    path = debian_program("chromium", "chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class LiveServer:
    """The app on a free loopback port, one thread per request, until stop()."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


@pytest.fixture
def live(app):
    server = LiveServer(app)
    yield server
    server.stop()


@pytest.fixture
def console(chromium, live):
    """console(token, path="#/orders", viewport=DESKTOP) -> a page signed in, its first
    answer drawn.

    Every console page's errors are collected in page.errors (uncaught script errors and
    console.error lines, the CSP's refusals included); a test reads them.
    """
    contexts = []

    def open_console(token, path="#/orders", viewport=DESKTOP):
        if isinstance(token, dict):  # a header from conftest's bearer()
            token = token["Authorization"].removeprefix("Bearer ")
        context = chromium.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: message.type == "error" and page.errors.append(message.text),
        )
        page.set_default_timeout(10_000)
        page.goto(f"{live.url}/console#token={token}")
        page.wait_for_selector("#nav:not([hidden])")
        # The page's first answer is drawn (app.js clears aria-busy then): what a test
        # clicks next is what stays on screen.
        page.wait_for_selector("main:not([aria-busy])")
        if path != "#/orders":
            visit(page, path)
        return page

    yield open_console
    for context in contexts:
        context.close()


def visit(page, path):
    """Go to the console's `path` (#/…) as a pasted link does, and wait until that page's
    first answer is drawn (busy until its own render says so, not the page's before it)."""
    page.evaluate("() => document.querySelector('main').setAttribute('aria-busy', '')")
    page.goto(page.url.split("#", 1)[0] + path)
    page.wait_for_selector("main:not([aria-busy])")


@pytest.fixture
def shot(tmp_path):
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    target = (ROOT / folder) if folder else tmp_path

    def take(page, name):
        target.mkdir(parents=True, exist_ok=True)
        path = Path(target) / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        assert path.stat().st_size > 0
        return path

    return take
