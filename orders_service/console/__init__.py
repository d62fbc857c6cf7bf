"""The staff console: one page and its modules, served by the service itself.

Nothing comes from another origin, so the page works offline and behind a firewall, and the
policy below lets the browser run the console's own files and nothing else: no inline script,
no injected one. The page signs in with a staff bearer token and calls only the JSON API.
Third-party browser code comes from npm, pinned by package-lock.json beside this file and
installed by `make run` / `make test` (npm ci); VENDOR names the files the page may load.
"""

from pathlib import Path

from flask import Blueprint, redirect, send_file, send_from_directory

from ..errors import NotFound

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VENDOR = {"sortable.esm.js": HERE / "node_modules" / "sortablejs" / "modular" / "sortable.esm.js"}
POLICY = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated each time (an ETag answers 304), so a deploy is never half old, half new.
    "Cache-Control": "no-cache",
}

blp = Blueprint("console", __name__, url_prefix="/console")


@blp.get("")
def page():
    return send_from_directory(STATIC, "index.html")


@blp.get("/")
def page_with_slash():
    # The page's links are relative to /console: one address for it.
    return redirect("../console", code=308)


@blp.get("/static/<path:filename>")
def static_file(filename):
    return send_from_directory(STATIC, filename)


@blp.get("/vendor/<name>")
def vendor_file(name):
    path = VENDOR.get(name)
    if path is None or not path.is_file():
        raise NotFound(f"No console file {name} (is its npm package installed? make install)")
    return send_file(path, mimetype="text/javascript", etag=True, conditional=True)


@blp.after_request
def console_headers(response):
    response.headers.update(HEADERS)
    return response


def init_app(app):
    app.register_blueprint(blp)
