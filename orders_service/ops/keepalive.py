"""Connection: close on every answer sent before the request's body was read."""

import threading

# gunicorn's request being served by this thread (set by gunicorn.conf.py's pre_request).
_serving = threading.local()


def gunicorn_pre_request(worker, req):
    _serving.request = req


def _close_after_response():
    """Make the server itself close the connection: gunicorn drops an app's Connection header
    as hop-by-hop and decides keep-alive alone, from its request's `must_close`."""
    request = getattr(_serving, "request", None)
    if request is not None:
        request.must_close = True


class CountedInput:
    """wsgi.input, counting what the application reads of the body."""

    def __init__(self, stream, length):
        self.stream = stream
        self.length = length  # None: chunked, read until the stream ends
        self.read_bytes = 0
        self.ended = False

    def _counted(self, data):
        self.read_bytes += len(data)
        self.ended = self.ended or not data
        return data

    def read(self, *args):
        return self._counted(self.stream.read(*args))

    def readline(self, *args):
        return self._counted(self.stream.readline(*args))

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def __iter__(self):
        return iter(self.readline, b"")

    def close(self):
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()

    @property
    def unread(self):
        if self.length is not None:
            return self.read_bytes < self.length
        return not self.ended


class CloseUnreadBodies:
    """WSGI middleware: a response sent before the body was read (a 413, an early 4xx) closes
    the connection. Kept alive, the server would find the unread body where the client's next
    request should start: gunicorn drains 64 KiB of it and then drops the connection, so the
    next request on it fails without an answer."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        body = CountedInput(environ["wsgi.input"], _declared_length(environ))
        environ["wsgi.input"] = body

        def start(status, headers, exc_info=None):
            if body.unread:
                headers = [(k, v) for k, v in headers if k.lower() != "connection"]
                headers.append(("Connection", "close"))
                _close_after_response()
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def _declared_length(environ):
    """The body's Content-Length; 0 without a body; None for a chunked one."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return None
    try:
        return max(int(environ.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def init_app(app):
    app.wsgi_app = CloseUnreadBodies(app.wsgi_app)
