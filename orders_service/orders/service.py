"""Order use cases: price a cart, create an order once per idempotency key, change its status."""

import datetime
import hashlib
import json
import logging
import time
from dataclasses import dataclass

import peewee

from ..database import db, locked, release_connection, utcnow
from ..errors import Conflict, DomainError, Forbidden
from ..events import outbox
from ..ops.metrics import payment_call, record_order_created
from ..payments.gateway import PaymentError, current_gateway
from ..products import stock
from ..products.models import Product
from .changes import ChangeInProgress, change_status, unclaimed
from .models import IdempotencyKey, Order, OrderHistory, OrderLine
from .queries import attach_lines, find_order

log = logging.getLogger(__name__)

MIN_TOTAL = 50
MAX_TOTAL = 99_999_999
MAX_QUANTITY = 1000
# A key whose request has held it this long without finishing is taken over by a retry.
KEY_LEASE = datetime.timedelta(seconds=60)
KEY_RELEASED = datetime.datetime(1970, 1, 1)
WAIT_FOR_KEY_SECONDS = 3.0


class OrderInvalid(DomainError):
    """The cart cannot become an order (a 400 naming what is wrong)."""

    def __init__(self, message, fields=None):
        super().__init__(message, {"json": fields or [message]})


class IdempotencyConflict(Conflict):
    def __init__(self, message, retry_after=None):
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(message, headers=headers)


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
    products = {
        p.id: p
        for p in Product.select().where(Product.id.in_(list(quantities)), Product.active == True)  # noqa: E712
    }
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
    if key and (record := IdempotencyKey.get_or_none(user_id=caller.user_id, key=key)):
        return _resume(caller, record, fingerprint, serialize)
    cart, total = price_cart(items)
    try:
        with db.atomic():
            order = Order.create(
                user_id=caller.user_id,
                amount_in_cents=total,
                currency=currency,
                created_at=utcnow(),
            )
            record = None
            if key:
                # Before the stock: a concurrent repeat waits here and replays, taking nothing.
                record = IdempotencyKey.create(
                    user_id=caller.user_id, key=key, request_hash=fingerprint, order=order.id
                )
            taken = stock.take(caller, cart)
            OrderLine.insert_many(
                [
                    {
                        "order": order.id,
                        "product": product.id,
                        "name": product.name,
                        "quantity": qty,
                        "price_in_cents": product.price_in_cents,
                        "stock_taken": taken.get(product.id, 0),
                    }
                    for product, qty in cart
                ]
            ).execute()
            OrderHistory.create(
                order=order.id, to_status="pending", actor=caller.actor, at=utcnow()
            )
    except peewee.IntegrityError:
        if not key:
            raise
        # Another request took this key first; its order stands and this one never existed.
        record = IdempotencyKey.get(user_id=caller.user_id, key=key)
        return _resume(caller, record, fingerprint, serialize)
    return Created(_set_up_payment(order, record, serialize))


def _resume(caller, record, fingerprint, serialize):
    if record.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different body.")
    deadline = time.monotonic() + WAIT_FOR_KEY_SECONDS
    while record.response_code is None:
        if _take_over(record):
            return Created(_set_up_payment(_reclaim(caller, record), record, serialize))
        if time.monotonic() > deadline:
            raise IdempotencyConflict(
                "A request with this Idempotency-Key is still in progress; retry shortly.",
                retry_after=1,
            )
        time.sleep(0.05)
        record = IdempotencyKey.get_by_id(record.id)
    return Created(json.loads(record.response_body), replayed=True)


def not_pending_any_more(status):
    return IdempotencyConflict(
        f"The order this key made was {status} before its payment was set up; place a new "
        "order with a new key."
    )


def _take_over(record):
    """Claim a key whose first request failed or died, so this retry can finish the order."""
    now = utcnow()
    if record.locked_at > now - KEY_LEASE:
        return False
    claimed = (
        IdempotencyKey.update(locked_at=now)
        .where(IdempotencyKey.id == record.id, IdempotencyKey.locked_at == record.locked_at)
        .execute()
    )
    return claimed == 1


def _reclaim(caller, record):
    """The pending order a failed first request left, holding its stock again."""
    try:
        with db.atomic():
            order = locked(Order.select().where(Order.id == record.order_id)).get()
            if order.status != "pending":
                # Expired (canceled) while its payment was never set up: nothing to finish.
                raise not_pending_any_more(order.status)
            stock.take_again(order, caller)
    except DomainError:
        _release(record)
        raise
    return order


def _release(record):
    """Let the next retry with this key take over at once."""
    if record is not None:
        IdempotencyKey.update(locked_at=KEY_RELEASED).where(
            IdempotencyKey.id == record.id
        ).execute()


def _set_up_payment(order, record, serialize):
    """Create the order's intent (the provider's own key makes this safe to repeat)."""
    release_connection()
    try:
        with payment_call("create_intent"):
            intent = current_gateway().create_intent(order)
    except PaymentError:
        # The order stays hidden; its units go back on sale until a retry takes them again.
        with db.atomic():
            stock.give_back(order.id)
            _release(record)
        raise
    with db.atomic():
        # Only onto a pending order that no change holds: `orders expire` may have canceled
        # it during the call, or be canceling at the provider the very intent this call got.
        attached = (
            Order.update(payment_intent_id=intent.id, client_secret=intent.client_secret)
            .where(Order.id == order.id, Order.status == "pending", unclaimed(utcnow()))
            .execute()
        )
        order = attach_lines([Order.get_by_id(order.id)])[0]
        if attached:
            outbox.record_created(order)
            body = serialize(order)
            if record is not None:
                IdempotencyKey.update(response_code=201, response_body=json.dumps(body)).where(
                    IdempotencyKey.id == record.id
                ).execute()
    if not attached:
        _release(record)
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
    """POST /orders/status-update's rule: admins make any allowed move, owners only cancel."""
    order = find_order(caller, order_id)
    if not caller.is_admin and target != "canceled":
        raise Forbidden("Customers may only cancel their own pending orders.")
    order, _ = change_status(order, target, caller.actor)
    return order
