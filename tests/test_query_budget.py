"""Each endpoint issues a fixed number of SQL statements, whatever the page size or the
number of order lines (no N+1). A change that adds a statement fails here."""

import logging

import pytest


class QueryCounter(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.statements = []

    def emit(self, record):
        sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
        self.statements.append(sql)


@pytest.fixture
def count_queries():
    """count_queries(fn) -> the SQL statements fn() issued (BEGIN/COMMIT not counted)."""
    logger = logging.getLogger("peewee")

    def count(fn):
        counter = QueryCounter()
        level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
        try:
            response = fn()
        finally:
            logger.removeHandler(counter)
            logger.setLevel(level)
        assert response.status_code < 300, response.get_json()
        return [
            s
            for s in counter.statements
            if s.split()[0].upper() in {"SELECT", "INSERT", "UPDATE", "DELETE"}
        ]

    return count


@pytest.fixture
def orders(place_order):
    small = [place_order(["6"])["id"] for _ in range(30)]
    big = [
        place_order([{"id": pid, "quantity": 2} for pid in range(1, 9)])["id"] for _ in range(30)
    ]
    return small, big


@pytest.mark.parametrize("limit", [1, 20, 100])
def test_listing_orders_costs_one_statement_at_any_page_size(
    client, customer, orders, count_queries, limit
):
    statements = count_queries(lambda: client.get(f"/orders?limit={limit}", headers=customer))
    assert len(statements) == 1, statements  # the page with every line of it


def test_a_deep_page_costs_the_same(client, customer, orders, count_queries):
    statements = count_queries(
        lambda: client.get("/orders?limit=5&starting_after=10", headers=customer)
    )
    assert len(statements) == 1


@pytest.mark.parametrize("which", [0, 1])
def test_one_order_costs_one_statement_however_many_lines(
    client, customer, orders, count_queries, which
):
    order_id = orders[which][0]
    statements = count_queries(lambda: client.get(f"/orders/{order_id}", headers=customer))
    assert len(statements) == 1, statements


@pytest.mark.parametrize("reader", ["admin", "customer"])
def test_history_costs_one_statement(client, admin, customer, orders, count_queries, reader):
    order_id = orders[0][0]
    for status in ("paid", "shipped", "completed", "refunded"):
        client.post(
            "/orders/status-update", json={"orderId": order_id, "status": status}, headers=admin
        )
    headers = {"admin": admin, "customer": customer}[reader]
    statements = count_queries(lambda: client.get(f"/orders/{order_id}/history", headers=headers))
    assert len(statements) == 1, statements


@pytest.mark.parametrize("items", [["6"], [{"id": pid, "quantity": 3} for pid in range(1, 9)] * 10])
def test_creating_an_order_costs_the_same_for_one_line_or_eighty(
    client, customer, catalog, count_queries, items
):
    statements = count_queries(lambda: client.post("/orders/new", json=items, headers=customer))
    # price (1), order, lines, history, still untracked? (4), the intent saved, the order as
    # the UPDATE left it returned (1): its lines are the ones just written, not read back
    assert len(statements) == 6 + 2, statements
    # (+ order.created: the event, the subscribed endpoints; its actor is the request's)


def test_creating_with_an_idempotency_key_adds_the_key_lookup_insert_and_response(
    client, customer, catalog, count_queries
):
    headers = {**customer, "Idempotency-Key": "budget"}
    statements = count_queries(lambda: client.post("/orders/new", json=["6"], headers=headers))
    assert len(statements) == 9 + 2, statements
    replay = count_queries(lambda: client.post("/orders/new", json=["6"], headers=headers))
    assert len(replay) == 1, replay


@pytest.mark.parametrize("limit", [2, 100])
def test_listing_products_costs_one_query(client, catalog, count_queries, limit):
    assert len(count_queries(lambda: client.get(f"/products?limit={limit}"))) == 1


@pytest.mark.parametrize("limit", [2, 100])
def test_an_admin_listing_products_costs_one_statement(
    client, admin, catalog, count_queries, limit
):
    statements = count_queries(lambda: client.get(f"/products?limit={limit}", headers=admin))
    assert len(statements) == 1, statements


@pytest.mark.parametrize("columns", [2, 30])
def test_reordering_lead_statuses_costs_the_same_for_any_number(
    client, admin, count_queries, columns
):
    for n in range(columns):
        client.post("/leads/statuses", json={"name": f"Column {n}"}, headers=admin)
    body = [{"id": n + 1, "statusOrder": columns - n} for n in range(columns)]
    statements = count_queries(
        lambda: client.put("/leads/statuses/order", json=body, headers=admin)
    )
    assert len(statements) == 3, statements  # lock, one UPDATE, the new order


def test_status_update_costs_a_fixed_number(client, admin, orders, count_queries):
    body = {"orderId": orders[1][0], "status": "paid"}
    statements = count_queries(
        lambda: client.post("/orders/status-update", json=body, headers=admin)
    )
    # read, claim, lock, history, update, release; the event: version, lines, the event,
    # the subscribed endpoints
    assert len(statements) == 6 + 4, statements


@pytest.mark.parametrize("tracked", [1, 3])
def test_an_order_of_tracked_products_costs_one_more_per_tracked_product_and_the_limit(
    client, customer, catalog, count_queries, tracked
):
    items = [{"id": pid, "quantity": 2} for pid in range(9, 9 + tracked)] + ["6"] * 50
    statements = count_queries(lambda: client.post("/orders/new", json=items, headers=customer))
    # the 6 (+ 2 for order.created) of an order with untracked products, a conditional UPDATE
    # per tracked product, the pending-orders count
    assert len(statements) == 6 + 2 + tracked + 1, statements


@pytest.mark.parametrize("tracked", [0, 2])
def test_a_cancel_costs_a_fixed_number_plus_one_per_product_given_back(
    client, customer, catalog, place_order, count_queries, tracked
):
    items = [{"id": pid, "quantity": 2} for pid in range(9, 9 + tracked)] + ["6", "7"]
    body = {"orderId": place_order(items)["id"], "status": "canceled"}
    statements = count_queries(
        lambda: client.post("/orders/status-update", json=body, headers=customer)
    )
    # read, claim, lock, history, update, the lines holding stock, release; then per product,
    # and the lines; the event (4)
    assert len(statements) == 7 + (tracked + 1 if tracked else 0) + 4, statements


@pytest.mark.parametrize("events", [2, 30])
def test_a_replay_costs_the_same_for_any_number_of_events(
    client, admin, place_order, count_queries, events
):
    endpoint = client.post(
        "/webhook-endpoints", json={"url": "https://hooks.example/orders"}, headers=admin
    ).get_json()
    for _ in range(events):
        place_order()
    body = {"since": "2000-01-01T00:00:00Z"}
    url = f"/webhook-endpoints/{endpoint['id']}/replay"

    statements = count_queries(lambda: client.post(url, json=body, headers=admin))

    assert len(statements) == 3, statements  # the endpoint; queue again those it had, add the rest
