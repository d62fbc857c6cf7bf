"""Reading orders: what a caller may see, a page of them, and their lines in one query."""

from ..database import CompiledQuery
from ..documents import Document, Statements, as_array, fetch
from ..errors import Forbidden, NotFound
from ..pagination import finish_page
from .models import Fulfillment, Order, OrderHistory, OrderLine
from .schemas import HistorySchema, OrderSchema

# The bodies GET answers, written by the database from the schemas (see documents.Document).
ORDER = Document(
    OrderSchema, Order, {"products": OrderLine.order, "fulfillments": Fulfillment.order}
)
HISTORY = Document(HistorySchema, OrderHistory)

# Only an order whose payment is set up is shown; a customer's reads add their user id.
VISIBLE = "o.client_secret IS NOT NULL"
OWNED = " AND o.user_id = %s"


def visible_orders():
    """Orders anyone may see at all: those whose payment is set up."""
    return Order.select().where(Order.client_secret.is_null(False))


# The read behind status changes, compiled once per process (see CompiledQuery).
_visible_order = CompiledQuery(
    Order, lambda order_id: visible_orders().where(Order.id == order_id).limit(1)
)
_lines_of = CompiledQuery(
    OrderLine,
    lambda order_ids: (
        OrderLine.select().where(OrderLine.order.in_(order_ids)).order_by(OrderLine.id)
    ),
)


def _history(alias, sqlite):
    return HISTORY.array_sql(f"{alias}.id", OrderHistory.order, "h", sqlite)


_one_order = Statements(lambda owned: ORDER.select("o", "o.id = %s AND " + VISIBLE + owned))
_one_history = Statements(
    lambda owned: ORDER.select("o", "o.id = %s AND " + VISIBLE + owned, body=_history)
)


# After the cursor (an order id) in (created_at, id) order.
AFTER_DATED_CURSOR = (
    " AND (o.created_at, o.id) < (SELECT c.created_at, c.id FROM orders AS c WHERE c.id = %s)"
)


def _page(user, status, cursor, after, before):
    """The statement of a page of orders: a `%s` for each filter given, in this order.

    Newest first by id; with a date filter, by (created_at, id), so that the filters lead an
    index ((created_at, id), or user_id or status before them) and any page of any range is
    one range scan. The cursor is still an order id: the statement reads its created_at. It
    comes before the dates: SQLite bounds the scan by the first of two upper bounds, and the
    cursor's is the one that keeps a deep page as cheap as the first.
    """
    where = VISIBLE + (OWNED if user else "") + (" AND o.status = %s" if status else "")
    if not (after or before):
        where += " AND o.id < %s" if cursor else ""
        return ORDER.select("o", where, order_by="o.id DESC", limit=True)
    where += AFTER_DATED_CURSOR if cursor else ""
    where += " AND o.created_at >= %s" if after else ""
    where += " AND o.created_at < %s" if before else ""
    return ORDER.select("o", where, order_by="o.created_at DESC, o.id DESC", limit=True)


_order_page = Statements(_page)


def visible_order(order_id):
    """The order if its payment is set up, else None (whoever owns it)."""
    found = _visible_order(order_id)
    return found[0] if found else None


def find_order(caller, order_id):
    """The caller's order (any order for an admin); others' ids look like unknown ones."""
    order = visible_order(order_id)
    if order is None or not (caller.is_admin or order.user_id == caller.user_id):
        raise NotFound(f"Order {order_id} not found.")
    return order


def _owned_document(statements, caller, order_id):
    # The same rule as find_order, in the statement: a customer's id filters the row.
    owned = "" if caller.is_admin else OWNED
    params = [order_id] if caller.is_admin else [order_id, caller.user_id]
    rows = fetch(statements(owned), params)
    if not rows:
        raise NotFound(f"Order {order_id} not found.")
    return rows[0].doc.encode()


def order_document(caller, order_id):
    """The body of GET /orders/{id} (JSON bytes), in one statement; 404 as find_order."""
    return _owned_document(_one_order, caller, order_id)


def history_document(caller, order_id):
    """The order's status changes, oldest first, as JSON bytes; 404 as find_order."""
    return _owned_document(_one_history, caller, order_id)


def orders_for(caller, args):
    """A page (and one more) of what `caller` may list, as Rows (id, document): their own
    orders, or, for an admin, everyone's or one user's; filtered by `args` (the query's)."""
    user_id = args.get("user_id")
    if not caller.is_admin:
        if user_id not in (None, caller.user_id):
            raise Forbidden("Only admins may list other users' orders.")
        user_id = caller.user_id
    # In _page's order.
    filters = (
        user_id,
        args.get("status"),
        args.get("starting_after"),
        args.get("created_after"),
        args.get("created_before"),
    )
    sql = _order_page(*(value is not None for value in filters))
    return fetch(sql, [value for value in filters if value is not None] + [args["limit"] + 1])


def order_page_document(caller, args, headers):
    """The body of GET /orders (JSON bytes); a next Link in `headers` when more exist."""
    return as_array(finish_page(orders_for(caller, args), Order.id, args, headers))


def attach_lines(orders):
    """Give each order its `products` in one query, whatever the number of orders."""
    by_id = {order.id: order for order in orders}
    for order in orders:
        order.products = []
    if by_id:
        for line in _lines_of(list(by_id)):
            by_id[line.order_id].products.append(line)
    return orders
