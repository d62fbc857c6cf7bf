"""Disputes (SPEC, Refunds and disputes): the order shows Stripe's dispute as the dispute object
says it, in whatever order and however often its events come, and holds shipping while open."""

import itertools
import json
import time

import pytest

from orders_service.events.models import Event
from orders_service.orders.disputes import OPEN, DisputeOpen
from orders_service.orders.lifecycle import apply_transition
from orders_service.orders.models import Order, OrderHistory
from tests.fakes.stripe_events import deliver, event


@pytest.fixture
def order(paid):
    """A paid order on the stripe provider (its charge at the fake), as its row."""
    return Order.get_by_id(paid(("3", "8"))["id"])


def dispute_of(client, headers, order):
    response = client.get(f"/orders/{order.id}", headers=headers)
    assert response.status_code == 200
    return response.get_json()["dispute"]


def events_of(order):
    rows = Event.select().where(Event.order == order.id).order_by(Event.id)
    return [json.loads(row.body) for row in rows]


def ship(client, admin, order):
    body = {"orderId": order.id, "status": "shipped"}
    return client.post("/orders/status-update", json=body, headers=admin)


def lifecycle(stripe_fake, order, created):
    """created (needs_response), updated (under_review), closed (lost): Stripe's three events
    of a lost chargeback, made at the times `created` gives for each."""
    opened = stripe_fake.open_dispute(order.payment_intent_id, amount=1500)
    reviewed = stripe_fake.update_dispute(opened["id"], status="under_review")
    lost = stripe_fake.update_dispute(opened["id"], status="lost")
    steps = zip(("created", "updated", "closed"), (opened, reviewed, lost), created, strict=True)
    return [event(f"charge.dispute.{name}", obj, created=at) for name, obj, at in steps]


NOW = int(time.time())


@pytest.mark.parametrize(
    "created", [(NOW, NOW, NOW), (NOW, NOW + 1, NOW + 2)], ids=["same-second", "seconds-apart"]
)
@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))), ids=str)
def test_a_dispute_opened_reviewed_and_lost_ends_lost_in_any_order_and_delivered_twice(
    stripe_client, stripe_fake, admin, order, created, arrival
):
    events = lifecycle(stripe_fake, order, created)

    outcomes = [deliver(stripe_client, events[i]) for i in arrival * 2]

    assert [response.status_code for response in outcomes] == [200] * 6
    assert dispute_of(stripe_client, admin, order) == {
        "status": "lost",
        "reason": "fraudulent",
        "amountInCents": 1500,
    }
    reported = [e["data"]["dispute"]["status"] for e in events_of(order) if "dispute" in e["data"]]
    assert reported[-1] == "lost" and len(reported) == len(set(reported))


@pytest.mark.parametrize("late", ["lost", "under_review", "needs_response"])
def test_funds_reinstated_of_a_lost_dispute_leaves_it_lost(
    stripe_client, stripe_fake, admin, order, late
):
    """Stripe's event name is no status (hyperswitch PR 11687): the object says lost."""
    opened = stripe_fake.open_dispute(order.payment_intent_id)
    deliver(stripe_client, event("charge.dispute.closed", {**opened, "status": "lost"}))
    before = len(events_of(order))

    reinstated = event("charge.dispute.funds_reinstated", {**opened, "status": late})
    response = deliver(stripe_client, reinstated)

    assert response.status_code == 200
    assert dispute_of(stripe_client, admin, order)["status"] == "lost"
    assert len(events_of(order)) == before


@pytest.mark.parametrize("status", sorted(OPEN))
def test_an_open_dispute_holds_shipping_with_a_409_and_its_close_lets_it_ship(
    stripe_client, stripe_fake, admin, order, status
):
    opened = stripe_fake.open_dispute(order.payment_intent_id, status=status)
    deliver(stripe_client, event("charge.dispute.created", opened))

    shown = stripe_client.get(f"/orders/{order.id}", headers=admin).get_json()
    assert shown["nextStatuses"] == ["completed", "refunded"]  # shipped is not offered
    held = ship(stripe_client, admin, order)

    assert held.status_code == 409
    assert opened["id"] in held.get_json()["message"] and status in held.get_json()["message"]
    assert Order.get_by_id(order.id).status == "paid"
    assert OrderHistory.select().where(OrderHistory.order == order.id).count() == 2
    closed = "warning_closed" if status.startswith("warning_") else "won"
    closing = stripe_fake.update_dispute(opened["id"], status=closed)
    deliver(stripe_client, event("charge.dispute.closed", closing))

    shown = stripe_client.get(f"/orders/{order.id}", headers=admin).get_json()
    assert shown["nextStatuses"] == ["shipped", "completed", "refunded"]
    shipped = ship(stripe_client, admin, order)

    assert shipped.status_code == 200, shipped.get_json()
    assert Order.get_by_id(order.id).status == "shipped"


def test_the_shipped_hold_is_kept_by_the_life_cycle_function_every_path_goes_through(
    stripe_client, stripe_fake, order
):
    deliver(
        stripe_client,
        event("charge.dispute.created", stripe_fake.open_dispute(order.payment_intent_id)),
    )

    with pytest.raises(DisputeOpen):
        apply_transition(order.id, "shipped", "system")

    assert apply_transition(order.id, "completed", "system")[1]  # only shipping waits


def test_a_failed_refund_takes_a_disputed_order_back_to_shipped_though_shipping_waits(
    stripe_client, stripe_fake, admin, order
):
    """The way back from refunded that a failed refund takes sends nothing: not held."""
    assert ship(stripe_client, admin, order).status_code == 200
    refund = {"amountInCents": order.amount_in_cents}
    made = stripe_client.post(f"/orders/{order.id}/refunds", json=refund, headers=admin)
    assert made.status_code == 201, made.get_json()
    opened = stripe_fake.open_dispute(order.payment_intent_id)
    deliver(stripe_client, event("charge.dispute.created", opened))

    stripe_fake.set_refund_status(stripe_fake.refunds[0]["id"], "failed")
    response = deliver(stripe_client, stripe_fake.events[-1])

    assert response.status_code == 200, response.get_json()
    assert Order.get_by_id(order.id).status == "shipped"
    assert dispute_of(stripe_client, admin, order)["status"] == "needs_response"


def test_dispute_events_number_with_status_changes_without_gap_or_repeat(
    stripe_client, stripe_fake, admin, order
):
    opened = stripe_fake.open_dispute(order.payment_intent_id, status="warning_needs_response")
    deliver(stripe_client, event("charge.dispute.created", opened))
    escalated = stripe_fake.update_dispute(opened["id"], status="needs_response")
    deliver(stripe_client, event("charge.dispute.updated", escalated))
    deliver(stripe_client, event("charge.dispute.funds_withdrawn", escalated))  # no change
    won = stripe_fake.update_dispute(opened["id"], status="won")
    deliver(stripe_client, event("charge.dispute.closed", won))
    assert ship(stripe_client, admin, order).status_code == 200

    events = events_of(order)

    assert [(e["type"], e["data"]["version"]) for e in events] == [
        ("order.created", 1),
        ("order.paid", 2),
        ("order.dispute.updated", 3),
        ("order.dispute.updated", 4),
        ("order.dispute.updated", 5),
        ("order.fulfillment.created", 6),
        ("order.shipped", 7),
    ]
    assert [e["data"]["dispute"]["previousStatus"] for e in events[2:5]] == [
        None,
        "warning_needs_response",
        "needs_response",
    ]
    last = events[4]["data"]
    assert last["dispute"] == {
        "status": "won",
        "reason": "fraudulent",
        "amountInCents": order.amount_in_cents,
        "id": opened["id"],
        "previousStatus": "needs_response",
    }
    assert last["order"]["dispute"] == {
        "status": "won",
        "reason": "fraudulent",
        "amountInCents": order.amount_in_cents,
    }
    assert last["actor"].startswith("stripe:evt_") and "previousStatus" not in last
    assert events[5]["data"]["order"]["dispute"]["status"] == "won"


def test_an_appeal_is_decided_again_and_the_first_decision_arriving_late_does_not_undo_it(
    stripe_client, stripe_fake, admin, order
):
    opened = stripe_fake.open_dispute(order.payment_intent_id)
    lost = event("charge.dispute.closed", {**opened, "status": "lost"}, created=NOW)
    appeal = event(
        "charge.dispute.updated", {**opened, "status": "appeal_under_review"}, created=NOW + 60
    )
    won = event("charge.dispute.closed", {**opened, "status": "won"}, created=NOW + 120)

    for delivered in (appeal, won, lost):
        assert deliver(stripe_client, delivered).status_code == 200

    assert dispute_of(stripe_client, admin, order)["status"] == "won"


@pytest.mark.parametrize(
    ("change", "outcome"),
    [
        ({"payment_intent": "pi_someone_elses"}, "ignored: no order for this intent"),
        ({"payment_intent": None}, "ignored: no payment intent"),
        ({"status": "something_new"}, "ignored: unknown dispute status something_new"),
        ({"amount": "1500"}, "ignored: not a dispute as Stripe sends one"),
    ],
    ids=["another-intent", "no-intent", "unknown-status", "malformed"],
)
def test_a_dispute_that_is_not_this_services_is_200_and_ignored(
    stripe_client, stripe_fake, admin, order, change, outcome
):
    opened = stripe_fake.open_dispute(order.payment_intent_id)

    response = deliver(stripe_client, event("charge.dispute.created", {**opened, **change}))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == outcome
    assert dispute_of(stripe_client, admin, order) is None


@pytest.fixture
def stripe_runner(stripe_app):
    return stripe_app.test_cli_runner()


def reconcile(runner):
    result = runner.invoke(args=["payments", "reconcile"])
    assert result.exit_code == 0, result.output
    return result.output


def test_reconcile_repairs_dispute_events_that_were_lost(
    stripe_runner, stripe_client, stripe_fake, admin, order
):
    listed = "/v1/disputes"
    assert "0 orders changed" in reconcile(stripe_runner)
    assert stripe_fake.calls("GET", listed) == []  # an undisputed charge costs no listing
    opened = stripe_fake.open_dispute(order.payment_intent_id, reason="product_not_received")

    output = reconcile(stripe_runner)

    assert f"order {order.id}: dispute updated: needs_response" in output
    assert "1 orders changed" in output
    assert dispute_of(stripe_client, admin, order)["reason"] == "product_not_received"
    assert "0 orders changed" in reconcile(stripe_runner)
    stripe_fake.update_dispute(opened["id"], status="lost")
    assert "1 orders changed" in reconcile(stripe_runner)
    assert dispute_of(stripe_client, admin, order)["status"] == "lost"
    assert [e["data"]["actor"] for e in events_of(order)][-2:] == ["system", "system"]


def test_reconcile_follows_an_open_dispute_to_its_end_whatever_the_orders_age(
    stripe_runner, stripe_client, stripe_fake, admin, order
):
    opened = stripe_fake.open_dispute(order.payment_intent_id)
    deliver(stripe_client, event("charge.dispute.created", opened))
    Order.update(created_at=Order.created_at.default().replace(year=2000)).where(
        Order.id == order.id
    ).execute()
    stripe_fake.update_dispute(opened["id"], status="won")

    output = reconcile(stripe_runner)

    assert f"order {order.id}: dispute updated: won" in output
    assert ship(stripe_client, admin, order).status_code == 200


def test_the_api_document_shows_the_dispute_nullable_and_its_event_type(client, admin):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]

    dispute = schemas["Order"]["properties"]["dispute"]

    # A nullable $ref in OpenAPI 3.0: the Dispute, or null (and no other object)
    assert dispute["anyOf"] == [
        {"$ref": "#/components/schemas/Dispute"},
        {"type": "object", "nullable": True, "enum": [None]},
    ]
    assert set(schemas["Dispute"]["properties"]) == {"status", "reason", "amountInCents"}
    subscribed = {"url": "https://example.com/hook", "events": ["order.dispute.updated"]}
    assert client.post("/webhook-endpoints", json=subscribed, headers=admin).status_code == 201
