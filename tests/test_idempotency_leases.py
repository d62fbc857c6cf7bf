"""An Idempotency-Key's lease is one request's at a time, counted from its last sign of life."""

import threading
import time

import psycopg
import pytest

from orders_service import idempotency
from orders_service.database import is_sqlite
from orders_service.events.models import Event
from orders_service.orders.models import IdempotencyKey, Order
from orders_service.products.models import Product

CART = ["9", "3"]  # a tracked product (the demo catalog gives it stock) and an untracked one


@pytest.fixture
def short_lease(monkeypatch):
    """A lease of half a second, so a test can outlive one without waiting a minute."""
    monkeypatch.setattr(idempotency, "LEASE", idempotency.datetime.timedelta(seconds=0.5))
    monkeypatch.setattr(idempotency, "RENEW_AFTER_SECONDS", 0.1)


def post_in_thread(app, headers, key, results):
    def send():
        with app.test_client() as client:
            results.append(
                client.post("/orders/new", json=CART, headers={**headers, "Idempotency-Key": key})
            )

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def assert_one_order_holding_its_stock(stock_before):
    order = Order.get()
    assert order.client_secret is not None
    assert Event.select().where(Event.order == order.id).count() == 1  # one order.created
    assert Product.get_by_id(9).stock == stock_before - 1
    assert IdempotencyKey.get().response_code == 201


def test_a_request_waiting_on_a_locked_row_past_the_lease_is_not_taken_over(
    stripe_app, stripe_fake, customer, catalog, database_url, short_lease
):
    if is_sqlite():
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer at a time")
    stock_before = Product.get_by_id(9).stock
    results = []
    with psycopg.connect(database_url) as blocker:
        blocker.execute("SELECT id FROM product WHERE id = 9 FOR UPDATE")  # a long migration
        first = post_in_thread(stripe_app, customer, "held", results)
        time.sleep(0.3)
        retry = post_in_thread(stripe_app, customer, "held", results)
        time.sleep(1.2)  # the first has now waited more than twice its lease
    first.join(15)
    retry.join(15)

    statuses = sorted(r.status_code for r in results)
    assert statuses in ([201, 201], [201, 409]), [r.get_json() for r in results]
    assert len({r.get_json()["id"] for r in results if r.status_code == 201}) == 1
    assert Order.select().count() == 1
    assert len(stripe_fake.created_intents()) == 1
    assert_one_order_holding_its_stock(stock_before)


def test_a_stale_owner_failing_after_a_retry_took_over_gives_nothing_back(
    make_app, stripe_config, stripe_fake, customer, catalog, short_lease
):
    # One attempt, which times out 1.5 s in: after the retry took the key over.
    app = make_app(**{**stripe_config, "PAYMENT_MAX_RETRIES": 0, "PAYMENT_TIMEOUT_SECONDS": 3})
    stock_before = Product.get_by_id(9).stock
    gate, held = threading.Event(), []

    def hold_the_first_creation(method, path):
        if path == "/v1/payment_intents" and not held:
            held.append(True)
            gate.wait(10)  # its answer comes after the caller has given up: a timeout

    stripe_fake.on_request = hold_the_first_creation
    results = []
    try:
        first = post_in_thread(app, customer, "stale", results)
        time.sleep(0.7)  # past the lease: the first request looks dead
        retry = post_in_thread(app, customer, "stale", results)
        retry.join(15)
        first.join(15)
    finally:
        gate.set()

    by_status = {r.status_code: r.get_json() for r in results}
    assert set(by_status) == {201, 409}, by_status
    assert "in progress" in by_status[409]["message"]
    assert Order.select().count() == 1
    assert_one_order_holding_its_stock(stock_before)
