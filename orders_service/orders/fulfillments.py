"""The fulfilment ledger: what each line has sent, and what is left to send.

A line sends at most what was bought less what was refunded by line; every fulfilment is
recorded under the order's row lock (held by the caller's transaction), so two at once never
send one unit twice. The move to `shipped` is the life cycle's (lifecycle.apply_transition),
which sends whatever is left itself: no path reaches `shipped` with units unsent.
"""

import json

from ..database import utcnow
from ..errors import Conflict
from ..events import outbox
from .models import Fulfillment, Order, OrderLine

STATUSES = ("unfulfilled", "partial", "fulfilled")


class NothingLeft(Conflict):
    """More units than are left to send: nothing is recorded."""


def left_to_send(order_id):
    """{product id: units left to send} of every line of the order."""
    lines = OrderLine.select(
        OrderLine.product,
        OrderLine.quantity,
        OrderLine.quantity_refunded,
        OrderLine.quantity_fulfilled,
    ).where(OrderLine.order == order_id)
    return {line.product_id: _left(line) for line in lines}


def check_lines(order_id, lines):
    """The lines to send: `lines` ([{productId, quantity}]) if each is left, else everything
    left. NothingLeft (409, naming the lines) if one is past what is left or nothing is."""
    left = left_to_send(order_id)
    if not lines:
        lines = [{"productId": pid, "quantity": qty} for pid, qty in left.items() if qty]
        if not lines:
            raise NothingLeft(f"Order {order_id} has nothing left to send.")
        return lines
    short = [
        {
            "productId": item["productId"],
            "requested": item["quantity"],
            "left": left.get(item["productId"], 0),
        }
        for item in lines
        if item["quantity"] > left.get(item["productId"], 0)
    ]
    if short:
        named = "; ".join(
            f"product {s['productId']}: {s['requested']} asked, {s['left']} left" for s in short
        )
        raise NothingLeft(f"More units than are left to send: {named}.", {"lines": short})
    return lines


def record(order, request, actor, idempotency_key=None):
    """A fulfilment of `request`'s lines (everything left without them), its event, and the
    order's new fulfillment_status; the Fulfillment. Inside the caller's transaction, which
    holds `order`'s row, read under that lock."""
    lines = check_lines(order.id, request.get("lines"))
    fulfillment = Fulfillment.create(
        order=order.id,
        # In the order the body shows them, as the fast read path copies the text.
        lines_json=json.dumps(
            [{"productId": i["productId"], "quantity": i["quantity"]} for i in lines]
        ),
        carrier=request.get("carrier"),
        tracking_number=request.get("tracking_number"),
        tracking_url=request.get("tracking_url"),
        notify_customer=request.get("notify_customer", False),
        actor=actor,
        created_at=utcnow(),
        idempotency_key=idempotency_key,
    )
    for item in lines:
        OrderLine.update(quantity_fulfilled=OrderLine.quantity_fulfilled + item["quantity"]).where(
            OrderLine.order == order.id, OrderLine.product == item["productId"]
        ).execute()
    order.fulfillment_status = recount(order.id)
    # Imported here: the schemas import the life cycle, which imports this ledger.
    from .schemas import FulfillmentSchema

    outbox.record_order_event(
        order, "order.fulfillment.created", actor, fulfillment=FulfillmentSchema().dump(fulfillment)
    )
    return fulfillment


def everything_sent(order_id):
    return not any(left_to_send(order_id).values())


def send_rest(order, actor):
    """What a move to `shipped` sends: everything left, as one fulfilment without tracking (an
    order whose lines are all sent or refunded already is only marked fulfilled)."""
    if not everything_sent(order.id):
        return record(order, {}, actor)
    if recount(order.id) == "unfulfilled":
        # Every unit is held by refunds, some perhaps still pending: if one fails, its units
        # are to send again, and `shipped` would already say they left.
        raise NothingLeft(
            f"Order {order.id} has nothing to send: refunds hold every unit. It becomes "
            "refunded when they succeed."
        )
    return None


def recount(order_id):
    """Set the order's fulfillment_status from its lines as they are now, and return it:
    unfulfilled until a unit is sent, then partial while anything is left, then fulfilled.
    Called wherever a line's counts move: a fulfilment, and a line refund that claims units
    or gives them back (payments/refunds.py)."""
    lines = list(
        OrderLine.select(
            OrderLine.quantity, OrderLine.quantity_refunded, OrderLine.quantity_fulfilled
        ).where(OrderLine.order == order_id)
    )
    if not any(line.quantity_fulfilled for line in lines):
        status = "unfulfilled"
    elif any(_left(line) for line in lines):
        status = "partial"
    else:
        status = "fulfilled"
    Order.update(fulfillment_status=status).where(Order.id == order_id).execute()
    return status


def _left(line):
    return max(0, line.quantity - line.quantity_refunded - line.quantity_fulfilled)
