"""Manual capture at Stripe (over HTTP to the loopback fake): the card is held at checkout,
and the money is taken when the goods leave."""

import datetime

import pytest

from orders_service.config import ConfigError
from orders_service.orders import changes
from orders_service.orders.models import Fulfillment, Order, OrderHistory
from orders_service.payments.models import PaymentEvent
from orders_service.products.models import Product
from tests.fakes.stripe_events import deliver

CART = ["3", "3", "8"]
TOTAL = 2 * 4999 + 899
LIMITED = 9  # the limited hoodie: its stock is tracked (10 units in the demo catalog)


@pytest.fixture
def manual_client(make_app, app, stripe_config):
    return make_app(**stripe_config, PAYMENT_CAPTURE="manual").test_client()


@pytest.fixture
def authorized(manual_client, stripe_fake, customer, catalog):
    """authorized(items) → the customer's order, its card held at Stripe and the webhook
    delivered; `intent` is the held intent as the fake keeps it."""

    def make(items=CART, deliver_event=True):
        response = manual_client.post("/orders/new", json=list(items), headers=customer)
        assert response.status_code == 201, response.get_json()
        order = response.get_json()
        intent = stripe_fake.authorize(intent_id(order))
        if deliver_event:
            [sent] = [
                e
                for e in stripe_fake.events
                if e["type"].endswith("capturable_updated")
                and e["data"]["object"]["id"] == intent["id"]
            ]
            assert deliver(manual_client, sent).status_code == 200
        return {**order, "intent": intent}

    return make


def intent_id(order):
    return order["clientSecret"].split("_secret")[0]


def fulfil(client, admin, order_id, body=None):
    return client.post(f"/orders/{order_id}/fulfillments", json=body or {}, headers=admin)


def moves(order_id):
    rows = OrderHistory.select().where(OrderHistory.order == order_id).order_by(OrderHistory.id)
    return [(row.from_status, row.to_status) for row in rows]


def events_of_type(stripe_fake, event_type, intent):
    return [
        e
        for e in stripe_fake.events
        if e["type"] == event_type and e["data"]["object"]["id"] == intent
    ]


def test_a_manual_capture_intent_is_held_then_captured_once_when_the_goods_leave(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized()
    held = manual_client.get(f"/orders/{order['id']}", headers=admin).get_json()
    [created] = stripe_fake.created_intents()

    first = fulfil(manual_client, admin, order["id"], {"lines": [{"productId": 3, "quantity": 1}]})
    paid = manual_client.get(f"/orders/{order['id']}", headers=admin).get_json()
    # Stripe says the capture succeeded: the order is paid already, and stays as it is.
    [succeeded] = events_of_type(stripe_fake, "payment_intent.succeeded", intent_id(order))
    redelivered = [deliver(manual_client, succeeded) for _ in range(2)]
    rest = fulfil(manual_client, admin, order["id"])
    shipped = manual_client.get(f"/orders/{order['id']}", headers=admin).get_json()

    assert created["capture_method"] == "manual"
    assert held["status"] == "authorized"
    capture_before = stripe_fake.charges[order["intent"]["latest_charge"]]["payment_method_details"]
    expected = datetime.datetime.fromtimestamp(
        capture_before["card"]["capture_before"], datetime.UTC
    )
    assert held["authorizationExpiresAt"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.status_code == rest.status_code == 201
    assert (paid["status"], paid["fulfillmentStatus"]) == ("paid", "partial")
    assert paid["authorizationExpiresAt"] is None  # captured: there is no hold any more
    assert [r.status_code for r in redelivered] == [200, 200]
    assert PaymentEvent.get_by_id(succeeded["id"]).outcome == "no change: already paid"
    assert (shipped["status"], shipped["fulfillmentStatus"]) == ("shipped", "fulfilled")
    assert moves(order["id"]) == [
        (None, "pending"),
        ("pending", "authorized"),
        ("authorized", "paid"),
        ("paid", "shipped"),
    ]
    assert stripe_fake.captures == [intent_id(order)]
    [capture] = stripe_fake.calls("POST", r"/v1/payment_intents/[^/]+/capture")
    payment_key = Order.get_by_id(order["id"]).payment_key
    assert capture.headers["idempotency-key"] == f"order-{order['id']}-{payment_key}-capture"
    assert capture.form == {"amount_to_capture": str(TOTAL)}


def test_the_captures_own_event_arriving_after_the_goods_left_changes_nothing(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized()
    assert fulfil(manual_client, admin, order["id"]).status_code == 201
    [succeeded] = events_of_type(stripe_fake, "payment_intent.succeeded", intent_id(order))
    late_hold = events_of_type(
        stripe_fake, "payment_intent.amount_capturable_updated", intent_id(order)
    )

    replies = [deliver(manual_client, e) for e in (succeeded, *late_hold, succeeded)]

    assert [r.status_code for r in replies] == [200, 200, 200]
    assert Order.get_by_id(order["id"]).status == "shipped"
    assert PaymentEvent.get_by_id(succeeded["id"]).outcome == "ignored: order is shipped"
    assert len(moves(order["id"])) == 4
    assert stripe_fake.captures == [intent_id(order)]


def test_an_expired_hold_makes_the_fulfilment_409_with_nothing_recorded(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized(["3", str(LIMITED)])
    stripe_fake.expire_authorization(intent_id(order))  # its webhook not delivered yet

    response = fulfil(manual_client, admin, order["id"])

    assert response.status_code == 409
    assert response.get_json()["message"] == (
        "The payment provider refused: This PaymentIntent could not be captured because it has "
        "a status of canceled."
    )
    assert Order.get_by_id(order["id"]).status == "authorized"
    assert Fulfillment.select().count() == 0
    assert stripe_fake.captures == []
    # Then Stripe's cancel of the expired hold arrives: the order is canceled, its stock back.
    [canceled] = events_of_type(stripe_fake, "payment_intent.canceled", intent_id(order))
    assert canceled["data"]["object"]["cancellation_reason"] == "automatic"
    assert deliver(manual_client, canceled).status_code == 200
    assert Order.get_by_id(order["id"]).status == "canceled"
    assert Product.get_by_id(LIMITED).stock == 10


def test_canceling_an_authorized_order_voids_the_hold_and_returns_its_stock(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized([str(LIMITED), str(LIMITED)])
    assert Product.get_by_id(LIMITED).stock == 8

    body = {"orderId": order["id"], "status": "canceled"}
    response = manual_client.post("/orders/status-update", json=body, headers=admin)

    assert response.get_json() == {"id": order["id"], "status": "canceled"}
    assert stripe_fake.cancels == [intent_id(order)]
    assert stripe_fake.intents[intent_id(order)]["status"] == "canceled"
    assert stripe_fake.captures == []
    assert Product.get_by_id(LIMITED).stock == 10
    assert moves(order["id"])[-1] == ("authorized", "canceled")


def test_an_authorized_order_takes_no_refund(manual_client, stripe_fake, authorized, admin):
    order = authorized()

    response = manual_client.post(
        f"/orders/{order['id']}/refunds", json={"amountInCents": 100}, headers=admin
    )

    assert response.status_code == 409
    assert "cancel the order to void the authorization" in response.get_json()["message"]
    assert stripe_fake.calls("POST", "/v1/refunds") == []


def test_status_update_of_an_authorized_order_captures_and_ships_everything(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized()

    body = {"orderId": order["id"], "status": "shipped"}
    response = manual_client.post("/orders/status-update", json=body, headers=admin)

    assert response.get_json() == {"id": order["id"], "status": "shipped"}
    assert stripe_fake.captures == [intent_id(order)]
    assert moves(order["id"])[-2:] == [("authorized", "paid"), ("paid", "shipped")]
    [fulfillment] = Fulfillment.select().where(Fulfillment.order == order["id"])
    assert fulfillment.lines == [{"productId": 3, "quantity": 2}, {"productId": 8, "quantity": 1}]


def test_status_update_to_paid_captures_the_hold(manual_client, stripe_fake, authorized, admin):
    order = authorized()

    body = {"orderId": order["id"], "status": "paid"}
    response = manual_client.post("/orders/status-update", json=body, headers=admin)

    assert response.get_json() == {"id": order["id"], "status": "paid"}
    assert stripe_fake.captures == [intent_id(order)]
    assert stripe_fake.cancels == []  # a capture, not a payment by hand


def test_a_capture_whose_answer_was_lost_is_not_made_twice(
    manual_client, stripe_fake, authorized, admin
):
    order = authorized()
    stripe_fake.fail_when = lambda method, path: "after" if path.endswith("/capture") else None

    lost = fulfil(manual_client, admin, order["id"])  # Stripe captured, then answered a 500
    after_the_500 = (Order.get_by_id(order["id"]).status, Fulfillment.select().count())
    stripe_fake.fail_when = None
    retried = fulfil(manual_client, admin, order["id"])

    assert lost.status_code == 502
    assert after_the_500 == ("authorized", 0)
    # Stripe keeps the 500 under the capture's key: the retry reads the intent, sees it
    # captured, and does not capture again.
    assert retried.status_code == 201, retried.get_json()
    assert stripe_fake.captures == [intent_id(order)]
    assert Order.get_by_id(order["id"]).status == "shipped"


@pytest.fixture
def meanwhile(monkeypatch):
    """meanwhile(action): `action` runs once, just before the next status change claims its
    order: what another request did after this one read the order, before it claimed it."""

    def arm(action):
        claim = changes._claim

        def other_request_first(order):
            monkeypatch.setattr(changes, "_claim", claim)
            action()
            return claim(order)

        monkeypatch.setattr(changes, "_claim", other_request_first)

    return arm


def test_a_fulfilment_whose_order_another_captured_and_shipped_meanwhile_finds_its_line_sent(
    manual_client, stripe_fake, authorized, admin, meanwhile
):
    order = authorized()
    others = []
    meanwhile(lambda: others.append(fulfil(manual_client, admin, order["id"])))

    late = fulfil(manual_client, admin, order["id"], {"lines": [{"productId": 3, "quantity": 1}]})

    assert others[0].status_code == 201
    # That nothing is left is what stops it, as for any fulfilment of a shipped order: not a
    # refused move to paid that nobody asked for.
    assert late.status_code == 409
    assert late.get_json()["message"] == f"Order {order['id']} has nothing left to send."
    assert stripe_fake.captures == [intent_id(order)]
    assert Fulfillment.select().count() == 1
    assert len(moves(order["id"])) == 4


def test_a_status_update_to_shipped_of_an_order_a_fulfilment_shipped_meanwhile_changes_nothing(
    manual_client, stripe_fake, authorized, admin, meanwhile
):
    order = authorized()
    others = []
    meanwhile(lambda: others.append(fulfil(manual_client, admin, order["id"])))

    body = {"orderId": order["id"], "status": "shipped"}
    response = manual_client.post("/orders/status-update", json=body, headers=admin)

    assert others[0].status_code == 201
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"id": order["id"], "status": "shipped"}
    assert stripe_fake.captures == [intent_id(order)]
    assert Fulfillment.select().count() == 1
    assert len(moves(order["id"])) == 4


def test_reconcile_reads_authorized_and_captured_intents_the_webhooks_missed(
    manual_client, stripe_fake, authorized, runner, stripe_config, make_app
):
    order = authorized(deliver_event=False)
    manual_app = make_app(**stripe_config, PAYMENT_CAPTURE="manual")

    first = manual_app.test_cli_runner().invoke(args=["payments", "reconcile"])
    held = Order.get_by_id(order["id"])
    # Captured in Stripe's dashboard, its event lost too.
    stripe_fake._capture(stripe_fake.intents[intent_id(order)], {})
    second = manual_app.test_cli_runner().invoke(args=["payments", "reconcile"])

    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert held.status == "authorized"
    assert held.authorization_expires_at is not None
    assert Order.get_by_id(order["id"]).status == "paid"


def test_payment_capture_must_be_automatic_or_manual(make_app, stripe_config):
    with pytest.raises(ConfigError, match="PAYMENT_CAPTURE must be 'automatic' or 'manual'"):
        make_app(**stripe_config, PAYMENT_CAPTURE="later")
