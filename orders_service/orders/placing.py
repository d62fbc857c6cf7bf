"""The statements of `POST /orders/new`, compiled once per process (see CompiledQuery).

Peewee builds a statement's SQL text at every execution, and for the small writes a created
order makes that cost more CPU than the rest of the request (bench/PROFILE.md, "The write
path"). Each statement here is built once per database kind and shape (how many lines),
then each call only binds its values. Values that change at every call (times, random keys)
are always passed, never left to a field's default, which would be computed once.
"""

from ..database import CompiledQuery
from ..products.models import Product
from .changes import unclaimed
from .models import Order, OrderHistory, OrderLine

# The cart's products, priced from the catalog (inactive ones are unknown to a cart).
active_products = CompiledQuery(
    Product,
    lambda ids: Product.select().where(Product.id.in_(ids), Product.active == True),  # noqa: E712
)

_insert_order = CompiledQuery(
    Order,
    lambda user_id, amount, currency, created_at, payment_key: Order.insert(
        user_id=user_id,
        amount_in_cents=amount,
        currency=currency,
        created_at=created_at,
        payment_key=payment_key,
    ).returning(Order.id),
)

_insert_lines = CompiledQuery(
    OrderLine,
    lambda order_id, products, names, quantities, prices, taken: OrderLine.insert_many(
        [
            {
                "order": order_id,
                "product": product,
                "name": name,
                "quantity": quantity,
                "price_in_cents": price,
                "stock_taken": units,
            }
            for product, name, quantity, price, units in zip(
                products, names, quantities, prices, taken, strict=True
            )
        ]
    ).returning(),
)

_insert_history = CompiledQuery(
    OrderHistory,
    lambda order_id, actor, at: OrderHistory.insert(
        order=order_id, to_status="pending", actor=actor, at=at
    ).returning(),
)

# Only onto a pending order with no intent yet that no change holds (see _set_up_payment).
_attach_intent = CompiledQuery(
    Order,
    lambda order_id, intent_id, client_secret, now: (
        Order.update(payment_intent_id=intent_id, client_secret=client_secret, event_version=1)
        .where(
            Order.id == order_id,
            Order.status == "pending",
            Order.payment_intent_id.is_null(),
            unclaimed(now),
        )
        .returning(*Order._meta.sorted_fields)
    ),
)

_ORDER_FIELDS = Order._meta.sorted_fields


def insert_order(user_id, amount, currency, created_at, payment_key):
    """The new order's id."""
    return _insert_order.execute(user_id, amount, currency, created_at, payment_key).fetchone()[0]


def insert_lines(order_id, lines):
    """One statement for every line: [(product, quantity, units taken)]."""
    _insert_lines.execute(
        order_id,
        [product.id for product, _, _ in lines],
        [product.name for product, _, _ in lines],
        [quantity for _, quantity, _ in lines],
        [product.price_in_cents for product, _, _ in lines],
        [units for _, _, units in lines],
    )


def insert_history(order_id, actor, at):
    _insert_history.execute(order_id, actor, at)


def attach_intent(order_id, intent_id, client_secret, now):
    """The order as the UPDATE left it when it took the intent, or None when it did not."""
    row = _attach_intent.execute(order_id, intent_id, client_secret, now).fetchone()
    if row is None:
        return None
    order = Order(__no_default__=True)
    order.__data__ = {
        field.name: field.python_value(value)
        for field, value in zip(_ORDER_FIELDS, row, strict=True)
    }
    order._dirty.clear()
    return order


def order_lines(order_id, lines):
    """The lines just stored, as the order's `products` (in their ids' order, as read)."""
    made = []
    for product, quantity, units in lines:
        line = OrderLine(__no_default__=True)
        line.__data__ = {
            "order": order_id,
            "product": product.id,
            "name": product.name,
            "quantity": quantity,
            "price_in_cents": product.price_in_cents,
            "stock_taken": units,
            "quantity_refunded": 0,
            "quantity_fulfilled": 0,
        }
        line._dirty.clear()
        made.append(line)
    return made
