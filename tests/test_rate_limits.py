"""Rate limits per customer: POST /orders/new (replays free) and the contact form; admins and
reads never limited; a 429 in the error shape with Retry-After; Redis down or slow served
unlimited and counted; one limit across two gunicorn instances sharing Redis."""

import logging
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from prometheus_client import REGISTRY

from orders_service.config import Config, ConfigError
from orders_service.ops import limits
from orders_service.orders.models import Order
from tests.conftest import CUSTOMER_ID, JWT_SECRET, OTHER_ID
from tests.servers import Gunicorn, free_port, server_env

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def refusals(limit):
    return REGISTRY.get_sample_value("rate_limited_total", {"limit": limit}) or 0


def storage_errors():
    return REGISTRY.get_sample_value("rate_limit_storage_errors_total") or 0


@pytest.fixture
def limited_client(app, make_app, catalog):
    """limited_client(**settings) → a client of an app with those settings (5/minute unless
    told otherwise), on the test's database and catalog. flask-limiter keeps one storage per
    process: the last app made counts for all, so a test is done with one before the next."""

    def make(**settings):
        return make_app(**{"RATE_LIMIT_ORDERS": "5/minute", **settings}).test_client()

    return make


def order(client, headers, key=None, items=("3",)):
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return client.post("/orders/new", json=list(items), headers=headers)


def test_the_sixth_order_in_a_minute_is_a_429_with_retry_after(limited_client, customer):
    client = limited_client()
    before = refusals("RATE_LIMIT_ORDERS 5 per 1 minute")

    placed = [order(client, customer) for _ in range(5)]
    refused = order(client, customer)

    assert [reply.status_code for reply in placed] == [201] * 5
    assert [reply.headers["X-RateLimit-Remaining"] for reply in placed] == ["4", "3", "2", "1", "0"]
    assert all(reply.headers["X-RateLimit-Limit"] == "5" for reply in placed)
    assert "Retry-After" not in placed[0].headers  # it means something on the 429 alone
    assert refused.status_code == 429
    assert refused.get_json() == {
        "code": 429,
        "status": "Too Many Requests",
        "message": "Too many requests: 5 per 1 minute for each customer. "
        "Try again after the seconds in Retry-After.",
    }
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) >= time.time()
    assert Order.select().count() == 5
    assert refusals("RATE_LIMIT_ORDERS 5 per 1 minute") == before + 1


def test_by_default_a_customer_may_place_ten_orders_a_minute(limited_client, customer, monkeypatch):
    monkeypatch.delenv("RATE_LIMIT_ORDERS", raising=False)
    monkeypatch.delenv("RATE_LIMIT_LEADS", raising=False)
    client = limited_client(RATE_LIMIT_ORDERS=Config("/nonexistent").RATE_LIMIT_ORDERS)

    replies = [order(client, customer) for _ in range(11)]

    assert [reply.status_code for reply in replies] == [201] * 10 + [429]
    assert "10 per 1 minute" in replies[-1].get_json()["message"]
    assert Config("/nonexistent").RATE_LIMIT_LEADS == "5/minute;20/hour"


def test_each_limit_of_the_setting_holds(limited_client, customer):
    client = limited_client(RATE_LIMIT_ORDERS="50/minute;3/hour")

    replies = [order(client, customer) for _ in range(4)]

    assert [reply.status_code for reply in replies] == [201, 201, 201, 429]
    assert "3 per 1 hour" in replies[-1].get_json()["message"]
    assert int(replies[-1].headers["Retry-After"]) > 60


def test_another_customer_and_an_admin_are_not_limited(
    limited_client, customer, other_customer, admin
):
    client = limited_client()
    for _ in range(5):
        order(client, customer)
    assert order(client, customer).status_code == 429

    others = [order(client, other_customer) for _ in range(5)]
    admins = [order(client, admin) for _ in range(8)]

    assert [reply.status_code for reply in others] == [201] * 5
    assert [reply.status_code for reply in admins] == [201] * 8
    assert not any(name in admins[-1].headers for name in RATE_HEADERS)


def test_a_replay_is_not_counted_nor_refused(limited_client, customer):
    client = limited_client()
    first = order(client, customer, key="cart-1")
    replays = [order(client, customer, key="cart-1") for _ in range(6)]
    more = [order(client, customer, key=f"cart-{n}") for n in range(2, 6)]
    refused = order(client, customer, key="cart-6")
    late_replay = order(client, customer, key="cart-1")

    assert first.status_code == 201
    assert [reply.status_code for reply in replays] == [201] * 6
    assert all(reply.headers["Idempotent-Replayed"] == "true" for reply in replays)
    assert [reply.status_code for reply in more] == [201] * 4
    assert refused.status_code == 429
    assert late_replay.status_code == 201
    assert late_replay.get_json() == first.get_json()
    assert Order.select().count() == 5


def test_twins_sent_at_once_count_once(limited_client, customer):
    """Both are counted as they come; the one that ends as a replay gives its hit back."""
    client = limited_client(RATE_LIMIT_ORDERS="2/minute")
    with ThreadPoolExecutor(2) as pool:
        twins = list(pool.map(lambda _: order(client, customer, key="double-click"), range(2)))
    second = order(client, customer, key="another-cart")
    third = order(client, customer, key="a-third-cart")

    assert sorted(reply.status_code for reply in twins) == [201, 201]
    assert [reply.headers.get("Idempotent-Replayed") for reply in twins].count("true") == 1
    assert second.status_code == 201
    assert third.status_code == 429
    assert Order.select().count() == 2


def test_reads_are_never_limited_and_never_reach_the_storage(limited_client, customer, admin):
    """With a storage that cannot answer, a read that asked it would count an error."""
    client = limited_client(RATE_LIMIT_ORDERS="1/minute", RATELIMIT_STORAGE_URI="memory://")
    placed = order(client, customer).get_json()
    assert order(client, customer).status_code == 429
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    reads = limited_client(RATE_LIMIT_ORDERS="1/minute", RATELIMIT_STORAGE_URI=unreachable)
    errors = storage_errors()

    paths = ["/orders", f"/orders/{placed['id']}", f"/orders/{placed['id']}/history"]
    paths += ["/products", "/products/3", "/healthz", "/readyz", "/metrics", "/openapi.json"]
    answers = [reads.get(path, headers=customer) for path in paths * 3]
    answers += [reads.get("/leads", headers=admin), reads.get("/events", headers=admin)]
    webhook = reads.post("/webhooks/stripe", data=b"{}", headers={"Stripe-Signature": "t=1"})

    assert [answer.status_code for answer in answers] == [200] * len(answers)
    assert webhook.status_code != 429
    assert not any(name in answer.headers for answer in answers for name in RATE_HEADERS)
    assert storage_errors() == errors


def test_the_contact_form_is_limited_per_customer_but_not_for_admins(
    limited_client, customer, other_customer, admin
):
    client = limited_client(RATE_LIMIT_LEADS="2/minute")

    def lead(headers, n):
        return client.post(
            "/leads", json={"name": "Ada", "email": f"a{n}@example.com"}, headers=headers
        )

    forms = [lead(customer, n) for n in range(3)]
    other = lead(other_customer, 9)
    admins = [lead(admin, n) for n in range(10, 14)]

    assert [reply.status_code for reply in forms] == [202, 202, 429]
    assert forms[0].headers["X-RateLimit-Remaining"] == "1"
    assert forms[2].get_json()["code"] == 429
    assert "2 per 1 minute" in forms[2].get_json()["message"]
    assert "Retry-After" in forms[2].headers
    assert other.status_code == 202
    assert [reply.status_code for reply in admins] == [201] * 4


def test_orders_and_the_contact_form_are_counted_apart(limited_client, customer):
    client = limited_client(RATE_LIMIT_ORDERS="1/minute", RATE_LIMIT_LEADS="1/minute")

    placed = order(client, customer)
    form = client.post("/leads", json={"name": "B", "email": "b@example.com"}, headers=customer)

    assert (placed.status_code, form.status_code) == (201, 202)


class SilentServer:
    """A TCP server on loopback that accepts connections and answers nothing: a Redis too slow.
    Each connection is closed after `hold` seconds, so that a client without a timeout fails
    the test rather than hangs it."""

    def __init__(self, hold=5.0):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hold = hold
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection = self.listener.accept()[0]
            except OSError:
                return
            threading.Timer(self.hold, connection.close).start()

    def close(self):
        self.listener.close()


@pytest.fixture
def silent_redis():
    server = SilentServer()
    yield f"redis://127.0.0.1:{server.port}/0"
    server.close()


@pytest.fixture
def fresh_storage_log(monkeypatch):
    """The once-a-minute log of storage errors, as at start (another test may have logged)."""
    monkeypatch.setattr(limits, "storage_log", limits.Quiet(limits.LOG_EVERY_SECONDS))


def timed_order(client, headers):
    started = time.monotonic()
    reply = order(client, headers)
    return reply, time.monotonic() - started


@pytest.mark.parametrize("storage", ["closed port", "silent server"])
def test_orders_go_through_quickly_unlimited_while_redis_is_down_or_slow(
    storage, limited_client, customer, silent_redis, fresh_storage_log, caplog
):
    uri = silent_redis if storage == "silent server" else f"redis://127.0.0.1:{free_port()}/0"
    # What an order takes here with a storage that answers (the first of an app warms it).
    memory = limited_client(RATE_LIMIT_ORDERS="1000/minute")
    baseline = min(timed_order(memory, customer)[1] for _ in range(3))
    client = limited_client(RATE_LIMIT_ORDERS="2/minute", RATELIMIT_STORAGE_URI=uri)
    errors = storage_errors()

    with caplog.at_level(logging.INFO):
        replies, timings = zip(*(timed_order(client, customer) for _ in range(5)), strict=True)

    assert [reply.status_code for reply in replies] == [201] * 5
    assert not any(name in reply.headers for reply in replies for name in RATE_HEADERS)
    assert storage_errors() == errors + 5
    # The storage's 50 ms at most, with a margin for a busy machine (a client waiting on
    # Redis without a timeout, or retrying, would take seconds).
    assert sorted(timings)[2] < baseline + 0.2 and max(timings) < 1.0, (timings, baseline)
    logged = [r for r in caplog.records if "rate limit storage failed" in r.getMessage()]
    assert [r.levelno for r in logged] == [logging.WARNING]  # once a minute at most
    assert not [r for r in caplog.records if r.name == "flask-limiter"]


def test_a_429_says_when_to_retry_even_when_redis_fails_to_tell(
    limited_client, customer, monkeypatch, fresh_storage_log
):
    """The refusal was counted, then the read of where its window ends failed (Redis slow past
    50 ms on a busy host): the 429 still says when to retry, at worst the whole window."""
    from limits.errors import StorageError

    client = limited_client()
    for _ in range(5):
        order(client, customer)

    def unreadable(*args, **kwargs):
        raise StorageError(TimeoutError("Timeout reading from socket"))

    monkeypatch.setattr(limits.limiter.limiter, "get_window_stats", unreadable)
    errors = storage_errors()
    refused = order(client, customer)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["X-RateLimit-Limit"] == "5"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 <= int(refused.headers["X-RateLimit-Reset"]) - time.time() <= 61
    assert storage_errors() == errors + 1


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"RATE_LIMIT_ORDERS": "ten a minute"}, "RATE_LIMIT_ORDERS"),
        ({"RATE_LIMIT_LEADS": "0/minute"}, "RATE_LIMIT_LEADS"),
        ({"RATE_LIMIT_LEADS": "5/minute;"}, "RATE_LIMIT_LEADS"),
        ({"RATELIMIT_STORAGE_URI": "memcached://:s3cret-pw@127.0.0.1:11211"}, "memcached"),
    ],
)
def test_settings_that_cannot_limit_stop_the_start_in_one_line(make_app, settings, named):
    with pytest.raises(ConfigError) as stopped:
        make_app(**settings)

    message = str(stopped.value)
    assert named in message
    assert "\n" not in message
    assert "s3cret-pw" not in message


def test_the_429_is_documented_on_the_limited_operations_alone(client):
    spec = client.get("/openapi.json").get_json()
    limited = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters" and "429" in operation["responses"]
    }
    too_many = spec["components"]["responses"]["TOO_MANY_REQUESTS"]

    assert limited == {"POST /orders/new", "POST /leads"}
    assert set(too_many["headers"]) == {"Retry-After", *RATE_HEADERS}


@pytest.mark.slow
def test_production_warns_at_start_when_workers_count_in_their_own_memory(
    app, database_url, tmp_path
):
    with Gunicorn(server_env(database_url), tmp_path / "memory.log") as memory:
        assert memory.request("GET", "/healthz").status == 200
    warnings = [r for r in memory.log_records() if "RATELIMIT_STORAGE_URI" in r["message"]]

    assert len(warnings) == 1
    assert warnings[0]["level"] == "WARNING"
    assert "memory:// with 2 workers" in warnings[0]["message"]


@pytest.fixture
def shared_redis():
    """The machine's Redis, with a key prefix of this test's own (others use it too); the keys
    made under it are deleted afterwards."""
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(
            "no Redis on 127.0.0.1:6379: start one (redis-server --daemonize yes --save '')"
        )
    prefix = f"orders-service-test-{uuid.uuid4().hex}"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.mark.slow
def test_a_limit_holds_across_two_gunicorn_instances_sharing_redis(
    app, database_url, catalog, tmp_path, shared_redis
):
    from orders_service.auth import issue_token

    settings = {
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "RATELIMIT_KEY_PREFIX": shared_redis,
        "RATE_LIMIT_ORDERS": "5/minute",
    }
    env = server_env(database_url, **settings)
    servers = [Gunicorn(env, tmp_path / f"gunicorn-{n}.log") for n in range(2)]
    config = {"JWT_SECRET": JWT_SECRET, "JWT_ALGORITHM": "HS256"}
    customer = {"Authorization": f"Bearer {issue_token(config, CUSTOMER_ID)}"}
    other = {"Authorization": f"Bearer {issue_token(config, OTHER_ID)}"}
    try:
        for server in servers:
            server.start()
        # Each on a new connection, turn by turn: both instances, and their workers, take some.
        replies = [servers[n % 2].request("POST", "/orders/new", ["3"], customer) for n in range(8)]
        others = [server.request("POST", "/orders/new", ["3"], other) for server in servers]
    finally:
        for server in servers:
            server.stop()

    assert [reply.status for reply in replies] == [201] * 5 + [429] * 3
    assert [reply.headers["X-RateLimit-Remaining"] for reply in replies[:5]] == [
        "4",
        "3",
        "2",
        "1",
        "0",
    ]
    assert replies[-1].json()["code"] == 429
    assert int(replies[-1].headers["Retry-After"]) <= 60
    assert [reply.status for reply in others] == [201, 201]
    for server in servers:
        assert "RATELIMIT_STORAGE_URI" not in server.log()  # no warning: Redis is shared
