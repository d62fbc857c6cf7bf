"""POST /webhooks/stripe: only signed events count, each once, never moving an order back."""

import json
import time

import pytest

from orders_service.orders.models import Order, OrderHistory
from orders_service.payments.models import PaymentEvent
from tests.fakes.stripe_events import charge_refunded, deliver, event, other_money, succeeded


@pytest.fixture
def order(stripe_client, customer, catalog):
    """A pending order on the stripe provider, with its intent at the fake."""
    response = stripe_client.post("/orders/new", json=["3", "8"], headers=customer)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def intent(stripe_fake, order):
    return stripe_fake.intents[Order.get_by_id(order["id"]).payment_intent_id]


def history(order):
    rows = OrderHistory.select().where(OrderHistory.order == order["id"]).order_by(OrderHistory.id)
    return [(row.from_status, row.to_status, row.actor) for row in rows]


def status_of(order):
    return Order.get_by_id(order["id"]).status


def test_signed_succeeded_event_makes_the_order_paid_by_stripe(
    stripe_client, stripe_fake, order, intent
):
    paid = event("payment_intent.succeeded", stripe_fake.set_status(intent["id"], "succeeded"))

    response = deliver(stripe_client, paid)

    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "paid"}
    assert status_of(order) == "paid"
    assert history(order)[-1] == ("pending", "paid", f"stripe:{paid['id']}")


def test_an_event_delivered_five_times_is_applied_once(stripe_client, order, intent):
    paid = event("payment_intent.succeeded", succeeded(intent))

    outcomes = [deliver(stripe_client, paid).get_json()["outcome"] for _ in range(5)]

    assert outcomes == ["paid"] + ["duplicate"] * 4
    assert len(history(order)) == 2  # created, paid
    assert PaymentEvent.select().count() == 1


@pytest.mark.parametrize(
    "delivery",
    [
        {"secret": "whsec_forged"},
        {"secret": None},
        {"signature": "t=1,v1=deadbeef"},
        {"timestamp": int(time.time()) - 301},
    ],
    ids=["forged", "unsigned", "garbled-signature", "stale"],
)
def test_unverified_deliveries_are_400_and_change_nothing(stripe_client, order, intent, delivery):
    paid = event("payment_intent.succeeded", succeeded(intent))

    response = deliver(stripe_client, paid, **delivery)

    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == 400 and body["message"]
    assert status_of(order) == "pending"
    assert PaymentEvent.select().count() == 0


def test_no_webhook_secret_configured_refuses_every_event(
    app, make_app, stripe_config, order, intent
):
    # Only development starts without the secret; the endpoint must still refuse.
    unsigned_ok = {**stripe_config, "STRIPE_WEBHOOK_SECRET": None, "APP_ENV": "development"}
    client = make_app(**unsigned_ok).test_client()
    paid = event("payment_intent.succeeded", succeeded(intent))

    response = deliver(client, paid)

    assert response.status_code == 400
    assert "STRIPE_WEBHOOK_SECRET" in response.get_json()["message"]
    assert status_of(order) == "pending"


@pytest.mark.parametrize(
    "payload",
    ["not json {", json.dumps({"type": "payment_intent.succeeded"}), json.dumps(["x"])],
    ids=["not-json", "no-id-or-object", "not-an-object"],
)
def test_a_signed_body_that_is_not_an_event_is_400(stripe_client, order, payload):
    response = deliver(stripe_client, payload)

    assert response.status_code == 400
    assert response.get_json()["message"]
    assert PaymentEvent.select().count() == 0


def test_payment_failed_after_succeeded_leaves_the_order_paid(stripe_client, order, intent):
    deliver(stripe_client, event("payment_intent.succeeded", succeeded(intent)))
    failed = {**intent, "last_payment_error": {"message": "Your card was declined."}}

    response = deliver(stripe_client, event("payment_intent.payment_failed", failed))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored: order is paid"
    assert status_of(order) == "paid"


def test_payment_failed_on_a_pending_order_records_the_reason(stripe_client, order, intent):
    failed = {**intent, "last_payment_error": {"message": "Your card was declined."}}

    response = deliver(stripe_client, event("payment_intent.payment_failed", failed))

    assert response.status_code == 200
    stored = Order.get_by_id(order["id"])
    assert (stored.status, stored.payment_error) == ("pending", "Your card was declined.")


def test_a_late_canceled_event_never_moves_a_paid_order_back(stripe_client, order, intent):
    deliver(stripe_client, event("payment_intent.succeeded", succeeded(intent)))

    response = deliver(stripe_client, event("payment_intent.canceled", intent))

    assert response.get_json()["outcome"] == "ignored: order is paid"
    assert status_of(order) == "paid"


def test_canceled_event_cancels_a_pending_order(stripe_client, order, intent):
    response = deliver(stripe_client, event("payment_intent.canceled", intent))

    assert response.get_json()["outcome"] == "canceled"
    assert status_of(order) == "canceled"


def test_a_full_refund_made_in_stripe_makes_the_order_refunded(stripe_client, order, intent):
    deliver(stripe_client, event("payment_intent.succeeded", succeeded(intent)))

    response = deliver(stripe_client, event("charge.refunded", charge_refunded(intent)))

    assert response.get_json()["outcome"] == "refunded"
    assert status_of(order) == "refunded"


def test_a_refund_delivered_before_succeeded_is_refused_until_the_order_is_paid_then_applied(
    stripe_client, stripe_fake, order, intent
):
    charged = stripe_fake.set_status(intent["id"], "succeeded")
    refund = event("charge.refunded", charge_refunded(charged))
    paid = event("payment_intent.succeeded", charged)

    early = deliver(stripe_client, refund)

    assert early.status_code == 409, early.get_json()
    assert "deliver it again later" in early.get_json()["message"]
    assert status_of(order) == "pending"
    assert PaymentEvent.select().count() == 0
    assert deliver(stripe_client, paid).get_json()["outcome"] == "paid"
    redelivered = deliver(stripe_client, refund)  # Stripe retries what was not acknowledged
    assert redelivered.status_code == 200
    assert redelivered.get_json()["outcome"] == "refunded"
    assert status_of(order) == "refunded"
    assert [row[1:] for row in history(order)[1:]] == [
        ("paid", f"stripe:{paid['id']}"),
        ("refunded", f"stripe:{refund['id']}"),
    ]


def test_a_refund_of_a_canceled_order_is_acknowledged_and_ignored_for_good(
    stripe_client, order, intent
):
    deliver(stripe_client, event("payment_intent.canceled", {**intent, "status": "canceled"}))

    response = deliver(stripe_client, event("charge.refunded", charge_refunded(intent)))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored: order is canceled"
    assert status_of(order) == "canceled"


def test_a_partial_refund_is_recorded_and_leaves_the_status_as_it_is(stripe_client, order, intent):
    deliver(stripe_client, event("payment_intent.succeeded", succeeded(intent)))

    response = deliver(stripe_client, event("charge.refunded", charge_refunded(intent, 100)))

    assert response.get_json()["outcome"] == f"refunds recorded: re_{intent['id']}_1"
    assert status_of(order) == "paid"
    assert Order.get_by_id(order["id"]).amount_refunded_in_cents == 100


def test_an_amount_that_does_not_match_the_order_changes_nothing(stripe_client, order, intent):
    cheaper = {**intent, "status": "succeeded", "amount": intent["amount"] - 1}

    response = deliver(stripe_client, event("payment_intent.succeeded", cheaper))

    assert response.get_json()["outcome"] == "ignored: amount does not match the order"
    assert status_of(order) == "pending"


@other_money
def test_a_payment_of_other_money_than_the_orders_changes_nothing(
    stripe_client, order, intent, field, value, outcome, caplog
):
    other = {**succeeded(intent), field: value}

    response = deliver(stripe_client, event("payment_intent.succeeded", other))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == f"ignored: {outcome}"
    assert status_of(order) == "pending"
    assert len(history(order)) == 1
    assert f"for order {order['id']} ignored: {outcome}" in caplog.text


def test_the_currency_matches_whatever_the_case_the_order_keeps_it_in(stripe_client, order, intent):
    Order.update(currency="USD").where(Order.id == order["id"]).execute()

    response = deliver(stripe_client, event("payment_intent.succeeded", succeeded(intent)))

    assert response.get_json()["outcome"] == "paid"


def test_a_charge_with_no_payment_intent_is_acknowledged_and_matches_no_hidden_order(
    stripe_client, stripe_fake, customer, catalog
):
    stripe_fake.mode = "fail"  # an order whose intent id is not stored yet
    assert stripe_client.post("/orders/new", json=["3"], headers=customer).status_code == 502
    [hidden] = Order.select()
    stripe_fake.mode = None
    # Made by another integration on the same Stripe account, without a PaymentIntent.
    charge = {
        "id": "ch_elsewhere",
        "object": "charge",
        "amount": hidden.amount_in_cents,
        "amount_refunded": hidden.amount_in_cents,
        "currency": "usd",
        "payment_intent": None,
        "refunded": True,
    }
    refunded = event("charge.refunded", charge)

    answers = [deliver(stripe_client, refunded) for _ in range(2)]  # and Stripe's retry

    assert [a.status_code for a in answers] == [200, 200]
    assert [a.get_json()["outcome"] for a in answers] == [
        "ignored: no payment intent",
        "duplicate",
    ]
    stored = Order.get_by_id(hidden.id)
    assert (stored.status, stored.payment_intent_id) == ("pending", None)
    assert len(history({"id": hidden.id})) == 1


def test_other_event_types_are_acknowledged_and_ignored(stripe_client, order, intent):
    response = deliver(stripe_client, event("payment_intent.created", intent))

    assert response.status_code == 200
    assert response.get_json() == {"received": True, "outcome": "ignored: type not handled"}
    assert status_of(order) == "pending"


def test_the_webhook_is_documented_without_bearer_auth(stripe_client):
    spec = stripe_client.get("/openapi.json").get_json()

    operation = spec["paths"]["/webhooks/stripe"]["post"]
    assert operation["security"] == []  # public: the signature is the authentication
    assert "400" in operation["responses"]
