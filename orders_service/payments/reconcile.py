"""Catch up with the provider: apply what the webhooks of unfinished orders missed."""

import time
from dataclasses import asdict

from ..database import utcnow
from ..orders.disputes import OPEN
from ..orders.models import Order
from .disputes import dispute_columns
from .events import AUTHORIZED, NotApplicableYet, apply_event
from .gateway import PaymentError, current_gateway
from .models import Refund
from .refunding import read_back, stale_before
from .refunds import REFUNDABLE

# What an intent's status at the provider means for a pending (or authorized) order.
EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "canceled": "payment_intent.canceled",
    "requires_capture": AUTHORIZED,
}
# The orders whose payment is not settled yet: the provider may have moved on without us.
UNSETTLED = ("pending", "authorized")


def synthetic_event(intent, finding, event_type, obj):
    """The event the provider would have sent; its id makes each finding apply once."""
    return {"id": f"reconcile:{intent.id}:{finding}", "type": event_type, "data": {"object": obj}}


def missed_events(order, intent):
    """The payment events the intent shows that the order has not followed (its refunds are
    read back into the ledger instead: see `refunds_differ`)."""
    found = []
    if order.status in UNSETTLED and intent.status in EVENT_FOR_STATUS:
        payment_intent = {
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "amount_received": intent.amount_received,
            "currency": intent.currency,
            "status": intent.status,
            # The charge as far as the order reads it: its hold's deadline.
            "latest_charge": {
                "payment_method_details": {"card": {"capture_before": intent.capture_before}}
            },
        }
        found.append(
            synthetic_event(intent, intent.status, EVENT_FOR_STATUS[intent.status], payment_intent)
        )
    return found


def refunds_differ(order, intent):
    """True if the intent's charge shows other refunds than the ledger counts (Stripe's figure
    holds its pending refunds too), or the ledger waits on a pending one."""
    if intent.status != "succeeded":
        return False
    if intent.amount_refunded != order.amount_refunded_in_cents:
        return True
    return Refund.select().where(Refund.order == order.id, Refund.status == "pending").exists()


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
    """Yield (order id, what happened) for what the intents of unfinished orders show.

    Pending and authorized orders are all re-read; sold ones placed within `refunds_within`
    too, for refunds (a refunded intent still reads `succeeded`), whose list is read back into
    the ledger when the charge's refunded amount is not the order's, and for disputes (its
    charge says disputed); those with an open dispute, whatever their age, for the dispute's
    end. A pending order whose payment was refunded is paid first, then refunded.
    """
    gateway = current_gateway()
    unfinished = Order.select().where(
        Order.payment_intent_id.is_null(False),
        Order.status.in_(UNSETTLED)
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
        try:
            for event in missed_events(order, intent):
                yield order.id, apply_event(event, actor="system")
        except NotApplicableYet as later:
            yield order.id, f"skipped: {later.message}"
            continue  # its refunds wait for it too
        order = Order.get_by_id(order.id)
        if refunds_differ(order, intent):
            try:
                yield order.id, read_back(order, "system", abandon_before=stale_before())
            except PaymentError as error:
                yield order.id, f"skipped: {error.message}"
        try:
            disputes = missed_disputes(order, intent, gateway)
        except PaymentError as error:
            yield order.id, f"skipped: {error.message}"
            continue
        for event in disputes:
            yield order.id, apply_event(event, actor="system")
