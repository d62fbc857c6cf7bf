"""Fulfilments made by staff: once per Idempotency-Key, capturing a held payment first."""

import hashlib
import json
from dataclasses import dataclass

import peewee

from .. import idempotency
from ..database import db, locked
from ..errors import Conflict
from ..idempotency import Lease, Replay
from . import fulfillments
from .changes import capture_first
from .disputes import OPEN, DisputeOpen
from .lifecycle import apply_transition
from .models import Order
from .queries import find_order
from .schemas import FulfillmentSchema

# What takes a fulfilment: a shipped order only while a failed refund left it lines to send.
FULFILLABLE = ("authorized", "paid", "shipped")

_fulfillment_schema = FulfillmentSchema()


@dataclass
class Made:
    body: dict
    replayed: bool = False


def request_fingerprint(order_id, request):
    """The request's own, and the operation's (a key used to refund is another body)."""
    canonical = json.dumps(
        {"operation": "fulfillment", "orderId": order_id, **request},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def make_fulfillment(caller, order_id, request, key=None):
    """POST /orders/{id}/fulfillments: send lines (everything left without them) of a visible
    order, at most once per caller and key.

    An authorized order's hold is captured first (lifecycle: authorized -> paid), under the
    order's one capture key, so two fulfilments at once capture once; a refused capture
    records nothing. The fulfilment, its event and the move to `shipped` once nothing is left
    are then one transaction under the order's row lock.
    """
    order = find_order(caller, order_id)
    fingerprint = request_fingerprint(order.id, request)
    if key and (replayed := _replay(caller, key, fingerprint)):
        return replayed
    _check(order)
    fulfillments.check_lines(order.id, request.get("lines"))  # before any money moves
    order = capture_first(order, caller.actor)
    try:
        with db.atomic():
            order = locked(Order.select().where(Order.id == order.id)).get()
            # Before the checks: a concurrent repeat waits on the row lock, then replays.
            lease = Lease.start(caller.user_id, key, fingerprint, order.id) if key else None
            _check(order)
            fulfillment = fulfillments.record(
                order, request, caller.actor, idempotency_key=lease.record_id if lease else None
            )
            if order.status == "paid" and fulfillments.everything_sent(order.id):
                apply_transition(order.id, "shipped", caller.actor)
            body = _fulfillment_schema.dump(fulfillment)
            if lease:
                lease.finish(201, body)
    except peewee.IntegrityError:
        replayed = key and _replay(caller, key, fingerprint)
        if not replayed:
            raise
        return replayed
    return Made(body)


def _check(order):
    """Conflict unless the order takes a fulfilment now (its lines are checked apart)."""
    if order.status not in FULFILLABLE:
        raise Conflict(
            f"An order that is {order.status} takes no fulfilment: only an authorized or "
            "paid one does (or a shipped one with lines left to send)."
        )
    # A shipped order sent everything, unless a failed refund gave units back since (partial);
    # one with nothing sent was shipped by a release before fulfilments: it sent it all too.
    if order.status == "shipped" and order.fulfillment_status != "partial":
        raise fulfillments.NothingLeft(f"Order {order.id} has nothing left to send.")
    if order.dispute_status in OPEN:
        raise DisputeOpen(order)  # the goods stay while the money is being taken back


def _replay(caller, key, fingerprint):
    """The first response to this key. Its fulfilment and the key are written in one
    transaction, so a key is finished once it is seen at all: nothing is left to take over."""
    found = idempotency.resume(caller.user_id, key, fingerprint)
    if found is None:
        return None
    if not isinstance(found, Replay):
        found.release()  # a key row without its answer is another operation's
        raise idempotency.KeyInProgress()
    return Made(found.body, replayed=True)
