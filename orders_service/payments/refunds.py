"""The refund ledger: what each refund holds of its order, and what the provider says of it.

Every refund, made here or found at the provider, is a row that only moves forward: pending,
then succeeded, then failed (a bank can return a refund that had succeeded). A pending or
succeeded refund holds its amount (and its lines' units) against the order, so no two refunds
together pass what was paid; a succeeded one counts in the order's refunded total. Each move
happens once, under the order's row lock, whatever the number and order of the provider's
reports: the restock, the event and the move to `refunded` go with it.
"""

import json

from peewee import fn

from ..database import db, locked, utcnow
from ..errors import Conflict
from ..events import outbox
from ..orders import fulfillments
from ..orders.disputes import holds
from ..orders.lifecycle import apply_transition
from ..orders.models import Order, OrderLine
from ..products.stock import give_back
from .models import Refund
from .schemas import RefundSchema

REFUNDABLE = ("paid", "shipped", "completed")
# The provider's refund statuses as the ledger keeps them: Stripe's requires_action waits on
# the buyer, and a canceled refund was never paid out.
STATUS = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}
RANK = {"pending": 0, "succeeded": 1, "failed": 2}
HOLDING = ("pending", "succeeded")

_refund_schema = RefundSchema()


class OverRefund(Conflict):
    """More than is left to refund: nothing is sent to the provider."""


def refund_body(refund):
    return _refund_schema.dump(refund)


def lock_order(order_id):
    """The order, read under its row lock (held until the caller's transaction ends)."""
    return locked(Order.select().where(Order.id == order_id)).get()


def total(order_id, statuses=HOLDING):
    """The sum of the order's refunds in `statuses`: by default what they hold of its amount."""
    amount = fn.COALESCE(fn.SUM(Refund.amount_in_cents), 0)
    return (
        Refund.select(amount).where(Refund.order == order_id, Refund.status.in_(statuses)).scalar()
    )


def reserve(order, request, actor, **columns):
    """A pending staff refund of `request` (amount_in_cents, or lines), holding its amount.

    The caller holds the order's row lock, so no other refund reserves the same money or units
    meanwhile. OverRefund (409) for more than is left, or a line past what was bought.
    """
    if order.status == "authorized":
        raise Conflict(
            f"Order {order.id}'s payment is only authorized, not taken: cancel the order to "
            "void the authorization, or fulfil it to capture the payment."
        )
    if order.status not in REFUNDABLE:
        raise Conflict(
            f"An order that is {order.status} takes no refund: only a paid, shipped or "
            "completed one does."
        )
    lines = request.get("lines")
    amount = _claim_lines(order, lines) if lines else request["amount_in_cents"]
    left = order.amount_in_cents - total(order.id)
    if amount > left:
        raise OverRefund(
            f"Order {order.id} has {left} cents left to refund, not {amount}.",
            {"amountInCents": [f"At most {left}."]},
        )
    return Refund.create(
        order=order.id,
        amount_in_cents=amount,
        lines_json=json.dumps(lines or []),
        reason=request.get("reason"),
        restock=request.get("restock", False),
        origin="staff",
        actor=actor,
        created_at=utcnow(),
        **columns,
    )


def _claim_lines(order, lines):
    """The worth of refunding `lines`; their units are claimed on the order's lines."""
    by_product = {
        line.product_id: line for line in OrderLine.select().where(OrderLine.order == order.id)
    }
    short = []
    for item in lines:
        line = by_product.get(item["productId"])
        left = line.quantity - line.quantity_refunded if line else 0
        if item["quantity"] > left:
            short.append(
                {"productId": item["productId"], "requested": item["quantity"], "left": left}
            )
    if short:
        named = "; ".join(
            f"product {s['productId']}: {s['requested']} asked, {s['left']} left" for s in short
        )
        raise OverRefund(f"More units than are left to refund: {named}.", {"lines": short})
    _move_units(order.id, lines, +1)
    return sum(item["quantity"] * by_product[item["productId"]].price_in_cents for item in lines)


def _move_units(order_id, lines, sign):
    """Claim (+1) or give back (-1) the units of `lines`; what is left to send moves with
    them, and so may the order's fulfillment_status, which is returned."""
    for item in lines:
        OrderLine.update(
            quantity_refunded=OrderLine.quantity_refunded + sign * item["quantity"]
        ).where(OrderLine.order == order_id, OrderLine.product == item["productId"]).execute()
    return fulfillments.recount(order_id)


def withdraw(refund):
    """Forget a pending refund the provider refused to make: it held nothing, anywhere."""
    if Refund.delete().where(Refund.id == refund.id, Refund.status == "pending").execute():
        _move_units(refund.order_id, refund.lines, -1)


def advance(order_id, refund, provider_status, actor):
    """Move `refund` to the provider's `provider_status` if that is forward; True if it moved.

    Inside the caller's transaction. A refund that succeeds counts (and restocks, once); one
    that fails stops counting, gives its units back to be refunded again, and takes the order
    out of `refunded` if it had put it there. Each move writes its event.
    """
    status = STATUS.get(provider_status, "pending")
    if RANK[status] <= RANK[refund.status]:
        return False
    order = lock_order(order_id)
    before = refund.status
    refund.status = status
    Refund.update(status=status).where(Refund.id == refund.id).execute()
    if status == "failed" and refund.lines:
        order.fulfillment_status = _move_units(order_id, refund.lines, -1)
    if status == "succeeded" and refund.restock:
        lines = {line.product_id: line.id for line in order_lines(order_id)}
        give_back(order_id, {lines[item["productId"]]: item["quantity"] for item in refund.lines})
    order.amount_refunded_in_cents = total(order_id, ("succeeded",))
    Order.update(amount_refunded_in_cents=order.amount_refunded_in_cents).where(
        Order.id == order_id
    ).execute()
    outbox.record_refund(order, status, refund_body(refund), actor)
    if status == "succeeded" and order.status in REFUNDABLE:
        if order.amount_refunded_in_cents >= order.amount_in_cents:
            Refund.update(status_before_refunded=order.status).where(
                Refund.id == refund.id
            ).execute()
            apply_transition(order_id, "refunded", actor)
        elif _sent_or_refunded(order):
            apply_transition(order_id, "shipped", actor)
    elif before == "succeeded" and order.status == "refunded" and refund.status_before_refunded:
        apply_transition(order_id, refund.status_before_refunded, actor, undoing_refund=True)
    return True


def _sent_or_refunded(order):
    """True if a line refund has left a paid order nothing to send, some of it sent: the goods
    have left, so the order is shipped (unless a dispute holds it)."""
    held = holds("shipped", order.dispute_status)
    return order.status == "paid" and order.fulfillment_status == "fulfilled" and not held


def order_lines(order_id):
    return OrderLine.select(OrderLine.id, OrderLine.product).where(OrderLine.order == order_id)


def record(order_id, found, actor, refund_id=None):
    """Take in one ProviderRefund of the order: a staff refund it reports on (`refund_id`'s
    when the caller knows), or one made at the provider (its dashboard), new here with origin
    `stripe`. Inside the caller's transaction, which holds the order's row. True if it is new
    here or moved."""
    if refund_id is not None:
        refund = Refund.get_by_id(refund_id)
    else:
        refund = Refund.get_or_none(Refund.provider_refund_id == found.id)
    if refund is None and found.refund_key:
        refund = Refund.get_or_none(Refund.key == found.refund_key, Refund.order == order_id)
    if refund is None:
        refund = Refund.create(
            order=order_id,
            amount_in_cents=found.amount,
            reason=found.reason,
            origin="stripe",
            actor=actor,
            created_at=utcnow(),
            provider_refund_id=found.id,
        )
        return advance(order_id, refund, found.status, actor) or True
    if refund.provider_refund_id is None:
        refund.provider_refund_id = found.id
        Refund.update(provider_refund_id=found.id).where(Refund.id == refund.id).execute()
    return advance(order_id, refund, found.status, actor)


def record_all(order_id, refunds, actor):
    """Take in the provider's refunds of the order (one, or all it has); what happened.

    Each refund moves only forward, so a report older than one already taken in changes
    nothing, and any order of arrival ends the same.
    """
    with db.atomic():
        before = lock_order(order_id).status
        moved = [found.id for found in refunds if record(order_id, found, actor)]
        after = Order.select(Order.status).where(Order.id == order_id).scalar()
    if not moved:
        return "no change: refunds as recorded"
    return "refunded" if after == "refunded" != before else f"refunds recorded: {', '.join(moved)}"


def refunds_of(order_id):
    """The order's refunds, oldest first."""
    return list(Refund.select().where(Refund.order == order_id).order_by(Refund.id))
