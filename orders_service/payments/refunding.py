"""Refunds that call the provider: staff refunds (once per Idempotency-Key), the rest of an
order, and reading back the refunds the provider has."""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass

import peewee

from .. import idempotency
from ..database import db, release_connection, utcnow
from ..errors import Conflict
from ..idempotency import Lease, Replay
from ..ops.metrics import payment_call
from ..orders.lifecycle import apply_transition
from ..orders.models import Order
from ..orders.queries import find_order
from . import refunds
from .gateway import PaymentError, PaymentRefused, current_gateway
from .models import Refund

log = logging.getLogger(__name__)


@dataclass
class Made:
    body: dict
    replayed: bool = False


def request_fingerprint(order_id, request):
    """The request's own, and the operation's: a key used to create an order, or to refund
    another order, is a key used with a different body."""
    canonical = json.dumps(
        {"operation": "refund", "orderId": order_id, **request},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def refunds_for(caller, order_id):
    """GET /orders/{id}/refunds: the refunds of an order the caller may see, oldest first."""
    return refunds.refunds_of(find_order(caller, order_id).id)


def make_refund(caller, order_id, request, key=None):
    """POST /orders/{id}/refunds: a staff refund of a visible order, made at most once per
    caller and key, reserved under the order's row lock before the provider is called."""
    order = find_order(caller, order_id)
    fingerprint = request_fingerprint(order.id, request)
    if key and (resumed := _resume(caller, key, fingerprint)):
        return resumed
    try:
        with db.atomic():
            order = refunds.lock_order(order.id)
            # Before the checks: a concurrent repeat waits on the row lock, then replays.
            lease = Lease.start(caller.user_id, key, fingerprint, order.id) if key else None
            refund = refunds.reserve(
                order,
                request,
                caller.actor,
                key=secrets.token_hex(16),
                idempotency_key=lease.record_id if lease else None,
            )
            if lease:
                lease.keep_alive()
    except peewee.IntegrityError:
        resumed = key and _resume(caller, key, fingerprint)
        if not resumed:
            raise
        return resumed
    return Made(send(order, refund, lease))


def _resume(caller, key, fingerprint):
    found = idempotency.resume(caller.user_id, key, fingerprint)
    if isinstance(found, Replay):
        return Made(found.body, replayed=True)
    if found is None:
        return None
    refund = Refund.get(Refund.idempotency_key == found.record_id)
    return Made(send(Order.get_by_id(refund.order_id), refund, found))


def send(order, refund, lease=None):
    """Make `refund` at the provider under its own key (safe to repeat) and record the answer;
    its body. A refusal withdraws it (and forgets the key); any other failure leaves it
    pending, holding its amount, for a retry (or reconcile) to finish."""
    if refund.provider_refund_id is None and refund.status == "pending":
        release_connection()
        try:
            with payment_call("refund"):
                made = current_gateway().refund(order, refund)
        except PaymentRefused:
            with db.atomic():
                refunds.lock_order(order.id)
                refunds.withdraw(refund)
                if lease:
                    lease.forget()
            # Perhaps refunded at the provider already (its dashboard): the ledger learns it.
            read_back(order, "system", quietly=True)
            raise
        except PaymentError:
            if lease:
                with db.atomic():
                    lease.release()
            raise
    else:
        made = None
    with db.atomic():
        refunds.lock_order(order.id)
        if made is not None:
            refunds.record(order.id, made, refund.actor, refund.id)
        body = refunds.refund_body(Refund.get_by_id(refund.id))
        if lease:
            lease.finish(201, body)
    return body


def read_back(order, actor, quietly=False, abandon_before=None):
    """Record every refund the provider has of the order; what happened.

    With `abandon_before`, a staff refund still pending that the provider never made and that
    was reserved before then is failed: the request that reserved it died before the call.
    """
    if order.status not in (*refunds.REFUNDABLE, "refunded"):
        return f"skipped: order is {order.status}"
    release_connection()
    try:
        with payment_call("list_refunds"):
            found = current_gateway().list_refunds(order.payment_intent_id)
    except PaymentError as error:
        if not quietly:
            raise
        log.warning("refunds of order %s not read back: %s", order.id, error)
        return None
    if found is None:
        return "no change: the provider keeps no refunds"
    outcome = refunds.record_all(order.id, found, actor)
    abandoned = _abandon(order.id, abandon_before) if abandon_before is not None else None
    return f"{outcome}; {abandoned}" if abandoned else outcome


def _abandon(order_id, before):
    with db.atomic():
        refunds.lock_order(order_id)
        stale = Refund.select().where(
            Refund.order == order_id,
            Refund.status == "pending",
            Refund.provider_refund_id.is_null(),
            Refund.created_at < before,
        )
        failed = list(stale)  # what the provider has was just recorded, with its id
        for refund in failed:
            refunds.advance(order_id, refund, "failed", "system")
    return f"abandoned refunds: {', '.join(str(r.id) for r in failed)}" if failed else None


def refund_rest(order, actor):
    """POST /orders/status-update's move to `refunded`: what is left, through the ledger, whose
    last step makes the order refunded. Returns (order, changed)."""
    unsent = Refund.select().where(
        Refund.order == order.id,
        Refund.status == "pending",
        Refund.provider_refund_id.is_null(),
    )
    for refund in list(unsent.order_by(Refund.id)):
        send(order, refund)  # an earlier try's, under its own key: the provider does it once
    with db.atomic():
        current = refunds.lock_order(order.id)
        if current.status not in refunds.REFUNDABLE:
            return apply_transition(order.id, "refunded", actor)
        left = current.amount_in_cents - refunds.total(order.id)
        if left <= 0:
            raise Conflict(
                f"Order {order.id}'s refunds are still pending: it becomes refunded when they "
                "succeed."
            )
        refund = refunds.reserve(
            current, {"amount_in_cents": left}, actor, key=secrets.token_hex(16)
        )
    try:
        send(current, refund)
    except PaymentRefused:
        # Refunded at the provider already: reading its refunds back made the order refunded.
        if Order.get_by_id(order.id).status != "refunded":
            raise
    order = Order.get_by_id(order.id)
    return order, order.status == "refunded"


def stale_before():
    """When a staff refund's request must have ended, whatever became of it."""
    return utcnow() - idempotency.LEASE
