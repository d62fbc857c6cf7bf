"""Idempotency-Key: a repeat answers the first response and makes nothing new."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_service.orders.models import IdempotencyKey, Order


def post(client, headers, key, body=("3", "3", "8")):
    return client.post("/orders/new", json=list(body), headers={**headers, "Idempotency-Key": key})


def test_a_repeat_replays_the_first_response(client, customer, catalog):
    first = post(client, customer, "cart-1")
    again = post(client, customer, "cart-1")
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Location"] == first.headers["Location"]
    assert Order.select().count() == 1


def test_the_same_cart_written_differently_is_the_same_body(client, customer, catalog):
    first = post(client, customer, "cart-1", ["3", "3", "8"])
    again = post(client, customer, "cart-1", [3, "3", {"id": 8}])
    assert again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]


def test_the_same_key_with_another_body_is_409(client, customer, catalog):
    post(client, customer, "cart-1")
    response = post(client, customer, "cart-1", ["4"])
    assert response.status_code == 409
    assert "different body" in response.get_json()["message"]
    assert Order.select().count() == 1


def test_keys_are_scoped_to_the_caller(client, customer, other_customer, catalog):
    mine = post(client, customer, "cart-1").get_json()
    theirs = post(client, other_customer, "cart-1").get_json()
    assert mine["id"] != theirs["id"]
    assert theirs["userId"] == 8


def test_without_a_key_each_request_is_a_new_order(client, customer, catalog):
    client.post("/orders/new", json=["3"], headers=customer)
    client.post("/orders/new", json=["3"], headers=customer)
    assert Order.select().count() == 2


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_a_key_over_255_characters_or_empty_is_400(client, customer, catalog, key):
    assert post(client, customer, key).status_code == 400
    assert Order.select().count() == 0


def test_a_replay_shows_the_first_response_even_after_the_order_moved(
    client, customer, admin, catalog
):
    first = post(client, customer, "cart-1").get_json()
    client.post(
        "/orders/status-update", json={"orderId": first["id"], "status": "paid"}, headers=admin
    )
    assert post(client, customer, "cart-1").get_json()["status"] == "pending"


def test_a_failed_validation_does_not_use_up_the_key(client, customer, catalog):
    assert post(client, customer, "cart-1", ["999"]).status_code == 400
    assert IdempotencyKey.select().count() == 0
    assert post(client, customer, "cart-1").status_code == 201


def test_simultaneous_repeats_make_one_order(app, customer, catalog):
    def send(_):
        with app.test_client() as client:
            return post(client, customer, "burst")

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))
    statuses = {r.status_code for r in responses}
    assert statuses <= {201, 409}, statuses
    created = {r.get_json()["id"] for r in responses if r.status_code == 201}
    assert len(created) == 1
    assert Order.select().count() == 1
