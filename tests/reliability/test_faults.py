"""Faults under the live service: the payment provider down, PostgreSQL stopped, a worker killed."""

import http.client
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from orders_service.orders.models import IdempotencyKey, Order
from tests.fakes.stripe_api import closed_port_url
from tests.reliability.pg import PrivatePostgres
from tests.reliability.stored import missing_or_incomplete

pytestmark = pytest.mark.reliability

PAYMENT_TIMEOUT = 1
# One attempt and one retry of PAYMENT_TIMEOUT each, the SDK's back-off and some slack.
PROVIDER_BOUND = 8.0
# While PostgreSQL is down: connect_timeout (5 s) and the pool's wait, with slack.
DATABASE_BOUND = 15.0


def timed(send):
    started = time.monotonic()
    reply = send()
    return reply, time.monotonic() - started


def visible_orders(client, admin):
    reply = client.get("/orders?limit=100", headers=admin)
    assert reply.status_code == 200
    return reply.get_json()


@pytest.mark.parametrize("fault", ["fail", "hang", "refuse"])
def test_payment_provider_down(fault, live, database_url, fake_stripe, tokens, check):
    env = {"PAYMENT_TIMEOUT_SECONDS": PAYMENT_TIMEOUT}
    if fault == "refuse":
        env["STRIPE_API_BASE"] = closed_port_url()
    app, client = live(database_url, **env)
    fake_stripe.mode = {"fail": "fail", "hang": "hang"}.get(fault)
    fake_stripe.hang_seconds = 3 * PAYMENT_TIMEOUT
    check.expected_5xx = frozenset({502, 503})
    keys = [f"{fault}-{i}" for i in range(6)]

    def create(key):
        headers = {**tokens["customer"], "Idempotency-Key": key}
        return client.post("/orders/new", json=["3", "8"], headers=headers)

    answers = [timed(lambda key=key: create(key)) for key in keys]
    answers += [timed(lambda: client.post("/orders/new", json=["4"], headers=tokens["customer"]))]
    visible_while_down = visible_orders(client, tokens["admin"])

    for reply, seconds in answers:
        body = reply.get_json()
        if reply.status_code not in (502, 503) or "payment provider" not in body["message"]:
            check.fail(f"{fault}: answered {reply.status_code} {body}", status=reply.status_code)
        if seconds > PROVIDER_BOUND:
            check.fail(f"{fault}: answered after {seconds:.1f}s")
    if visible_while_down:
        check.fail(f"{fault}: half-made orders visible: {[o['id'] for o in visible_while_down]}")
    check.notes.append(f"slowest answer {max(s for _, s in answers):.1f}s")

    if fault != "refuse":  # the provider is back: a retry with the same key completes the order
        fake_stripe.mode = None
        check.expected_5xx = frozenset()
        retries = [create(key) for key in keys]
        if any(r.status_code != 201 for r in retries):
            check.fail(f"retries: {[r.status_code for r in retries]}")
        created = [r.get_json() for r in retries if r.status_code == 201]
        with app.app_context():
            check.lost = len(missing_or_incomplete(created))
        per_order = {}
        for intent in fake_stripe.created_intents():
            order_id = intent["metadata"]["order_id"]
            per_order[order_id] = per_order.get(order_id, 0) + 1
        if len({body["id"] for body in created}) != len(keys) or max(per_order.values()) != 1:
            check.fail(f"orders {created}, intents per order {per_order}", kind="duplicates")
    assert check.failures == 0 and check.lost == 0, check.notes


class Load:
    """Threads that create orders (each with its own Idempotency-Key) and read them, until told.

    A connection dropped by a dying worker is retried with the same key, as a client would.
    """

    def __init__(self, client, tokens, check, threads=4, bound=DATABASE_BOUND):
        self.client = client
        self.tokens = tokens
        self.check = check
        self.bound = bound
        self.created = []
        self.keys = set()
        self.statuses = []  # (time, endpoint, status)
        self.dropped = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _send(self, endpoint, send):
        for _ in range(3):
            started = time.monotonic()
            try:
                reply = send()
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.dropped += 1
                continue
            seconds = time.monotonic() - started
            if seconds > self.bound:
                self.check.fail(f"{endpoint} took {seconds:.1f}s")
            body = reply.get_json() if reply.data else None
            if reply.status_code == 503 and not (body and body.get("code") == 503):
                self.check.fail(
                    f"{endpoint}: a 503 that is not the JSON error: {reply.data!r}",
                    kind="schema violations",
                )
            with self._lock:
                self.statuses.append((time.monotonic(), endpoint, reply.status_code))
            return reply
        return None

    def _run(self):
        customer = self.tokens["customer"]
        while not self._stop.is_set():
            key = f"load-{os.getpid()}-{next(self._ids)}"
            with self._lock:
                self.keys.add(key)
            headers = {**customer, "Idempotency-Key": key}
            reply = self._send(
                "create", lambda h=headers: self.client.post("/orders/new", json=["3"], headers=h)
            )
            if reply is not None and reply.status_code == 201:
                with self._lock:
                    self.created.append(reply.get_json())
            self._send("list", lambda: self.client.get("/orders?limit=5", headers=customer))

    def since(self, moment):
        with self._lock:
            return [(endpoint, status) for at, endpoint, status in self.statuses if at >= moment]


def check_orders(app, load, check):
    """Every 201 stored complete; no key made two orders."""
    with app.app_context():
        check.lost = len(missing_or_incomplete(load.created))
        keyed = IdempotencyKey.select().where(IdempotencyKey.key.in_(list(load.keys))).count()
        orders = Order.select().join(IdempotencyKey).count()
    if len({body["id"] for body in load.created}) != len(load.created) or orders != keyed:
        check.fail(
            f"{len(load.created)} created, {orders} orders for {keyed} keys", kind="duplicates"
        )


@pytest.fixture
def private_postgres():
    with PrivatePostgres() as cluster:
        yield cluster


def test_postgres_stopped_during_load(live, private_postgres, tokens, check):
    app, client = live(private_postgres.url, WEB_CONCURRENCY=2)
    check.expected_5xx = frozenset({503})
    with Load(client, tokens, check) as load:
        time.sleep(3)
        stopped = time.monotonic()
        private_postgres.stop()
        time.sleep(1)
        ready_while_down = client.get("/readyz")
        time.sleep(3)
        private_postgres.start()
        restarted = time.monotonic()
        recovered = None
        while time.monotonic() - restarted < 20:
            if client.get("/readyz").status_code == 200:
                recovered = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(4)
    assert recovered is not None, "the service did not come back after PostgreSQL did"

    while_down = load.since(stopped)
    after = [status for _, status in load.since(recovered + 1)]
    for _, status in while_down + [("after", s) for s in after]:
        if status not in (200, 201, 503):
            check.fail(f"answered {status}", status=status)
    if ready_while_down.status_code != 503:
        check.fail(f"/readyz answered {ready_while_down.status_code} while the database was down")
    if not any(status == 503 for _, status in while_down):
        check.fail("no 503 while the database was down")
    if not after or any(status >= 500 for status in after):
        check.fail(f"after recovery: {after}")
    check.expected_5xx = frozenset()
    check_orders(app, load, check)
    check.notes.append(
        f"{len(load.created)} orders created, back {recovered - restarted:.1f}s after the restart"
    )
    assert (check.failures, check.lost) == (0, 0), check.notes


def workers(server):
    """The pids of a gunicorn master's workers."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


def test_worker_killed_during_load(live, database_url, tokens, check):
    app, client = live(database_url, WEB_CONCURRENCY=2)
    (server,) = client.servers
    started = time.monotonic() + 20  # /healthz answers as soon as the first worker is up
    while len(before := workers(server)) < 2 and time.monotonic() < started:
        time.sleep(0.1)
    with Load(client, tokens, check) as load:
        time.sleep(2)
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            now = workers(server)
            if len(now) == len(before) and victim not in now:
                break
            time.sleep(0.2)
        replaced = workers(server)
        time.sleep(3)
    if victim in replaced or len(replaced) != len(before):
        check.fail(f"workers {before} became {replaced} after killing {victim}")
    check_orders(app, load, check)
    check.notes.append(f"{len(load.created)} orders created, {load.dropped} connections dropped")
    assert (check.failures, check.lost) == (0, 0), check.notes
