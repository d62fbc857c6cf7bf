"""Catch up with the provider: apply what the webhooks of unfinished orders missed."""

from ..orders.models import Order
from .events import apply_event
from .gateway import PaymentError, current_gateway

# What an intent's status at the provider means for a pending order.
EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "canceled": "payment_intent.canceled",
}
# Orders whose money may still move at the provider: paid ones can still be refunded there.
UNFINISHED = ("pending", "paid", "shipped", "completed")


def synthetic_events(order, intent):
    """The events the provider would have sent that the order has not followed, in the order
    they apply; their ids make each finding apply once."""
    found = []
    if order.status == "pending" and intent.status in EVENT_FOR_STATUS:
        found.append(
            {
                "id": f"reconcile:{intent.id}:{intent.status}",
                "type": EVENT_FOR_STATUS[intent.status],
                "data": {
                    "object": {
                        "id": intent.id,
                        "object": "payment_intent",
                        "amount": intent.amount,
                        "currency": intent.currency,
                        "status": intent.status,
                    }
                },
            }
        )
    if intent.status == "succeeded" and intent.amount_refunded == intent.amount:
        found.append(
            {
                "id": f"reconcile:{intent.id}:refunded",
                "type": "charge.refunded",
                "data": {
                    "object": {
                        "object": "charge",
                        "payment_intent": intent.id,
                        "amount": intent.amount,
                        "amount_refunded": intent.amount_refunded,
                        "currency": intent.currency,
                        "refunded": True,
                    }
                },
            }
        )
    return found


def reconcile_pending():
    """Yield (order id, what happened) for each event an unfinished order's intent shows.

    A pending order whose payment was refunded is paid first, then refunded.
    """
    gateway = current_gateway()
    unfinished = Order.select().where(
        Order.status.in_(UNFINISHED), Order.payment_intent_id.is_null(False)
    )
    for order in list(unfinished.order_by(Order.id)):
        try:
            intent = gateway.retrieve_intent(order.payment_intent_id)
        except PaymentError as error:
            yield order.id, f"skipped: {error.message}"
            continue
        if intent is None:
            continue
        for event in synthetic_events(order, intent):
            yield order.id, apply_event(event, actor="system")
