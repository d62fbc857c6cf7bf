"""Real gunicorn at the edges of a request: a kept-alive connection survives an answer sent
before the body was read, a long query string is the API's to refuse, and a request line over
gunicorn's bound is refused at once."""

import contextlib
import http.client
import io
import json
import socket
import threading
import time

import pytest
from werkzeug.serving import make_server

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


# A body sent chunked (no Content-Length) is held to the same 1 MiB as a declared one.


def chunked_request(path, body, headers, piece=64 * 1024):
    """A raw HTTP/1.1 POST of `body` in chunks of `piece` bytes."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    chunks = [head.encode() + b"\r\n"]
    for start in range(0, len(body), piece):
        part = body[start : start + piece]
        chunks.append(b"%x\r\n%s\r\n" % (len(part), part))
    chunks.append(b"0\r\n\r\n")
    return chunks


def send_chunked(port, path, body, headers, timeout=15):
    """(status, headers, body) of the answer to a chunked POST, read while it is still being
    sent: the server answers a 413 before reading all of it and closes the connection, and
    the client, still sending, may see EPIPE or a reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        received = bytearray()

        def receive():
            try:
                while data := connection.recv(65536):
                    received.extend(data)
            except OSError:
                pass

        reader = threading.Thread(target=receive)
        reader.start()
        try:
            for chunk in chunked_request(path, body, headers):
                connection.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        else:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_WR)
        reader.join(timeout)
    head, _, content = bytes(received).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines[0] else None
    fields = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return status, {name.lower(): value for name, value in fields.items()}, content


def assert_chunked_oversize_is_413(port, customer):
    """A 2 MiB body sent chunked: 413 (not a 400 for JSON cut at 1 MiB), Connection: close."""
    headers = {**customer, "Content-Type": "application/json"}
    for _ in range(5):  # the answer can be lost to a reset while the client still sends
        status, fields, content = send_chunked(port, "/orders/new", CHUNKED_OVERSIZE, headers)
        if status is not None:
            break
    assert status == 413, content
    assert fields["connection"] == "close"
    assert json.loads(content)["code"] == 413


CHUNKED_OVERSIZE = b"[" + b'"3",' * (512 * 1024) + b'"3"]'  # 2 MiB of valid JSON


def post_chunked(client, body, headers):
    """POST /orders/new sent chunked, as gunicorn and werkzeug's server pass it on: dechunked,
    and saying so (wsgi.input_terminated)."""
    return client.post(
        "/orders/new",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_1_mib_is_413_with_connection_close(client, customer):
    response = post_chunked(client, CHUNKED_OVERSIZE, customer)

    assert response.status_code == 413
    assert response.get_json()["code"] == 413
    assert response.headers["Connection"] == "close"


def test_a_chunked_body_under_1_mib_is_read_whole(client, customer, catalog):
    body = b"[" + b" " * 500_000 + b'"3", "3", "8"]'  # many chunks of the test client's reads
    response = post_chunked(client, body, customer)

    assert response.status_code == 201, response.get_json()
    assert "Connection" not in response.headers


def test_a_chunked_body_of_exactly_1_mib_is_not_413(client, customer):
    body = b"[" + b" " * (1024 * 1024 - 2) + b"]"
    response = post_chunked(client, body, customer)

    assert response.status_code == 400  # an empty cart: read whole, refused for what it says
    assert "Connection" not in response.headers


@pytest.mark.slow
def test_a_chunked_body_over_1_mib_is_413_under_the_development_server(app, customer):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        assert_chunked_oversize_is_413(server.server_port, customer)
    finally:
        server.shutdown()
        thread.join()


@pytest.mark.slow
def test_a_chunked_body_over_1_mib_is_413_under_gunicorn(server, customer):
    assert_chunked_oversize_is_413(server.port, customer)
    assert server.request("GET", "/healthz").status == 200
