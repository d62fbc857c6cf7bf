"""A loopback webhook subscriber for tests: records each request, answers as it is told."""

import http.server
import threading
import time
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    headers: dict
    body: bytes
    answered: object
    at: float

    def verified(self, secret):
        """The event, if its Standard Webhooks signature verifies with `secret` (else raises)."""
        return Webhook(secret).verify(self.body, self.headers)


class Subscriber:
    """`answer(n, body)` → an HTTP status, ("hang", seconds) or ("redirect", url); 204 if None."""

    def __init__(self, answer=None):
        self.answer = answer or (lambda n, body: 204)
        self.received = []
        self.lock = threading.Lock()
        subscriber = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with subscriber.lock:
                    n = len(subscriber.received)
                    answered = subscriber.answer(n, body)
                    subscriber.received.append(
                        Received(dict(self.headers), body, answered, time.monotonic())
                    )
                if isinstance(answered, tuple) and answered[0] == "hang":
                    time.sleep(answered[1])
                    answered = 200
                location = None
                if isinstance(answered, tuple) and answered[0] == "redirect":
                    answered, location = 307, answered[1]
                try:
                    self.send_response(answered)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the deliverer gave up waiting and closed the connection

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def ids(self):
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]
