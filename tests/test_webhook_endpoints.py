"""/webhook-endpoints (admins): subscribe, read, change, remove, and each one's deliveries."""

import base64

import pytest

from orders_service.events.models import Delivery

HOOK = "https://hooks.example.com/orders"


def subscribe(client, admin, **body):
    response = client.post("/webhook-endpoints", json={"url": HOOK, **body}, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay(client, admin, order_id):
    response = client.post(
        "/orders/status-update", json={"orderId": order_id, "status": "paid"}, headers=admin
    )
    assert response.status_code == 200


def test_post_answers_201_with_defaults_a_standard_webhooks_secret_and_location(client, admin):
    response = client.post("/webhook-endpoints", json={"url": HOOK}, headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/webhook-endpoints/{body['id']}"
    assert body["events"] == ["*"]
    assert body["enabled"] is True
    assert body["description"] == ""
    assert body["createdAt"].endswith("Z")
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32


def test_a_star_beside_named_types_means_all(client, admin):
    assert subscribe(client, admin, events=["order.paid", "*"])["events"] == ["*"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": HOOK, "events": []},
        {"url": HOOK, "events": ["order.lost"]},
        {"url": "/relative/path"},
        {"url": "ftp://example.com/hook"},
        {"url": "https://user:secret@example.com/hook"},
        {"url": "https://user@example.com/hook"},
        {"url": "https://example.com/" + "a" * 2048},
        {"url": "https://example.com:0/hook"},
        {"url": "https://example.com:65536/hook"},
        {"url": "http://127.0.0.1:99999/hook"},
        {"url": HOOK, "enabled": "yes"},
        {"url": HOOK, "secret": "whsec_mine"},
        {"url": HOOK, "unknown": 1},
        {"events": ["*"]},
    ],
)
def test_a_bad_subscription_is_a_400_and_stores_nothing(client, admin, body):
    response = client.post("/webhook-endpoints", json=body, headers=admin)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"]
    assert client.get("/webhook-endpoints", headers=admin).get_json() == []


def test_only_admins_may_use_webhook_endpoints(client, customer):
    assert (
        client.post("/webhook-endpoints", json={"url": HOOK}, headers=customer).status_code == 403
    )
    assert client.get("/webhook-endpoints").status_code == 401


def test_get_list_and_patch_an_endpoint(client, admin):
    first = subscribe(client, admin)
    second = subscribe(client, admin, description="fulfilment")

    listed = client.get("/webhook-endpoints?limit=1", headers=admin)
    assert [e["id"] for e in listed.get_json()] == [second["id"]]
    assert f"starting_after={second['id']}" in listed.headers["Link"]
    patched = client.patch(
        f"/webhook-endpoints/{first['id']}",
        json={"url": "http://127.0.0.1:8080/h", "events": ["order.paid"], "enabled": False},
        headers=admin,
    )

    assert patched.status_code == 200
    assert client.get(f"/webhook-endpoints/{first['id']}", headers=admin).get_json() == {
        **first,
        "url": "http://127.0.0.1:8080/h",
        "events": ["order.paid"],
        "enabled": False,
    }


def test_unknown_endpoints_are_404s(client, admin):
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)("/webhook-endpoints/99", json={}, headers=admin)
        assert response.status_code == 404
    assert client.get("/webhook-endpoints/99/deliveries", headers=admin).status_code == 404


def test_a_change_applies_to_events_written_after_it(client, admin, place_order):
    endpoint = subscribe(client, admin, events=["order.created"])
    order = place_order()
    client.patch(
        f"/webhook-endpoints/{endpoint['id']}", json={"events": ["order.paid"]}, headers=admin
    )
    pay(client, admin, order["id"])

    deliveries = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin)

    assert [d["eventType"] for d in deliveries.get_json()] == ["order.paid", "order.created"]


def test_deliveries_list_says_what_became_of_each_event(client, admin, place_order):
    endpoint = subscribe(client, admin)
    order = place_order()

    [delivery] = client.get(
        f"/webhook-endpoints/{endpoint['id']}/deliveries", headers=admin
    ).get_json()

    [created] = client.get(f"/events?orderId={order['id']}", headers=admin).get_json()
    assert delivery["eventId"] == created["id"]
    assert delivery["eventType"] == "order.created"
    assert delivery["state"] == "pending"
    assert delivery["attempts"] == 0
    assert delivery["lastStatus"] is None and delivery["lastError"] is None
    assert delivery["nextAttemptAt"].endswith("Z")
    assert delivery["deliveredAt"] is None


def test_delete_removes_the_endpoint_and_its_deliveries(client, admin, place_order):
    endpoint = subscribe(client, admin)
    place_order()
    assert Delivery.select().count() == 1

    response = client.delete(f"/webhook-endpoints/{endpoint['id']}", headers=admin)

    assert response.status_code == 204
    assert client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).status_code == 404
    assert Delivery.select().count() == 0
