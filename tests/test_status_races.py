"""A status change and the provider agree, whatever lands during its provider call."""

import datetime

import pytest

from orders_service.database import utcnow
from orders_service.orders.models import Order
from orders_service.payments.stripe import StripeGateway
from tests.fakes.stripe_events import deliver, event


@pytest.fixture
def order(stripe_client, customer, catalog):
    response = stripe_client.post("/orders/new", json=["3"], headers=customer)
    assert response.status_code == 201, response.get_json()
    return Order.get_by_id(response.get_json()["id"])


@pytest.fixture
def second_client(stripe_app, make_app, stripe_config):
    """Another app on the same database and fake: a request made during one of stripe_app's
    runs in its own context (the same app would share the running request's `g`)."""
    return make_app(**stripe_config).test_client()


def set_status(client, order, status, headers):
    return client.post(
        "/orders/status-update", json={"orderId": order.id, "status": status}, headers=headers
    )


def during_cancel(monkeypatch, action):
    """Run `action()` while the cancel's call to Stripe is under way; its answers are kept."""
    real_cancel = StripeGateway.cancel_intent
    answers = []

    def cancel(self, order, *args):
        answers.append(action())
        return real_cancel(self, order, *args)

    monkeypatch.setattr(StripeGateway, "cancel_intent", cancel)
    return answers


def test_an_admins_paid_during_a_cancel_is_409_and_the_order_ends_canceled_like_its_intent(
    stripe_client, second_client, stripe_fake, order, customer, admin, monkeypatch
):
    answers = during_cancel(monkeypatch, lambda: set_status(second_client, order, "paid", admin))

    canceled = set_status(stripe_client, order, "canceled", customer)

    assert answers[0].status_code == 409
    assert "in progress" in answers[0].get_json()["message"]
    assert canceled.status_code == 200, canceled.get_json()
    assert Order.get_by_id(order.id).status == "canceled"
    assert stripe_fake.intents[order.payment_intent_id]["status"] == "canceled"


def test_a_success_webhook_during_a_cancel_is_applied_and_stripe_refuses_the_cancel(
    stripe_client, second_client, stripe_fake, order, customer, monkeypatch
):
    def charged():
        intent = stripe_fake.set_status(order.payment_intent_id, "succeeded")
        return deliver(second_client, event("payment_intent.succeeded", intent))

    answers = during_cancel(monkeypatch, charged)

    canceled = set_status(stripe_client, order, "canceled", customer)

    assert answers[0].status_code == 200
    assert canceled.status_code == 409
    assert Order.get_by_id(order.id).status == "paid"
    assert stripe_fake.intents[order.payment_intent_id]["status"] == "succeeded"


def test_a_cancel_after_an_admins_paid_never_reaches_stripe(
    stripe_client, stripe_fake, order, customer, admin
):
    assert set_status(stripe_client, order, "paid", admin).status_code == 200
    # The payment by hand's own cancel of the card intent.
    by_hand = stripe_fake.calls("POST", r"/v1/payment_intents/\w+/cancel")

    canceled = set_status(stripe_client, order, "canceled", customer)

    assert canceled.status_code in (404, 409)
    assert stripe_fake.calls("POST", r"/v1/payment_intents/\w+/cancel") == by_hand
    assert Order.get_by_id(order.id).status == "paid"


@pytest.mark.parametrize(("minutes", "status"), [(5, 409), (-5, 200)], ids=["held", "expired"])
def test_a_claim_holds_the_order_until_its_lease_ends(stripe_client, order, admin, minutes, status):
    until = utcnow() + datetime.timedelta(minutes=minutes)
    Order.update(change_claimed_until=until).where(Order.id == order.id).execute()

    response = set_status(stripe_client, order, "paid", admin)

    assert response.status_code == status, response.get_json()
    assert Order.get_by_id(order.id).status == ("paid" if status == 200 else "pending")


def test_stripes_cancel_reported_during_a_payment_by_hand_is_redelivered_and_leaves_it_paid(
    stripe_client, second_client, stripe_fake, order, admin, monkeypatch
):
    intent = stripe_fake.intents[order.payment_intent_id]
    canceled = event("payment_intent.canceled", {**intent, "status": "canceled"})
    answers = during_cancel(monkeypatch, lambda: deliver(second_client, canceled))

    paid = set_status(stripe_client, order, "paid", admin)

    assert answers[0].status_code == 409, answers[0].get_json()
    assert "under way" in answers[0].get_json()["message"]
    assert paid.status_code == 200, paid.get_json()
    redelivered = deliver(second_client, canceled)  # Stripe retries what was not acknowledged
    assert redelivered.status_code == 200
    assert redelivered.get_json()["outcome"] == "ignored: order is paid"
    assert Order.get_by_id(order.id).status == "paid"
