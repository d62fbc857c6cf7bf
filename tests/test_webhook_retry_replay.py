"""Retry one delivery, replay an endpoint's events since a time, list deliveries by state: what
an integrator's admin does once their side is fixed (admins only)."""

import datetime
import json

import pytest

from orders_service.database import db, is_sqlite, utcnow
from orders_service.events.claims import Outcome, claim, record_result
from orders_service.events.models import Delivery, Event
from orders_service.events.service import deliveries_of
from tests.subscriber import Subscriber
from tests.webhooks import SCHEDULE, change, deliverer, deliveries, settle, subscribe

WEEK_AGO = utcnow() - datetime.timedelta(days=7)


def retry(client, admin, endpoint, delivery):
    url = f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/retry"
    return client.post(url, headers=admin)


def replay(client, admin, endpoint, since):
    url = f"/webhook-endpoints/{endpoint['id']}/replay"
    return client.post(url, json={"since": since}, headers=admin)


def types_of(received):
    return [json.loads(r.body)["type"] for r in received]


class Switch:
    """A subscriber's answer: 500 while off, 204 once turned on (the integrator fixed it)."""

    def __init__(self):
        self.on = False

    def __call__(self, n, body):
        return 204 if self.on else 500


def test_deliveries_are_listed_by_state(client, admin, place_order):
    answers = {}
    with Subscriber(lambda n, body: answers.get(json.loads(body)["id"], 204)) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        delivered, failing = place_order(), place_order()
        [failing_event] = Event.select().where(Event.order == failing["id"])
        answers[failing_event.uid] = 503
        settle(deliverer())
        pending = place_order()

    def listed(state):
        return [d["eventId"] for d in deliveries(client, admin, endpoint, f"?state={state}")]

    def event_of(order):
        return Event.get(Event.order == order["id"]).uid

    assert listed("delivered") == [event_of(delivered)]
    assert listed("failed") == [event_of(failing)]
    assert listed("pending") == [event_of(pending)]
    paged = client.get(
        f"/webhook-endpoints/{endpoint['id']}/deliveries?state=pending&limit=1", headers=admin
    )
    assert "Link" not in paged.headers
    bad = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries?state=lost", headers=admin)
    assert bad.status_code == 400 and bad.get_json()["message"]


def test_the_state_filter_reads_an_index(app, client, admin):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    with app.test_request_context():
        query = deliveries_of(endpoint["id"], "failed").order_by(Delivery.id.desc()).limit(21)
        sql, params = query.sql()
    with db.atomic():
        if is_sqlite():
            plan = " ".join(str(row) for row in db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params))
        else:
            db.execute_sql("SET LOCAL enable_seqscan = off")
            plan = " ".join(row[0] for row in db.execute_sql(f"EXPLAIN {sql}", params))
    assert "delivery_endpoint_id_state_id" in plan, plan


def test_a_failed_delivery_retried_is_sent_again_with_the_same_webhook_id(
    client, admin, place_order
):
    fixed = Switch()
    with Subscriber(fixed) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())
        [failed] = deliveries(client, admin, endpoint)
        assert failed["state"] == "failed"
        fixed.on = True

        response = retry(client, admin, endpoint, failed)

        assert response.status_code == 202
        queued = response.get_json()
        assert {**queued, "nextAttemptAt": None} == {**failed, "state": "pending"}
        assert queued["nextAttemptAt"] <= utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        settle(deliverer())

    [delivered] = deliveries(client, admin, endpoint)
    assert (delivered["state"], delivered["attempts"]) == ("delivered", len(SCHEDULE) + 2)
    assert subscriber.ids() == [failed["eventId"]] * (len(SCHEDULE) + 2)
    subscriber.received[-1].verified(endpoint["secret"])


def test_a_delivered_delivery_retried_is_sent_again_with_the_same_webhook_id(
    client, admin, place_order
):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())
        [delivered] = deliveries(client, admin, endpoint)

        response = retry(client, admin, endpoint, delivered)

        assert response.status_code == 202
        assert (response.get_json()["state"], response.get_json()["deliveredAt"]) == (
            "pending",
            None,
        )
        settle(deliverer())

    assert subscriber.ids() == [delivered["eventId"]] * 2
    for received in subscriber.received:
        received.verified(endpoint["secret"])
    [again] = deliveries(client, admin, endpoint)
    assert (again["state"], again["attempts"]) == ("delivered", 2)


def test_a_retried_delivery_gets_the_whole_retry_schedule_again(client, admin, place_order):
    with Subscriber(lambda n, body: 500) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())
        [failed] = deliveries(client, admin, endpoint)

        retry(client, admin, endpoint, failed)
        settle(deliverer())

    [failed_again] = deliveries(client, admin, endpoint)
    assert failed_again["state"] == "failed"
    assert failed_again["attempts"] == len(subscriber.received) == 2 * (len(SCHEDULE) + 1)


def test_a_pending_delivery_retried_is_due_now(client, admin, place_order):
    with Subscriber(lambda n, body: 500 if n == 0 else 204) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        hourly = deliverer(schedule=(datetime.timedelta(hours=1),))
        hourly.run(once=True)
        [waiting] = deliveries(client, admin, endpoint)
        assert waiting["nextAttemptAt"] > utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")

        assert retry(client, admin, endpoint, waiting).status_code == 202
        hourly.run(once=True)

    assert len(subscriber.received) == 2
    assert deliveries(client, admin, endpoint)[0]["state"] == "delivered"


def test_a_retry_never_makes_a_second_attempt_of_a_delivery_in_flight(client, admin, place_order):
    endpoint = subscribe(client, admin, "http://127.0.0.1:9/hook")
    place_order()
    [in_flight] = claim(1, datetime.timedelta(minutes=1))
    [listed] = deliveries(client, admin, endpoint)

    response = retry(client, admin, endpoint, listed)

    assert response.status_code == 202
    assert response.get_json() == listed  # its attempt under way is the one asked for
    assert claim(1, datetime.timedelta(minutes=1)) == []
    answered = Outcome(utcnow(), 5, 204, None, "")
    assert record_result(in_flight, answered, SCHEDULE) == "delivered"


def test_retried_deliveries_of_one_order_are_sent_in_version_order(client, admin, place_order):
    fixed = Switch()

    def answer(n, body):
        return fixed(n, body) if json.loads(body)["type"] == "order.created" else 204

    with Subscriber(answer) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        order = place_order()
        settle(deliverer())  # order.created fails, so order.paid, written after, gets through
        change(client, admin, order["id"], "paid")
        settle(deliverer())
        paid, created = deliveries(client, admin, endpoint)
        assert (paid["state"], created["state"]) == ("delivered", "failed")
        del subscriber.received[:]
        fixed.on = True

        retry(client, admin, endpoint, paid)
        retry(client, admin, endpoint, created)
        settle(deliverer())

    assert types_of(subscriber.received) == ["order.created", "order.paid"]


def test_replay_queues_exactly_the_endpoints_events_since_then_in_version_order(
    client, admin, place_order
):
    with Subscriber() as subscriber, Subscriber() as bystander:
        endpoint = subscribe(client, admin, subscriber.url, events=["order.created", "order.paid"])
        other = subscribe(client, admin, bystander.url)
        before = place_order()
        Event.update(created_at=WEEK_AGO).execute()
        since = (WEEK_AGO + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        order = place_order()
        for status in ("paid", "shipped"):
            change(client, admin, order["id"], status)
        url = f"/webhook-endpoints/{endpoint['id']}"
        client.patch(url, json={"enabled": False}, headers=admin)
        unsent = place_order()  # never queued for the endpoint: it was disabled
        client.patch(url, json={"enabled": True}, headers=admin)
        settle(deliverer())
        sent_before = len(bystander.received)
        del subscriber.received[:]

        response = replay(client, admin, endpoint, since)

        assert response.status_code == 202
        assert response.get_json() == {"count": 3}
        settle(deliverer())

    by_order = {}
    for received in subscriber.received:
        event = json.loads(received.body)
        by_order.setdefault(event["data"]["order"]["id"], []).append(event["type"])
    assert by_order == {
        order["id"]: ["order.created", "order.paid"],
        unsent["id"]: ["order.created"],
    }
    assert before["id"] not in by_order
    assert len(bystander.received) == sent_before
    assert len(deliveries(client, admin, other)) == sent_before
    assert {d["state"] for d in deliveries(client, admin, endpoint)} == {"delivered"}


def test_replay_since_a_time_to_come_queues_nothing(client, admin, place_order):
    endpoint = subscribe(client, admin, "http://127.0.0.1:9/hook")
    place_order()

    response = replay(client, admin, endpoint, "2999-01-01T00:00:00+02:00")

    assert response.status_code == 202
    assert response.get_json() == {"count": 0}


def test_a_disabled_endpoints_replay_waits_until_it_is_enabled(client, admin, place_order):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url, enabled=False)
        place_order()

        assert replay(client, admin, endpoint, "2000-01-01T00:00:00Z").get_json() == {"count": 1}
        settle(deliverer())
        [held] = deliveries(client, admin, endpoint)
        assert (held["state"], held["nextAttemptAt"], subscriber.received) == ("pending", None, [])

        client.patch(f"/webhook-endpoints/{endpoint['id']}", json={"enabled": True}, headers=admin)
        settle(deliverer())

    assert len(subscriber.received) == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"since": "2026-01-01T00:00:00"},  # no offset: which day is that?
        {"since": "yesterday"},
        {"since": 1767225600},
        {"since": "0001-01-01T00:00:00+01:00"},  # before the calendar starts, in UTC
        {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
    ],
)
def test_a_bad_replay_is_a_400(client, admin, body):
    endpoint = subscribe(client, admin, "http://127.0.0.1:9/hook")

    response = client.post(f"/webhook-endpoints/{endpoint['id']}/replay", json=body, headers=admin)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"]


def test_unknown_endpoints_and_deliveries_are_404s(client, admin, place_order):
    first = subscribe(client, admin, "http://127.0.0.1:9/first")
    second = subscribe(client, admin, "http://127.0.0.1:9/second")
    place_order()
    [delivery] = deliveries(client, admin, first)
    paths = [
        f"/webhook-endpoints/{second['id']}/deliveries/{delivery['id']}",  # another's
        f"/webhook-endpoints/{first['id']}/deliveries/{delivery['id'] + 1}",
        f"/webhook-endpoints/99/deliveries/{delivery['id']}",
    ]

    for path in paths:
        assert client.post(f"{path}/retry", headers=admin).status_code == 404
        assert client.get(f"{path}/attempts", headers=admin).status_code == 404
    since = {"since": "2026-01-01T00:00:00Z"}
    assert client.post("/webhook-endpoints/99/replay", json=since, headers=admin).status_code == 404
    assert Delivery.get_by_id(delivery["id"]).attempts == 0


def test_only_admins_may_retry_replay_or_read_attempts(client, admin, customer, place_order):
    endpoint = subscribe(client, admin, "http://127.0.0.1:9/hook")
    place_order()
    [delivery] = deliveries(client, admin, endpoint)
    base = f"/webhook-endpoints/{endpoint['id']}"
    calls = [
        ("post", f"{base}/deliveries/{delivery['id']}/retry", None),
        ("get", f"{base}/deliveries/{delivery['id']}/attempts", None),
        ("get", f"{base}/deliveries?state=pending", None),
        ("post", f"{base}/replay", {"since": "2026-01-01T00:00:00Z"}),
    ]

    for method, path, body in calls:
        assert getattr(client, method)(path, json=body, headers=customer).status_code == 403
        assert getattr(client, method)(path, json=body).status_code == 401
    assert Delivery.get_by_id(delivery["id"]).next_attempt_at is not None
