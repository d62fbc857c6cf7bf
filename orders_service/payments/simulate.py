"""Stripe-shaped events for local runs, fed through the same handling as a webhook."""

import time

import click

from ..orders.models import Order
from .local import stripe_like_id

EVENT_TYPES = {
    "authorized": "payment_intent.amount_capturable_updated",
    "succeeded": "payment_intent.succeeded",
    "failed": "payment_intent.payment_failed",
    "canceled": "payment_intent.canceled",
}
INTENT_STATUS = {
    "authorized": "requires_capture",
    "succeeded": "succeeded",
    "failed": "requires_payment_method",
    "canceled": "canceled",
}
# How long a card network holds an authorization for online payments (Stripe's default).
HOLD_SECONDS = 7 * 24 * 3600


def _order_with_intent(order_id):
    order = Order.get_or_none(Order.id == order_id)
    if order is None or order.payment_intent_id is None:
        raise click.ClickException(f"Order {order_id} has no payment intent.")
    return order


def _event(event_type, obj):
    return {
        "id": stripe_like_id("evt"),
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def simulated_dispute(order_id, status, reason):
    """charge.dispute.updated for the order's payment: its one dispute, now `status`."""
    order = _order_with_intent(order_id)
    dispute = {
        "id": f"dp_local_{order.id}",
        "object": "dispute",
        "amount": order.amount_in_cents,
        "currency": order.currency,
        "payment_intent": order.payment_intent_id,
        "reason": reason,
        "status": status,
    }
    return _event("charge.dispute.updated", dispute)


def simulated_event(order_id, outcome):
    order = _order_with_intent(order_id)
    intent = {
        "id": order.payment_intent_id,
        "object": "payment_intent",
        "amount": order.amount_in_cents,
        "amount_received": order.amount_in_cents if outcome == "succeeded" else 0,
        "currency": order.currency,
        "status": INTENT_STATUS[outcome],
        "metadata": {"order_id": str(order.id), "user_id": str(order.user_id)},
    }
    if outcome == "failed":
        intent["last_payment_error"] = {"message": "Your card was declined (simulated)."}
    if outcome == "authorized":
        intent["amount_capturable"] = order.amount_in_cents
        intent["capture_method"] = "manual"
        intent["latest_charge"] = {
            "id": stripe_like_id("ch"),
            "object": "charge",
            "payment_method_details": {"card": {"capture_before": int(time.time()) + HOLD_SECONDS}},
        }
    return _event(EVENT_TYPES[outcome], intent)
