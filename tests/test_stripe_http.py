"""The Stripe SDK's HTTP client (payments/stripe.PooledClient): the environment's proxy."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orders_service.payments.stripe import PooledClient


@pytest.fixture
def recorder():
    """A loopback HTTP server that records each request line and answers `{}`."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.requestline)
            body = json.dumps({}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def _post(url):
    client = PooledClient(timeout=(2, 2))
    try:
        return client.request("post", url, {"Content-Type": "application/json"}, b"{}")
    finally:
        client.close()


def test_calls_go_through_the_environments_proxy(recorder, monkeypatch):
    proxy, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    body, status, _ = _post("http://stripe.invalid/v1/payment_intents")
    assert status == 200 and body == b"{}"
    assert seen == ["POST http://stripe.invalid/v1/payment_intents HTTP/1.1"]


def test_a_host_in_no_proxy_is_called_directly(recorder, monkeypatch):
    origin, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: a use would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    _, status, _ = _post(f"{origin}/v1/payment_intents")
    assert status == 200
    assert seen == ["POST /v1/payment_intents HTTP/1.1"]
