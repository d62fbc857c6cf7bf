"""The per-request work every read shares is done once per process where its answer is fixed."""

import inspect

import flask.app

from orders_service.pagination import KeysetArgsSchema


def test_query_argument_schemas_are_built_once_not_at_each_request(client, customer, monkeypatch):
    built = []
    original = KeysetArgsSchema.__init__
    monkeypatch.setattr(
        KeysetArgsSchema,
        "__init__",
        lambda self, *a, **k: built.append(self) or original(self, *a, **k),
    )
    for path in ("/orders?limit=5", "/products?limit=5", "/orders?limit=5"):
        assert client.get(path, headers=customer).status_code == 200
    assert built == []


def test_each_hook_and_view_is_asked_once_whether_it_is_a_coroutine(client, monkeypatch):
    asked = []
    original = inspect.iscoroutinefunction

    def counted(func):
        asked.append(func)
        return original(func)

    # Flask holds its own name for it; both count.
    monkeypatch.setattr(inspect, "iscoroutinefunction", counted)
    monkeypatch.setattr(flask.app, "iscoroutinefunction", counted)
    client.get("/products")
    first = len(asked)
    for _ in range(3):
        client.get("/products")
    assert first > 0 and len(asked) == first
