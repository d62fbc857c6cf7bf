"""Real gunicorn at the edges of a request: a kept-alive connection survives an answer sent
before the body was read, a long query string is the API's to refuse, and a request line over
gunicorn's bound is refused at once."""

import http.client
import socket
import time

import pytest

from tests.servers import Gunicorn, server_env

OVERSIZE = b"[" + b'"3",' * (300 * 1024) + b'"3"]'  # about 1.2 MiB of valid JSON
REQUEST_LINE_BOUND = 8190  # gunicorn.conf.py's limit_request_line


@pytest.fixture
def server(app, database_url, tmp_path):
    # One worker: a request that follows goes to the worker that had the one before.
    env = server_env(database_url, WEB_CONCURRENCY=1)
    with Gunicorn(env, tmp_path / "gunicorn.log") as running:
        yield running


def send_raw(port, data, timeout=5):
    """The first bytes answered to `data`: b"" when the server closes the connection first,
    None when it is still reading after `timeout` seconds."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        try:
            connection.sendall(data)
            return connection.recv(64)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        except TimeoutError:
            return None


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
def test_a_query_string_that_fills_the_request_line_bound_gets_the_apis_json_400(server, admin):
    path = "/leads?q=" + "%C3%A9" * 1000
    path += "a" * (REQUEST_LINE_BOUND - len(f"GET {path} HTTP/1.1"))

    reply = server.request("GET", path, headers=admin)

    assert reply.status == 400
    assert "q" in reply.json()["errors"]["query"]


@pytest.mark.slow
def test_a_10_mb_request_line_is_refused_at_once_and_the_worker_serves_the_next_request(server):
    line = b"GET /products?q=" + b"a" * 10_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    started = time.monotonic()

    answer = send_raw(server.port, line)

    refused_after = time.monotonic() - started
    assert answer is not None, "gunicorn was still reading the line after 5 s"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 414"), answer
    assert refused_after < 2
    assert server.request("GET", "/products", timeout=2).status == 200
    assert server.log().count("Booting worker") == 1


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
