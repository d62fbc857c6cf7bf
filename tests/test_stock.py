"""Stock: shown and set on products, taken by orders, given back by every cancel, never oversold."""

import datetime
from types import SimpleNamespace

import pytest

from orders_service.database import db, migration_runner
from orders_service.orders import service
from orders_service.orders.models import IdempotencyKey, Order, OrderLine
from orders_service.products import stock as stock_module
from orders_service.products.models import MAX_STOCK, Product
from tests.fakes.stripe_events import charge_refunded, deliver, event

HOODIE, PIN, POSTER = 9, 10, 11  # the demo catalog's tracked products: 10, 100 and 25 left
SOCKS = 8  # untracked


def stock(product_id):
    return Product.get_by_id(product_id).stock


def cart(*lines):
    return [{"id": product_id, "quantity": quantity} for product_id, quantity in lines]


def status_update(client, headers, order, status):
    body = {"orderId": order["id"], "status": status}
    return client.post("/orders/status-update", json=body, headers=headers)


def test_every_product_read_shows_its_stock(client, admin, catalog):
    listed = {p["id"]: p["stock"] for p in client.get("/products?limit=100").get_json()}
    assert listed == {**dict.fromkeys(range(1, 9)), HOODIE: 10, PIN: 100, POSTER: 25}
    assert client.get(f"/products/{HOODIE}").get_json()["stock"] == 10
    assert client.get("/products/1", headers=admin).get_json()["stock"] is None


def test_admins_set_change_and_untrack_stock(client, admin):
    body = {"sku": "MUG-RED", "name": "Red Mug", "priceInCents": 1299}
    created = client.post("/products", json={**body, "stock": 3}, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["stock"] == 3
    path = f"/products/{created.get_json()['id']}"

    assert client.patch(path, json={"stock": 0}, headers=admin).get_json()["stock"] == 0
    assert client.patch(path, json={"priceInCents": 999}, headers=admin).get_json()["stock"] == 0
    assert client.patch(path, json={"stock": None}, headers=admin).get_json()["stock"] is None
    untracked = client.post("/products", json={**body, "sku": "MUG-BLUE"}, headers=admin)
    assert untracked.get_json()["stock"] is None


@pytest.mark.parametrize("value", [-1, 1.5, "3", True, 2**31])
def test_stock_that_is_not_a_whole_number_from_zero_is_400(client, admin, catalog, value):
    body = {"sku": "MUG-RED", "name": "Red Mug", "priceInCents": 1299, "stock": value}
    assert client.post("/products", json=body, headers=admin).status_code == 400
    patched = client.patch(f"/products/{HOODIE}", json={"stock": value}, headers=admin)
    assert patched.status_code == 400
    assert "stock" in patched.get_json()["errors"]["json"]
    assert stock(HOODIE) == 10


def test_an_order_takes_tracked_stock_and_untracked_products_sell_without_limit(
    place_order, customer
):
    order = place_order(cart((HOODIE, 3), (SOCKS, 1000), (PIN, 1)))
    for _ in range(9):
        place_order(cart((SOCKS, 1000)))

    assert (stock(HOODIE), stock(PIN), stock(SOCKS)) == (7, 99, None)
    taken = OrderLine.select().where(OrderLine.order == order["id"]).order_by(OrderLine.product)
    assert [(line.product_id, line.stock_taken) for line in taken] == [(8, 0), (9, 3), (10, 1)]


def place_with_stripe(stripe_client, customer, items, key=None):
    headers = {**customer, **({"Idempotency-Key": key} if key else {})}
    return stripe_client.post("/orders/new", json=items, headers=headers)


def cancel_by_owner(ctx, order):
    assert status_update(ctx.client, ctx.customer, order, "canceled").status_code == 200


def cancel_by_admin(ctx, order):
    assert status_update(ctx.client, ctx.admin, order, "cancelled").status_code == 200


def cancel_by_stripe(ctx, order):
    intent = ctx.fake.set_status(Order.get_by_id(order["id"]).payment_intent_id, "canceled")
    response = deliver(ctx.client, event("payment_intent.canceled", intent))
    assert response.get_json()["outcome"] == "canceled"


def cancel_by_expiry(ctx, order):
    Order.update(created_at=datetime.datetime(2020, 1, 1)).execute()
    expired = ctx.runner.invoke(args=["orders", "expire", "--older-than", "1h"])
    assert "1 orders canceled" in expired.output


@pytest.mark.parametrize(
    "cancel", [cancel_by_owner, cancel_by_admin, cancel_by_stripe, cancel_by_expiry]
)
def test_every_way_to_cancel_gives_the_stock_back_once(
    stripe_app, stripe_client, stripe_fake, customer, admin, catalog, cancel
):
    response = place_with_stripe(stripe_client, customer, cart((HOODIE, 4), (POSTER, 2)))
    order = response.get_json()
    assert (stock(HOODIE), stock(POSTER)) == (6, 23)
    ctx = SimpleNamespace(
        client=stripe_client,
        customer=customer,
        admin=admin,
        fake=stripe_fake,
        runner=stripe_app.test_cli_runner(),
    )

    cancel(ctx, order)
    assert status_update(stripe_client, admin, order, "canceled").status_code == 200

    assert Order.get_by_id(order["id"]).status == "canceled"
    assert (stock(HOODIE), stock(POSTER)) == (10, 25)


def test_not_enough_stock_is_409_naming_each_product_with_nothing_stored_and_no_intent(
    stripe_client, stripe_fake, customer, admin, catalog
):
    client_cart = cart((HOODIE, 2), (PIN, 101), (POSTER, 26), (SOCKS, 1))
    response = place_with_stripe(stripe_client, customer, client_cart, key="too-many")

    assert response.status_code == 409
    body = response.get_json()
    assert body["errors"] == {
        "products": [
            {"id": PIN, "requested": 101, "available": 100},
            {"id": POSTER, "requested": 26, "available": 25},
        ]
    }
    assert "Enamel Pin (id 10): 101 requested, 100 left" in body["message"]
    assert "Retro Poster (id 11): 26 requested, 25 left" in body["message"]
    assert (stock(HOODIE), stock(PIN), stock(POSTER)) == (10, 100, 25)
    assert (Order.select().count(), OrderLine.select().count()) == (0, 0)
    assert IdempotencyKey.select().count() == 0
    assert stripe_fake.created_intents() == []


def test_the_last_units_sell_and_then_none(place_order, client, customer):
    assert place_order(cart((HOODIE, 10)))["status"] == "pending"
    response = client.post("/orders/new", json=cart((HOODIE, 1)), headers=customer)
    assert response.status_code == 409
    assert response.get_json()["errors"]["products"] == [
        {"id": HOODIE, "requested": 1, "available": 0}
    ]
    assert stock(HOODIE) == 0


def test_a_replay_takes_the_stock_once(client, customer, catalog):
    headers = {**customer, "Idempotency-Key": "hoodies"}
    first = client.post("/orders/new", json=cart((HOODIE, 2)), headers=headers)
    again = client.post("/orders/new", json=cart((HOODIE, 2)), headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert stock(HOODIE) == 8


def test_a_refund_leaves_the_stock_as_it_is(stripe_client, stripe_fake, customer, admin, catalog):
    order = place_with_stripe(stripe_client, customer, cart((HOODIE, 3))).get_json()
    intent = stripe_fake.set_status(order["clientSecret"].split("_secret")[0], "succeeded")
    deliver(stripe_client, event("payment_intent.succeeded", intent))
    deliver(stripe_client, event("charge.refunded", charge_refunded(intent)))

    assert Order.get_by_id(order["id"]).status == "refunded"
    assert stock(HOODIE) == 7


def test_a_cancel_gives_back_what_each_line_took_whatever_the_tracking_since(
    place_order, client, customer, admin
):
    untracked_since = place_order(cart((HOODIE, 3)))
    recounted = place_order(cart((PIN, 5)))
    tracked_since = place_order(cart((SOCKS, 2)))
    for product_id, value in ((HOODIE, None), (PIN, 50), (SOCKS, 4)):
        client.patch(f"/products/{product_id}", json={"stock": value}, headers=admin)

    for order in (untracked_since, recounted, tracked_since):
        assert status_update(client, customer, order, "canceled").status_code == 200

    assert (stock(HOODIE), stock(PIN), stock(SOCKS)) == (None, 55, 4)


def test_a_cancel_after_the_count_was_set_near_its_limit_fills_it_and_still_cancels(
    place_order, client, customer, admin
):
    order = place_order(cart((HOODIE, 3)))
    client.patch(f"/products/{HOODIE}", json={"stock": MAX_STOCK - 1}, headers=admin)

    assert status_update(client, customer, order, "canceled").status_code == 200
    assert stock(HOODIE) == MAX_STOCK


def test_a_product_tracked_since_its_cart_was_priced_is_not_sold_past_its_new_count(
    client, customer, catalog, monkeypatch
):
    priced = service.price_cart

    def priced_then_tracked(items):
        result = priced(items)
        Product.update(stock=2).where(Product.id == SOCKS).execute()  # an admin's PATCH
        return result

    monkeypatch.setattr(service, "price_cart", priced_then_tracked)
    response = client.post("/orders/new", json=cart((SOCKS, 3)), headers=customer)

    assert response.status_code == 409
    assert response.get_json()["errors"]["products"] == [
        {"id": SOCKS, "requested": 3, "available": 2}
    ]
    assert stock(SOCKS) == 2


@pytest.fixture
def takes(monkeypatch):
    """The product ids stock.take tried to take from, in order."""
    calls = []
    take_one = stock_module._take_one

    def recorded(product_id, quantity):
        calls.append(product_id)
        return take_one(product_id, quantity)

    monkeypatch.setattr(stock_module, "_take_one", recorded)
    return calls


def test_after_a_shortage_no_later_product_is_taken_so_no_row_is_locked_out_of_order(
    client, customer, catalog, takes
):
    Product.update(stock=0).where(Product.id == HOODIE).execute()
    response = client.post("/orders/new", json=cart((HOODIE, 1), (PIN, 1)), headers=customer)

    assert response.status_code == 409
    assert takes == [HOODIE]
    assert stock(PIN) == 100


def test_units_given_back_during_a_take_are_taken_before_any_later_product(
    client, customer, catalog, takes, monkeypatch
):
    Product.update(stock=0).where(Product.id == HOODIE).execute()
    left = stock_module._left

    def given_back_first(product_id):
        Product.update(stock=Product.stock + 1).where(Product.id == product_id).execute()
        return left(product_id)

    monkeypatch.setattr(stock_module, "_left", given_back_first)
    response = client.post("/orders/new", json=cart((PIN, 1), (HOODIE, 1)), headers=customer)

    assert response.status_code == 201
    assert takes == [HOODIE, HOODIE, PIN]
    assert (stock(HOODIE), stock(PIN)) == (0, 99)


def test_migration_0005_leaves_existing_products_untracked_and_lines_holding_nothing(
    app, place_order
):
    order = place_order(cart((SOCKS, 1)))
    with app.app_context():
        runner = migration_runner()
        later = runner.down("0005_stock")
        assert runner.up() == later[::-1]
        stocks = {product.id: product.stock for product in Product.select()}
        taken = [
            line.stock_taken for line in OrderLine.select().where(OrderLine.order == order["id"])
        ]
        db.close()
    assert stocks == dict.fromkeys(range(1, 12))
    assert taken == [0]
