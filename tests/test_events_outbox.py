"""The outbox: one event per history row of a visible order, written in the same transaction."""

import datetime
import json

import pytest

from orders_service.database import db, utcnow
from orders_service.events.models import Delivery, Event, WebhookEndpoint
from orders_service.orders.lifecycle import apply_transition
from orders_service.orders.models import Order, OrderHistory


def events_of(order_id):
    rows = Event.select().where(Event.order == order_id).order_by(Event.id)
    return [json.loads(row.body) for row in rows]


def update(client, headers, order_id, status):
    return client.post(
        "/orders/status-update", json={"orderId": order_id, "status": status}, headers=headers
    )


def endpoint(events=("*",), enabled=True):
    return WebhookEndpoint.create(
        url="http://127.0.0.1:9/hook",
        events_json=json.dumps(list(events)),
        enabled=enabled,
        secret="whsec_" + "A" * 43,
    )


def test_a_new_order_emits_order_created_as_get_shows_it_without_client_secret(
    client, customer, place_order
):
    order = place_order()

    [created] = events_of(order["id"])

    shown = client.get(f"/orders/{order['id']}", headers=customer).get_json()
    del shown["clientSecret"]
    assert created["type"] == "order.created"
    assert created["id"].startswith("evt_")
    assert created["createdAt"].endswith("Z")
    assert created["data"] == {
        "order": shown,
        "previousStatus": None,
        "version": 1,
        "actor": "user:7",
    }
    assert "clientSecret" not in json.dumps(created)


def test_every_status_change_emits_one_event_per_history_row_in_version_order(
    client, admin, place_order
):
    order = place_order()
    for status in ("paid", "shipped", "completed", "refunded"):
        assert update(client, admin, order["id"], status).status_code == 200

    events = events_of(order["id"])

    history = OrderHistory.select().where(OrderHistory.order == order["id"]).count()
    changes = [e for e in events if "previousStatus" in e["data"]]
    assert len(changes) == history == 5
    # Refunding by status-update refunds the rest through the ledger: its refund's event
    # comes first, in the same numbering.
    assert [e["type"] for e in events] == [
        "order.created",
        "order.paid",
        "order.fulfillment.created",  # shipping sends what is left, then moves the order
        "order.shipped",
        "order.completed",
        "order.refund.succeeded",
        "order.refunded",
    ]
    assert [e["data"]["version"] for e in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [e["data"]["previousStatus"] for e in changes] == [
        None,
        "pending",
        "paid",
        "shipped",
        "completed",
    ]
    assert {e["data"]["actor"] for e in events[1:]} == {"admin:1"}
    assert events[-1]["data"]["order"]["status"] == "refunded"


def test_a_refused_move_and_a_no_op_write_no_event(client, admin, place_order):
    order = place_order()

    assert update(client, admin, order["id"], "shipped").status_code == 409
    assert update(client, admin, order["id"], "pending").status_code == 200

    assert [e["type"] for e in events_of(order["id"])] == ["order.created"]


def test_a_change_that_rolls_back_leaves_no_event(app, place_order):
    order = place_order()

    with app.app_context(), pytest.raises(RuntimeError), db.atomic():
        apply_transition(order["id"], "paid", "system")
        raise RuntimeError("the caller's transaction fails after the move")

    assert Order.get_by_id(order["id"]).status == "pending"
    assert [e["type"] for e in events_of(order["id"])] == ["order.created"]


def test_a_simulated_payment_emits_order_paid_by_its_event(app, runner, place_order):
    order = place_order()

    result = runner.invoke(args=["payments", "simulate", str(order["id"]), "succeeded"])

    assert result.exit_code == 0, result.output
    paid = events_of(order["id"])[-1]
    assert paid["type"] == "order.paid"
    assert paid["data"]["actor"].startswith("local:evt_")


def test_an_order_never_made_visible_emits_nothing_also_when_expired(
    stripe_client, stripe_fake, stripe_app, customer, catalog
):
    stripe_fake.mode = "fail"
    assert stripe_client.post("/orders/new", json=["3"], headers=customer).status_code == 502
    [half_made] = Order.select()

    Order.update(created_at=utcnow() - datetime.timedelta(hours=2)).execute()
    stripe_fake.mode = None  # back up: expire asks it whether an intent was made after all

    result = stripe_app.test_cli_runner().invoke(args=["orders", "expire", "--older-than", "1h"])

    assert result.exit_code == 0, result.output
    assert Order.get_by_id(half_made.id).status == "canceled"
    assert Event.select().count() == 0


def test_deliveries_are_made_for_the_endpoints_enabled_and_subscribed_when_written(
    client, admin, place_order
):
    everything = endpoint()
    paid_only = endpoint(["order.paid"])
    endpoint(enabled=False)
    order = place_order()
    assert update(client, admin, order["id"], "paid").status_code == 200
    late = endpoint()

    deliveries = {
        (d.endpoint_id, d.event.type) for d in Delivery.select(Delivery, Event).join(Event)
    }

    assert deliveries == {
        (everything.id, "order.created"),
        (everything.id, "order.paid"),
        (paid_only.id, "order.paid"),
    }
    assert late.id not in {d[0] for d in deliveries}


def test_versions_go_on_from_the_order_after_its_earlier_events_were_pruned(
    client, customer, admin, place_order, runner
):
    order = place_order()
    assert update(client, admin, order["id"], "paid").status_code == 200
    Event.update(created_at=utcnow() - datetime.timedelta(days=400)).execute()
    assert runner.invoke(args=["db", "prune"]).exit_code == 0
    assert events_of(order["id"]) == []

    assert update(client, admin, order["id"], "shipped").status_code == 200

    [fulfilled, shipped] = events_of(order["id"])
    assert (fulfilled["data"]["version"], shipped["data"]["version"]) == (3, 4)
