"""Stock: take units for an order as it is stored; give them back on cancel or restock."""

from flask import current_app
from peewee import Case

from ..database import CompiledQuery, locked
from ..errors import Conflict
from ..orders.models import Order, OrderLine
from .models import MAX_STOCK, Product


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


def _left(product_id):
    return Product.select(Product.stock).where(Product.id == product_id).scalar()


def take(caller, cart, order_id=None):
    """Take each tracked product's quantity of `cart` [(product, quantity)]: {product id: taken}.

    Runs inside the caller's transaction, which rolls every take back when this raises:
    OutOfStock naming every product short, then TooManyPendingOrders for a customer who
    already holds MAX_PENDING_ORDERS pending orders with stock (admins are not limited).
    `order_id`, the order taking, is not one of those (its lines may be written already).
    """
    tracked = _tracked_now(cart)
    taken, shortages = {}, []
    # Ascending ids, and never a take after a later id's: two carts sharing products lock
    # their rows in the same order, so concurrent takes queue on PostgreSQL, never deadlock.
    for product, quantity in sorted(cart, key=lambda item: item[0].id):
        if product.id not in tracked:
            continue
        if shortages:
            # The order is refused: name what else is short, but take (and lock) nothing more.
            available = _left(product.id)
            if available is not None and available < quantity:
                shortages.append((product, quantity, available))
            continue
        if _take_one(product.id, quantity):
            taken[product.id] = quantity
            continue
        available = _left(product.id)  # untracked since, or units given back in the meantime
        if available is None:
            continue
        if available >= quantity and _take_one(product.id, quantity):
            taken[product.id] = quantity
        else:
            shortages.append((product, quantity, available))
    if shortages:
        raise OutOfStock(shortages)
    if taken and not caller.is_admin:
        _check_pending_limit(caller.user_id, order_id)
    return taken


def _tracked_now(cart):
    """Ids of the cart's products tracked now, not only when the cart was priced.

    A product priced as untracked may have been given a count since (an admin starting to
    track it): one read, inside the order's transaction, keeps such an order from selling
    past the new count. A cart of tracked products costs nothing more.
    """
    tracked = {product.id for product, _ in cart if product.stock is not None}
    untracked = [product.id for product, _ in cart if product.stock is None]
    if untracked:
        tracked.update(product.id for product in _tracked_of(untracked))
    return tracked


# Compiled once per process (see CompiledQuery): every order of untracked products reads it.
_tracked_of = CompiledQuery(
    Product,
    lambda ids: Product.select(Product.id).where(Product.id.in_(ids), Product.stock.is_null(False)),
)


def _check_pending_limit(user_id, order_id=None):
    limit = current_app.config["MAX_PENDING_ORDERS"]
    holding = (
        Order.select(Order.id)
        .join(OrderLine)
        .where(
            Order.user_id == user_id,
            Order.status == "pending",
            OrderLine.stock_taken > 0,
            Order.id != (order_id or 0),
        )
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
    taken = take(caller, [(line.product, line.quantity) for line in lines], order.id)
    for line in lines:
        if line.product_id in taken:
            OrderLine.update(stock_taken=taken[line.product_id]).where(
                OrderLine.id == line.id
            ).execute()


def give_back(order_id, units=None):
    """Return what each line of the order took (once: the lines then hold nothing).

    `units` ({line id: units}) returns at most that many of those lines only (a restocked
    refund): never more than a line holds, so a later cancel cannot return them again.
    """
    # Locking the lines makes a second give-back of the same order (a cancel racing a failed
    # payment set-up) wait, then find nothing left to return.
    query = OrderLine.select(OrderLine.id, OrderLine.product, OrderLine.stock_taken).where(
        OrderLine.order == order_id, OrderLine.stock_taken > 0
    )
    if units is not None:
        query = query.where(OrderLine.id.in_(list(units)))
    lines = list(locked(query.order_by(OrderLine.product)))
    if not lines:
        return
    backs = {}
    for line in lines:
        back = backs[line.id] = (
            line.stock_taken if units is None else min(units[line.id], line.stock_taken)
        )
        # A product untracked since keeps its null: there is no count to return units to. A
        # count set near the column's limit since takes what fits rather than failing the cancel.
        Product.update(
            stock=Case(None, [(Product.stock > MAX_STOCK - back, MAX_STOCK)], Product.stock + back)
        ).where(Product.id == line.product_id, Product.stock.is_null(False)).execute()
    OrderLine.update(
        stock_taken=OrderLine.stock_taken - Case(OrderLine.id, list(backs.items()), 0)
    ).where(OrderLine.id.in_(list(backs))).execute()
