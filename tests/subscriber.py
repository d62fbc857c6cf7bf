"""A loopback webhook subscriber for tests: records each request, answers as it is told."""

import http.server
import itertools
import threading
import time
from dataclasses import dataclass

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict
    body: bytes
    answered: object
    at: float
    signed: bool = None  # verified on arrival, when the subscriber was given the secret

    def verified(self, secret):
        """The event, if its Standard Webhooks signature verifies with `secret` (else raises)."""
        return Webhook(secret).verify(self.body, self.headers)


class Subscriber:
    """`answer(n, body)` → an HTTP status, (status, answer's body), ("hang", seconds),
    ("drip", seconds), ("redirect", url) or ("raw", bytes, pieces sent after them); 204 if
    None."""

    def __init__(self, answer=None, secret=None):
        self.answer = answer or (lambda n, body: 204)
        self.secret = secret
        self.received = []
        self.lock = threading.Lock()
        subscriber = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a killed deliverer): nothing came
                received = Received(dict(self.headers), body, None, time.monotonic())
                if subscriber.secret:
                    received.signed = subscriber.verifies(received)
                with subscriber.lock:
                    received.answered = answered = subscriber.answer(len(subscriber.received), body)
                    subscriber.received.append(received)
                if isinstance(answered, tuple) and answered[0] == "drip":
                    self.drip(answered[1])
                    return
                if isinstance(answered, tuple) and answered[0] == "raw":
                    self.raw(*answered[1:])
                    return
                if isinstance(answered, tuple) and answered[0] == "hang":
                    time.sleep(answered[1])
                    answered = 200
                location, content = None, b""
                if isinstance(answered, tuple) and answered[0] == "redirect":
                    answered, location = 307, answered[1]
                if isinstance(answered, tuple):
                    answered, content = answered
                try:
                    self.send_response(answered)
                    if location:
                        self.send_header("Location", location)
                    self.send_header("Content-Length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except OSError:
                    pass  # the deliverer gave up waiting and closed the connection

            def drip(self, seconds):
                """A 200 sent a byte at a time over `seconds`: no single read ever waits long."""
                answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                try:
                    for byte in answer:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(seconds / len(answer))
                except OSError:
                    pass  # the deliverer cut the attempt at its deadline
                self.close_connection = True

            def raw(self, head, pieces=()):
                """`head` at once, then each of `pieces` as it comes (from a generator that may
                take its time, or never end), until the deliverer hangs up."""
                try:
                    for piece in itertools.chain((head,), pieces):
                        self.wfile.write(piece)
                        self.wfile.flush()
                except OSError:
                    pass  # the deliverer read what it keeps and closed the connection
                self.close_connection = True

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

    def verifies(self, received):
        try:
            received.verified(self.secret)
        except WebhookVerificationError:
            return False
        return True

    def ids(self):
        with self.lock:
            return [r.headers["webhook-id"] for r in self.received]
