"""Catch up with the provider: apply what the webhooks of pending orders missed."""

from ..orders.models import Order
from .events import apply_event
from .gateway import PaymentError, current_gateway

# What an intent's status at the provider means for a pending order.
EVENT_FOR_STATUS = {
    "succeeded": "payment_intent.succeeded",
    "canceled": "payment_intent.canceled",
}


def synthetic_event(intent):
    """The event the provider would have sent; its id makes each finding apply once."""
    return {
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


def reconcile_pending():
    """Yield (order id, what happened) for each pending order whose intent has moved on."""
    gateway = current_gateway()
    pending = Order.select().where(
        Order.status == "pending", Order.payment_intent_id.is_null(False)
    )
    for order in list(pending.order_by(Order.id)):
        try:
            intent = gateway.retrieve_intent(order.payment_intent_id)
        except PaymentError as error:
            yield order.id, f"skipped: {error.message}"
            continue
        if intent is None or intent.status not in EVENT_FOR_STATUS:
            continue
        yield order.id, apply_event(synthetic_event(intent), actor="system")
