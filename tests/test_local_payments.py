"""The local provider and `payments simulate`, which feeds the webhook's event handling."""

from orders_service.orders.models import Order, OrderHistory
from orders_service.payments.models import PaymentEvent
from tests.test_ops import metric


def simulate(runner, order_id, outcome):
    result = runner.invoke(args=["payments", "simulate", str(order_id), outcome])
    assert result.exit_code == 0, result.output
    return result.output


def test_simulated_success_pays_the_order(client, runner, customer, place_order):
    order = place_order()
    output = simulate(runner, order["id"], "succeeded")
    assert "payment_intent.succeeded: paid" in output
    assert client.get(f"/orders/{order['id']}", headers=customer).get_json()["status"] == "paid"
    last = client.get(f"/orders/{order['id']}/history", headers=customer).get_json()[-1]
    assert last["actor"].startswith("local:evt_")


def test_a_simulated_failure_keeps_it_pending_and_records_why(runner, place_order):
    order = place_order()
    assert "failure recorded" in simulate(runner, order["id"], "failed")
    stored = Order.get_by_id(order["id"])
    assert stored.status == "pending"
    assert "declined" in stored.payment_error


def test_simulated_cancel_cancels(runner, place_order):
    order = place_order()
    simulate(runner, order["id"], "canceled")
    assert Order.get_by_id(order["id"]).status == "canceled"


def test_a_late_event_never_moves_an_order_back(runner, place_order):
    order = place_order()
    simulate(runner, order["id"], "succeeded")
    assert "ignored: order is paid" in simulate(runner, order["id"], "failed")
    assert "ignored: order is paid" in simulate(runner, order["id"], "canceled")
    assert Order.get_by_id(order["id"]).status == "paid"


def test_each_event_id_applies_once(app, place_order):
    from orders_service.payments.events import apply_event
    from orders_service.payments.simulate import simulated_event

    order = place_order()
    with app.app_context():
        event = simulated_event(order["id"], "succeeded")
        outcomes = [apply_event(event, source="local") for _ in range(5)]
    assert outcomes == ["paid"] + ["duplicate"] * 4
    assert OrderHistory.select().where(OrderHistory.to_status == "paid").count() == 1
    assert PaymentEvent.select().count() == 1


def test_an_event_whose_amount_does_not_match_changes_nothing(app, place_order):
    from orders_service.payments.events import apply_event
    from orders_service.payments.simulate import simulated_event

    order = place_order()
    with app.app_context():
        event = simulated_event(order["id"], "succeeded")
        event["data"]["object"]["amount"] = 1
        assert "amount does not match" in apply_event(event)
    assert Order.get_by_id(order["id"]).status == "pending"


def test_marking_an_order_paid_by_hand_cancels_its_local_intent_too(
    client, runner, admin, place_order
):
    order = place_order()
    canceled = {"operation": "cancel_intent", "outcome": "success"}
    before = metric("payments_total", **canceled)

    response = client.post(
        "/orders/status-update", json={"orderId": order["id"], "status": "paid"}, headers=admin
    )

    assert response.status_code == 200, response.get_json()
    assert metric("payments_total", **canceled) == before + 1
    assert "ignored: order is paid" in simulate(runner, order["id"], "canceled")
    assert Order.get_by_id(order["id"]).status == "paid"
    assert OrderHistory.select().where(OrderHistory.order == order["id"]).count() == 2


def test_simulate_refuses_an_unknown_order(runner):
    result = runner.invoke(args=["payments", "simulate", "999", "succeeded"])
    assert result.exit_code != 0
    assert "no payment intent" in result.output


def test_a_simulated_dispute_holds_shipping_until_it_is_won(client, runner, admin, place_order):
    order = place_order()
    simulate(runner, order["id"], "succeeded")

    def dispute(status):
        result = runner.invoke(args=["payments", "dispute", str(order["id"]), status])
        assert result.exit_code == 0, result.output
        return result.output

    def ship():
        body = {"orderId": order["id"], "status": "shipped"}
        return client.post("/orders/status-update", json=body, headers=admin).status_code

    assert "charge.dispute.updated: dispute updated: needs_response" in dispute("needs_response")
    assert ship() == 409
    assert "dispute updated: won" in dispute("won")
    assert ship() == 200
    shown = client.get(f"/orders/{order['id']}", headers=admin).get_json()["dispute"]
    assert shown == {
        "status": "won",
        "reason": "fraudulent",
        "amountInCents": order["amountInCents"],
    }
