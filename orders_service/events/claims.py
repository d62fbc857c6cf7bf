"""Deliveries claimed by one deliverer at a time, kept in version order, their results and
attempts, and queued again."""

import datetime
import secrets
from dataclasses import dataclass

import peewee

from ..database import db, is_sqlite, utcnow
from .models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

NOTIFY_CHANNEL = "orders_service_deliveries"
# How stale an endpoint's alive_at may get before a 2xx writes it again: precise enough for a
# silence counted in days, and deliverers delivering to one endpoint do not all queue on its row.
ALIVE_PRECISION = datetime.timedelta(minutes=1)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to."""

    at: datetime.datetime
    duration_ms: int
    status: int | None  # the HTTP status, None if none came
    error: str | None  # None: a 2xx came
    answer: str | None  # the first KiB of the answer's body, as text; None if no answer came


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
    # Disabling an endpoint takes its deliveries off the schedule, but one in flight then, or
    # written by a transaction that had not seen it disabled, may still come due: never sent.
    enabled = WebhookEndpoint.select(WebhookEndpoint.id).where(
        WebhookEndpoint.id == Delivery.endpoint,
        WebhookEndpoint.enabled == True,  # noqa: E712
    )
    return (
        Delivery.select(Delivery.id)
        .where(
            Delivery.state == pending,
            Delivery.next_attempt_at <= now,
            Delivery.version == first_pending,
            peewee.fn.EXISTS(enabled),
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
            # The endpoint as it is now: its current URL, the secrets signing this attempt, and
            # its id (the joined endpoint takes the place of delivery.endpoint_id).
            Delivery.select(
                Delivery,
                Event.uid,
                Event.body,
                WebhookEndpoint.id,
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


def record_result(delivery, outcome, schedule):
    """Store one attempt's outcome, and the attempt, in one transaction: delivered, due again
    after the schedule's next wait, or failed after its last. Returns that result; None if the
    claim had lapsed meanwhile (its delivery is another deliverer's now: nothing is stored)."""
    now = utcnow()
    made = delivery.attempts - delivery.schedule_start  # since it was last queued
    if outcome.error is None:
        result = "delivered"
        changes = {"state": "delivered", "delivered_at": now}
    elif made > len(schedule):
        result = "failed"
        changes = {"state": "failed"}
    else:
        result = "retry"
        changes = {"next_attempt_at": now + schedule[made - 1]}
    error = outcome.error and outcome.error[:255]
    with db.atomic():
        if result == "delivered":
            # The endpoint's row before the delivery's, as every other writer of both locks them.
            _alive(delivery.endpoint_id, now)
        updated = (
            Delivery.update(claim=None, last_status=outcome.status, last_error=error, **changes)
            .where(Delivery.id == delivery.id, Delivery.claim == delivery.claim)
            .execute()
        )
        if not updated:
            return None
        DeliveryAttempt.create(
            delivery=delivery.id,
            at=outcome.at,
            status=outcome.status,
            duration_ms=outcome.duration_ms,
            error=error,
            response_body=outcome.answer,
        )
    return result


def _alive(endpoint_id, now):
    """A 2xx came from the endpoint: its silence ends (written once per ALIVE_PRECISION)."""
    WebhookEndpoint.update(alive_at=now).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.alive_at.is_null() | (WebhookEndpoint.alive_at < now - ALIVE_PRECISION),
    ).execute()


def requeue(deliveries, due):
    """Queue the deliveries `deliveries` selects again: pending, due at `due` (None: not due
    while their endpoint is disabled), with the whole retry schedule before them.

    One in flight is left to its attempt, which is the one asked for: two attempts of one
    delivery never overlap, and its result still finds its claim. Returns how many were queued.
    """
    now = utcnow()
    in_flight = (
        (Delivery.state == "pending")
        & Delivery.claim.is_null(False)
        & (Delivery.next_attempt_at > now)
    )
    return (
        Delivery.update(
            state="pending",
            next_attempt_at=due,
            delivered_at=None,
            claim=None,
            schedule_start=Delivery.attempts,
        )
        .where(deliveries, ~in_flight)
        .execute()
    )


def backlog():
    """Deliveries still pending (due, waiting for a retry, or in flight)."""
    return Delivery.select().where(Delivery.state == "pending").count()


def notify_deliverers():
    """Wake idle deliverers when this transaction commits (PostgreSQL; SQLite ones poll)."""
    if not is_sqlite():
        db.execute_sql(f"NOTIFY {NOTIFY_CHANNEL}")
