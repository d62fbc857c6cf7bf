"""Status changes made by staff, owners and cron: one at a time per order, the provider first."""

import datetime

from ..database import release_connection, utcnow
from ..errors import Conflict, Forbidden
from ..ops.metrics import payment_call
from ..payments.gateway import current_gateway
from ..payments.refunding import refund_rest
from .lifecycle import TransitionRefused, apply_transition, check_staff_move
from .models import Order

# The provider call each move needs first, by the gateway method's name. Keyed by the move,
# not its target: pending -> paid is a payment made by hand (a bank transfer), so the card
# intent is canceled lest the buyer pay twice; authorized -> paid is the hold's capture, and
# authorized -> canceled voids the hold.
SIDE_EFFECTS = {
    ("pending", "canceled"): "cancel_intent",
    ("pending", "paid"): "cancel_intent",
    ("authorized", "paid"): "capture",
    ("authorized", "canceled"): "cancel_intent",
    ("paid", "refunded"): "refund",
    ("shipped", "refunded"): "refund",
    ("completed", "refunded"): "refund",
}
# The call instead for an order whose intent id was never stored (the creation's answer was
# lost); none means there is nothing at the provider to act on.
WITHOUT_INTENT = {"cancel_intent": "cancel_lost_intent"}
# How long one change may hold its order: the provider's whole budget (24 s), with room.
CHANGE_LEASE = datetime.timedelta(seconds=60)


class ChangeInProgress(Conflict):
    def __init__(self, order_id):
        super().__init__(
            f"Another status change of order {order_id} is in progress; retry shortly.",
            headers={"Retry-After": "1"},
        )


def change_status(order, target, actor, buyer=False):
    """A staff, owner or system move: the provider first (cancel, refund), then the order.

    `buyer`: the owner asks, who may not void an authorized order's hold: checked on the
    status each attempt decides on, so a hold that arrives meanwhile is not canceled by them.

    Each move claims the order for its whole length, so no other move lands between the
    provider call and the status it leads to (an admin's `paid` after the intent was canceled).
    Payment events never wait for a claim (but see `held`): they report what the provider
    already did, and a provider that has charged (or is charging) refuses the cancel, so
    neither `canceled` nor a `paid` by hand lands on a card payment. Raises TransitionRefused
    (nothing changed), ChangeInProgress, or PaymentError (the order keeps its status;
    PaymentRefused, a 409 with the provider's reason).
    """
    if buyer and order.status == "authorized":
        raise Forbidden("Customers may only cancel their own pending orders.")
    if not check_staff_move(order.status, target):
        return apply_transition(order.id, target, actor)
    claim = _claim(order)
    if claim is None:
        current = Order.get_by_id(order.id)
        if current.status == order.status:
            raise ChangeInProgress(order.id)
        return change_status(current, target, actor, buyer)  # moved meanwhile: decide again
    try:
        operation = provider_call(order, target)
        if operation == "refund":
            # What is left, through the refund ledger, whose last step is the move itself.
            return refund_rest(order, actor)
        if operation:
            release_connection()
            with payment_call(operation):
                getattr(current_gateway(), operation)(order)
        return apply_transition(order.id, target, actor)
    finally:
        Order.update(change_claimed_until=None).where(
            Order.id == order.id, Order.change_claimed_until == claim
        ).execute()


def capture_first(order, actor):
    """The hold's capture (authorized -> paid) that a fulfilment or a move to shipped makes
    first; the order as it is after it (`order` itself unless it was authorized).

    Another request may have captured the order since `order` was read, and moved it on (its
    fulfilment sent everything: shipped): the order is then returned as it is now, for the
    caller's own checks to answer (no line left to send; shipped already, a no-op), not
    refused as a move to paid that the caller never asked for.
    """
    if order.status != "authorized":
        return order
    try:
        return change_status(order, "paid", actor)[0]
    except TransitionRefused:
        current = Order.get_by_id(order.id)
        if current.status == "authorized":
            raise
        return current


def provider_call(order, target):
    """The gateway method the move of `order` to `target` needs first, or None."""
    operation = SIDE_EFFECTS.get((order.status, target))
    if operation and not order.payment_intent_id:
        # An intent attached since `order` was read is the one cancel_lost_intent finds again.
        return WITHOUT_INTENT.get(operation)
    return operation


def unclaimed(now):
    """The condition that no status change holds the order at `now`."""
    return Order.change_claimed_until.is_null() | (Order.change_claimed_until < now)


def held(order, now):
    """True while a status change holds the order (what `unclaimed` excludes).

    The cancel that a held pending order's intent reports may be the holder's own, made for a
    `paid` by hand: that event waits for the holder to finish.
    """
    return order.change_claimed_until is not None and order.change_claimed_until >= now


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
