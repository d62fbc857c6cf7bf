"""The deliverer: signed webhooks to a loopback subscriber, retries, order, claims, stopping."""

import datetime
import json

import pytest
from prometheus_client import REGISTRY

from orders_service.database import utcnow
from orders_service.events import deliver as deliver_module
from orders_service.events.claims import Outcome, claim, record_result
from orders_service.events.models import Delivery
from orders_service.orders.models import Order
from tests.fakes.stripe_events import deliver
from tests.fakes.stripe_events import event as stripe_event
from tests.servers import free_port
from tests.subscriber import Subscriber
from tests.webhooks import (
    SCHEDULE,
    change,
    deliver_once,
    deliverer,
    deliveries,
    settle,
    subscribe,
)


def test_an_order_created_and_paid_through_stripe_reaches_a_subscriber_signed_and_in_order(
    stripe_client, stripe_fake, admin, customer, catalog
):
    with Subscriber() as subscriber:
        endpoint = subscribe(stripe_client, admin, subscriber.url)
        order = stripe_client.post("/orders/new", json=["3"], headers=customer).get_json()
        intent = stripe_fake.intents[Order.get_by_id(order["id"]).payment_intent_id]
        paid = stripe_event(
            "payment_intent.succeeded", stripe_fake.set_status(intent["id"], "succeeded")
        )
        assert deliver(stripe_client, paid).status_code == 200
        settle(deliverer())

    events = [received.verified(endpoint["secret"]) for received in subscriber.received]
    assert [e["type"] for e in events] == ["order.created", "order.paid"]
    assert [e["data"]["version"] for e in events] == [1, 2]
    assert events[1]["data"]["actor"] == f"stripe:{paid['id']}"
    assert subscriber.ids() == [e["id"] for e in events]
    for received in subscriber.received:
        assert received.headers["Content-Type"] == "application/json"
        assert b"clientSecret" not in received.body
        assert order["clientSecret"].encode() not in received.body
        one = stripe_client.get(f"/events/{received.headers['webhook-id']}", headers=admin)
        assert json.loads(received.body) == one.get_json()


def test_failing_and_hanging_attempts_are_retried_with_the_same_webhook_id_until_delivered(
    client, admin, place_order
):
    answers = {0: 500, 1: ("hang", 3)}
    with Subscriber(lambda n, body: answers.get(n, 204)) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer(timeout=1.0))

    assert len(set(subscriber.ids())) == 1 and len(subscriber.ids()) == 3
    for received in subscriber.received:
        received.verified(endpoint["secret"])
    [delivery] = deliveries(client, admin, endpoint)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["lastStatus"] == 204 and delivery["lastError"] is None
    assert delivery["deliveredAt"].endswith("Z") and delivery["nextAttemptAt"] is None


def test_an_unreachable_endpoint_ends_failed_after_the_schedule(client, admin, place_order):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")
    place_order()

    settle(deliverer())

    [delivery] = deliveries(client, admin, endpoint)
    assert delivery["state"] == "failed"
    assert delivery["attempts"] == len(SCHEDULE) + 1
    assert delivery["lastStatus"] is None
    assert "Connection" in delivery["lastError"]


def test_an_answer_dripped_slower_than_the_timeout_is_cut_at_the_attempts_deadline(
    client, admin, place_order
):
    _, delivery, took, subscriber = deliver_once(
        client, admin, place_order, ("drip", 8), timeout=1.0
    )

    assert (delivery["state"], delivery["attempts"]) == ("pending", 1)
    assert delivery["lastError"] == "timed out after 1s"
    assert len(subscriber.received) == 1
    assert took < 5  # the 8 s answer was cut at its 1 s deadline, not read to its end


def test_an_attempt_that_fails_unexpectedly_counts_as_failed_and_follows_the_schedule(
    client, admin, place_order, monkeypatch
):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")
    place_order()

    def broken(delivery, timeout):
        raise ValueError("a defect")

    monkeypatch.setattr(deliver_module, "send", broken)
    settle(deliverer(), deadline=30)

    [delivery] = deliveries(client, admin, endpoint)
    assert (delivery["state"], delivery["attempts"]) == ("failed", len(SCHEDULE) + 1)
    assert delivery["lastError"] == "ValueError: a defect"


def test_an_endpoint_answering_errors_ends_failed_with_its_last_status(client, admin, place_order):
    with Subscriber(lambda n, body: 503) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())

    [delivery] = deliveries(client, admin, endpoint)
    assert (delivery["state"], delivery["lastStatus"]) == ("failed", 503)
    assert delivery["lastError"] == "HTTP 503"
    assert len(subscriber.received) == len(SCHEDULE) + 1


def test_a_redirect_is_not_followed_but_retried(client, admin, place_order):
    with (
        Subscriber() as elsewhere,
        Subscriber(lambda n, body: ("redirect", elsewhere.url) if n == 0 else 200) as subscriber,
    ):
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())

    assert elsewhere.received == []
    assert [r.answered for r in subscriber.received] == [("redirect", elsewhere.url), 200]
    assert deliveries(client, admin, endpoint)[0]["state"] == "delivered"


def test_a_later_event_never_reaches_an_endpoint_before_an_earlier_one_being_retried(
    client, admin, place_order
):
    with Subscriber(lambda n, body: 500 if n == 0 else 204) as subscriber:
        subscribe(client, admin, subscriber.url)
        order = place_order()
        worker = deliverer()
        worker.run(once=True)
        change(client, admin, order["id"], "paid")
        worker.run(once=True)
        assert [json.loads(r.body)["type"] for r in subscriber.received] == ["order.created"]
        settle(worker)

    types = [json.loads(r.body)["type"] for r in subscriber.received]
    assert types == ["order.created", "order.created", "order.paid"]


def test_disabled_and_unsubscribed_endpoints_receive_nothing(client, admin, place_order):
    with Subscriber() as every, Subscriber() as disabled, Subscriber() as shipped_only:
        subscribe(client, admin, every.url)
        subscribe(client, admin, disabled.url, enabled=False)
        subscribe(client, admin, shipped_only.url, events=["order.shipped"])
        order = place_order()
        change(client, admin, order["id"], "paid")
        settle(deliverer())

    assert len(every.received) == 2
    assert disabled.received == [] and shipped_only.received == []


def test_a_pending_delivery_goes_to_the_endpoints_current_url(client, admin, place_order):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/gone")
    place_order()
    with Subscriber() as moved:
        url = f"/webhook-endpoints/{endpoint['id']}"
        assert client.patch(url, json={"url": moved.url}, headers=admin).status_code == 200
        settle(deliverer())

    assert len(moved.received) == 1
    moved.received[0].verified(endpoint["secret"])


def test_a_deleted_endpoint_is_sent_nothing_more(client, admin, place_order):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        client.delete(f"/webhook-endpoints/{endpoint['id']}", headers=admin)
        settle(deliverer())

    assert subscriber.received == []


def test_deliveries_are_counted_by_result(client, admin, place_order):
    def count(result):
        return REGISTRY.get_sample_value("webhook_deliveries_total", {"result": result}) or 0

    before = {result: count(result) for result in ("delivered", "retry", "failed")}
    with Subscriber(lambda n, body: 500 if n == 0 else 204) as subscriber:
        subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())

    after = {result: count(result) - before[result] for result in before}
    assert after == {"delivered": 1, "retry": 1, "failed": 0}


@pytest.fixture
def pending(client, admin, place_order):
    """30 orders' order.created, each pending for one endpoint."""
    subscribe(client, admin, "http://127.0.0.1:9/never-called")
    for _ in range(30):
        place_order()
    return {d.id for d in Delivery.select()}


def test_claims_from_concurrent_deliverers_never_share_a_delivery(pending):
    import concurrent.futures

    def claim_all():
        mine = []
        while batch := claim(4, datetime.timedelta(minutes=1)):
            mine += [d.id for d in batch]
        return mine

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        claimed = [ids for ids in pool.map(lambda _: claim_all(), range(4))]

    every = [delivery_id for ids in claimed for delivery_id in ids]
    assert sorted(every) == sorted(pending)


def test_a_lapsed_claim_is_due_again_and_its_late_result_is_not_recorded(pending):
    lapsed = claim(100, datetime.timedelta(0))
    again = claim(100, datetime.timedelta(minutes=1))

    assert {d.id for d in again} == {d.id for d in lapsed} == pending
    assert {d.attempts for d in again} == {2}
    answered = Outcome(utcnow(), 5, 204, None, "")
    assert record_result(lapsed[0], answered, SCHEDULE) is None
    assert Delivery.get_by_id(lapsed[0].id).state == "pending"
    assert record_result(again[0], answered, SCHEDULE) == "delivered"


def test_the_backlog_gauge_counts_pending_deliveries(pending):
    deliverer().run(once=True)

    gauge = REGISTRY.get_sample_value("webhook_deliveries_pending")
    assert gauge == len(pending) == Delivery.select().where(Delivery.state == "pending").count()


def test_a_deliverer_outlives_an_unreachable_database(monkeypatch, pending):
    import peewee

    from orders_service.events import deliver as module

    def unreachable(*args):
        raise peewee.OperationalError("connection refused")

    monkeypatch.setattr(module, "claim", unreachable)
    worker = deliverer()

    assert worker.run(once=True) == 0
