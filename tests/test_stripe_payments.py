"""The stripe provider over real HTTP to the loopback fake: intents, cancel, refund, outages."""

import datetime
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from orders_service import create_app
from orders_service.config import ConfigError
from orders_service.database import utcnow
from orders_service.orders.models import IdempotencyKey, Order
from orders_service.payments.models import Refund
from orders_service.payments.stripe import STRIPE_API_VERSION, attempt_timeout
from tests.fakes.stripe_api import closed_port_url
from tests.fakes.stripe_events import deliver, event

CART = ["3", "3", "8"]  # two hoodies and socks
TOTAL = 2 * 4999 + 899


@pytest.fixture
def place(stripe_client, customer, catalog):
    """POST /orders/new on the stripe app; returns the response."""

    def place(items=CART, key=None, headers=None):
        headers = {**(headers or customer), **({"Idempotency-Key": key} if key else {})}
        return stripe_client.post("/orders/new", json=list(items), headers=headers)

    return place


def pay(stripe_client, stripe_fake, order):
    """Stripe charges the order's intent and says so by webhook."""
    intent = stripe_fake.set_status(order["clientSecret"].split("_secret")[0], "succeeded")
    response = deliver(stripe_client, event("payment_intent.succeeded", intent))
    assert response.status_code == 200, response.get_json()


def intent_id(order):
    return Order.get_by_id(order["id"]).payment_intent_id


def stripe_key(order, action):
    return f"order-{order['id']}-{Order.get_by_id(order['id']).payment_key}-{action}"


def test_intent_carries_amount_currency_metadata_and_derived_key(stripe_app, stripe_fake, place):
    response = place()

    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    [intent] = stripe_fake.created_intents()
    assert order["clientSecret"] == intent["client_secret"]
    assert intent["amount"] == TOTAL == order["amountInCents"]
    assert intent["currency"] == "usd"
    assert intent["metadata"] == {
        "order_id": str(order["id"]),
        "user_id": "7",
        "payment_key": Order.get_by_id(order["id"]).payment_key,
    }
    assert intent["automatic_payment_methods"] == {"enabled": True}
    [call] = stripe_fake.calls("POST", "/v1/payment_intents")
    assert call.headers["idempotency-key"] == stripe_key(order, "intent")
    assert call.headers["stripe-version"] == STRIPE_API_VERSION


def test_repeated_creation_with_one_key_makes_one_order_and_one_intent(
    stripe_app, stripe_fake, place
):
    first = place(key="cart-1")
    again = place(key="cart-1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert Order.select().count() == 1
    assert len(stripe_fake.created_intents()) == 1


def test_simultaneous_creations_with_one_key_through_a_real_server_make_one_order(
    stripe_app, stripe_fake, customer, catalog
):
    server = make_server("127.0.0.1", 0, stripe_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/orders/new"
    headers = {**customer, "Idempotency-Key": "same-moment"}
    start = threading.Barrier(10)
    responses = []

    def post():
        start.wait()
        responses.append(requests.post(url, json=CART, headers=headers, timeout=30))

    threads = [threading.Thread(target=post) for _ in range(10)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.shutdown()

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert Order.select().count() == 1
    assert len(stripe_fake.created_intents()) == 1


def test_canceling_a_pending_order_cancels_its_intent(stripe_client, stripe_fake, place, customer):
    order = place().get_json()

    response = stripe_client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "Cancelled"},
        headers=customer,
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"id": order["id"], "status": "canceled"}
    assert stripe_fake.intents[intent_id(order)]["status"] == "canceled"
    [call] = stripe_fake.calls("POST", r"/v1/payment_intents/\w+/cancel")
    assert call.headers["idempotency-key"] == stripe_key(order, "cancel")


def test_refunding_a_paid_order_refunds_its_intent_in_full_under_a_key_of_that_refund(
    stripe_client, stripe_fake, place, admin
):
    order = place().get_json()
    pay(stripe_client, stripe_fake, order)

    response = stripe_client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "refunded"}, headers=admin
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "refunded"
    [refund] = stripe_fake.refunds
    assert refund["payment_intent"] == intent_id(order)
    assert refund["amount"] == TOTAL
    [call] = stripe_fake.calls("POST", "/v1/refunds")
    [ledger] = Refund.select()
    assert call.headers["idempotency-key"] == stripe_key(order, f"refund-{ledger.key}")
    assert call.form["amount"] == str(TOTAL)
    assert refund["metadata"]["refund_key"] == ledger.key


def test_stripe_refusing_a_cancel_is_409_with_its_reason_and_the_order_stays(
    stripe_client, stripe_fake, place, customer
):
    order = place().get_json()
    stripe_fake.set_status(intent_id(order), "succeeded")  # paid, but the webhook is late

    response = stripe_client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "canceled"},
        headers=customer,
    )

    assert response.status_code == 409
    assert "status of succeeded" in response.get_json()["message"]
    assert Order.get_by_id(order["id"]).status == "pending"
    assert stripe_fake.intents[intent_id(order)]["status"] == "succeeded"


def test_canceling_an_intent_already_canceled_in_stripe_cancels_the_order(
    stripe_client, stripe_fake, place, customer
):
    order = place().get_json()
    stripe_fake.set_status(intent_id(order), "canceled")  # in the dashboard; webhook missed

    response = stripe_client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "canceled"},
        headers=customer,
    )

    assert response.status_code == 200, response.get_json()
    assert Order.get_by_id(order["id"]).status == "canceled"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "status"), [("fail", 502), ("hang", 503)], ids=["stripe-500", "stripe-hangs"]
)
def test_an_outage_fails_fast_leaves_nothing_visible_and_a_retry_completes_the_order(
    stripe_client, stripe_fake, place, customer, mode, status
):
    stripe_fake.mode = mode

    started = time.monotonic()
    failed = place(key="cart-outage")
    elapsed = time.monotonic() - started

    assert failed.status_code == status, failed.get_json()
    assert "payment provider" in failed.get_json()["message"]
    assert elapsed < 5  # 1 s timeout, one retry, the SDK's back-off
    assert stripe_client.get("/orders", headers=customer).get_json() == []
    assert Order.get_by_id(IdempotencyKey.get().order_id).client_secret is None

    stripe_fake.mode = None
    retried = place(key="cart-outage")

    assert retried.status_code == 201, retried.get_json()
    assert retried.get_json()["clientSecret"]
    assert [o["id"] for o in stripe_client.get("/orders", headers=customer).get_json()] == [
        retried.get_json()["id"]
    ]
    assert Order.select().count() == 1
    assert len(stripe_fake.created_intents()) == 1


def test_refused_connections_are_503(app, make_app, stripe_config, customer, catalog):
    client = make_app(**{**stripe_config, "STRIPE_API_BASE": closed_port_url()}).test_client()

    response = client.post("/orders/new", json=CART, headers=customer)

    assert response.status_code == 503
    assert "could not be reached" in response.get_json()["message"]
    assert client.get("/orders", headers=customer).get_json() == []


def test_production_with_stripe_and_no_webhook_secret_refuses_to_start(base_config, stripe_config):
    config = {**base_config, **stripe_config, "STRIPE_WEBHOOK_SECRET": None}

    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        create_app(config)


def test_default_timeouts_and_retries_answer_within_30_seconds():
    config = {"PAYMENT_TIMEOUT_SECONDS": 10, "PAYMENT_MAX_RETRIES": 2}
    back_off = 0.5 + 1.0  # the SDK's longest sleeps before retries 1 and 2

    worst = sum(attempt_timeout(config)) * 3 + back_off

    assert worst < 30


def test_refunding_an_order_already_refunded_in_the_dashboard_refunds_it_here_too(
    stripe_client, stripe_fake, place, admin
):
    order = place().get_json()
    pay(stripe_client, stripe_fake, order)
    stripe_fake.refund_in_dashboard(intent_id(order))

    response = stripe_client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "refunded"}, headers=admin
    )

    assert response.status_code == 200, response.get_json()
    assert Order.get_by_id(order["id"]).status == "refunded"
    assert len(stripe_fake.refunds) == 1


def test_a_retry_after_the_unset_order_expired_is_409_not_a_canceled_order_with_a_secret(
    stripe_client, stripe_fake, place, runner
):
    stripe_fake.mode = "fail"
    assert place(key="cart-late").status_code == 502
    stripe_fake.mode = None
    order = Order.get()
    Order.update(created_at=order.created_at.replace(year=order.created_at.year - 1)).execute()
    assert runner.invoke(args=["orders", "expire", "--older-than", "24h"]).exit_code == 0
    assert Order.get_by_id(order.id).status == "canceled"

    retried = place(key="cart-late")

    assert retried.status_code == 409
    assert "canceled before its payment was set up" in retried.get_json()["message"]
    assert Order.get_by_id(order.id).client_secret is None
    assert stripe_fake.created_intents() == []


def age_a_year(order_id):
    created = Order.get_by_id(order_id).created_at
    Order.update(created_at=created.replace(year=created.year - 1)).where(
        Order.id == order_id
    ).execute()


def once_on(stripe_fake, method, path, action):
    """Run `action` (once) when the service's request `method path` reaches Stripe."""
    results, fired = [], []

    def hook(seen_method, seen_path):
        # Marked before `action` runs: its own calls to Stripe (expire finding a lost intent
        # again) must not run it a second time.
        if (seen_method, seen_path) == (method, path) and not fired:
            fired.append(True)
            results.append(action())

    stripe_fake.on_request = hook
    return results


def test_a_key_retry_that_expire_overtakes_mid_call_cancels_its_intent_and_is_409(
    stripe_app, stripe_client, stripe_fake, place
):
    stripe_fake.mode = "fail"
    assert place(key="cart-race").status_code == 502
    stripe_fake.mode = None
    order_id = IdempotencyKey.get().order_id
    age_a_year(order_id)
    expire = ["orders", "expire", "--older-than", "24h"]
    expired = once_on(
        stripe_fake,
        "POST",
        "/v1/payment_intents",
        lambda: stripe_app.test_cli_runner().invoke(args=expire).output,
    )

    retried = place(key="cart-race")

    assert f"order {order_id}: canceled" in expired[0]
    assert retried.status_code == 409, retried.get_json()
    assert "canceled before its payment was set up" in retried.get_json()["message"]
    stored = Order.get_by_id(order_id)
    assert (stored.status, stored.payment_intent_id, stored.client_secret) == (
        "canceled",
        None,
        None,
    )
    [intent] = stripe_fake.created_intents()
    assert intent["status"] == "canceled"
    assert place(key="cart-race").status_code == 409
    assert len(stripe_fake.created_intents()) == 1


def test_a_key_retry_leaves_its_intent_to_the_change_holding_the_order_and_is_409(
    stripe_app, stripe_client, stripe_fake, place
):
    stripe_fake.mode = "fail"
    assert place(key="cart-held").status_code == 502
    stripe_fake.mode = None
    order_id = IdempotencyKey.get().order_id
    held_until = utcnow() + datetime.timedelta(seconds=60)  # `orders expire` is canceling it
    Order.update(change_claimed_until=held_until).where(Order.id == order_id).execute()

    held = place(key="cart-held")

    assert held.status_code == 409, held.get_json()
    assert "in progress" in held.get_json()["message"]
    assert Order.get_by_id(order_id).client_secret is None
    [intent] = stripe_fake.created_intents()
    assert intent["status"] == "requires_payment_method"  # the holder's to cancel, not ours
    Order.update(change_claimed_until=None).where(Order.id == order_id).execute()
    finished = place(key="cart-held")
    assert finished.status_code == 201
    assert finished.get_json()["clientSecret"] == intent["client_secret"]


def test_expire_cancels_the_intent_a_key_retry_attached_after_expire_read_the_order(
    stripe_app, stripe_client, stripe_fake, place
):
    first = place(key="cart-first").get_json()
    stripe_fake.mode = "fail"
    assert place(key="cart-late").status_code == 502
    stripe_fake.mode = None
    late_id = Order.select().order_by(Order.id.desc()).get().id
    for order_id in (first["id"], late_id):
        age_a_year(order_id)
    # Expire read both orders; while it cancels the first one's intent, the retry completes.
    retried = once_on(
        stripe_fake,
        "POST",
        f"/v1/payment_intents/{intent_id(first)}/cancel",
        lambda: place(key="cart-late"),
    )

    result = stripe_app.test_cli_runner().invoke(args=["orders", "expire", "--older-than", "24h"])

    assert retried[0].status_code == 201, retried[0].get_json()
    assert f"order {late_id}: canceled" in result.output
    late = Order.get_by_id(late_id)
    assert late.status == "canceled"
    assert stripe_fake.intents[late.payment_intent_id]["status"] == "canceled"
