"""The order life cycle: one table, and the one function every status change goes through."""

from ..database import db, locked, utcnow
from ..documents import json_literal
from ..errors import Conflict
from ..events import outbox
from ..products.stock import give_back
from . import fulfillments
from .disputes import OPEN, holds, refuse_while_disputed
from .models import Order, OrderHistory

TRANSITIONS = {
    "pending": frozenset({"paid", "canceled", "authorized"}),
    # A manual-capture payment's hold: captured (paid), or voided (canceled).
    "authorized": frozenset({"paid", "canceled"}),
    "paid": frozenset({"shipped", "completed", "refunded"}),
    "shipped": frozenset({"completed", "refunded"}),
    "completed": frozenset({"refunded"}),
    "canceled": frozenset(),
    "refunded": frozenset(),
}
# The one way out of a final status: a refund that failed after it made the order refunded
# takes the order back to the status it had (payments/refunds.py), never further.
UNDONE_BY_FAILED_REFUND = {"refunded": frozenset({"paid", "shipped", "completed"})}
STATUSES = tuple(TRANSITIONS)
# Statuses only the payment provider's events move an order to: staff cannot authorize a card.
PROVIDER_ONLY = frozenset({"authorized"})
ALIASES = {"cancelled": "canceled"}


class TransitionRefused(Conflict):
    def __init__(self, current, target, why=None):
        super().__init__(why or f"An order that is {current} cannot become {target}.")
        self.current = current
        self.target = target


def check_staff_move(current, target):
    """check_transition for a move staff, owners or cron ask for: never to PROVIDER_ONLY."""
    if target in PROVIDER_ONLY and current != target:
        raise TransitionRefused(
            current, target, f"Only the payment provider makes an order {target}."
        )
    return check_transition(current, target)


def normalize_status(value):
    """'Pending' -> 'pending', 'cancelled' -> 'canceled'; None for anything unknown."""
    status = ALIASES.get(value.strip().lower(), value.strip().lower())
    return status if status in TRANSITIONS else None


def check_transition(current, target, undoing_refund=False):
    """True if it is a real move, False if it is a no-op; TransitionRefused if not allowed."""
    if current == target:
        return False
    allowed = (UNDONE_BY_FAILED_REFUND if undoing_refund else TRANSITIONS).get(current, ())
    if target not in allowed:
        raise TransitionRefused(current, target)
    return True


def next_statuses(order):
    """The statuses staff may move `order` to now, in the table's order: its moves in
    TRANSITIONS but those its dispute holds and the provider's own. The staff console offers
    these and nothing else."""
    return _next(order.status, order.dispute_status)


def _next(status, dispute_status):
    return [
        s
        for s in STATUSES
        if s in TRANSITIONS[status] and s not in PROVIDER_ONLY and not holds(s, dispute_status)
    ]


def next_statuses_sql(alias, sqlite):
    """next_statuses as SQL over the row `alias` names (for documents.Document), made from the
    same table: one CASE arm per status, and one more before it where a dispute holds a move."""
    status, dispute = f"{alias}.status", f"{alias}.dispute_status"
    open_disputes = ", ".join(f"'{s}'" for s in sorted(OPEN))
    arms = []
    for current in STATUSES:
        free, held = _next(current, None), _next(current, min(OPEN))
        if held != free:
            arms.append(
                f"WHEN {status} = '{current}' AND {dispute} IN ({open_disputes})"
                f" THEN {json_literal(held, sqlite)}"
            )
        arms.append(f"WHEN {status} = '{current}' THEN {json_literal(free, sqlite)}")
    case = "CASE " + " ".join(arms) + " END"
    return f"json({case})" if sqlite else case


def apply_transition(order_id, target, actor, undoing_refund=False):
    """Move the order to `target` under a row lock, with its history row, in one transaction.

    Returns (order, changed). Setting the current status again changes nothing. A cancel
    gives the order's stock back here, so that no path to `canceled` can forget it; the
    shipped hold of an open dispute is kept here, so that no path to `shipped` can pass it,
    and a move to `shipped` sends what is left unsent (a failed refund's way back to shipped
    sends nothing and is not held).
    `undoing_refund` allows only the way back from `refunded` that a failed refund takes.
    """
    with db.atomic():
        order = locked(Order.select().where(Order.id == order_id)).get()
        if not check_transition(order.status, target, undoing_refund):
            return order, False
        if not undoing_refund:
            refuse_while_disputed(order, target)
            if target == "shipped":
                fulfillments.send_rest(order, actor)
        OrderHistory.create(
            order=order.id, from_status=order.status, to_status=target, actor=actor, at=utcnow()
        )
        changes = {"status": target}
        if order.status == "authorized":
            # Captured or voided, the hold is gone, and its deadline with it.
            changes["authorization_expires_at"] = order.authorization_expires_at = None
        Order.update(**changes).where(Order.id == order.id).execute()
        if target == "canceled":
            give_back(order.id)
        previous, order.status = order.status, target
        outbox.record_transition(order, previous, actor)
    return order, True
