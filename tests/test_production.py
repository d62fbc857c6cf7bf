"""Real gunicorn with the project's config and two workers: health, request ids and logs,
secrets kept out of the logs, metrics across workers, CORS, offline /docs, graceful SIGTERM."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from urllib.parse import urljoin

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orders_service.orders.models import Order, OrderHistory, OrderLine
from tests.conftest import CUSTOMER_ID, JWT_SECRET, bearer
from tests.servers import Gunicorn, free_port, server_env

pytestmark = pytest.mark.slow

SHOP = "https://shop.example.com"


@pytest.fixture
def gunicorn(app, database_url, tmp_path):
    """start(**env) → a running Gunicorn on the test database; all are stopped afterwards."""
    started = []

    def start(**env):
        server = Gunicorn(
            server_env(database_url, **env), tmp_path / f"gunicorn-{len(started)}.log"
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def samples(server, name):
    """{labels as a sorted tuple: value} of one metric scraped from /metrics."""
    reply = server.request("GET", "/metrics")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(reply.body.decode()):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_health_and_readiness(gunicorn):
    server = gunicorn()

    health = server.request("GET", "/healthz")
    ready = server.request("GET", "/readyz")

    assert health.status == 200
    assert health.json() == {"status": "ok"}
    assert ready.status == 200
    assert ready.json() == {"status": "ready"}


def test_readiness_is_503_while_the_database_is_unreachable(gunicorn):
    nothing_listens = free_port()
    url = f"postgresql://orders:db-password-5150@127.0.0.1:{nothing_listens}/orders"
    server = gunicorn(DATABASE_URL=url)

    health = server.request("GET", "/healthz")
    ready = server.request("GET", "/readyz")

    assert health.status == 200
    assert ready.status == 503
    assert ready.headers["Content-Type"] == "application/json"
    assert ready.json()["code"] == 503
    assert "unreachable" in ready.json()["message"]
    assert "db-password-5150" not in server.log()


def test_request_id_is_echoed_or_made_and_on_the_json_log_line(gunicorn):
    server = gunicorn()

    echoed = server.request("GET", "/healthz", headers={"X-Request-ID": "edge-7f3a-001"})
    made = server.request("GET", "/orders")  # a 401: errors carry one too
    replaced = server.request("GET", "/healthz", headers={"X-Request-ID": "x" * 201})
    server.stop()

    assert echoed.headers["X-Request-ID"] == "edge-7f3a-001"
    assert made.status == 401
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    records = server.log_records()  # every line gunicorn and the app wrote is JSON
    access = {r["request_id"]: r for r in records if r["logger"] == "orders_service.access"}
    line = access["edge-7f3a-001"]
    assert line["level"] == "INFO"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["duration_ms"] >= 0
    assert access[made.headers["X-Request-ID"]]["status"] == 401
    assert any(r["logger"] == "gunicorn.error" for r in records)


def test_no_token_or_secret_reaches_the_logs(gunicorn, app, catalog):
    stripe_key = "sk_test_51FakeKeyForTheLogTest0123456789"
    server = gunicorn(STRIPE_SECRET_KEY=stripe_key, LOG_LEVEL="DEBUG")
    headers = bearer(app, CUSTOMER_ID)
    token = headers["Authorization"].split()[1]

    created = server.request("POST", "/orders/new", body=["3"], headers=headers)
    secret = created.json()["clientSecret"]
    # Requests that put secrets where the app does log: the path and the request id.
    server.request("GET", f"/orders/{token}", headers=headers)
    server.request("GET", f"/orders/{secret}", headers={"X-Request-ID": secret, **headers})
    server.request(
        "POST",
        "/webhooks/stripe",
        body=b"{}",
        headers={"Stripe-Signature": "t=1700000000,v1=" + "ab" * 32, "X-Request-ID": stripe_key},
    )
    server.stop()

    assert created.status == 201
    assert secret.startswith("pi_")
    log = server.log()
    for leaked in (token, secret, stripe_key, JWT_SECRET, "ab" * 32):
        assert leaked not in log
    assert "[REDACTED]" in log


def healthz_workers(server):
    """The pids of the workers that have answered /healthz so far, from the access log."""
    return {
        r["pid"]
        for r in server.log_records()
        if r.get("endpoint") == "/healthz" and r["status"] == 200
    }


def test_metrics_add_up_across_workers(gunicorn, app, catalog):
    server = gunicorn()
    statuses = []

    # One worker may take a whole burst; send bursts until both have answered some.
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(30):
            statuses += pool.map(lambda _: server.request("GET", "/healthz").status, range(20))
            if len(healthz_workers(server)) == 2:
                break
    for _ in range(3):
        server.request("POST", "/orders/new", body=["3", "8"], headers=bearer(app, CUSTOMER_ID))
    answered = samples(server, "http_requests_total")
    latency = samples(server, "http_request_duration_seconds_count")
    orders = samples(server, "orders_created_total")
    payments = samples(server, "payments_total")
    server.stop()

    assert set(statuses) == {200}
    assert len(healthz_workers(server)) == 2, "both workers should have answered some requests"
    healthz = (("endpoint", "/healthz"), ("method", "GET"), ("status", "200"))
    assert answered[healthz] == len(statuses) + 1  # the bursts and the start-up probe
    assert latency[(("endpoint", "/healthz"), ("method", "GET"))] == len(statuses) + 1
    orders_new = (("endpoint", "/orders/new"), ("method", "POST"), ("status", "201"))
    assert answered[orders_new] == 3
    assert orders[()] == 3
    assert payments[(("operation", "create_intent"), ("outcome", "success"))] == 3


def test_cors_answers_configured_origins_only(gunicorn):
    server = gunicorn(CORS_ORIGINS=f"{SHOP}, https://admin.example.com")
    preflight_headers = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }

    preflight = server.request(
        "OPTIONS", "/orders/new", headers={"Origin": SHOP, **preflight_headers}
    )
    simple = server.request("GET", "/products", headers={"Origin": SHOP})
    refused_preflight = server.request(
        "OPTIONS", "/orders/new", headers={"Origin": "https://evil.example", **preflight_headers}
    )
    refused = server.request("GET", "/products", headers={"Origin": "https://evil.example"})

    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == SHOP
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed.split(", "))
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert simple.headers["Access-Control-Allow-Origin"] == SHOP
    exposed = set(simple.headers["Access-Control-Expose-Headers"].split(", "))
    assert {"Link", "Idempotent-Replayed", "X-Request-ID", "Location"} <= exposed
    assert "Origin" in simple.headers["Vary"]
    for reply in (refused_preflight, refused):
        assert "Access-Control-Allow-Origin" not in reply.headers
    assert refused.status == 200  # the browser, not the server, keeps the answer from the page


class AssetRefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        self.refs += [value for name, value in attrs if name in {"src", "href"} and value]


def test_docs_serve_their_assets_locally(gunicorn):
    server = gunicorn()

    page = server.request("GET", "/docs")
    parser = AssetRefs()
    parser.feed(page.body.decode())

    assert page.status == 200
    assert parser.refs, "the page should load Swagger UI's script and stylesheet"
    kinds = set()
    for ref in parser.refs:
        assert not re.match(r"(?i)^(https?:)?//", ref), f"{ref} is not served by the app"
        asset = server.request("GET", urljoin("/docs", ref))
        assert asset.status == 200, ref
        kinds.add(asset.headers["Content-Type"].split(";")[0])
        assert len(asset.body) > 1000
    assert {"text/javascript", "text/css"} <= kinds
    assert server.request("GET", "/openapi.json").status == 200


def test_sigterm_during_a_burst_of_orders_leaves_every_201_complete(gunicorn, app, catalog):
    server = gunicorn()
    headers = bearer(app, CUSTOMER_ID)
    burst, signal_after = 300, 60
    answered = threading.Semaphore(0)
    signaled_at = []

    def place(_):
        try:
            reply = server.request("POST", "/orders/new", body=["3", "8"], headers=headers)
        except OSError as error:  # refused or reset once the listener has closed
            return type(error).__name__, None, time.monotonic()
        answered.release()
        return reply.status, reply.json(), time.monotonic()

    def terminate():
        for _ in range(signal_after):
            answered.acquire()
        signaled_at.append(time.monotonic())
        server.signal()

    killer = threading.Thread(target=terminate, daemon=True)
    killer.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(place, range(burst)))
    killer.join(10)
    exit_code = server.stop()

    assert exit_code == 0, server.log()
    statuses = {status for status, _, _ in results}
    assert not {s for s in statuses if isinstance(s, int) and s != 201}, statuses
    created = {body["id"]: body for status, body, _ in results if status == 201}
    assert len(created) >= signal_after
    assert any(at > signaled_at[0] for status, _, at in results if status == 201), (
        "some orders in flight at SIGTERM should still have been answered"
    )
    assert len(created) < burst, "the server should have stopped before the burst ended"
    with app.app_context():
        stored = {order.id: order for order in Order.select()}
        lines = {line.order_id for line in OrderLine.select()}
        history = {row.order_id for row in OrderHistory.select()}
    assert set(created) <= set(stored)
    for order_id, order in stored.items():  # nothing half-written, answered or not
        assert order.client_secret and order.payment_intent_id, order_id
        assert order_id in lines and order_id in history, order_id
    for order_id, body in created.items():
        assert stored[order_id].client_secret == body["clientSecret"]
