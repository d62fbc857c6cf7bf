"""GET /orders?createdAfter=…&createdBefore=… (SPEC, Refunds and disputes): a half-open range
of creation times, with userId and status, paged newest first, each page one index range scan."""

import datetime
import itertools
import re
from urllib.parse import quote

import pytest

from orders_service.database import db, is_sqlite
from orders_service.orders import queries
from orders_service.orders.models import Order

MARCH = datetime.datetime(2026, 3, 1)


def at(hours):
    """The query's form of MARCH + `hours`, in UTC."""
    return quote((MARCH + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"))


@pytest.fixture
def dated(place_order, other_customer, catalog):
    """dated(hours, headers=None, status=None) → the id of an order created MARCH + hours."""

    def make(hours, headers=None, status=None):
        order_id = place_order(headers=headers)["id"]
        changes = {"created_at": MARCH + datetime.timedelta(hours=hours)}
        if status:
            changes["status"] = status
        Order.update(**changes).where(Order.id == order_id).execute()
        return order_id

    return make


def ids(response):
    assert response.status_code == 200, response.get_json()
    return [order["id"] for order in response.get_json()]


def test_created_after_is_inclusive_and_created_before_exclusive(client, admin, dated):
    orders = [dated(hours) for hours in range(4)]  # 00:00, 01:00, 02:00, 03:00

    between = client.get(f"/orders?createdAfter={at(1)}&createdBefore={at(3)}", headers=admin)
    since = client.get(f"/orders?createdAfter={at(2)}", headers=admin)
    until = client.get(f"/orders?createdBefore={at(1)}", headers=admin)

    assert ids(between) == [orders[2], orders[1]]
    assert ids(since) == [orders[3], orders[2]]
    assert ids(until) == [orders[0]]


def test_an_offset_is_the_same_moment_in_utc(client, admin, dated):
    orders = [dated(hours) for hours in range(4)]

    response = client.get(
        "/orders?createdAfter=2026-03-01T03:00:00%2B02:00&createdBefore=2026-02-28T22:30:00-03:30",
        headers=admin,
    )

    assert ids(response) == [orders[1]]  # 01:00Z ≤ created < 02:00Z


def test_date_filters_combine_with_user_id_and_status(client, admin, other_customer, dated):
    mine_paid = dated(1, status="paid")
    dated(2)  # mine, pending
    theirs_paid = dated(3, headers=other_customer, status="paid")
    dated(9, status="paid")  # after the range
    window = f"createdAfter={at(0)}&createdBefore={at(5)}"

    paid = client.get(f"/orders?{window}&status=paid", headers=admin)
    mine = client.get(f"/orders?{window}&userId=7&status=paid", headers=admin)
    theirs = client.get(f"/orders?{window}&userId=8", headers=admin)

    assert ids(paid) == [theirs_paid, mine_paid]
    assert ids(mine) == [mine_paid]
    assert ids(theirs) == [theirs_paid]


def test_a_dated_list_pages_by_creation_time_and_its_link_keeps_the_filters(client, admin, dated):
    # Ids and creation times disagree here (an order's transaction may commit after a later
    # one's): the range is newest first by creation time, every order once.
    hours = [5, 1, 4, 2, 3, 3, 6, 0, 2]
    orders = {dated(hour): hour for hour in hours}
    expected = sorted(
        (order_id for order_id, hour in orders.items() if 1 <= hour < 6),
        key=lambda order_id: (orders[order_id], order_id),
        reverse=True,
    )
    url, seen = f"/orders?limit=2&createdAfter={at(1)}&createdBefore={at(6)}", []

    while url:
        response = client.get(url, headers=admin)
        seen += ids(response)
        link = response.headers.get("Link")
        if link:
            assert "createdAfter=" in link and "createdBefore=" in link
        url = re.match(r'<(/orders\?[^>]+)>; rel="next"', link).group(1) if link else None

    assert seen == expected


def test_customers_may_filter_their_own_orders_by_date(client, customer, other_customer, dated):
    mine = dated(1)
    dated(1, headers=other_customer)

    response = client.get(f"/orders?createdAfter={at(0)}", headers=customer)

    assert ids(response) == [mine]
    assert client.get(f"/orders?createdAfter={at(0)}&userId=8", headers=customer).status_code == 403


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("createdAfter=2026-03-01T00:00:00", "Give the time zone"),
        ("createdBefore=2026-03-01", "Give the time zone"),
        ("createdAfter=yesterday", "Not an ISO 8601 date and time"),
        ("createdAfter=0001-01-01T00:00:00%2B01:00", "Not an ISO 8601 date and time"),
        (f"createdAfter={at(2)}&createdBefore={at(2)}", "earlier than createdBefore"),
        (f"createdAfter={at(3)}&createdBefore={at(2)}", "earlier than createdBefore"),
        ("createdafter=2026-03-01T00:00:00Z", "Unknown field"),
    ],
)
def test_a_moment_the_service_cannot_read_for_sure_is_a_400(client, admin, query, message):
    response = client.get(f"/orders?{query}", headers=admin)

    assert response.status_code == 400
    assert message in response.get_json()["message"]


def test_the_api_document_gives_both_filters_as_date_times(client):
    operation = client.get("/openapi.json").get_json()["paths"]["/orders"]["get"]

    documented = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}

    assert documented["createdAfter"]["format"] == "date-time"
    assert documented["createdBefore"]["format"] == "date-time"


# Every combination of filters with a date range, on a first page and after a cursor.
SHAPES = [
    "&".join(part for part in parts if part)
    for parts in itertools.product(
        ("", "userId=7"),
        ("", "status=paid"),
        (
            f"createdAfter={at(0)}",
            f"createdBefore={at(2)}",
            f"createdAfter={at(0)}&createdBefore={at(2)}",
        ),
        ("", "starting_after=25100"),
    )
]


# 20,000 orders a minute apart around MARCH: every 5th paid, spread over 397 users.
MANY = {
    "postgresql": "INSERT INTO orders (user_id, created_at, status, amount_in_cents, currency,"
    " client_secret, payment_key_generation, event_version, amount_refunded_in_cents,"
    " fulfillment_status)"
    " SELECT 2 + mod(g, 397), TIMESTAMP '2026-03-01' + (g - 10000) * INTERVAL '1 minute',"
    " CASE WHEN mod(g, 5) = 0 THEN 'paid' ELSE 'pending' END, 100, 'usd', 's', 0, 1, 0,"
    " 'unfulfilled' FROM generate_series(1, 20000) AS g",
    "sqlite": "INSERT INTO orders (user_id, created_at, status, amount_in_cents, currency,"
    " client_secret, payment_key_generation, event_version, amount_refunded_in_cents,"
    " fulfillment_status)"
    " WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 20000)"
    " SELECT 2 + g % 397, datetime('2026-03-01', (g - 10000) || ' minutes'),"
    " CASE WHEN g % 5 = 0 THEN 'paid' ELSE 'pending' END, 100, 'usd', 's', 0, 1, 0,"
    " 'unfulfilled' FROM s",
}


@pytest.fixture
def many_orders(app):
    """MANY orders, with PostgreSQL's statistics of them, so the planner chooses as it would
    in a shop (on an empty table any plan is cheap); gone, and forgotten, after the test."""
    db.execute_sql(MANY["sqlite" if is_sqlite() else "postgresql"])
    if not is_sqlite():
        db.execute_sql("ANALYZE orders")
    yield
    db.execute_sql("DELETE FROM orders")
    if not is_sqlite():
        db.execute_sql("ANALYZE orders")


def statement_of(client, admin, monkeypatch, query):
    """(SQL, parameters) of the statement GET /orders runs for `query`."""
    statements = []
    fetch = queries.fetch
    monkeypatch.setattr(
        queries, "fetch", lambda sql, params: statements.append((sql, params)) or fetch(sql, params)
    )
    assert client.get(f"/orders?limit=20&{query}", headers=admin).status_code == 200
    monkeypatch.setattr(queries, "fetch", fetch)
    [statement] = statements
    return statement


def test_every_combination_with_dates_is_served_by_an_index_never_a_table_scan(
    client, admin, many_orders, monkeypatch
):
    for query in SHAPES:
        sql, params = statement_of(client, admin, monkeypatch, query)
        explain = "EXPLAIN QUERY PLAN " if is_sqlite() else "EXPLAIN "
        plan = "\n".join(str(row[-1]) for row in db.execute_sql(explain + sql, params))

        if is_sqlite():
            # SEARCH through a dated index, never a SCAN of the table nor a sort after it
            assert re.search(r"SEARCH o USING INDEX orders_\w*created_at_id", plan), (query, plan)
            assert "SCAN o" not in plan and "TEMP B-TREE" not in plan, (query, plan)
        else:
            # An index range scan in (created_at, id) order; or, for one customer's few
            # orders in the range, a bitmap of that index and a sort of those few.
            assert "Seq Scan on orders" not in plan, (query, plan)
            assert re.search(
                r"Index Scan Backward using orders_\w*created_at_id on orders o", plan
            ) or (
                "userId" in query and "Bitmap Index Scan on orders_user_id_created_at_id" in plan
            ), (query, plan)


def work_of(sql, params):
    """What the statement costs: on PostgreSQL the rows its scan of `orders o` reads (kept or
    filtered out), on SQLite the virtual machine's steps (in thousands)."""
    if is_sqlite():
        steps = []
        connection = db.connection()
        connection.set_progress_handler(lambda: steps.append(1) and 0, 1000)
        try:
            db.execute_sql(sql, params).fetchall()
        finally:
            connection.set_progress_handler(None, 0)
        return len(steps)
    [[explained]] = db.execute_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params).fetchall()
    nodes, read = [explained[0]["Plan"]], 0
    while nodes:
        node = nodes.pop()
        nodes += node.get("Plans", [])
        if node.get("Relation Name") == "orders" and node.get("Alias") == "o":
            read += node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
    return read


@pytest.mark.parametrize("filters", ["", "&status=paid", "&userId=7"])
def test_a_page_deep_in_a_date_range_costs_what_a_page_near_its_top_costs(
    client, admin, many_orders, monkeypatch, filters
):
    # A range of 12,000 minutes (MARCH ± 100 hours); one cursor 30 minutes below its top, one
    # 11,000 minutes below: the deep page reads no more than the shallow one does.
    window = f"createdAfter={at(-100)}&createdBefore={at(100)}{filters}"

    def page_after(hours, minutes):
        moment = MARCH + datetime.timedelta(hours=hours, minutes=minutes)
        query = f"{window}&starting_after={Order.get(Order.created_at == moment).id}"
        return work_of(*statement_of(client, admin, monkeypatch, query))

    shallow, deep = page_after(99, 30), page_after(-83, -20)

    assert deep <= shallow * 1.5 + 2, (shallow, deep)
