"""`flask db prune`: idempotency keys after 24 h, processed Stripe events after 30 days."""

import datetime

from orders_service.database import utcnow
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
