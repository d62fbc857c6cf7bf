"""Order use cases: price a cart, create an order once per idempotency key, change its status."""

import hashlib
import json
import logging
from dataclasses import dataclass

import peewee

from .. import idempotency
from ..database import db, locked, release_connection, utcnow
from ..errors import DomainError, Forbidden
from ..events import outbox
from ..idempotency import IdempotencyConflict, Lease, Replay
from ..ops.metrics import payment_call, record_order_created
from ..payments.gateway import PaymentError, current_gateway
from ..products import stock
from . import placing
from .changes import ChangeInProgress, capture_first, change_status
from .models import Order, OrderLine
from .queries import attach_lines, find_order

log = logging.getLogger(__name__)

MIN_TOTAL = 50
MAX_TOTAL = 99_999_999
MAX_QUANTITY = 1000


class OrderInvalid(DomainError):
    """The cart cannot become an order (a 400 naming what is wrong)."""

    def __init__(self, message, fields=None):
        super().__init__(message, {"json": fields or [message]})


@dataclass
class Created:
    body: dict
    replayed: bool = False


def price_cart(items):
    """[(product, quantity)] for the items, repeats merged, priced from the catalog."""
    quantities = {}
    for item in items:
        quantities[item["id"]] = quantities.get(item["id"], 0) + item["quantity"]
    too_many = [str(pid) for pid, qty in quantities.items() if qty > MAX_QUANTITY]
    if too_many:
        raise OrderInvalid(
            f"At most {MAX_QUANTITY} of one product per order: {', '.join(too_many)}."
        )
    products = {p.id: p for p in placing.active_products(list(quantities))}
    missing = [str(pid) for pid in quantities if pid not in products]
    if missing:
        raise OrderInvalid(
            f"Unknown or unavailable products: {', '.join(missing)}.", {"products": missing}
        )
    cart = [(products[pid], qty) for pid, qty in quantities.items()]
    total = sum(product.price_in_cents * qty for product, qty in cart)
    if not MIN_TOTAL <= total <= MAX_TOTAL:
        raise OrderInvalid(
            f"An order's total must be between {MIN_TOTAL} and {MAX_TOTAL} cents, not {total}."
        )
    return cart, total


def request_fingerprint(items):
    canonical = json.dumps(items, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_order(caller, items, currency, serialize, key=None):
    """Create and set up payment for an order; with `key`, at most once per caller and key.

    `serialize(order)` gives the response body, which a replay returns as it was.
    """
    fingerprint = request_fingerprint(items)
    if key and (resumed := _resume(caller, key, fingerprint, serialize)):
        return resumed
    cart, total = price_cart(items)
    # Each line holds what its product is expected to give (tracked when priced); the take,
    # last, corrects a line whose product's tracking changed since (rare).
    planned = {product.id: qty for product, qty in cart if product.stock is not None}
    lines = [(product, qty, planned.get(product.id, 0)) for product, qty in cart]
    try:
        with db.atomic():
            order = Order(
                user_id=caller.user_id,
                amount_in_cents=total,
                currency=currency,
                created_at=utcnow(),
            )
            order_id = order.id = placing.insert_order(
                order.user_id, total, currency, order.created_at, order.payment_key
            )
            # Before the stock: a concurrent repeat waits here and replays, taking nothing.
            lease = Lease.start(caller.user_id, key, fingerprint, order_id) if key else None
            placing.insert_lines(order_id, lines)
            placing.insert_history(order_id, caller.actor, utcnow())
            # Last, just before COMMIT: the product rows it locks (the bottleneck of a sale)
            # are held for as short a time as the order allows.
            taken = stock.take(caller, cart, order_id)
            if taken != planned:
                lines = _correct_lines(order_id, lines, taken)
            if lease:
                lease.keep_alive()  # the take may have waited long on row locks
    except peewee.IntegrityError:
        # Another request took this key first; its order stands and this one never existed.
        resumed = key and _resume(caller, key, fingerprint, serialize)
        if not resumed:
            raise
        return resumed
    return Created(_set_up_payment(order, lease, serialize, (caller.actor, lines)))


def _correct_lines(order_id, lines, taken):
    """The lines with what the take did take, where a product's tracking changed since it was
    priced (tracked since, or untracked since)."""
    corrected = []
    for product, qty, units in lines:
        now = taken.get(product.id, 0)
        if now != units:
            OrderLine.update(stock_taken=now).where(
                OrderLine.order == order_id, OrderLine.product == product.id
            ).execute()
        corrected.append((product, qty, now))
    return corrected


def _resume(caller, key, fingerprint, serialize):
    """A repeat's answer: the first response, or the order of a request that died, finished."""
    found = idempotency.resume(caller.user_id, key, fingerprint)
    if isinstance(found, Replay):
        return Created(found.body, replayed=True)
    if found is not None:
        return Created(_set_up_payment(_reclaim(caller, found), found, serialize))
    return None


def not_pending_any_more(status):
    return IdempotencyConflict(
        f"The order this key made was {status} before its payment was set up; place a new "
        "order with a new key."
    )


def _reclaim(caller, lease):
    """The pending order a failed first request left, holding its stock again."""
    try:
        with db.atomic():
            order = locked(Order.select().where(Order.id == lease.order_id)).get()
            if order.status != "pending":
                # Expired (canceled) while its payment was never set up: nothing to finish.
                raise not_pending_any_more(order.status)
            stock.take_again(order, caller)
            lease.keep_alive()
    except DomainError:
        lease.release()
        raise
    return order


def _set_up_payment(order, lease, serialize, made=None):
    """Create the order's intent (the provider's own key makes this safe to repeat).

    With a key, each transaction after the provider call writes the key last, fenced by the
    lease: if a retry took the key over meanwhile, it rolls back and the retry finishes.
    `made` is (actor, lines) of an order this request has just stored: its event and body
    need not read them back.
    """
    release_connection()
    try:
        with payment_call("create_intent"):
            intent = current_gateway().create_intent(order)
    except PaymentError:
        # The order stays hidden; its units go back on sale until a retry takes them again.
        with db.atomic():
            if lease:
                lease.release()  # LeaseLost: a retry owns the order and its stock now
            stock.give_back(order.id)
        raise
    with db.atomic():
        # Only onto a pending order with no intent yet that no change holds: `orders expire`
        # may have canceled it during the call, or be canceling at the provider the very
        # intent this call got. The UPDATE returns the order as it left it.
        attached = placing.attach_intent(order.id, intent.id, intent.client_secret, utcnow())
        if attached:
            if made:
                actor, lines = made
                attached.products = placing.order_lines(attached.id, lines)
            else:
                actor = None
                attach_lines([attached])
            order = attached
            outbox.record_created(order, actor)
            body = serialize(order)
            if lease:
                lease.finish(201, body)
        else:
            order = Order.get_by_id(order.id)
    if not attached:
        if lease:
            lease.release()
        if order.status == "pending":
            # The change holding it cancels this intent (found again by its key) or fails and
            # lets a retry attach it; either way it is not this request's to cancel.
            raise ChangeInProgress(order.id)
        _discard_intent(order, intent)
        raise not_pending_any_more(order.status)
    record_order_created()
    return body


def _discard_intent(order, intent):
    """Cancel an intent the order refused; its client secret never left the service."""
    order.payment_intent_id = intent.id
    release_connection()
    try:
        with payment_call("cancel_intent"):
            current_gateway().cancel_intent(order)
    except PaymentError as error:
        log.warning("intent %s of order %s left uncanceled: %s", intent.id, order.id, error)


def update_status(caller, order_id, target):
    """POST /orders/status-update's rule: admins make any allowed move, owners only cancel.

    An authorized order shipped this way is captured (paid), then shipped: everything left is
    sent, as for a paid one (lifecycle.apply_transition)."""
    order = find_order(caller, order_id)
    if not caller.is_admin and target != "canceled":
        raise Forbidden("Customers may only cancel their own pending orders.")
    if target == "shipped":
        order = capture_first(order, caller.actor)  # an authorized order's hold first
    # An authorized order may be canceled, but not by its buyer: the shop decides on a sale
    # whose money it holds (change_status checks it on the status it decides on).
    order, _ = change_status(order, target, caller.actor, buyer=not caller.is_admin)
    return order
