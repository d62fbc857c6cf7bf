"""Status changes made by staff, owners and cron: one at a time per order, the provider first."""

import datetime

from ..database import release_connection, utcnow
from ..errors import Conflict
from ..ops.metrics import payment_call
from ..payments.gateway import current_gateway
from .lifecycle import apply_transition, check_transition
from .models import Order

# The provider call each target status needs first, by the gateway method's name; an order
# whose intent id was never stored (the creation's answer was lost) has its own.
SIDE_EFFECTS = {"canceled": "cancel_intent", "refunded": "refund"}
WITHOUT_INTENT = {"canceled": "cancel_lost_intent"}
# How long one change may hold its order: the provider's whole budget (24 s), with room.
CHANGE_LEASE = datetime.timedelta(seconds=60)


class ChangeInProgress(Conflict):
    def __init__(self, order_id):
        super().__init__(
            f"Another status change of order {order_id} is in progress; retry shortly.",
            headers={"Retry-After": "1"},
        )


def change_status(order, target, actor):
    """A staff, owner or system move: the provider first (cancel, refund), then the order.

    Each move claims the order for its whole length, so no other move lands between the
    provider call and the status it leads to (an admin's `paid` after the intent was canceled).
    Payment events never wait for a claim: they report what the provider already did, and a
    provider that has charged refuses the cancel. Raises TransitionRefused (nothing changed),
    ChangeInProgress, or PaymentError (the order keeps its status).
    """
    if not check_transition(order.status, target):
        return apply_transition(order.id, target, actor)
    claim = _claim(order)
    if claim is None:
        current = Order.get_by_id(order.id)
        if current.status == order.status:
            raise ChangeInProgress(order.id)
        return change_status(current, target, actor)  # moved meanwhile: decide again
    try:
        # An intent attached since `order` was read is the one cancel_lost_intent finds again.
        operation = (SIDE_EFFECTS if order.payment_intent_id else WITHOUT_INTENT).get(target)
        if operation:
            release_connection()
            with payment_call(operation):
                getattr(current_gateway(), operation)(order)
        return apply_transition(order.id, target, actor)
    finally:
        Order.update(change_claimed_until=None).where(
            Order.id == order.id, Order.change_claimed_until == claim
        ).execute()


def unclaimed(now):
    """The condition that no status change holds the order at `now`."""
    return Order.change_claimed_until.is_null() | (Order.change_claimed_until < now)


def _claim(order):
    """Hold the order while it still has the status the move was decided on; None if taken.

    A conditional UPDATE rather than a row lock held across the provider call: on SQLite that
    would stop every writer for the provider's whole budget, and it would pin a pooled
    connection on PostgreSQL. A claim left by a process that died expires with its lease.
    """
    now = utcnow()
    until = now + CHANGE_LEASE
    claimed = (
        Order.update(change_claimed_until=until)
        .where(
            Order.id == order.id,
            Order.status == order.status,
            unclaimed(now),
        )
        .execute()
    )
    return until if claimed else None
