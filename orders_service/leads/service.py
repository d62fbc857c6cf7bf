"""Lead status rules: where a new column goes, and reordering all at once."""

import peewee

from ..database import db, locked
from .models import LeadStatus


class UnknownStatuses(Exception):
    def __init__(self, ids):
        super().__init__(f"Unknown lead statuses: {', '.join(map(str, ids))}.")
        self.ids = ids


def ordered_statuses():
    return LeadStatus.select().order_by(LeadStatus.status_order, LeadStatus.id)


def create_status(name, status_order=None):
    with db.atomic():
        if status_order is None:
            highest = LeadStatus.select(peewee.fn.MAX(LeadStatus.status_order)).scalar()
            status_order = 0 if highest is None else highest + 1
        return LeadStatus.create(name=name, status_order=status_order)


def reorder(positions):
    """Apply every {id, status_order} or none: rows locked in id order, one UPDATE."""
    new_order = {item["id"]: item["status_order"] for item in positions}
    with db.atomic():
        # Locking every column in one order makes concurrent reorders queue, not interleave.
        known = {
            status.id for status in locked(LeadStatus.select(LeadStatus.id).order_by(LeadStatus.id))
        }
        unknown = sorted(set(new_order) - known)
        if unknown:
            raise UnknownStatuses(unknown)
        case = peewee.Case(LeadStatus.id, list(new_order.items()))
        LeadStatus.update(status_order=case).where(LeadStatus.id.in_(list(new_order))).execute()
    return list(ordered_statuses())
