"""Deliveries claimed by one deliverer at a time, kept in version order, and their results."""

import secrets

import peewee

from ..database import db, is_sqlite, utcnow
from .models import Delivery, Event, WebhookEndpoint

NOTIFY_CHANNEL = "orders_service_deliveries"


def due_deliveries(now, limit):
    """Pending deliveries due by `now` that are the first pending version of their order for
    their endpoint: a later event waits for the earlier one, delivered or failed."""
    other = Delivery.alias()
    # 'pending' written into the SQL, not bound: psycopg prepares a statement run five times,
    # and a generic plan can use the partial index only if it sees its predicate's value.
    pending = peewee.SQL("'pending'")
    # A scalar subquery, not NOT EXISTS: PostgreSQL runs it per candidate as one probe of
    # delivery_pending_versions, where an anti-join planned on a young table's statistics
    # compared every pending delivery with every other.
    first_pending = other.select(peewee.fn.MIN(other.version)).where(
        other.endpoint == Delivery.endpoint,
        other.order_id == Delivery.order_id,
        other.state == pending,
    )
    return (
        Delivery.select(Delivery.id)
        .where(
            Delivery.state == pending,
            Delivery.next_attempt_at <= now,
            Delivery.version == first_pending,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )


def claim(limit, lease):
    """Up to `limit` due deliveries, each claimed for `lease` (with its event and endpoint).

    PostgreSQL: the rows are locked with SKIP LOCKED, so deliverers never wait on each other
    nor take the same row. SQLite: the write transaction holds the whole file, and the
    UPDATE's conditions claim only rows still due. A claim whose deliverer dies lapses when
    the lease ends, and the delivery is due again.
    """
    now = utcnow()
    token = secrets.token_hex(16)
    with db.atomic():
        due = due_deliveries(now, limit)
        if not is_sqlite():
            due = due.for_update(skip_locked=True)
        ids = [row.id for row in due]
        if not ids:
            return []
        Delivery.update(
            claim=token, next_attempt_at=now + lease, attempts=Delivery.attempts + 1
        ).where(
            Delivery.id.in_(ids), Delivery.state == "pending", Delivery.next_attempt_at <= now
        ).execute()
        return list(
            # The endpoint as it is now: its current URL, and the secrets signing this attempt.
            Delivery.select(
                Delivery,
                Event.uid,
                Event.body,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                WebhookEndpoint.previous_secret,
                WebhookEndpoint.previous_secret_expires_at,
            )
            .join(Event)
            .switch(Delivery)
            .join(WebhookEndpoint)
            .where(Delivery.claim == token)
            .order_by(Delivery.id)
        )


def record_result(delivery, status, error, schedule):
    """Store one attempt's outcome: delivered, due again after the schedule's next wait, or
    failed after its last. Returns that result; None if the claim had lapsed meanwhile."""
    now = utcnow()
    if error is None:
        result = "delivered"
        changes = {"state": "delivered", "delivered_at": now}
    elif delivery.attempts > len(schedule):
        result = "failed"
        changes = {"state": "failed"}
    else:
        result = "retry"
        changes = {"next_attempt_at": now + schedule[delivery.attempts - 1]}
    updated = (
        Delivery.update(claim=None, last_status=status, last_error=error and error[:255], **changes)
        .where(Delivery.id == delivery.id, Delivery.claim == delivery.claim)
        .execute()
    )
    return result if updated else None


def backlog():
    """Deliveries still pending (due, waiting for a retry, or in flight)."""
    return Delivery.select().where(Delivery.state == "pending").count()


def notify_deliverers():
    """Wake idle deliverers when this transaction commits (PostgreSQL; SQLite ones poll)."""
    if not is_sqlite():
        db.execute_sql(f"NOTIFY {NOTIFY_CHANNEL}")
