"""`flask db prune`: idempotency keys after 24 h, processed Stripe events after 30 days, order
events after EVENT_RETENTION_DAYS once none of their deliveries is pending."""

import datetime
import json

from orders_service.database import utcnow
from orders_service.events.models import Delivery, Event, WebhookEndpoint
from orders_service.orders.models import IdempotencyKey
from orders_service.payments.models import PaymentEvent


def ago(**delta):
    return utcnow() - datetime.timedelta(**delta)


def add_keys(*ages):
    for i, made in enumerate(ages):
        IdempotencyKey.create(
            user_id=7, key=f"key-{i}", request_hash="0" * 64, created_at=made, locked_at=made
        )


def add_events(*ages):
    for i, made in enumerate(ages):
        PaymentEvent.create(id=f"evt_{i}", type="charge.refunded", outcome="x", received_at=made)


def test_prune_deletes_keys_after_a_day_and_events_after_thirty_days(app, runner):
    with app.app_context():
        add_keys(ago(hours=25), ago(days=3), ago(hours=23), ago(minutes=1))
        add_events(ago(days=31), ago(days=29), ago(hours=25))

    result = runner.invoke(args=["db", "prune", "--batch-size", "1"])

    assert result.exit_code == 0, result.output
    assert "idempotency keys: 2 deleted." in result.output
    assert "processed Stripe events: 1 deleted." in result.output
    with app.app_context():
        assert sorted(k.key for k in IdempotencyKey.select()) == ["key-2", "key-3"]
        assert sorted(e.id for e in PaymentEvent.select()) == ["evt_1", "evt_2"]


def test_prune_with_nothing_to_delete_says_so(runner):
    result = runner.invoke(args=["db", "prune"])

    assert result.exit_code == 0, result.output
    assert "idempotency keys: 0 deleted." in result.output


def deliveries_end(order_id, state):
    Delivery.update(state=state).where(Delivery.order_id == order_id).execute()


def test_prune_keeps_an_old_event_until_none_of_its_deliveries_is_pending(app, runner, place_order):
    with app.app_context():
        WebhookEndpoint.create(
            url="https://hooks.example/orders", events_json=json.dumps(["*"]), secret="whsec_x"
        )
    pending, delivered, failed = (place_order()["id"] for _ in range(3))
    with app.app_context():
        Event.update(created_at=ago(days=31)).execute()
        deliveries_end(delivered, "delivered")
        deliveries_end(failed, "failed")

    first = runner.invoke(args=["db", "prune", "--batch-size", "1"])

    assert first.exit_code == 0, first.output
    assert "order events: 2 deleted." in first.output
    with app.app_context():
        assert [event.order_id for event in Event.select()] == [pending]
        assert [delivery.state for delivery in Delivery.select()] == ["pending"]
        deliveries_end(pending, "delivered")

    second = runner.invoke(args=["db", "prune"])

    assert "order events: 1 deleted." in second.output
    with app.app_context():
        assert Event.select().count() == Delivery.select().count() == 0
