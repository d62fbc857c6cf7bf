"""Catch up with the provider: apply what the webhooks of unfinished orders missed."""

import time
from dataclasses import asdict

from ..database import utcnow
from ..orders.disputes import OPEN
from ..orders.models import Order
from .disputes import dispute_columns
from .events import NotApplicableYet, apply_event
from .gateway import PaymentError, current_gateway

# What an intent's status at the provider means for a pending order.
EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "canceled": "payment_intent.canceled",
}
# Sold orders whose payment can still be refunded at the provider.
REFUNDABLE = ("paid", "shipped", "completed")


def synthetic_event(intent, finding, event_type, obj):
    """The event the provider would have sent; its id makes each finding apply once."""
    return {"id": f"reconcile:{intent.id}:{finding}", "type": event_type, "data": {"object": obj}}


def missed_events(order, intent):
    """The events the intent shows that the order has not followed, in the order they apply."""
    found = []
    if order.status == "pending" and intent.status in EVENT_FOR_STATUS:
        payment_intent = {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "amount_received": intent.amount_received,
            "currency": intent.currency,
            "status": intent.status,
        }
        found.append(
            synthetic_event(intent, intent.status, EVENT_FOR_STATUS[intent.status], payment_intent)
        )
    if intent.status == "succeeded" and intent.amount_refunded == intent.amount:
        charge = {
            "object": "charge",
            "payment_intent": intent.id,
            "amount": intent.amount,
            "amount_refunded": intent.amount_refunded,
            "currency": intent.currency,
            "refunded": True,
        }
        found.append(synthetic_event(intent, "refunded", "charge.refunded", charge))
    return found


def missed_disputes(order, intent, gateway):
    """The dispute reports the order has not followed, as events made now (their time orders
    them against the webhooks': see orders.disputes.stale)."""
    if not (intent.disputed or order.dispute_status in OPEN):
        return []
    now = int(time.time())
    found = []
    for dispute in gateway.list_disputes(intent.id):
        obj = {"object": "dispute", "payment_intent": intent.id, **asdict(dispute)}
        columns = dispute_columns(obj) or {}
        if all(getattr(order, name) == value for name, value in columns.items()):
            continue  # what the order shows already (or not a dispute to show)
        # Unique to this finding: two runs at once both apply it, and the second changes nothing.
        finding = f"{dispute.id}:{dispute.status}:{now}"
        event = synthetic_event(intent, finding, "charge.dispute.updated", obj)
        found.append({**event, "created": now})
    return found


def reconcile_orders(refunds_within):
    """Yield (order id, what happened) for each event the intents of unfinished orders show.

    Pending orders are all re-read; sold ones placed within `refunds_within` too, for refunds
    (a refunded intent still reads `succeeded`) and disputes (its charge says disputed), and
    those with an open dispute, whatever their age, for the dispute's end. A pending order
    whose payment was refunded is paid first, then refunded.
    """
    gateway = current_gateway()
    unfinished = Order.select().where(
        Order.payment_intent_id.is_null(False),
        (Order.status == "pending")
        | (Order.status.in_(REFUNDABLE) & (Order.created_at >= utcnow() - refunds_within))
        | Order.dispute_status.in_(OPEN),
    )
    for order in list(unfinished.order_by(Order.id)):
        try:
            intent = gateway.retrieve_intent(order.payment_intent_id)
        except PaymentError as error:
            yield order.id, f"skipped: {error.message}"
            continue
        if intent is None:
            continue
        for event in missed_events(order, intent):
            try:
                yield order.id, apply_event(event, actor="system")
            except NotApplicableYet as later:
                yield order.id, f"skipped: {later.message}"
                break  # what follows (its refund) waits for this one too
        try:
            disputes = missed_disputes(order, intent, gateway)
        except PaymentError as error:
            yield order.id, f"skipped: {error.message}"
            continue
        for event in disputes:
            yield order.id, apply_event(event, actor="system")
