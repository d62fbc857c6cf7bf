"""The live service as tests drive it: gunicorn instances behind a Flask-test-client-like face."""

import itertools
import json as jsonlib
import threading
from dataclasses import dataclass

from tests.servers import Reply

NO_JSON = object()


@dataclass
class LiveResponse:
    """A Reply read like a Flask test response, so the suite's helpers work on both."""

    reply: Reply

    @property
    def status_code(self):
        return self.reply.status

    @property
    def headers(self):
        return self.reply.headers

    @property
    def data(self):
        return self.reply.body

    def get_json(self):
        return jsonlib.loads(self.reply.body) if self.reply.body else None


class LiveClient:
    """Requests spread round-robin over one or more gunicorn instances, each counted in `check`."""

    def __init__(self, servers, check, timeout=15):
        self.servers = list(servers)
        self.check = check
        self.timeout = timeout
        self._next = itertools.cycle(range(len(self.servers)))
        self._lock = threading.Lock()

    def open(self, method, path, json=NO_JSON, data=None, headers=None, server=None):
        """One request (JSON-encoded when `json` is given, even `None`), counted in the check."""
        if server is None:
            with self._lock:
                server = self.servers[next(self._next)]
        headers = dict(headers or {})
        body = data
        if json is not NO_JSON:
            body = jsonlib.dumps(json)
            headers.setdefault("Content-Type", "application/json")
        reply = server.request(method, path, body=body, headers=headers, timeout=self.timeout)
        self.check.saw(reply.status)
        return LiveResponse(reply)

    def get(self, path, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.open("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.open("PUT", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.open("PATCH", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.open("DELETE", path, **kwargs)
