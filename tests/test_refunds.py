"""The refund ledger through the API, against the loopback Stripe: amounts and lines, the move
to refunded, over-refunds refused before Stripe, Idempotency-Key, restock and events."""

import json

import pytest

from orders_service.events.models import Event
from orders_service.orders.models import OrderHistory, OrderLine
from orders_service.payments.models import Refund
from orders_service.products.models import Product
from tests.fakes.stripe_events import deliver

CART = ["3", "3", "8"]  # two hoodies (4999 each) and socks (899)
TOTAL = 2 * 4999 + 899
LIMITED = 9  # the tracked Limited Edition Hoodie (5999), 10 in stock


def refund(client, headers, order, body, key=None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/orders/{order['id']}/refunds", json=body, headers=headers)


def shown(client, headers, order):
    return client.get(f"/orders/{order['id']}", headers=headers).get_json()


def events_of(order):
    rows = Event.select().where(Event.order == order["id"]).order_by(Event.id)
    return [json.loads(row.body) for row in rows]


def test_two_partial_refunds_then_the_rest_make_the_order_refunded_with_one_history_row(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()

    first = refund(stripe_client, admin, order, {"amountInCents": 1000, "reason": "Late"})
    second = refund(stripe_client, admin, order, {"amountInCents": 2000})

    assert first.status_code == second.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "succeeded"
    assert first.get_json()["reason"] == "Late"
    assert shown(stripe_client, admin, order)["status"] == "paid"
    assert shown(stripe_client, admin, order)["amountRefundedInCents"] == 3000
    rest = refund(stripe_client, admin, order, {"amountInCents": TOTAL - 3000})
    assert rest.status_code == 201, rest.get_json()
    body = shown(stripe_client, admin, order)
    assert (body["status"], body["amountRefundedInCents"]) == ("refunded", TOTAL)
    moves = OrderHistory.select().where(
        OrderHistory.order == order["id"], OrderHistory.to_status == "refunded"
    )
    assert [(m.from_status, m.actor) for m in moves] == [("paid", "admin:1")]
    assert [r["amount"] for r in stripe_fake.refunds] == [1000, 2000, TOTAL - 3000]
    keys = {c.headers["idempotency-key"] for c in stripe_fake.calls("POST", "/v1/refunds")}
    assert len(keys) == 3  # a key of each refund's own
    assert stripe_fake.charges[stripe_fake.refunds[0]["charge"]]["amount_refunded"] == TOTAL


def test_a_refund_body_says_what_was_refunded_how_and_by_whom(stripe_client, paid, admin):
    order = paid()

    made = refund(
        stripe_client,
        admin,
        order,
        {"lines": [{"productId": 3, "quantity": 1}], "restock": True, "reason": "Too big"},
    )

    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body.pop("createdAt").endswith("Z")
    assert body == {
        "id": body["id"],
        "orderId": order["id"],
        "amountInCents": 4999,
        "lines": [{"productId": 3, "quantity": 1}],
        "reason": "Too big",
        "restock": True,
        "status": "succeeded",
        "origin": "staff",
        "actor": "admin:1",
    }


@pytest.mark.parametrize(
    ("earlier", "asked"),
    [
        (None, {"lines": [{"productId": 3, "quantity": 3}]}),  # two were bought
        (None, {"lines": [{"productId": 5, "quantity": 1}]}),  # never bought
        (
            {"lines": [{"productId": 3, "quantity": 1}]},
            {"lines": [{"productId": 3, "quantity": 2}]},
        ),
        ({"amountInCents": TOTAL - 100}, {"lines": [{"productId": 8, "quantity": 1}]}),
        ({"amountInCents": 5000}, {"amountInCents": TOTAL - 4999}),
    ],
    ids=["past-bought", "not-bought", "past-left-units", "past-left-amount", "amount-past-left"],
)
def test_a_refund_past_what_was_bought_or_is_left_is_409_with_nothing_sent_to_stripe(
    stripe_client, stripe_fake, paid, admin, earlier, asked
):
    order = paid()
    if earlier:
        assert refund(stripe_client, admin, order, earlier).status_code == 201
    calls = len(stripe_fake.calls("POST", "/v1/refunds"))

    response = refund(stripe_client, admin, order, asked)

    assert response.status_code == 409, response.get_json()
    assert "left" in response.get_json()["message"]
    assert len(stripe_fake.calls("POST", "/v1/refunds")) == calls
    assert Refund.select().count() == (1 if earlier else 0)


def test_a_line_refund_past_what_is_left_names_each_line_short(stripe_client, paid, admin):
    order = paid()

    response = refund(stripe_client, admin, order, {"lines": [{"productId": 3, "quantity": 5}]})

    assert response.status_code == 409
    assert response.get_json()["errors"] == {"lines": [{"productId": 3, "requested": 5, "left": 2}]}


@pytest.mark.parametrize("status", ["pending", "canceled", "refunded"])
def test_only_a_paid_shipped_or_completed_order_takes_a_refund(
    stripe_client, stripe_fake, paid, customer, admin, status
):
    if status == "refunded":
        order = paid()
    else:
        order = stripe_client.post("/orders/new", json=CART, headers=customer).get_json()
    if status != "pending":
        move = {"orderId": order["id"], "status": status}
        assert (
            stripe_client.post("/orders/status-update", json=move, headers=admin).status_code == 200
        )
    calls = len(stripe_fake.calls("POST", "/v1/refunds"))

    response = refund(stripe_client, admin, order, {"amountInCents": 100})

    assert response.status_code == 409, response.get_json()
    assert f"that is {status} takes no refund" in response.get_json()["message"]
    assert len(stripe_fake.calls("POST", "/v1/refunds")) == calls


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"reason": "x"},
        {"amountInCents": 100, "lines": [{"productId": 3, "quantity": 1}]},
        {"amountInCents": 100, "restock": True},
        {"amountInCents": 0},
        {"amountInCents": 1.5},
        {"amountInCents": "100"},
        {"lines": []},
        {"lines": [{"productId": 3, "quantity": 1}, {"productId": 3, "quantity": 1}]},
        {"lines": [{"productId": 3, "quantity": 0}]},
        {"amountInCents": 100, "reason": "x" * 501},
        {"amountInCents": 100, "note": "unknown field"},
    ],
)
def test_a_malformed_refund_is_400_and_nothing_is_refunded(
    stripe_client, stripe_fake, paid, admin, body
):
    order = paid()

    response = refund(stripe_client, admin, order, body)

    assert response.status_code == 400, response.get_json()
    assert not stripe_fake.refunds
    assert Refund.select().count() == 0


def test_only_admins_refund_and_others_see_no_order(
    stripe_client, paid, admin, customer, other_customer
):
    order = paid()

    assert refund(stripe_client, customer, order, {"amountInCents": 100}).status_code == 403
    assert refund(stripe_client, admin, {"id": 999999}, {"amountInCents": 100}).status_code == 404
    assert refund(stripe_client, admin, order, {"amountInCents": 100}).status_code == 201
    assert (
        stripe_client.get(f"/orders/{order['id']}/refunds", headers=other_customer).status_code
        == 404
    )


def test_the_owner_and_admins_list_refunds_oldest_first(stripe_client, paid, admin, customer):
    order = paid()
    for amount in (300, 100, 200):
        assert refund(stripe_client, admin, order, {"amountInCents": amount}).status_code == 201

    mine = stripe_client.get(f"/orders/{order['id']}/refunds", headers=customer)
    theirs = stripe_client.get(f"/orders/{order['id']}/refunds", headers=admin)

    assert mine.status_code == theirs.status_code == 200
    assert [r["amountInCents"] for r in mine.get_json()] == [300, 100, 200]
    assert mine.get_json() == theirs.get_json()


def test_the_same_key_and_body_replay_the_refund_and_another_use_of_the_key_is_409(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    body = {"amountInCents": 500}

    first = refund(stripe_client, admin, order, body, key="refund-1")
    again = refund(stripe_client, admin, order, body, key="refund-1")
    other_body = refund(stripe_client, admin, order, {"amountInCents": 600}, key="refund-1")
    as_order = stripe_client.post(
        "/orders/new", json=["3"], headers={**admin, "Idempotency-Key": "refund-1"}
    )

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert other_body.status_code == as_order.status_code == 409
    assert "different body" in as_order.get_json()["message"]
    assert len(stripe_fake.refunds) == 1


def test_a_refund_whose_500_stripe_keeps_succeeds_on_retry_with_one_stripe_refund(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    made_once = []

    def fail_first_refund(method, path):
        if path == "/v1/refunds" and method == "POST" and not made_once:
            made_once.append(True)
            return "after"  # done at Stripe, the answer a 500 kept under the key
        return None

    stripe_fake.fail_when = fail_first_refund
    failed = refund(stripe_client, admin, order, {"amountInCents": 700}, key="k")
    retried = refund(stripe_client, admin, order, {"amountInCents": 700}, key="k")

    assert failed.status_code == 502, failed.get_json()
    assert retried.status_code == 201, retried.get_json()
    assert retried.get_json()["status"] == "succeeded"
    assert [r["amount"] for r in stripe_fake.refunds] == [700]
    assert shown(stripe_client, admin, order)["amountRefundedInCents"] == 700


def test_a_refund_stripe_refuses_is_409_and_held_nothing(stripe_client, stripe_fake, paid, admin):
    order = paid()
    stripe_fake.refund_in_dashboard(order["intent"]["id"], 10_000)  # no webhook came: 897 are left

    response = refund(stripe_client, admin, order, {"amountInCents": 898}, key="k")

    assert response.status_code == 409, response.get_json()
    assert "greater than unrefunded amount" in response.get_json()["message"]
    # The dashboard's refund, read back when Stripe refused: the ledger knows it now.
    [found] = Refund.select()
    assert (found.origin, found.amount_in_cents, found.status) == ("stripe", 10_000, "succeeded")
    # The refusal kept nothing under the key: it is free for what is truly left.
    retry = refund(stripe_client, admin, order, {"amountInCents": 897}, key="k")
    assert retry.status_code == 201, retry.get_json()
    assert shown(stripe_client, admin, order)["status"] == "refunded"


def test_restock_gives_the_units_back_once_when_the_refund_succeeds_whatever_the_redeliveries(
    stripe_client, stripe_fake, paid, admin
):
    order = paid([LIMITED, LIMITED, LIMITED])
    stock = Product.get_by_id(LIMITED).stock
    stripe_fake.refund_status = "pending"
    body = {"lines": [{"productId": LIMITED, "quantity": 2}], "restock": True}

    made = refund(stripe_client, admin, order, body)

    assert made.get_json()["status"] == "pending"
    assert Product.get_by_id(LIMITED).stock == stock  # not until it succeeds
    stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "succeeded")
    for sent in stripe_fake.events * 3:  # every event, three times, in every order they came
        assert deliver(stripe_client, sent).status_code == 200
    for sent in reversed(stripe_fake.events):
        deliver(stripe_client, {**sent, "id": sent["id"] + "_again"})

    assert Product.get_by_id(LIMITED).stock == stock + 2
    [line] = OrderLine.select().where(OrderLine.order == order["id"])
    assert (line.stock_taken, line.quantity_refunded) == (1, 2)
    rest = {"lines": [{"productId": LIMITED, "quantity": 2}], "restock": True}
    assert refund(stripe_client, admin, order, rest).status_code == 409  # one is left
    stripe_fake.refund_status = "succeeded"
    rest["lines"][0]["quantity"] = 1
    assert refund(stripe_client, admin, order, rest).status_code == 201
    assert Product.get_by_id(LIMITED).stock == stock + 3
    assert shown(stripe_client, admin, order)["status"] == "refunded"


def test_a_failed_refund_stops_counting_and_its_amount_and_units_may_be_refunded_again(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    made = refund(stripe_client, admin, order, {"lines": [{"productId": 3, "quantity": 2}]})
    assert shown(stripe_client, admin, order)["amountRefundedInCents"] == 2 * 4999

    stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "failed")
    response = deliver(stripe_client, stripe_fake.events[-1])

    assert response.status_code == 200, response.get_json()
    assert shown(stripe_client, admin, order)["amountRefundedInCents"] == 0
    [listed] = stripe_client.get(f"/orders/{order['id']}/refunds", headers=admin).get_json()
    assert (listed["id"], listed["status"]) == (made.get_json()["id"], "failed")
    again = refund(stripe_client, admin, order, {"lines": [{"productId": 3, "quantity": 2}]})
    assert again.status_code == 201, again.get_json()
    assert [e["type"] for e in events_of(order)][-3:] == [
        "order.refund.succeeded",
        "order.refund.failed",
        "order.refund.succeeded",
    ]


def test_a_failed_refund_that_made_the_order_refunded_takes_it_back_to_its_status(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    move = {"orderId": order["id"], "status": "shipped"}
    assert stripe_client.post("/orders/status-update", json=move, headers=admin).status_code == 200
    assert refund(stripe_client, admin, order, {"amountInCents": TOTAL}).status_code == 201
    assert shown(stripe_client, admin, order)["status"] == "refunded"

    stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "failed")
    failed = stripe_fake.events[-1]
    for _ in range(2):
        assert deliver(stripe_client, failed).status_code == 200

    body = shown(stripe_client, admin, order)
    assert (body["status"], body["amountRefundedInCents"]) == ("shipped", 0)
    rows = OrderHistory.select().where(OrderHistory.order == order["id"]).order_by(OrderHistory.id)
    assert [(r.from_status, r.to_status) for r in rows][-2:] == [
        ("shipped", "refunded"),
        ("refunded", "shipped"),
    ]
    assert rows[-1].actor == f"stripe:{failed['id']}"


def test_event_versions_number_refund_events_and_status_changes_without_gap_or_repeat(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    refund(stripe_client, admin, order, {"amountInCents": 1000})
    stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "failed")
    deliver(stripe_client, stripe_fake.events[-1])
    move = {"orderId": order["id"], "status": "refunded"}
    assert stripe_client.post("/orders/status-update", json=move, headers=admin).status_code == 200

    events = events_of(order)

    assert [e["type"] for e in events] == [
        "order.created",
        "order.paid",
        "order.refund.succeeded",
        "order.refund.failed",
        "order.refund.succeeded",
        "order.refunded",
    ]
    assert [e["data"]["version"] for e in events] == [1, 2, 3, 4, 5, 6]
    succeeded = events[2]["data"]
    assert succeeded["refund"]["amountInCents"] == 1000
    assert succeeded["order"]["amountRefundedInCents"] == 1000
    assert "clientSecret" not in succeeded["order"]
    assert events[-1]["data"]["order"]["amountRefundedInCents"] == TOTAL


def test_refunding_by_status_update_refunds_what_is_left_through_the_ledger(
    stripe_client, stripe_fake, paid, admin
):
    order = paid()
    assert refund(stripe_client, admin, order, {"amountInCents": 1000}).status_code == 201

    move = {"orderId": order["id"], "status": "refunded"}
    response = stripe_client.post("/orders/status-update", json=move, headers=admin)

    assert response.get_json() == {"id": order["id"], "status": "refunded"}
    assert [r["amount"] for r in stripe_fake.refunds] == [1000, TOTAL - 1000]
    listed = stripe_client.get(f"/orders/{order['id']}/refunds", headers=admin).get_json()
    assert [(r["amountInCents"], r["origin"], r["status"]) for r in listed] == [
        (1000, "staff", "succeeded"),
        (TOTAL - 1000, "staff", "succeeded"),
    ]


def test_the_local_provider_refunds_in_part_too(client, admin, customer, place_order, runner):
    order = place_order()
    assert (
        runner.invoke(args=["payments", "simulate", str(order["id"]), "succeeded"]).exit_code == 0
    )

    made = client.post(f"/orders/{order['id']}/refunds", json={"amountInCents": 899}, headers=admin)

    assert made.status_code == 201, made.get_json()
    assert made.get_json()["status"] == "succeeded"
    body = client.get(f"/orders/{order['id']}", headers=customer).get_json()
    assert (body["status"], body["amountRefundedInCents"]) == ("paid", 899)
