"""Fulfilments: parcels with tracking, never past a line, and the move to shipped they make."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_service.events.models import Event
from orders_service.orders.models import Fulfillment, Order, OrderHistory, OrderLine
from orders_service.orders.schemas import OrderSchema
from tests.servers import Gunicorn, server_env

CART = ["3", "3", "8"]  # two hoodies (product 3) and socks (product 8)
TRACKING = {
    "carrier": "UPS",
    "trackingNumber": "1Z999AA10123456784",
    "trackingUrl": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "notifyCustomer": True,
}


def fulfil(client, headers, order_id, body, key=None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/orders/{order_id}/fulfillments", json=body, headers=headers)


def status_update(client, admin, order_id, status):
    body = {"orderId": order_id, "status": status}
    return client.post("/orders/status-update", json=body, headers=admin)


@pytest.fixture
def paid_order(client, admin, place_order):
    """paid_order(items) → the id of a customer's order of `items`, paid by hand."""

    def make(items=CART):
        order_id = place_order(items)["id"]
        assert status_update(client, admin, order_id, "paid").status_code == 200
        return order_id

    return make


def moves(order_id):
    rows = OrderHistory.select().where(OrderHistory.order == order_id).order_by(OrderHistory.id)
    return [(row.from_status, row.to_status) for row in rows]


def events_of(order_id, event_type=None):
    events = Event.select().where(Event.order == order_id).order_by(Event.id)
    bodies = [json.loads(e.body) for e in events]
    return [b for b in bodies if event_type in (None, b["type"])]


def test_two_parcels_with_tracking_make_the_order_partial_then_fulfilled_and_shipped(
    client, admin, customer, paid_order
):
    order_id = paid_order()

    first = fulfil(
        client, admin, order_id, {"lines": [{"productId": 3, "quantity": 1}], **TRACKING}
    )
    between = client.get(f"/orders/{order_id}", headers=customer).get_json()
    second = fulfil(client, admin, order_id, {"carrier": "DHL", "trackingNumber": "JD0002"})
    after = client.get(f"/orders/{order_id}", headers=customer).get_json()

    assert first.status_code == 201, first.get_json()
    assert first.get_json() == {
        "id": first.get_json()["id"],
        "orderId": order_id,
        "lines": [{"productId": 3, "quantity": 1}],
        **TRACKING,
        "actor": "admin:1",
        "createdAt": first.get_json()["createdAt"],
    }
    assert (between["status"], between["fulfillmentStatus"]) == ("paid", "partial")
    assert between["fulfillments"] == [first.get_json()]
    # No lines: everything left, which is one hoodie and the socks.
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["lines"] == [
        {"productId": 3, "quantity": 1},
        {"productId": 8, "quantity": 1},
    ]
    assert (second.get_json()["trackingUrl"], second.get_json()["notifyCustomer"]) == (None, False)
    assert (after["status"], after["fulfillmentStatus"]) == ("shipped", "fulfilled")
    assert after["fulfillments"] == [first.get_json(), second.get_json()]
    assert after["nextStatuses"] == ["completed", "refunded"]
    assert moves(order_id)[-1:] == [("paid", "shipped")]
    assert moves(order_id).count(("paid", "shipped")) == 1
    types = [e["type"] for e in events_of(order_id)]
    assert types[-3:] == ["order.fulfillment.created", "order.fulfillment.created", "order.shipped"]
    [_, last] = events_of(order_id, "order.fulfillment.created")
    assert last["data"]["fulfillment"] == second.get_json()
    assert last["data"]["order"]["fulfillmentStatus"] == "fulfilled"


def test_the_order_body_with_fulfilments_is_the_same_from_sql_and_from_python(
    client, admin, paid_order
):
    order_id = paid_order()
    fulfil(client, admin, order_id, {"lines": [{"productId": 8, "quantity": 1}], **TRACKING})
    fulfil(client, admin, order_id, {"lines": [{"productId": 3, "quantity": 1}]})

    one = client.get(f"/orders/{order_id}", headers=admin).get_json()  # one SQL statement
    [listed] = client.get("/orders", headers=admin).get_json()
    dumped = OrderSchema().dump(Order.get_by_id(order_id))  # what events and creates dump
    dumped["products"] = one["products"]  # attached by attach_lines elsewhere

    assert one == listed
    assert {k: v for k, v in one.items() if k != "products"} == {
        k: v for k, v in dumped.items() if k != "products"
    }
    assert [f["lines"] for f in one["fulfillments"]] == [
        [{"productId": 8, "quantity": 1}],
        [{"productId": 3, "quantity": 1}],
    ]


def test_a_line_past_what_is_left_is_409_naming_it_and_records_nothing(client, admin, paid_order):
    order_id = paid_order()
    assert (
        fulfil(client, admin, order_id, {"lines": [{"productId": 3, "quantity": 1}]}).status_code
        == 201
    )
    events_before = len(events_of(order_id))

    response = fulfil(
        client,
        admin,
        order_id,
        {"lines": [{"productId": 8, "quantity": 1}, {"productId": 3, "quantity": 2}]},
    )

    assert response.status_code == 409
    body = response.get_json()
    assert body["message"] == "More units than are left to send: product 3: 2 asked, 1 left."
    assert body["errors"] == {"lines": [{"productId": 3, "requested": 2, "left": 1}]}
    assert Fulfillment.select().where(Fulfillment.order == order_id).count() == 1
    sent = {
        line.product_id: line.quantity_fulfilled
        for line in OrderLine.select().where(OrderLine.order == order_id)
    }
    assert sent == {3: 1, 8: 0}  # the socks of the refused request were not sent either
    assert len(events_of(order_id)) == events_before
    assert Order.get_by_id(order_id).fulfillment_status == "partial"


def test_a_product_not_in_the_order_has_nothing_left(client, admin, paid_order):
    order_id = paid_order()
    response = fulfil(client, admin, order_id, {"lines": [{"productId": 5, "quantity": 1}]})
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"lines": [{"productId": 5, "requested": 1, "left": 0}]}


def test_units_refunded_by_line_are_not_sent(client, admin, paid_order):
    order_id = paid_order()
    refund = {"lines": [{"productId": 3, "quantity": 1}], "restock": False}
    assert client.post(f"/orders/{order_id}/refunds", json=refund, headers=admin).status_code == 201

    past = fulfil(client, admin, order_id, {"lines": [{"productId": 3, "quantity": 2}]})
    rest = fulfil(client, admin, order_id, {})

    assert past.status_code == 409
    assert rest.get_json()["lines"] == [
        {"productId": 3, "quantity": 1},
        {"productId": 8, "quantity": 1},
    ]
    assert Order.get_by_id(order_id).status == "shipped"


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/track/1Z999",
        "ftp://carrier.example/1Z999",
        "https://",
        "https://carrier.example/" + "a" * 2048,
    ],
)
def test_a_tracking_link_that_is_not_an_absolute_http_url_is_400(client, admin, paid_order, link):
    order_id = paid_order()
    response = fulfil(client, admin, order_id, {"trackingUrl": link})
    assert response.status_code == 400
    assert "trackingUrl" in response.get_json()["errors"]["json"]
    assert Fulfillment.select().count() == 0
    assert Order.get_by_id(order_id).status == "paid"


@pytest.mark.parametrize(
    "body",
    [
        {"lines": []},
        {"lines": [{"productId": 3}]},
        {"lines": [{"productId": 3, "quantity": 0}]},
        {"lines": [{"productId": 3, "quantity": 1}, {"productId": 3, "quantity": 1}]},
        {"notifyCustomer": "yes"},
        {"carrier": ""},
        {"trackingNumber": "x" * 101},
        {"shipTo": "elsewhere"},
    ],
)
def test_a_malformed_fulfilment_is_400(client, admin, paid_order, body):
    order_id = paid_order()
    assert fulfil(client, admin, order_id, body).status_code == 400
    assert Fulfillment.select().count() == 0


@pytest.mark.parametrize("status", ["pending", "canceled", "completed", "refunded"])
def test_only_an_authorized_paid_or_partly_sent_shipped_order_takes_a_fulfilment(
    client, admin, place_order, status
):
    order_id = place_order()["id"]
    steps = {"pending": [], "canceled": ["canceled"], "completed": ["paid", "completed"]}
    for step in steps.get(status, ["paid", "refunded"]):
        assert status_update(client, admin, order_id, step).status_code == 200

    response = fulfil(client, admin, order_id, {})

    assert response.status_code == 409
    assert response.get_json()["message"].startswith(
        f"An order that is {status} takes no fulfilment"
    )
    assert Fulfillment.select().count() == 0


def test_only_admins_fulfil_and_others_see_no_order(client, customer, other_customer, paid_order):
    order_id = paid_order()
    assert fulfil(client, customer, order_id, {}).status_code == 403
    assert fulfil(client, other_customer, order_id, {}).status_code == 403
    assert Fulfillment.select().count() == 0


def test_shipping_by_status_update_sends_everything_left_as_one_fulfilment(
    client, admin, paid_order
):
    order_id = paid_order()
    fulfil(client, admin, order_id, {"lines": [{"productId": 3, "quantity": 1}], **TRACKING})

    response = status_update(client, admin, order_id, "Shipped")

    assert response.get_json() == {"id": order_id, "status": "shipped"}
    order = client.get(f"/orders/{order_id}", headers=admin).get_json()
    assert order["fulfillmentStatus"] == "fulfilled"
    [_, rest] = order["fulfillments"]
    assert rest["lines"] == [{"productId": 3, "quantity": 1}, {"productId": 8, "quantity": 1}]
    assert (rest["carrier"], rest["trackingNumber"], rest["trackingUrl"]) == (None, None, None)
    assert moves(order_id).count(("paid", "shipped")) == 1


def test_an_open_dispute_holds_every_fulfilment(client, admin, paid_order, runner):
    order_id = paid_order()
    result = runner.invoke(args=["payments", "dispute", str(order_id), "needs_response"])
    assert result.exit_code == 0, result.output

    response = fulfil(client, admin, order_id, {"lines": [{"productId": 8, "quantity": 1}]})

    assert response.status_code == 409
    assert "disputed" in response.get_json()["message"]
    assert Fulfillment.select().count() == 0


def test_the_same_key_replays_the_fulfilment_and_another_body_with_it_is_409(
    client, admin, paid_order
):
    order_id = paid_order()
    body = {"lines": [{"productId": 3, "quantity": 1}], **TRACKING}

    first = fulfil(client, admin, order_id, body, key="parcel-1")
    again = fulfil(client, admin, order_id, body, key="parcel-1")
    other = fulfil(
        client, admin, order_id, {"lines": [{"productId": 8, "quantity": 1}]}, key="parcel-1"
    )

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert other.status_code == 409
    assert Fulfillment.select().count() == 1


@pytest.mark.slow
def test_the_same_key_twice_at_once_on_two_workers_makes_one_fulfilment(
    app, database_url, tmp_path, admin, paid_order
):
    order_id = paid_order()
    body = {"lines": [{"productId": 3, "quantity": 1}], **TRACKING}
    headers = {**admin, "Idempotency-Key": "parcel-at-once"}
    env = server_env(database_url, WEB_CONCURRENCY=2, GUNICORN_THREADS=4)
    attempts = 8
    start = threading.Barrier(attempts)

    def send(_):
        start.wait()
        return server.request("POST", f"/orders/{order_id}/fulfillments", body, headers=headers)

    with Gunicorn(env, tmp_path / "gunicorn.log") as server, ThreadPoolExecutor(attempts) as pool:
        replies = list(pool.map(send, range(attempts)))
        retried = server.request("POST", f"/orders/{order_id}/fulfillments", body, headers=headers)

    made = [r.json() for r in replies if r.status == 201]
    assert {r.status for r in replies} <= {201, 409}, [r.body for r in replies]
    assert made and all(m == made[0] for m in made)
    assert retried.status == 201 and retried.json() == made[0]
    assert Fulfillment.select().where(Fulfillment.order == order_id).count() == 1
    assert OrderLine.get(order=order_id, product=3).quantity_fulfilled == 1
    assert len(events_of(order_id, "order.fulfillment.created")) == 1


def test_the_local_provider_authorizes_and_a_fulfilment_captures_then_ships(
    client, admin, place_order, runner
):
    order_id = place_order()["id"]

    result = runner.invoke(args=["payments", "simulate", str(order_id), "authorized"])
    authorized = client.get(f"/orders/{order_id}", headers=admin).get_json()
    response = fulfil(client, admin, order_id, {})
    shipped = client.get(f"/orders/{order_id}", headers=admin).get_json()

    assert result.exit_code == 0, result.output
    assert authorized["status"] == "authorized"
    assert authorized["authorizationExpiresAt"].endswith("Z")
    assert authorized["nextStatuses"] == ["paid", "canceled"]
    assert response.status_code == 201, response.get_json()
    assert shipped["status"] == "shipped"
    assert moves(order_id) == [
        (None, "pending"),
        ("pending", "authorized"),
        ("authorized", "paid"),
        ("paid", "shipped"),
    ]


def test_the_buyer_cannot_cancel_an_authorized_order(client, customer, place_order, runner):
    order_id = place_order()["id"]
    assert runner.invoke(args=["payments", "simulate", str(order_id), "authorized"]).exit_code == 0

    response = status_update(client, customer, order_id, "canceled")

    assert response.status_code == 403
    assert Order.get_by_id(order_id).status == "authorized"


def test_a_line_refund_of_all_that_was_left_to_send_ships_the_order(client, admin, paid_order):
    order_id = paid_order()
    assert (
        fulfil(client, admin, order_id, {"lines": [{"productId": 3, "quantity": 2}]}).status_code
        == 201
    )

    refund = {"lines": [{"productId": 8, "quantity": 1}]}  # the local provider: succeeds at once
    assert client.post(f"/orders/{order_id}/refunds", json=refund, headers=admin).status_code == 201

    order = client.get(f"/orders/{order_id}", headers=admin).get_json()
    assert (order["status"], order["fulfillmentStatus"]) == ("shipped", "fulfilled")
    assert len(order["fulfillments"]) == 1  # nothing was left to send
    assert moves(order_id).count(("paid", "shipped")) == 1


def test_units_a_failed_refund_gives_back_are_left_to_send_again(
    stripe_client, stripe_fake, paid, admin
):
    from tests.fakes.stripe_events import deliver

    order_id = paid()["id"]
    refund = {"lines": [{"productId": 8, "quantity": 1}]}
    made = stripe_client.post(f"/orders/{order_id}/refunds", json=refund, headers=admin)
    assert fulfil(stripe_client, admin, order_id, {}).status_code == 201  # the hoodies: shipped

    failed = stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "failed")
    [update] = [e for e in stripe_fake.events if e["type"] == "charge.refund.updated"]
    assert deliver(stripe_client, update).status_code == 200
    between = stripe_client.get(f"/orders/{order_id}", headers=admin).get_json()
    socks = fulfil(stripe_client, admin, order_id, {})
    after = stripe_client.get(f"/orders/{order_id}", headers=admin).get_json()

    assert made.status_code == 201 and failed["status"] == "failed"
    assert (between["status"], between["fulfillmentStatus"]) == ("shipped", "partial")
    assert socks.status_code == 201
    assert socks.get_json()["lines"] == [{"productId": 8, "quantity": 1}]
    assert (after["status"], after["fulfillmentStatus"]) == ("shipped", "fulfilled")


def test_the_buyer_cannot_void_a_hold_that_arrives_while_they_cancel(
    client, customer, place_order, monkeypatch
):
    from orders_service.orders import service
    from orders_service.orders.lifecycle import apply_transition

    order_id = place_order()["id"]
    read = service.find_order

    def then_authorized(caller, found_id):
        order = read(caller, found_id)  # read while pending
        apply_transition(found_id, "authorized", "stripe:evt_hold")  # the hold arrives
        return order

    monkeypatch.setattr(service, "find_order", then_authorized)
    response = status_update(client, customer, order_id, "canceled")

    assert response.status_code == 403
    assert Order.get_by_id(order_id).status == "authorized"


def test_shipping_an_order_whose_units_refunds_all_hold_is_409(
    stripe_client, stripe_fake, paid, admin
):
    order_id = paid()["id"]
    stripe_fake.refund_status = "pending"
    refund = {"lines": [{"productId": 3, "quantity": 2}, {"productId": 8, "quantity": 1}]}
    made = stripe_client.post(f"/orders/{order_id}/refunds", json=refund, headers=admin)

    response = status_update(stripe_client, admin, order_id, "shipped")

    assert made.get_json()["status"] == "pending"
    assert response.status_code == 409
    assert "refunds hold every unit" in response.get_json()["message"]
    assert Order.get_by_id(order_id).status == "paid"


def test_an_order_shipped_before_fulfilments_is_not_sent_again(client, admin, paid_order):
    order_id = paid_order()
    assert status_update(client, admin, order_id, "shipped").status_code == 200
    # As the release before fulfilments left it, shipping during a rolling deploy.
    Fulfillment.delete().execute()
    OrderLine.update(quantity_fulfilled=0).execute()
    Order.update(fulfillment_status="unfulfilled").execute()

    response = fulfil(client, admin, order_id, {})

    assert response.status_code == 409
    assert response.get_json()["message"] == f"Order {order_id} has nothing left to send."
