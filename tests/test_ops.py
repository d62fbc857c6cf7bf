"""Request ids, log lines and their redaction, metrics, CORS and /docs, in one process."""

import json
import logging
import re
import runpy
import sys

import pytest
from prometheus_client import REGISTRY

from orders_service.ops.logging import JsonFormatter, TextFormatter, redact
from orders_service.orders.models import Order
from orders_service.payments.gateway import PaymentUnavailable
from tests.fakes.stripe_events import deliver, event, succeeded

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl"
SIGNATURE = "5f" * 32
# kind: (a text that holds the secret, the secret)
SECRETS = {
    "bearer": (f"Authorization: Bearer {JWT}", JWT),
    "jwt": (f"token={JWT}", JWT),
    "client secret": ("pi_3PxYzAbCdEf_secret_9aBcDeFgHiJkL", "_secret_9aBcDeFgHiJkL"),
    "secret key": ("using sk_live_51AbCdEfGhIjKlMnOp", "51AbCdEfGhIjKlMnOp"),
    "test key": ("sk_test_51AbCdEfGhIjKlMnOp", "51AbCdEfGhIjKlMnOp"),
    "restricted key": ("rk_live_51AbCdEfGhIjKlMnOp", "51AbCdEfGhIjKlMnOp"),
    "webhook secret": ("whsec_AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt"),
    "signature": (f"Stripe-Signature: t=1700000000,v1={SIGNATURE}", SIGNATURE),
    "database password": ("postgresql://orders:hunter2-pass@db:5432/orders", "hunter2-pass"),
}


def metric(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def record(message, *args, exc_info=None):
    return logging.LogRecord(
        "orders_service.test", logging.WARNING, __file__, 1, message, args, exc_info
    )


def test_a_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-1234"})

    assert response.headers["X-Request-ID"] == "lb-1234"


@pytest.mark.parametrize("given", [None, "", "x" * 201, "tab\there", "caf\u00e9"])
def test_a_missing_or_unfit_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given} if given is not None else {})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("DELETE", "/healthz", 405), ("GET", "/orders", 401)],
)
def test_errors_carry_the_request_id_too(client, method, path, status):
    response = client.open(path, method=method, headers={"X-Request-ID": "err-1"})

    assert response.status_code == status
    assert response.headers["X-Request-ID"] == "err-1"


@pytest.mark.parametrize("kind", list(SECRETS))
def test_redaction_removes_every_kind_of_secret(kind):
    text, secret = SECRETS[kind]

    assert secret not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_log_lines_are_json_with_the_request_id_and_no_secret(app):
    with app.test_request_context("/orders", headers={"X-Request-ID": "req-9"}):
        app.preprocess_request()
        try:
            raise ValueError(SECRETS["client secret"][0])
        except ValueError:
            line = JsonFormatter().format(
                record("failed for %s", SECRETS["bearer"][0], exc_info=sys.exc_info())
            )

    entry = json.loads(line)
    assert entry["request_id"] == "req-9"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "orders_service.test"
    assert entry["time"].endswith("Z")
    assert entry["message"] == "failed for Authorization: [REDACTED]"
    assert "ValueError" in entry["exception"]
    assert "_secret_" not in line and "eyJ" not in line


def test_text_lines_are_readable_and_redacted():
    line = TextFormatter().format(record("key %s", SECRETS["test key"][0]))

    assert "WARNING" in line and "[-] orders_service.test: key [REDACTED]" in line


def test_orders_and_payments_are_counted(client, place_order, admin):
    created = metric("orders_created_total")
    succeeded = metric("payments_total", operation="create_intent", outcome="success")
    canceled = metric("payments_total", operation="cancel_intent", outcome="success")

    order = place_order()
    client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "canceled"}, headers=admin
    )

    assert metric("orders_created_total") == created + 1
    assert metric("payments_total", operation="create_intent", outcome="success") == succeeded + 1
    assert metric("payments_total", operation="cancel_intent", outcome="success") == canceled + 1


def test_a_failing_provider_is_counted_as_an_error(app, client, customer, catalog, monkeypatch):
    def unavailable(order):
        raise PaymentUnavailable("timed out")

    monkeypatch.setattr(app.extensions["payments"], "create_intent", unavailable)
    errors = metric("payments_total", operation="create_intent", outcome="error")
    created = metric("orders_created_total")

    response = client.post("/orders/new", json=["3"], headers=customer)

    assert response.status_code == 503
    assert metric("payments_total", operation="create_intent", outcome="error") == errors + 1
    assert metric("orders_created_total") == created


def test_requests_are_counted_by_url_rule_not_path(app, client, customer):
    rule = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == "orders.OrderById")
    labels = {"method": "GET", "endpoint": rule, "status": "404"}
    before = metric("http_requests_total", **labels)

    for order_id in (991, 992):
        client.get(f"/orders/{order_id}", headers=customer)

    assert metric("http_requests_total", **labels) == before + 2
    assert metric("http_requests_total", method="GET", endpoint="/orders/991", status="404") == 0


def test_webhook_deliveries_are_counted_by_type_and_result(
    stripe_client, stripe_fake, customer, catalog
):
    order = stripe_client.post("/orders/new", json=["3"], headers=customer).get_json()
    intent = stripe_fake.intents[Order.get_by_id(order["id"]).payment_intent_id]
    paid = event("payment_intent.succeeded", succeeded(intent))
    kinds = [("payment_intent.succeeded", "paid"), ("payment_intent.succeeded", "duplicate")]
    kinds.append(("unverified", "rejected"))
    before = {kind: metric("webhook_events_total", type=kind[0], result=kind[1]) for kind in kinds}

    deliver(stripe_client, paid)
    deliver(stripe_client, paid)
    deliver(stripe_client, paid, signature="t=1,v1=forged")

    after = {kind: metric("webhook_events_total", type=kind[0], result=kind[1]) for kind in kinds}
    assert {kind: after[kind] - before[kind] for kind in kinds} == dict.fromkeys(kinds, 1)


def test_metrics_are_prometheus_text(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert b"# TYPE http_requests_total counter" in response.data
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]


def test_no_cors_headers_without_configured_origins(client):
    response = client.get("/products", headers={"Origin": "https://shop.example.com"})

    assert "Access-Control-Allow-Origin" not in response.headers


def test_docs_page_points_at_local_assets(client):
    page = client.get("/docs").get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)

    assert refs and all(ref.startswith("docs/assets/") for ref in refs)
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "javascript" in script.content_type
    assert client.get("/docs/assets/../../setup.cfg").status_code == 404


def test_gunicorn_builds_no_access_line_of_its_own(monkeypatch, tmp_path):
    from gunicorn.config import Config

    from tests.servers import ROOT

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("logconfig_dict", settings["logconfig_dict"])
    logger = settings["logger_class"](config)
    monkeypatch.setattr(logger, "atoms", lambda *args: pytest.fail("access atoms were built"))
    assert not logger.access_log_enabled
    logger.access(None, None, {}, None)
