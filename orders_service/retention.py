"""What `db prune` deletes once it has served its time, in bounded batches."""

import datetime
from collections.abc import Callable
from dataclasses import dataclass

import peewee

from .database import db, is_sqlite, utcnow
from .events.models import Delivery, Event
from .orders.models import IdempotencyKey
from .payments.models import PaymentEvent


@dataclass(frozen=True)
class Retention:
    """Rows of `model` whose `made_at` is older than `kept(config)` go, unless `held`."""

    name: str
    model: type
    made_at: peewee.Field
    kept: Callable[[dict], datetime.timedelta]
    held: peewee.ColumnBase | None = None


# What the README (PostgreSQL, housekeeping) says `db prune` deletes. A new kind of row to
# prune is one more line here.
RETENTIONS = (
    Retention(
        "idempotency keys",
        IdempotencyKey,
        IdempotencyKey.created_at,
        lambda config: datetime.timedelta(hours=24),
    ),
    Retention(
        "processed Stripe events",
        PaymentEvent,
        PaymentEvent.received_at,
        lambda config: datetime.timedelta(days=30),
    ),
    # Their deliveries go with them (ON DELETE CASCADE), so an event waits for each of its
    # deliveries to be delivered or failed: the deliverer still has to send it.
    Retention(
        "order events",
        Event,
        Event.created_at,
        lambda config: datetime.timedelta(days=config["EVENT_RETENTION_DAYS"]),
        held=peewee.fn.EXISTS(
            Delivery.select(Delivery.id).where(
                (Delivery.event == Event.id) & (Delivery.state == "pending")
            )
        ),
    ),
)


def prune(config, batch_size=1000):
    """Yield (name, rows deleted) for each retention, deleting in batches of `batch_size`."""
    now = utcnow()
    for retention in RETENTIONS:
        cutoff = now - retention.kept(config)
        deleted = 0
        while batch := _delete_batch(retention, cutoff, batch_size):
            deleted += batch
        yield retention.name, deleted


def _delete_batch(retention, cutoff, batch_size):
    """Delete up to `batch_size` expired rows in one short transaction; how many went.

    On PostgreSQL the batch skips rows another pruner has locked, so runs on several hosts
    share the work without waiting on (or deadlocking with) each other; SQLite has one writer.
    """
    key = retention.model._meta.primary_key
    expired = retention.made_at < cutoff
    if retention.held is not None:
        expired &= ~retention.held
    batch = retention.model.select(key).where(expired).order_by(key).limit(batch_size)
    if not is_sqlite():
        batch = batch.for_update(skip_locked=True)
    with db.atomic():
        return retention.model.delete().where(key.in_(batch)).execute()
