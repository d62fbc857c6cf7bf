"""Who may hold stock and for how long: MAX_PENDING_ORDERS, and failed payment set-ups."""

import datetime

import pytest

from orders_service.config import Config
from orders_service.orders.models import Order, OrderLine
from tests.conftest import bearer
from tests.test_stock import HOODIE, PIN, SOCKS, cart, place_with_stripe, status_update, stock

LIMIT = 5


@pytest.fixture
def holding(client, customer, catalog):
    """The customer's five pending orders of one hoodie each, made with keys k0 to k4."""
    orders = []
    for n in range(LIMIT):
        headers = {**customer, "Idempotency-Key": f"k{n}"}
        response = client.post("/orders/new", json=cart((HOODIE, 1)), headers=headers)
        assert response.status_code == 201, response.get_json()
        orders.append(response.get_json())
    return orders


def fail_set_up(stripe_client, stripe_fake, customer, items, key):
    """An order with `key` whose payment set-up fails (Stripe answers 500)."""
    stripe_fake.mode = "fail"
    assert place_with_stripe(stripe_client, customer, items, key=key).status_code == 502
    stripe_fake.mode = None


def order(client, headers, items):
    return client.post("/orders/new", json=items, headers=headers)


def test_max_pending_orders_is_five_unless_set(monkeypatch, tmp_path):
    assert Config(tmp_path).MAX_PENDING_ORDERS == LIMIT
    monkeypatch.setenv("MAX_PENDING_ORDERS", "2")
    assert Config(tmp_path).MAX_PENDING_ORDERS == 2


def test_the_sixth_pending_order_holding_stock_is_409_naming_the_limit(client, customer, holding):
    response = order(client, customer, cart((PIN, 1), (SOCKS, 1)))

    assert response.status_code == 409
    assert "5 unpaid orders holding stock" in response.get_json()["message"]
    assert "MAX_PENDING_ORDERS" in response.get_json()["message"]
    assert (stock(HOODIE), stock(PIN)) == (5, 100)
    assert Order.select().count() == LIMIT


def test_at_the_limit_a_replay_still_answers_and_untracked_orders_are_not_limited(
    client, customer, holding
):
    replay = client.post(
        "/orders/new", json=cart((HOODIE, 1)), headers={**customer, "Idempotency-Key": "k0"}
    )
    untracked = order(client, customer, cart((SOCKS, 3)))

    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["id"] == holding[0]["id"]
    assert untracked.status_code == 201
    assert stock(HOODIE) == 5


def test_out_of_stock_is_answered_before_the_limit(client, customer, admin, holding):
    client.patch(f"/products/{PIN}", json={"stock": 0}, headers=admin)

    response = order(client, customer, cart((PIN, 1)))

    assert response.status_code == 409
    assert response.get_json()["errors"]["products"] == [
        {"id": PIN, "requested": 1, "available": 0}
    ]


def test_paying_or_canceling_frees_a_place_and_others_and_admins_are_not_held(
    app, client, customer, other_customer, admin, holding
):
    assert order(client, other_customer, cart((HOODIE, 1))).status_code == 201
    for _ in range(LIMIT + 1):
        assert order(client, admin, cart((PIN, 1))).status_code == 201
    assert order(client, customer, cart((HOODIE, 1))).status_code == 409

    assert status_update(client, admin, holding[0], "paid").status_code == 200
    assert order(client, customer, cart((HOODIE, 1))).status_code == 201
    assert status_update(client, customer, holding[1], "canceled").status_code == 200
    assert order(client, customer, cart((HOODIE, 1))).status_code == 201
    assert order(client, customer, cart((HOODIE, 1))).status_code == 409


def test_the_limit_follows_max_pending_orders(make_app, catalog):
    app = make_app(MAX_PENDING_ORDERS=2)
    client, customer = app.test_client(), bearer(app, 7)

    statuses = [order(client, customer, cart((PIN, 1))).status_code for _ in range(3)]

    assert statuses == [201, 201, 409]


def test_a_failed_payment_set_up_gives_the_units_back_and_its_retry_takes_them_again(
    stripe_client, stripe_fake, customer, catalog
):
    fail_set_up(stripe_client, stripe_fake, customer, cart((HOODIE, 4)), "retry")
    assert stock(HOODIE) == 10
    assert OrderLine.get().stock_taken == 0

    retried = place_with_stripe(stripe_client, customer, cart((HOODIE, 4)), key="retry")

    assert retried.status_code == 201, retried.get_json()
    assert stock(HOODIE) == 6
    assert OrderLine.get().stock_taken == 4
    assert Order.select().count() == 1


def test_a_retry_after_failed_set_up_is_409_while_its_units_are_sold_and_then_completes(
    stripe_client, stripe_fake, customer, other_customer, catalog
):
    fail_set_up(stripe_client, stripe_fake, customer, cart((HOODIE, 4)), "late")
    theirs = place_with_stripe(stripe_client, other_customer, cart((HOODIE, 8))).get_json()

    short = place_with_stripe(stripe_client, customer, cart((HOODIE, 4)), key="late")
    assert short.status_code == 409
    assert short.get_json()["errors"]["products"] == [
        {"id": HOODIE, "requested": 4, "available": 2}
    ]
    assert status_update(stripe_client, other_customer, theirs, "canceled").status_code == 200
    done = place_with_stripe(stripe_client, customer, cart((HOODIE, 4)), key="late")

    assert done.status_code == 201, done.get_json()
    assert stock(HOODIE) == 6


def test_a_retry_after_failed_set_up_counts_as_taking_for_the_limit(
    stripe_client, stripe_fake, customer, catalog
):
    fail_set_up(stripe_client, stripe_fake, customer, cart((PIN, 1)), "first")
    for _ in range(LIMIT):
        assert place_with_stripe(stripe_client, customer, cart((HOODIE, 1))).status_code == 201

    retried = place_with_stripe(stripe_client, customer, cart((PIN, 1)), key="first")

    assert retried.status_code == 409
    assert "MAX_PENDING_ORDERS" in retried.get_json()["message"]
    assert stock(PIN) == 100


def test_an_order_expired_after_its_set_up_failed_gives_nothing_back_twice(
    stripe_client, stripe_fake, stripe_app, customer, catalog
):
    fail_set_up(stripe_client, stripe_fake, customer, cart((HOODIE, 4)), "gone")
    Order.update(created_at=datetime.datetime(2020, 1, 1)).execute()

    expired = stripe_app.test_cli_runner().invoke(args=["orders", "expire", "--older-than", "1h"])
    retried = place_with_stripe(stripe_client, customer, cart((HOODIE, 4)), key="gone")

    assert "1 orders canceled" in expired.output
    assert retried.status_code == 409
    assert "canceled before its payment was set up" in retried.get_json()["message"]
    assert stock(HOODIE) == 10
