"""Cron commands: `payments reconcile` applies what webhooks missed, `orders expire` cancels."""

import datetime

import pytest

from orders_service.database import utcnow
from orders_service.orders.models import Order, OrderHistory
from tests.fakes.stripe_events import other_money


@pytest.fixture
def stripe_runner(stripe_app):
    return stripe_app.test_cli_runner()


@pytest.fixture
def place(stripe_client, customer, catalog):
    def place():
        response = stripe_client.post("/orders/new", json=["3"], headers=customer)
        assert response.status_code == 201, response.get_json()
        return Order.get_by_id(response.get_json()["id"])

    return place


def age(order, hours):
    created = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    created -= datetime.timedelta(hours=hours)
    Order.update(created_at=created).where(Order.id == order.id).execute()


def run(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_reconcile_applies_a_success_the_webhook_missed_once(stripe_runner, stripe_fake, place):
    missed, untouched = place(), place()
    stripe_fake.set_status(missed.payment_intent_id, "succeeded")

    first = run(stripe_runner, "payments", "reconcile")
    second = run(stripe_runner, "payments", "reconcile")

    assert f"order {missed.id}: paid" in first
    assert "1 orders changed" in first
    assert "0 orders changed" in second
    assert Order.get_by_id(missed.id).status == "paid"
    assert Order.get_by_id(untouched.id).status == "pending"
    last = OrderHistory.select().where(OrderHistory.order == missed.id).order_by(OrderHistory.id)
    assert [row.to_status for row in last] == ["pending", "paid"]


def test_reconcile_applies_a_cancel_made_in_stripe(stripe_runner, stripe_fake, place):
    order = place()
    stripe_fake.set_status(order.payment_intent_id, "canceled")

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: canceled" in output
    assert Order.get_by_id(order.id).status == "canceled"


def test_reconcile_sees_a_refund_of_a_paid_order_whose_webhook_was_lost(
    stripe_runner, stripe_fake, place
):
    order, kept = place(), place()
    for paid in (order, kept):
        stripe_fake.set_status(paid.payment_intent_id, "succeeded")
    run(stripe_runner, "payments", "reconcile")
    stripe_fake.refund_in_dashboard(order.payment_intent_id)
    assert stripe_fake.intents[order.payment_intent_id]["status"] == "succeeded"

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: refunded" in output
    assert "1 orders changed" in output
    assert Order.get_by_id(order.id).status == "refunded"
    assert Order.get_by_id(kept.id).status == "paid"
    assert "0 orders changed" in run(stripe_runner, "payments", "reconcile")


def test_reconcile_rereads_sold_orders_for_refunds_only_within_refunds_within(
    stripe_runner, stripe_fake, place
):
    order = place()
    stripe_fake.set_status(order.payment_intent_id, "succeeded")
    run(stripe_runner, "payments", "reconcile")
    stripe_fake.refund_in_dashboard(order.payment_intent_id)
    age(order, 24 * 31)
    reads = f"/v1/payment_intents/{order.payment_intent_id}"

    run(stripe_runner, "payments", "reconcile")
    assert len(stripe_fake.calls("GET", reads)) == 1  # the run that found it paid
    output = run(stripe_runner, "payments", "reconcile", "--refunds-within", "60d")

    assert f"order {order.id}: refunded" in output
    assert Order.get_by_id(order.id).status == "refunded"


def test_reconcile_makes_a_pending_order_paid_then_refunded_when_both_webhooks_were_lost(
    stripe_runner, stripe_fake, place
):
    order = place()
    stripe_fake.set_status(order.payment_intent_id, "succeeded")
    stripe_fake.refund_in_dashboard(order.payment_intent_id)

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: paid\norder {order.id}: refunded" in output
    assert "1 orders changed" in output
    rows = OrderHistory.select().where(OrderHistory.order == order.id).order_by(OrderHistory.id)
    assert [row.to_status for row in rows] == ["pending", "paid", "refunded"]


@other_money
def test_reconcile_does_not_pay_an_order_with_other_money_than_its_own(
    stripe_runner, stripe_fake, place, field, value, outcome
):
    order = place()
    stripe_fake.set_status(order.payment_intent_id, "succeeded")
    stripe_fake.intents[order.payment_intent_id][field] = value

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: ignored: {outcome}" in output
    assert "0 orders changed" in output
    assert Order.get_by_id(order.id).status == "pending"


def test_reconcile_leaves_a_cancel_to_the_status_change_holding_the_order(
    stripe_runner, stripe_fake, place
):
    order = place()
    stripe_fake.set_status(order.payment_intent_id, "canceled")  # by a payment marked by hand
    held_until = utcnow() + datetime.timedelta(seconds=60)
    Order.update(change_claimed_until=held_until).where(Order.id == order.id).execute()

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: skipped: A status change of order {order.id} is under way" in output
    assert Order.get_by_id(order.id).status == "pending"


def test_reconcile_reports_an_unreachable_provider_and_changes_nothing(
    stripe_runner, stripe_fake, place
):
    order = place()
    stripe_fake.mode = "fail"

    output = run(stripe_runner, "payments", "reconcile")

    assert f"order {order.id}: skipped" in output
    assert Order.get_by_id(order.id).status == "pending"


def test_expire_cancels_old_pending_orders_and_their_intents(stripe_runner, stripe_fake, place):
    old, recent = place(), place()
    age(old, 25)

    output = run(stripe_runner, "orders", "expire", "--older-than", "24h")

    assert f"order {old.id}: canceled" in output
    assert "1 orders canceled" in output
    assert Order.get_by_id(old.id).status == "canceled"
    assert stripe_fake.intents[old.payment_intent_id]["status"] == "canceled"
    assert Order.get_by_id(recent.id).status == "pending"
    assert stripe_fake.intents[recent.payment_intent_id]["status"] == "requires_payment_method"
    assert "0 orders canceled" in run(stripe_runner, "orders", "expire", "--older-than", "24h")


def test_expire_cancels_orders_whose_payment_was_never_set_up(
    stripe_runner, stripe_client, stripe_fake, customer, catalog
):
    stripe_fake.mode = "fail"
    assert stripe_client.post("/orders/new", json=["3"], headers=customer).status_code == 502
    [half_made] = Order.select()
    age(half_made, 2)

    while_down = run(stripe_runner, "orders", "expire", "--older-than", "30m")
    stripe_fake.mode = None
    output = run(stripe_runner, "orders", "expire", "--older-than", "30m")

    assert f"order {half_made.id}: skipped" in while_down
    assert f"order {half_made.id}: canceled" in output
    assert Order.get_by_id(half_made.id).status == "canceled"
    assert all(i["status"] == "canceled" for i in stripe_fake.created_intents())


def test_expire_skips_an_order_stripe_already_charged(stripe_runner, stripe_fake, place):
    order = place()
    age(order, 48)
    stripe_fake.set_status(order.payment_intent_id, "succeeded")  # webhook not here yet

    output = run(stripe_runner, "orders", "expire", "--older-than", "1d")

    assert f"order {order.id}: skipped" in output
    assert Order.get_by_id(order.id).status == "pending"


@pytest.mark.parametrize("bad", ["24", "h", "0h", "1w", "-3d"])
def test_expire_refuses_a_duration_it_cannot_read(stripe_runner, bad):
    result = stripe_runner.invoke(args=["orders", "expire", "--older-than", bad])

    assert result.exit_code == 2
    assert "duration" in result.output


@pytest.mark.slow
def test_expire_cancels_at_stripe_the_intent_whose_creation_answer_was_lost(
    stripe_runner, stripe_fake, lost_creation
):
    lost = lost_creation
    [intent] = stripe_fake.created_intents()
    assert lost.payment_intent_id is None and intent["status"] == "requires_payment_method"
    age(lost, 2)

    output = run(stripe_runner, "orders", "expire", "--older-than", "30m")

    assert f"order {lost.id}: canceled" in output
    assert Order.get_by_id(lost.id).status == "canceled"
    assert [i["status"] for i in stripe_fake.created_intents()] == ["canceled"]


def test_expire_cancels_an_order_whose_intent_stripe_refused_to_make(
    stripe_runner, stripe_client, stripe_fake, customer, catalog
):
    stripe_fake.refuse_creations = "Amount must be at least $0.50 usd"
    refused = stripe_client.post("/orders/new", json=["3"], headers=customer)
    assert refused.status_code == 409, refused.get_json()
    [order] = Order.select()
    age(order, 2)

    output = run(stripe_runner, "orders", "expire", "--older-than", "30m")

    assert f"order {order.id}: canceled" in output
    assert Order.get_by_id(order.id).status == "canceled"
    assert stripe_fake.created_intents() == []
