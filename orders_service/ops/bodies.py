"""A request body over MAX_CONTENT_LENGTH is a 413 however it is sent.

werkzeug refuses a declared Content-Length over the limit before reading, but a chunked body
(no Content-Length) it reads up to the limit and silently stops there: the parser then sees a
body cut at 1 MiB and answers 400 "not valid JSON". Here a chunked body that the server has
dechunked (it says so with `wsgi.input_terminated`, as gunicorn and werkzeug's server do) is
read to its end, at most one byte past the limit; that byte makes the request a 413. A server
that passes the raw chunks on is left to werkzeug, which then reads no body (reading its
framing would wait for the client to close). The answer then goes out with
`Connection: close`, the body left unread (see keepalive.py).
"""

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream


def is_chunked(environ):
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


class CappedStream(LimitedStream):
    """The body until it ends; RequestEntityTooLarge as soon as it holds more than `cap` bytes."""

    def __init__(self, stream, cap):
        # One byte past the cap is read to tell a body of exactly `cap` bytes from a longer one;
        # as a maximum, the stream ending early is the body's end, not a disconnection.
        super().__init__(stream, cap + 1, is_max=True)
        self.cap = cap

    def readinto(self, buffer):
        size = super().readinto(buffer)
        if self._pos > self.cap:
            raise RequestEntityTooLarge()
        return size


class BoundedRequest(Request):
    """Flask's request whose chunked body is read to its end under the size limit."""

    @cached_property
    def stream(self):
        limit = self.max_content_length
        chunked = self.content_length is None and is_chunked(self.environ)
        dechunked = self.environ.get("wsgi.input_terminated")
        if limit is None or self.shallow or not (chunked and dechunked):
            return super().stream
        return CappedStream(self.environ["wsgi.input"], limit)
