"""Stock: take units for an order in the transaction that stores it, give them back on cancel."""

from flask import current_app

from ..database import locked
from ..errors import Conflict
from ..orders.models import Order, OrderLine
from .models import Product


class OutOfStock(Conflict):
    """Not enough of one or more tracked products: [(product, requested, available)]."""

    def __init__(self, shortages):
        named = "; ".join(
            f"{product.name} (id {product.id}): {requested} requested, {available} left"
            for product, requested, available in shortages
        )
        super().__init__(
            f"Not enough stock: {named}.",
            {
                "products": [
                    {"id": product.id, "requested": requested, "available": available}
                    for product, requested, available in shortages
                ]
            },
        )


class TooManyPendingOrders(Conflict):
    def __init__(self, limit):
        super().__init__(
            f"You already have {limit} unpaid orders holding stock, the most allowed "
            "(MAX_PENDING_ORDERS): pay or cancel one before ordering more."
        )


def _take_one(product_id, quantity):
    # One conditional write: the database checks and takes at once, so no interleaving of
    # requests (or hosts) sees the same units as free, and stock never goes below 0.
    return bool(
        Product.update(stock=Product.stock - quantity)
        .where(Product.id == product_id, Product.stock >= quantity)
        .execute()
    )


def take(caller, cart):
    """Take each tracked product's quantity of `cart` [(product, quantity)]: {product id: taken}.

    Runs inside the caller's transaction, which rolls every take back when this raises:
    OutOfStock naming every product short, then TooManyPendingOrders for a customer who
    already holds MAX_PENDING_ORDERS pending orders with stock (admins are not limited).
    """
    taken, short = {}, []
    # Ascending ids: two carts sharing products lock their rows in the same order, so
    # concurrent takes queue on PostgreSQL instead of deadlocking.
    for product, quantity in sorted(cart, key=lambda item: item[0].id):
        if product.stock is None:
            continue
        if _take_one(product.id, quantity):
            taken[product.id] = quantity
        else:
            short.append((product, quantity))
    if short:
        left = dict(
            Product.select(Product.id, Product.stock)
            .where(Product.id.in_([product.id for product, _ in short]))
            .tuples()
        )
        shortages = []
        for product, quantity in short:
            available = left.get(product.id)
            if available is None:
                continue  # untracked since the cart was priced: sold without limit
            if available >= quantity and _take_one(product.id, quantity):
                taken[product.id] = quantity  # units given back in the meantime
            else:
                shortages.append((product, quantity, available))
        if shortages:
            raise OutOfStock(shortages)
    if taken and not caller.is_admin:
        _check_pending_limit(caller.user_id)
    return taken


def _check_pending_limit(user_id):
    limit = current_app.config["MAX_PENDING_ORDERS"]
    holding = (
        Order.select(Order.id)
        .join(OrderLine)
        .where(Order.user_id == user_id, Order.status == "pending", OrderLine.stock_taken > 0)
        .distinct()
        .limit(limit)
        .count()
    )
    if holding >= limit:
        raise TooManyPendingOrders(limit)


def take_again(order, caller):
    """Take back the units of an order whose payment set-up failed (and gave them back)."""
    lines = list(
        OrderLine.select(OrderLine, Product)
        .join(Product)
        .where(OrderLine.order == order.id, OrderLine.stock_taken == 0)
        .order_by(OrderLine.id)
    )
    taken = take(caller, [(line.product, line.quantity) for line in lines])
    for line in lines:
        if line.product_id in taken:
            OrderLine.update(stock_taken=taken[line.product_id]).where(
                OrderLine.id == line.id
            ).execute()


def give_back(order_id):
    """Return what each line of the order took (once: the lines then hold nothing)."""
    # Locking the lines makes a second give-back of the same order (a cancel racing a failed
    # payment set-up) wait, then find nothing left to return.
    lines = list(
        locked(
            OrderLine.select(OrderLine.id, OrderLine.product, OrderLine.stock_taken)
            .where(OrderLine.order == order_id, OrderLine.stock_taken > 0)
            .order_by(OrderLine.product)
        )
    )
    if not lines:
        return
    for line in lines:
        # A product untracked since keeps its null: there is no count to return units to.
        Product.update(stock=Product.stock + line.stock_taken).where(
            Product.id == line.product_id, Product.stock.is_null(False)
        ).execute()
    OrderLine.update(stock_taken=0).where(OrderLine.id.in_([line.id for line in lines])).execute()
