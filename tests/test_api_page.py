"""The original API page's requests, sent as it shows them, answer in the shapes it shows."""

DOC_ORDER_KEYS = ["id", "userId", "date", "products", "amountInCents", "clientSecret", "status"]
DOC_LINE_KEYS = ["id", "name", "quantity", "priceInCents"]


def assert_documented_order(order):
    assert set(DOC_ORDER_KEYS) <= set(order)
    assert isinstance(order["id"], int) and isinstance(order["userId"], int)
    assert order["date"].endswith("Z")
    assert isinstance(order["amountInCents"], int) and isinstance(order["clientSecret"], str)
    for line in order["products"]:
        assert list(line) == DOC_LINE_KEYS


def test_post_orders_new_with_a_string_array(client, customer, catalog):
    response = client.post(
        "/orders/new",
        data='[\n"3"\n]',
        headers={**customer, "Content-Type": "application/json", "Accept": "*/*"},
    )
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert_documented_order(response.get_json())


def test_get_orders_is_an_array_of_documented_orders(client, customer, place_order):
    place_order()
    response = client.get("/orders", headers={**customer, "Accept": "*/*"})
    assert response.status_code == 200
    [order] = response.get_json()
    assert_documented_order(order)


def test_get_order_by_id(client, customer, place_order):
    order = place_order()
    response = client.get(f"/orders/{order['id']}", headers=customer)
    assert response.status_code == 200
    assert_documented_order(response.get_json())


def test_get_orders_without_a_token_is_401_json(client):
    response = client.get("/orders")
    assert response.status_code == 401
    assert response.mimetype == "application/json"


def test_status_update_with_the_documented_body(client, admin, place_order):
    order = place_order()
    response = client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "Completed"},
        headers=admin,
    )
    # pending -> completed is not an allowed move: the documented shape of a refusal is JSON.
    assert response.status_code == 409
    client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "Paid"}, headers=admin
    )
    response = client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "Completed"},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.get_json() == {"id": order["id"], "status": "completed"}


def test_status_update_with_pending_as_documented(client, admin, place_order):
    order = place_order()
    response = client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "Pending"}, headers=admin
    )
    assert response.status_code == 200
    assert response.get_json() == {"id": order["id"], "status": "pending"}


def test_put_lead_status_order_with_the_documented_body(client, admin):
    client.post("/leads/statuses", json={"name": "New"}, headers=admin)
    response = client.put(
        "/leads/statuses/order",
        data='{"id": 1, "statusOrder": 1}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    [status] = response.get_json()
    assert {"id": 1, "statusOrder": 1}.items() <= status.items()
