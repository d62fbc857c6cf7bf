"""The life-cycle table, move by move, through POST /orders/status-update."""

import itertools

import pytest

from orders_service.orders.changes import SIDE_EFFECTS
from orders_service.orders.lifecycle import PROVIDER_ONLY, STATUSES, TRANSITIONS
from orders_service.orders.models import Order, OrderHistory
from orders_service.orders.schemas import OrderSchema

ALLOWED = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
FORBIDDEN = {(a, b) for a, b in itertools.product(STATUSES, STATUSES) if a != b} - ALLOWED
# Two moves in one request, as documented: captured (paid), then shipped
# (tests/test_fulfillments.py).
FORBIDDEN -= {("authorized", "shipped")}
# The moves staff may ask for: only the provider's events authorize a payment.
STAFF_MOVES = {(a, b) for a, b in ALLOWED if b not in PROVIDER_ONLY}
# The shortest way to reach each status from pending, by allowed moves ("@": a simulated
# payment event, the only way to some).
PATH = {
    "pending": [],
    "authorized": ["@authorized"],
    "paid": ["paid"],
    "shipped": ["paid", "shipped"],
    "completed": ["paid", "completed"],
    "canceled": ["canceled"],
    "refunded": ["paid", "refunded"],
}


def test_the_table_is_what_spec_says():
    assert {
        ("pending", "paid"),
        ("pending", "canceled"),
        ("pending", "authorized"),
        ("authorized", "paid"),
        ("authorized", "canceled"),
        ("paid", "shipped"),
        ("paid", "completed"),
        ("paid", "refunded"),
        ("shipped", "completed"),
        ("shipped", "refunded"),
        ("completed", "refunded"),
    } == ALLOWED


def test_every_move_that_must_reach_the_provider_first_has_its_call():
    # Keyed by move: a move to canceled or refunded missing here would skip Stripe silently.
    cancels_or_refunds = {(a, b) for a, b in ALLOWED if b in ("canceled", "refunded")}

    assert set(SIDE_EFFECTS) == cancels_or_refunds | {("pending", "paid"), ("authorized", "paid")}
    assert SIDE_EFFECTS[("pending", "paid")] == "cancel_intent"  # paid by hand: no card too
    assert SIDE_EFFECTS[("authorized", "paid")] == "capture"  # the hold is taken


def update(client, headers, order_id, status):
    return client.post(
        "/orders/status-update", json={"orderId": order_id, "status": status}, headers=headers
    )


@pytest.fixture
def order_in(client, admin, place_order, runner):
    def make(status):
        order = place_order()
        for step in PATH[status]:
            if step.startswith("@"):
                args = ["payments", "simulate", str(order["id"]), step[1:]]
                assert runner.invoke(args=args).exit_code == 0
            else:
                assert update(client, admin, order["id"], step).status_code == 200
        return order["id"]

    return make


def history_count(order_id):
    return OrderHistory.select().where(OrderHistory.order == order_id).count()


@pytest.mark.parametrize("status", STATUSES)
def test_next_statuses_are_the_tables_moves_in_every_body_that_shows_the_order(
    client, admin, order_in, status
):
    order_id = order_in(status)
    expected = [s for s in STATUSES if s in TRANSITIONS[status] and s not in PROVIDER_ONLY]

    one = client.get(f"/orders/{order_id}", headers=admin).get_json()  # written by SQL
    page = client.get("/orders", headers=admin).get_json()  # a page, by SQL too
    dumped = OrderSchema().dump(Order.get_by_id(order_id))  # the Python dump

    assert one["nextStatuses"] == page[0]["nextStatuses"] == dumped["nextStatuses"] == expected


@pytest.mark.parametrize(("current", "target"), sorted(STAFF_MOVES))
def test_every_allowed_move_changes_status_and_writes_one_history_row(
    client, admin, order_in, current, target
):
    order_id = order_in(current)
    before = history_count(order_id)
    response = update(client, admin, order_id, target.capitalize())
    assert response.status_code == 200
    assert response.get_json() == {"id": order_id, "status": target}
    assert Order.get_by_id(order_id).status == target
    assert history_count(order_id) == before + 1
    last = client.get(f"/orders/{order_id}/history", headers=admin).get_json()[-1]
    assert (last["from"], last["to"], last["actor"]) == (current, target, "admin:1")


@pytest.mark.parametrize(("current", "target"), sorted(FORBIDDEN))
def test_every_forbidden_move_is_409_and_changes_nothing(client, admin, order_in, current, target):
    order_id = order_in(current)
    before = history_count(order_id)
    response = update(client, admin, order_id, target)
    assert response.status_code == 409
    message = f"An order that is {current} cannot become {target}."
    if target in PROVIDER_ONLY:
        message = f"Only the payment provider makes an order {target}."
    assert response.get_json()["message"] == message
    assert Order.get_by_id(order_id).status == current
    assert history_count(order_id) == before


@pytest.mark.parametrize("target", sorted(PROVIDER_ONLY))
def test_staff_cannot_make_a_move_only_the_provider_makes(client, admin, order_in, target):
    order_id = order_in("pending")
    response = update(client, admin, order_id, target)
    assert response.status_code == 409
    assert response.get_json()["message"] == f"Only the payment provider makes an order {target}."
    assert Order.get_by_id(order_id).status == "pending"


@pytest.mark.parametrize("status", STATUSES)
def test_setting_the_current_status_again_is_a_noop(client, admin, order_in, status):
    order_id = order_in(status)
    before = history_count(order_id)
    response = update(client, admin, order_id, status.upper())
    assert response.status_code == 200
    assert response.get_json() == {"id": order_id, "status": status}
    assert history_count(order_id) == before


def test_cancelled_is_accepted_for_canceled(client, admin, order_in):
    order_id = order_in("pending")
    assert update(client, admin, order_id, "Cancelled").get_json()["status"] == "canceled"


def test_the_owner_may_cancel_their_pending_order(client, customer, order_in):
    order_id = order_in("pending")
    response = update(client, customer, order_id, "canceled")
    assert response.status_code == 200
    last = client.get(f"/orders/{order_id}/history", headers=customer).get_json()[-1]
    assert last["actor"] == "user:7"


def test_the_owner_cannot_cancel_a_paid_order(client, customer, order_in):
    order_id = order_in("paid")
    assert update(client, customer, order_id, "canceled").status_code == 409


@pytest.mark.parametrize(
    "target", ["paid", "shipped", "completed", "refunded", "pending", "authorized"]
)
def test_the_owner_may_make_no_other_move(client, customer, order_in, target):
    order_id = order_in("pending")
    assert update(client, customer, order_id, target).status_code == 403
    assert Order.get_by_id(order_id).status == "pending"


def test_another_user_gets_404(client, other_customer, order_in):
    order_id = order_in("pending")
    assert update(client, other_customer, order_id, "canceled").status_code == 404
    assert Order.get_by_id(order_id).status == "pending"


def test_unknown_order_is_404(client, admin):
    assert update(client, admin, 999, "paid").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"orderId": 1},
        {"status": "paid"},
        {"orderId": 1, "status": "lost"},
        {"orderId": 1, "status": ""},
        {"orderId": "1", "status": "paid"},
        {"orderId": 1.5, "status": "paid"},
        {"orderId": 1, "status": 3},
        {"orderId": 1, "status": "paid", "extra": True},
        [],
    ],
)
def test_bad_bodies_are_400(client, admin, order_in, body):
    order_in("pending")
    response = client.post("/orders/status-update", json=body, headers=admin)
    assert response.status_code == 400
    assert response.get_json()["message"]
    assert Order.get_by_id(1).status == "pending"


def test_status_update_needs_a_token(client):
    assert (
        client.post("/orders/status-update", json={"orderId": 1, "status": "paid"}).status_code
        == 401
    )
