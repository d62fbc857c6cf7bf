"""The bodies the database writes (orders_service.documents) are what the declared schemas dump,
for orders, histories and products of every shape, on SQLite and PostgreSQL alike."""

import datetime
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders_service.database import db
from orders_service.orders.disputes import STATUSES as DISPUTE_STATUSES
from orders_service.orders.fulfillments import STATUSES as FULFILLMENT_STATUSES
from orders_service.orders.lifecycle import STATUSES
from orders_service.orders.models import Fulfillment, Order, OrderHistory, OrderLine
from orders_service.orders.queries import attach_lines
from orders_service.orders.schemas import HistorySchema, OrderSchema
from orders_service.products.models import Product
from orders_service.products.schemas import ProductSchema

from .conftest import CUSTOMER_ID

EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BIG = 2**63 - 1
# Any text a database stores: every plane, combining marks, quotes, backslashes, controls.
texts = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60)
moments = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1), max_value=datetime.datetime(2100, 12, 31)
)
lines = st.lists(
    st.fixed_dictionaries(
        {
            "product": st.integers(1, 8),
            "name": texts,
            "quantity": st.integers(1, 2**31 - 1),
            "price_in_cents": st.integers(0, BIG),
        }
    ),
    max_size=12,
)
# No dispute (all null), or one as Stripe reports it.
disputes = st.just({}) | st.fixed_dictionaries(
    {
        "dispute_id": texts.map(lambda text: "dp_" + text),
        "dispute_status": st.sampled_from(DISPUTE_STATUSES),
        "dispute_reason": texts.filter(bool).map(lambda text: text[:64]),
        "dispute_amount_in_cents": st.integers(0, BIG),
    }
)
orders = st.builds(
    lambda order, dispute: {**order, **dispute},
    st.fixed_dictionaries(
        {
            "user_id": st.sampled_from([CUSTOMER_ID, 1, BIG]),
            "created_at": moments,
            "status": st.sampled_from(STATUSES),
            "amount_in_cents": st.integers(0, BIG),
            "amount_refunded_in_cents": st.integers(0, BIG),
            "currency": st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=3),
            "client_secret": texts.map(lambda text: "pi_" + text),
            "fulfillment_status": st.sampled_from(FULFILLMENT_STATUSES),
            "authorization_expires_at": st.none() | moments,
        }
    ),
    disputes,
)
# Parcels of every shape; an unfulfilled order has none (fulfillments.record keeps it so).
parcels = st.lists(
    st.fixed_dictionaries(
        {
            # As fulfillments.record writes them: productId, then quantity.
            "lines_json": st.lists(
                st.builds(
                    lambda product, quantity: {"productId": product, "quantity": quantity},
                    st.integers(1, BIG),
                    st.integers(1, 1000),
                ),
                max_size=4,
            ).map(json.dumps),
            "carrier": st.none() | texts.map(lambda text: text[:100]),
            "tracking_number": st.none() | texts.map(lambda text: text[:100]),
            "tracking_url": st.none() | texts.map(lambda text: "https://" + text),
            "notify_customer": st.booleans(),
            "actor": texts,
            "created_at": moments,
        }
    ),
    max_size=3,
)
history = st.lists(
    st.fixed_dictionaries(
        {
            "from_status": st.none() | st.sampled_from(STATUSES),
            "to_status": st.sampled_from(STATUSES),
            "actor": texts,
            "at": moments,
        }
    ),
    max_size=6,
)
products = st.lists(
    st.fixed_dictionaries(
        {
            "name": texts.filter(bool),
            "price_in_cents": st.integers(1, BIG),
            "active": st.booleans(),
            "stock": st.none() | st.integers(0, 2**31 - 1),
        }
    ),
    min_size=1,
    max_size=8,
)


def same(body, dumped):
    """Equal values with the same keys in the same order (JSON text compares both)."""
    return json.dumps(json.loads(body), sort_keys=False) == json.dumps(dumped, sort_keys=False)


@pytest.fixture
def stored(app, catalog):
    """stored(fn) runs fn in the app's context and commits; rows made are gone after the test."""

    def store(fn):
        with app.app_context():
            with db.atomic():
                result = fn()
            db.close()
        return result

    return store


def add_order(order, order_lines, changes=(), fulfillments=()):
    created = Order.create(**order)
    for line in order_lines:
        OrderLine.create(order=created, **line)
    for change in changes:
        OrderHistory.create(order=created, **change)
    if created.fulfillment_status != "unfulfilled":
        for fulfillment in fulfillments:
            Fulfillment.create(order=created, **fulfillment)
    return created.id


def dump_order(order_id):
    return OrderSchema().dump(attach_lines([Order.get_by_id(order_id)])[0])


@EXAMPLES
@given(order=orders, order_lines=lines, sent=parcels)
def test_an_order_body_is_what_the_order_schema_dumps(
    client, admin, stored, order, order_lines, sent
):
    order_id = stored(lambda: add_order(order, order_lines, fulfillments=sent))
    response = client.get(f"/orders/{order_id}", headers=admin)
    assert response.status_code == 200
    assert same(response.data, stored(lambda: dump_order(order_id)))


@EXAMPLES
@given(
    page=st.lists(st.tuples(orders, lines, parcels), min_size=1, max_size=5),
    limit=st.integers(1, 6),
)
def test_a_page_body_is_what_the_order_schema_dumps_for_each(client, admin, stored, page, limit):
    def add():
        Order.delete().where(Order.user_id == BIG).execute()
        return [
            add_order({**order, "user_id": BIG}, order_lines, fulfillments=sent)
            for order, order_lines, sent in page
        ]

    ids = stored(add)
    response = client.get(f"/orders?userId={BIG}&limit={limit}", headers=admin)
    assert response.status_code == 200
    newest = sorted(ids, reverse=True)[:limit]
    assert same(response.data, stored(lambda: [dump_order(order_id) for order_id in newest]))
    assert ("Link" in response.headers) == (len(ids) > limit)


@EXAMPLES
@given(order=orders, changes=history)
def test_a_history_body_is_what_the_history_schema_dumps(client, customer, stored, order, changes):
    order_id = stored(lambda: add_order({**order, "user_id": CUSTOMER_ID}, [], changes))
    response = client.get(f"/orders/{order_id}/history", headers=customer)
    assert response.status_code == 200
    query = OrderHistory.select().where(OrderHistory.order == order_id).order_by(OrderHistory.id)
    assert same(response.data, stored(lambda: HistorySchema(many=True).dump(list(query))))


@EXAMPLES
@given(rows=products)
def test_a_product_page_is_what_the_product_schema_dumps(client, admin, stored, rows):
    def add():
        Product.delete().where(Product.sku.startswith("GEN-")).execute()
        return [Product.create(sku=f"GEN-{n}", **row).id for n, row in enumerate(rows)]

    stored(add)
    newest_first = stored(lambda: list(Product.select().order_by(Product.id.desc())))
    for headers, shown in ((admin, newest_first), ({}, [p for p in newest_first if p.active])):
        response = client.get("/products?limit=100", headers=headers)
        assert response.status_code == 200
        assert same(response.data, ProductSchema(many=True).dump(shown))


def test_a_timestamp_is_cut_to_the_second_never_rounded_up(client, admin, stored):
    moment = datetime.datetime(2024, 2, 29, 23, 59, 59, 999_999)
    order = {"user_id": 1, "created_at": moment, "status": "paid", "amount_in_cents": 1}
    order_id = stored(lambda: add_order({**order, "currency": "usd", "client_secret": "s"}, []))
    assert client.get(f"/orders/{order_id}", headers=admin).get_json()["date"] == (
        "2024-02-29T23:59:59Z"
    )


@pytest.mark.parametrize(
    ("path", "schema"),
    [
        ("/orders", "Order"),
        ("/orders/{order_id}", "Order"),
        ("/orders/{order_id}/history", "History"),
        ("/products", "Product"),
    ],
)
def test_the_fast_reads_still_declare_their_schemas(client, path, schema):
    response = client.get("/openapi.json").get_json()["paths"][path]["get"]["responses"]["200"]
    declared = response["content"]["application/json"]["schema"]
    assert (declared.get("items") or declared)["$ref"] == f"#/components/schemas/{schema}"
