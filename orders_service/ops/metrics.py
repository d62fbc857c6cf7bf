"""Prometheus metrics, summed across gunicorn workers (multiprocess mode), at /metrics."""

import contextlib
import os

from flask import Blueprint, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from .logging import request_duration

METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ("method", "endpoint", "status")
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ("method", "endpoint")
)
ORDERS_CREATED = Counter("orders_created_total", "Orders created with their payment set up")
PAYMENTS = Counter("payments_total", "Calls to the payment provider", ("operation", "outcome"))
WEBHOOK_EVENTS = Counter(
    "webhook_events_total", "Payment provider events received", ("type", "result")
)
WEBHOOK_DELIVERIES = Counter(
    "webhook_deliveries_total",
    "Webhook attempts to subscribers by result: delivered, retry (due again later) or failed",
    ("result",),
)
WEBHOOK_BACKLOG = Gauge(
    "webhook_deliveries_pending",
    "Webhook deliveries not yet delivered or failed (due, awaiting a retry, or in flight)",
    multiprocess_mode="livemax",
)

WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "webhook_endpoints_disabled_total",
    "Webhook endpoints the deliverer disabled after WEBHOOK_DISABLE_AFTER without a 2xx",
)

RATE_LIMITED = Counter(
    "rate_limited_total", "Requests refused with a 429, by the limit they went past", ("limit",)
)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "rate_limit_storage_errors_total",
    "Calls to the rate limits' storage that failed or timed out (the request went unlimited)",
)

blp = Blueprint("metrics", __name__)


def record_order_created():
    ORDERS_CREATED.inc()


def record_webhook_event(event_type, outcome):
    """Count one webhook event by its type and what became of it (applied, ignored, …)."""
    WEBHOOK_EVENTS.labels(event_type, outcome).inc()


def record_delivery(result):
    WEBHOOK_DELIVERIES.labels(result).inc()


def record_endpoint_disabled():
    WEBHOOK_ENDPOINTS_DISABLED.inc()


def record_rate_limited(limit):
    RATE_LIMITED.labels(limit).inc()


def record_rate_limit_storage_error():
    RATE_LIMIT_STORAGE_ERRORS.inc()


def set_delivery_backlog(pending):
    WEBHOOK_BACKLOG.set(pending)


@contextlib.contextmanager
def payment_call(operation):
    """Count one provider call as a success, or as an error when it raises."""
    try:
        yield
    except Exception:
        PAYMENTS.labels(operation, "error").inc()
        raise
    PAYMENTS.labels(operation, "success").inc()


def registry():
    """Every worker's samples under gunicorn; this process's alone otherwise."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined


@blp.route("/metrics")
def metrics():
    return Response(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


# Each series' child, found once: labels() checks and locks at every call.
_series = {}


def _child(metric, *labels):
    child = _series.get((metric, labels))
    if child is None:
        child = _series[(metric, labels)] = metric.labels(*labels)
    return child


def observe_request(response):
    # The url rule, not the path, keeps the number of series bounded.
    endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
    method = request.method if request.method in METHODS else "OTHER"
    _child(HTTP_REQUESTS, method, endpoint, str(response.status_code)).inc()
    _child(HTTP_DURATION, method, endpoint).observe(request_duration())
    return response


def init_app(app):
    app.register_blueprint(blp)
    app.after_request(observe_request)
