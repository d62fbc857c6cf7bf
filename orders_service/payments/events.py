"""Payment events (Stripe webhooks, local simulations) applied to orders, each event once."""

import datetime
import logging

import peewee

from ..database import db, locked, utcnow
from ..errors import Conflict
from ..orders.changes import held
from ..orders.lifecycle import TRANSITIONS, TransitionRefused, apply_transition
from ..orders.models import Order
from . import refunds
from .disputes import EVENT_TYPES as DISPUTE_EVENTS
from .disputes import apply_dispute
from .gateway import ProviderRefund, capture_before, current_gateway
from .models import PaymentEvent

log = logging.getLogger(__name__)

SUCCEEDED = "payment_intent.succeeded"
# A manual-capture intent whose card was authorized: the hold, until captured or voided.
AUTHORIZED = "payment_intent.amount_capturable_updated"
TARGETS = {
    SUCCEEDED: "paid",
    AUTHORIZED: "authorized",
    "payment_intent.canceled": "canceled",
}
PAYMENT_FAILED = "payment_intent.payment_failed"
CHARGE_REFUNDED = "charge.refunded"
# Events whose object is one Refund (Stripe sends both the charge.refund.* and refund.* kinds).
REFUND_UPDATES = frozenset(
    {"charge.refund.updated", "refund.created", "refund.updated", "refund.failed"}
)
HANDLED = frozenset({*TARGETS, PAYMENT_FAILED, CHARGE_REFUNDED, *REFUND_UPDATES, *DISPUTE_EVENTS})


class NotApplicableYet(Conflict):
    """The order cannot take the event now but will (a refund before the payment): it is not
    consumed, and the non-2xx makes Stripe deliver it again later."""

    def __init__(self, why):
        super().__init__(f"{why}; deliver it again later.")


def reachable(current, target):
    """True if the life cycle can still take an order from `current` to `target`."""
    seen, todo = set(), [current]
    while todo:
        status = todo.pop()
        seen.add(status)
        todo.extend(TRANSITIONS[status] - seen)
    return target in seen - {current}


def intent_id_of(event_type, obj):
    return obj.get("id") if event_type.startswith("payment_intent.") else obj.get("payment_intent")


def money_mismatch(event_type, obj, order):
    """Why the intent's (or charge's) money is not the order's, or None if it is.

    Stripe sends lower-case currency codes; the order keeps the one configured, in any case.
    A refund's amount is its own, so only its currency is compared.
    """
    if event_type not in REFUND_UPDATES and obj.get("amount") != order.amount_in_cents:
        return "amount does not match the order"
    currency = obj.get("currency")
    if not isinstance(currency, str) or currency.lower() != order.currency.lower():
        return "currency does not match the order"
    if event_type == SUCCEEDED and obj.get("amount_received") != order.amount_in_cents:
        return "amount received does not match the order"
    return None


def apply_event(event, source="stripe", actor=None):
    """Apply one event to its order; returns what happened (also stored with the event id).

    The event id is recorded in the same transaction as the order change, so a repeat
    delivery, however concurrent, changes nothing. The history actor is `source:<event id>`
    unless `actor` is given. NotApplicableYet rolls the record back with the transaction, so
    the event applies when delivered again.
    """
    event_type = event["type"]
    if event_type not in HANDLED:
        return "ignored: type not handled"
    if PaymentEvent.get_or_none(PaymentEvent.id == event["id"]) is not None:
        return "duplicate"  # and no provider call for it (the insert below still decides)
    found = refunds_reported(event_type, event["data"]["object"])
    hold = hold_deadline(event_type, event["data"]["object"])
    with db.atomic():
        try:
            with db.atomic():
                PaymentEvent.create(id=event["id"], type=event_type, outcome="received")
        except peewee.IntegrityError:
            return "duplicate"
        actor = actor or f"{source}:{event['id']}"
        if event_type in DISPUTE_EVENTS:
            outcome, order_id = apply_dispute(event["data"]["object"], event.get("created"), actor)
        else:
            outcome, order_id = _apply(event_type, event["data"]["object"], actor, found, hold)
        PaymentEvent.update(outcome=outcome[:255], order=order_id).where(
            PaymentEvent.id == event["id"]
        ).execute()
    return outcome


def refunds_reported(event_type, obj):
    """[ProviderRefund] an event reports on, or None for an event of no refund.

    A charge carries its refunds only where the webhook asks Stripe to expand them (the pinned
    API version does not by default); otherwise they are read from Stripe, before the event's
    transaction, for a charge of one of our orders. Read now, they are newer than the event.
    """
    if event_type in REFUND_UPDATES:
        return [ProviderRefund.from_stripe(obj)]
    if event_type != CHARGE_REFUNDED:
        return None
    listed = obj.get("refunds")
    if isinstance(listed, dict) and listed.get("has_more") is False:
        return [ProviderRefund.from_stripe(refund) for refund in listed.get("data") or ()]
    intent_id = obj.get("payment_intent")
    if (
        not isinstance(intent_id, str)
        or not Order.select().where(Order.payment_intent_id == intent_id).exists()
    ):
        return []
    return current_gateway().list_refunds(intent_id) or []


def hold_deadline(event_type, obj):
    """When an authorization's hold ends (naive UTC), for the event that reports it, or None.

    The deadline is the charge's `capture_before`; an event carries the charge's id only
    (unless the webhook expands it), so it is read from the provider, before the event's
    transaction, for an intent of one of our orders.
    """
    if event_type != AUTHORIZED:
        return None
    charge = obj.get("latest_charge")
    seconds = capture_before(charge)
    if (
        seconds is None
        and isinstance(charge, str)
        and isinstance(obj.get("id"), str)
        and Order.select().where(Order.payment_intent_id == obj["id"]).exists()
    ):
        intent = current_gateway().retrieve_intent(obj["id"])
        seconds = intent.capture_before if intent else None
    if not isinstance(seconds, int):
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(tzinfo=None)


def _apply(event_type, obj, actor, found, hold=None):
    intent_id = intent_id_of(event_type, obj)
    if not isinstance(intent_id, str) or not intent_id:
        # A charge made without an intent (another integration on the account): never an
        # order's, and least of all one whose own intent id is not stored yet.
        return "ignored: no payment intent", None
    order = locked(Order.select().where(Order.payment_intent_id == intent_id)).first()
    if order is None:
        return "ignored: no order for this intent", None
    mismatch = money_mismatch(event_type, obj, order)
    if mismatch:
        log.warning(
            "%s for order %s ignored: %s (%r %r, received %r; the order's %r %r)",
            event_type,
            order.id,
            mismatch,
            obj.get("amount"),
            obj.get("currency"),
            obj.get("amount_received"),
            order.amount_in_cents,
            order.currency,
        )
        return f"ignored: {mismatch}", order.id
    if found is not None:
        return _apply_refunds(event_type, order, found, actor), order.id
    if event_type == PAYMENT_FAILED:
        if order.status != "pending":
            return f"ignored: order is {order.status}", order.id
        reason = (obj.get("last_payment_error") or {}).get("message") or "payment failed"
        Order.update(payment_error=reason).where(Order.id == order.id).execute()
        return f"failure recorded: {reason}", order.id
    target = TARGETS[event_type]
    if target == "authorized":
        if obj.get("status") != "requires_capture":
            return f"ignored: intent is {obj.get('status')}", order.id
        if order.status == "pending":
            # Read by the move's event (order.authorized) and the order's body from now on.
            Order.update(authorization_expires_at=hold).where(Order.id == order.id).execute()
    if target == "canceled" and order.status == "pending" and held(order, utcnow()):
        # Perhaps the cancel of a `paid` by hand, reported before that move could finish.
        raise NotApplicableYet(f"A status change of order {order.id} is under way")
    try:
        _, changed = apply_transition(order.id, target, actor)
    except TransitionRefused as refused:
        if reachable(refused.current, target):
            why = f"{event_type} cannot apply to an order that is {refused.current} yet"
            raise NotApplicableYet(why) from refused
        return f"ignored: order is {refused.current}", order.id
    return (target if changed else f"no change: already {target}"), order.id


def _apply_refunds(event_type, order, found, actor):
    """The refunds an event reports, into the ledger; refused for an order not yet paid."""
    if order.status not in (*refunds.REFUNDABLE, "refunded"):
        if reachable(order.status, "refunded"):
            why = f"{event_type} cannot apply to an order that is {order.status} yet"
            raise NotApplicableYet(why)
        return f"ignored: order is {order.status}"
    return refunds.record_all(order.id, found, actor)
