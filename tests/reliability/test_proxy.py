"""Slow clients: half-sent requests stall bare gunicorn; through deploy/nginx.conf they do not."""

import contextlib
import socket
import time

import pytest

from tests.reliability.live import LiveClient
from tests.reliability.nginx import Nginx
from tests.reliability.stored import missing_or_incomplete

pytestmark = pytest.mark.reliability

ATTACK_SOCKETS = 200
# Half-sent requests against bare gunicorn: one worker (so no sharing out between workers can
# leave one with a free thread), several per thread.
STALL_SOCKETS_PER_THREAD = 6
# How long /healthz may stay silent before bare gunicorn counts as stalled; a healthy one
# answers in milliseconds, even on a loaded machine.
STALL_PROBE_SECONDS = 5
# nginx drops an unfinished request after client_header_timeout / client_body_timeout (10 s).
PROXY_DROPS_WITHIN = 30


def half_sent(port, count, token_header):
    """`count` connections to `port`, each stopped half-way: every other one ends inside its
    headers, the rest inside a body shorter than its Content-Length (slowloris, slow POST)."""
    heads = [
        b"GET /healthz HTTP/1.1\r\nHost: shop.example\r\nX-Slow: ",
        (
            b"POST /orders/new HTTP/1.1\r\nHost: shop.example\r\n"
            + f"Authorization: {token_header}\r\n".encode()
            + b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n["3"'
        ),
    ]
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(heads[i % 2] if token_header else heads[0])
        sockets.append(sock)
    return sockets


def dropped(sock, timeout):
    """True if the other end closes `sock` (or answers it) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        sock.recv(1024)
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def close_all(sockets):
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.close()


def test_slowloris_through_nginx_leaves_orders_and_healthz_answering(
    live, database_url, tokens, check
):
    app, direct = live(database_url)
    with Nginx(direct.servers[0].port) as nginx:
        client = LiveClient([nginx], check)
        attack = half_sent(nginx.port, ATTACK_SOCKETS, tokens["customer"]["Authorization"])
        try:
            started = time.monotonic()
            created = []
            for round_ in range(3):
                health = client.get("/healthz")
                products = client.get("/products?limit=3")
                order = client.post("/orders/new", json=["3", "8"], headers=tokens["customer"])
                if (health.status_code, products.status_code, order.status_code) != (200, 200, 201):
                    check.fail(
                        f"round {round_}: /healthz {health.status_code}, /products "
                        f"{products.status_code}, /orders/new {order.status_code}"
                    )
                if order.status_code == 201:
                    created.append(order.get_json())
            seconds = time.monotonic() - started
            held = sum(not dropped(sock, 0.01) for sock in attack)
            check.notes.append(
                f"9 requests answered in {seconds:.1f}s with {held} of {ATTACK_SOCKETS} "
                "half-sent requests held open"
            )
            with app.app_context():
                check.lost = len(missing_or_incomplete(created))
            deadline = time.monotonic() + PROXY_DROPS_WITHIN
            kept = [s for s in attack if not dropped(s, max(0.01, deadline - time.monotonic()))]
            if kept:
                check.fail(f"nginx still holds {len(kept)} half-sent requests after its timeouts")
        finally:
            close_all(attack)
        if "[emerg]" in nginx.log() or "[alert]" in nginx.log():
            check.fail(f"nginx complained: {nginx.log()[-2000:]}")
    assert check.failures == 0 and check.lost == 0, check.notes


def test_slowloris_without_the_proxy_stalls_gunicorn(live, database_url, check):
    _, client = live(database_url, WEB_CONCURRENCY="1")
    server = client.servers[0]
    workers, threads = int(server.env["WEB_CONCURRENCY"]), int(server.env["GUNICORN_THREADS"])
    count = STALL_SOCKETS_PER_THREAD * workers * threads
    if client.get("/healthz").status_code != 200:
        check.fail("gunicorn did not answer before the attack")
    attack = half_sent(server.port, count, None)
    try:
        started = time.monotonic()
        try:
            reply = server.request("GET", "/healthz", timeout=STALL_PROBE_SECONDS)
            check.fail(
                f"gunicorn answered /healthz ({reply.status}) after "
                f"{time.monotonic() - started:.1f}s despite {count} half-sent requests"
            )
        except TimeoutError:
            check.notes.append(
                f"/healthz unanswered for {STALL_PROBE_SECONDS}s: {count} half-sent requests "
                f"hold every thread of {workers} workers of {threads}"
            )
    finally:
        close_all(attack)
    if not answers_within(client, "/healthz", 10):
        check.fail("gunicorn did not answer once the half-sent requests were closed")
    assert check.failures == 0, check.notes


def answers_within(client, path, seconds):
    """True once `path` answers 200, trying until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while True:
        if client.get(path).status_code == 200:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
