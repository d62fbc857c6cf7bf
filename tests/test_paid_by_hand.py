"""A pending order marked paid by staff (a bank transfer) cancels its card intent first."""

import pytest

from orders_service.orders.changes import change_status
from orders_service.orders.models import Order, OrderHistory
from tests.fakes.stripe_events import deliver, event

CANCELS = r"/v1/payment_intents/\w+/cancel"


@pytest.fixture
def order(stripe_client, customer, catalog):
    response = stripe_client.post("/orders/new", json=["3"], headers=customer)
    assert response.status_code == 201, response.get_json()
    return Order.get_by_id(response.get_json()["id"])


def mark_paid(client, order, admin):
    return client.post(
        "/orders/status-update", json={"orderId": order.id, "status": "paid"}, headers=admin
    )


def history(order):
    rows = OrderHistory.select().where(OrderHistory.order == order.id).order_by(OrderHistory.id)
    return [(row.from_status, row.to_status, row.actor) for row in rows]


def test_marking_an_order_paid_by_hand_cancels_its_intent_so_the_card_cannot_pay(
    stripe_client, stripe_fake, order, admin
):
    response = mark_paid(stripe_client, order, admin)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"id": order.id, "status": "paid"}
    assert stripe_fake.intents[order.payment_intent_id]["status"] == "canceled"
    assert len(stripe_fake.calls("POST", CANCELS)) == 1
    assert Order.get_by_id(order.id).status == "paid"
    assert history(order) == [(None, "pending", "user:7"), ("pending", "paid", "admin:1")]


def test_stripes_canceled_event_for_that_intent_leaves_the_order_paid(
    stripe_client, stripe_fake, order, admin
):
    assert mark_paid(stripe_client, order, admin).status_code == 200
    canceled = event("payment_intent.canceled", dict(stripe_fake.intents[order.payment_intent_id]))

    response = deliver(stripe_client, canceled)

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "ignored: order is paid"
    assert Order.get_by_id(order.id).status == "paid"
    assert len(history(order)) == 2


@pytest.mark.parametrize("under_way", ["processing", "succeeded"])
def test_a_card_payment_under_way_refuses_the_payment_by_hand_and_its_webhook_pays_the_order(
    stripe_client, stripe_fake, order, admin, under_way
):
    stripe_fake.set_status(order.payment_intent_id, under_way)  # its webhook not here yet

    response = mark_paid(stripe_client, order, admin)

    assert response.status_code == 409, response.get_json()
    assert f"it has a status of {under_way}" in response.get_json()["message"]
    assert Order.get_by_id(order.id).status == "pending"
    assert len(history(order)) == 1
    charged = event(
        "payment_intent.succeeded", stripe_fake.set_status(order.payment_intent_id, "succeeded")
    )
    assert deliver(stripe_client, charged).get_json()["outcome"] == "paid"
    assert history(order)[-1] == ("pending", "paid", f"stripe:{charged['id']}")


def test_a_processing_intent_stripe_can_still_cancel_lets_the_payment_by_hand_through(
    stripe_client, stripe_fake, order, admin
):
    stripe_fake.set_status(order.payment_intent_id, "processing")
    stripe_fake.cancels_processing = True  # one of Stripe's "rare cases"

    response = mark_paid(stripe_client, order, admin)

    assert response.status_code == 200, response.get_json()
    assert stripe_fake.intents[order.payment_intent_id]["status"] == "canceled"
    assert Order.get_by_id(order.id).status == "paid"


@pytest.mark.slow
def test_paid_by_hand_cancels_the_intent_whose_creation_answer_was_lost(
    stripe_app, stripe_fake, lost_creation
):
    assert lost_creation.payment_intent_id is None
    # Staff never see such an order (no clientSecret); the table still holds for it.
    with stripe_app.app_context():
        paid, changed = change_status(lost_creation, "paid", "admin:1")

    assert (paid.status, changed) == ("paid", True)
    assert [i["status"] for i in stripe_fake.created_intents()] == ["canceled"]
