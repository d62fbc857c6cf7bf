"""Real gunicorn at the edges of a request: a kept-alive connection survives an answer sent
before the body was read, and a long query string is the API's to refuse."""

import http.client

import pytest

from tests.servers import Gunicorn, server_env

OVERSIZE = b"[" + b'"3",' * (300 * 1024) + b'"3"]'  # about 1.2 MiB of valid JSON


@pytest.fixture
def server(app, database_url, tmp_path):
    with Gunicorn(server_env(database_url), tmp_path / "gunicorn.log") as running:
        yield running


@pytest.mark.slow
def test_after_a_413_the_next_request_on_the_same_connection_is_answered(server, customer):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
    headers = {**customer, "Content-Type": "application/json"}
    try:
        connection.request("POST", "/orders/new", body=OVERSIZE, headers=headers)
        too_large = connection.getresponse()
        too_large.read()
        connection.request("GET", "/healthz")
        after = connection.getresponse()
        after.read()
    finally:
        connection.close()

    assert too_large.status == 413
    assert too_large.getheader("Connection") == "close"
    assert after.status == 200


@pytest.mark.slow
def test_a_query_string_over_gunicorns_default_limit_gets_the_apis_json_400(server, admin):
    reply = server.request("GET", "/leads?q=" + "%C3%A9" * 1000, headers=admin)

    assert reply.status == 400
    assert "q" in reply.json()["errors"]["query"]


def test_a_413_says_connection_close(client, customer):
    response = client.post(
        "/orders/new", data=OVERSIZE, headers=customer, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.headers["Connection"] == "close"


def test_an_answer_that_never_read_the_body_says_connection_close(client):
    response = client.get("/products", data=b'{"unread": true}')

    assert response.status_code == 200
    assert response.headers["Connection"] == "close"


def test_an_answer_after_reading_the_body_keeps_the_connection(client, customer, catalog):
    response = client.post("/orders/new", json=["3"], headers=customer)

    assert response.status_code == 201
    assert "Connection" not in response.headers
