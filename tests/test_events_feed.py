"""GET /events and /events/{id} (admins): the feed, newest first, by type and by order."""

import pytest


def change(client, admin, order_id, status):
    response = client.post(
        "/orders/status-update", json={"orderId": order_id, "status": status}, headers=admin
    )
    assert response.status_code == 200


@pytest.fixture
def two_orders(client, admin, place_order):
    first, second = place_order(), place_order()
    change(client, admin, first["id"], "paid")
    change(client, admin, second["id"], "canceled")
    return first, second


def test_events_are_listed_newest_first_with_keyset_pages(client, admin, two_orders):
    first, second = two_orders

    page = client.get("/events?limit=3", headers=admin)
    rest = client.get(page.headers["Link"].split(">")[0].lstrip("<"), headers=admin)

    assert page.status_code == 200
    assert [(e["type"], e["data"]["order"]["id"]) for e in page.get_json()] == [
        ("order.canceled", second["id"]),
        ("order.paid", first["id"]),
        ("order.created", second["id"]),
    ]
    assert [(e["type"], e["data"]["order"]["id"]) for e in rest.get_json()] == [
        ("order.created", first["id"])
    ]
    assert "Link" not in rest.headers


def test_events_filter_by_type_and_by_order(client, admin, two_orders):
    first, _ = two_orders

    by_type = client.get("/events?type=order.created", headers=admin).get_json()
    by_order = client.get(f"/events?orderId={first['id']}", headers=admin).get_json()

    assert {e["type"] for e in by_type} == {"order.created"} and len(by_type) == 2
    assert [e["type"] for e in by_order] == ["order.paid", "order.created"]


@pytest.mark.parametrize(
    "spell",
    [
        lambda n: f"%20{n}",
        lambda n: f"{n}%0A",
        lambda n: f"%2B{n}",
        lambda n: f"0_{n}",
        lambda n: "".join(chr(0x0660 + int(d)) for d in str(n)),
    ],
    ids=["leading-space", "trailing-newline", "plus-sign", "underscore", "arabic-indic-digits"],
)
def test_order_id_is_ascii_digits_only(client, admin, two_orders, spell):
    order_id = two_orders[0]["id"]

    plain = client.get(f"/events?orderId={order_id}", headers=admin)
    spelt = client.get(f"/events?orderId={spell(order_id)}", headers=admin)

    assert plain.status_code == 200
    assert {e["data"]["order"]["id"] for e in plain.get_json()} == {order_id}
    assert spelt.status_code == 400
    assert "orderId" in spelt.get_json()["errors"]["query"]


def test_one_event_is_the_same_json_as_in_the_list(client, admin, two_orders):
    [newest] = client.get("/events?limit=1", headers=admin).get_json()

    response = client.get(f"/events/{newest['id']}", headers=admin)

    assert response.status_code == 200
    assert response.get_json() == newest


@pytest.mark.parametrize(
    "query", ["starting_after=evt_unknown", "type=order.lost", "orderId=x", "limit=0", "foo=1"]
)
def test_bad_feed_queries_are_400s(client, admin, two_orders, query):
    response = client.get(f"/events?{query}", headers=admin)

    assert response.status_code == 400
    assert response.get_json()["message"]


def test_the_feed_is_for_admins(client, customer, two_orders):
    assert client.get("/events", headers=customer).status_code == 403
    assert client.get("/events/evt_x", headers=customer).status_code == 403
    assert client.get("/events").status_code == 401


def test_an_unknown_event_is_a_404(client, admin):
    assert client.get("/events/evt_000000000000000000000000", headers=admin).status_code == 404
