"""Reading orders: what a caller may see, a page of them, and their lines in one query."""

from ..database import CompiledQuery
from ..errors import Forbidden, NotFound
from ..pagination import keyset_query
from .models import Order, OrderLine


def visible_orders():
    """Orders anyone may see at all: those whose payment is set up."""
    return Order.select().where(Order.client_secret.is_null(False))


def _filtered_page(user_id, status, starting_after, fetch):
    query = visible_orders()
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    if status is not None:
        query = query.where(Order.status == status)
    return keyset_query(query, Order.id, starting_after, fetch)


# The reads behind every GET of orders, compiled once per process (see CompiledQuery).
_visible_order = CompiledQuery(
    Order, lambda order_id: visible_orders().where(Order.id == order_id).limit(1)
)
_order_page = CompiledQuery(Order, _filtered_page)
_lines_of = CompiledQuery(
    OrderLine,
    lambda order_ids: (
        OrderLine.select().where(OrderLine.order.in_(order_ids)).order_by(OrderLine.id)
    ),
)


def visible_order(order_id):
    """The order if its payment is set up, else None (whoever owns it)."""
    found = _visible_order(order_id)
    return found[0] if found else None


def order_page(user_id, status, starting_after, limit):
    """Up to `limit` + 1 visible orders, newest first, before `starting_after` (keyset_query)."""
    return _order_page(user_id, status, starting_after, limit + 1)


def find_order(caller, order_id):
    """The caller's order (any order for an admin); others' ids look like unknown ones."""
    order = visible_order(order_id)
    if order is None or not (caller.is_admin or order.user_id == caller.user_id):
        raise NotFound(f"Order {order_id} not found.")
    return order


def orders_for(caller, user_id, status, starting_after, limit):
    """A page (and one more) of what `caller` may list: their own orders, or, for an admin,
    everyone's or one user's."""
    if not caller.is_admin:
        if user_id not in (None, caller.user_id):
            raise Forbidden("Only admins may list other users' orders.")
        user_id = caller.user_id
    return order_page(user_id, status, starting_after, limit)


def attach_lines(orders):
    """Give each order its `products` in one query, whatever the number of orders."""
    by_id = {order.id: order for order in orders}
    for order in orders:
        order.products = []
    if by_id:
        for line in _lines_of(list(by_id)):
            by_id[line.order_id].products.append(line)
    return orders
