"""Events, and their deliveries, past EVENT_RETENTION_DAYS: for `db prune`."""

import datetime

from ..database import db, utcnow
from .models import Delivery, Event

BATCH = 1000


def prune_events(retention_days, now=None):
    """Delete events older than `retention_days` and their deliveries; how many events went.

    In short transactions of BATCH events, so the outbox's writers never wait long; another
    host pruning at the same moment only finds fewer rows.
    """
    cutoff = (now or utcnow()) - datetime.timedelta(days=retention_days)
    removed = 0
    while True:
        with db.atomic():
            old = Event.select(Event.id).where(Event.created_at < cutoff).limit(BATCH)
            ids = [event.id for event in old]
            if not ids:
                return removed
            Delivery.delete().where(Delivery.event.in_(ids)).execute()
            removed += Event.delete().where(Event.id.in_(ids)).execute()
