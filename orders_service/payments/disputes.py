"""Stripe's disputes onto their orders: each report in the order Stripe made it, with its event."""

import datetime

from ..database import locked
from ..events import outbox
from ..events.schemas import DisputeChangeSchema
from ..orders.disputes import stale
from ..orders.models import Order

# Every event that carries a dispute object; what it says is the object's own status, never
# the event's name (a funds_reinstated of a lost dispute is still lost).
EVENT_TYPES = frozenset(
    f"charge.dispute.{name}"
    for name in ("created", "updated", "closed", "funds_withdrawn", "funds_reinstated")
)
MAX_AMOUNT = 2**63 - 1
change_schema = DisputeChangeSchema()


def dispute_columns(obj):
    """The order's dispute_* columns from a Stripe dispute object; None if it is not one."""
    columns = {
        "dispute_id": obj.get("id"),
        "dispute_status": obj.get("status"),
        "dispute_reason": obj.get("reason"),
        "dispute_amount_in_cents": obj.get("amount"),
    }
    limits = {"dispute_id": 255, "dispute_status": 32, "dispute_reason": 64}
    for name, longest in limits.items():
        if not isinstance(columns[name], str) or not 0 < len(columns[name]) <= longest:
            return None
    amount = columns["dispute_amount_in_cents"]
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
        return None
    return columns


def apply_dispute(obj, created, actor):
    """(what happened, order id) for a dispute object Stripe reported at `created` (its Unix
    seconds): the order's dispute becomes it, unless the order has a later report.

    Call within the transaction that records the Stripe event: the order's row lock, its
    dispute and its order.dispute.updated event (when what the order shows changed) are one.
    """
    columns = dispute_columns(obj)
    if columns is None or isinstance(created, bool) or not isinstance(created, int):
        return "ignored: not a dispute as Stripe sends one", None
    intent_id = obj.get("payment_intent")
    if not isinstance(intent_id, str) or not intent_id:
        return "ignored: no payment intent", None
    order = locked(Order.select().where(Order.payment_intent_id == intent_id)).first()
    if order is None:
        return "ignored: no order for this intent", None
    as_of = datetime.datetime.fromtimestamp(created, datetime.UTC).replace(tzinfo=None)
    why = stale(order, columns["dispute_id"], columns["dispute_status"], as_of)
    if why:
        return f"ignored: {why}", order.id
    before = {name: getattr(order, name) for name in columns}
    Order.update(**columns, dispute_as_of=as_of).where(Order.id == order.id).execute()
    for name, value in {**columns, "dispute_as_of": as_of}.items():
        setattr(order, name, value)
    status = columns["dispute_status"]
    if columns == before:
        return f"no change: dispute already {status}", order.id
    same_dispute = before["dispute_id"] == columns["dispute_id"]
    previous = before["dispute_status"] if same_dispute else None
    change = change_schema.dump({**columns, "previous_status": previous})
    outbox.record_order_event(order, "order.dispute.updated", actor, dispute=change)
    return f"dispute updated: {status}", order.id
