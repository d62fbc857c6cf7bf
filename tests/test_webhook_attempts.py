"""A delivery's attempts (admins): when, how long, the status or the error, and the first KiB of
what the endpoint answered, however large, slow, binary or badly framed that answer is."""

import datetime
import itertools
import time

import pytest

from orders_service.database import utcnow
from orders_service.events.claims import Outcome, claim, record_result
from orders_service.events.models import Delivery, DeliveryAttempt, Event
from tests.servers import free_port
from tests.subscriber import Subscriber
from tests.webhooks import (
    SCHEDULE,
    attempts,
    deliver_once,
    deliverer,
    deliveries,
    settle,
    subscribe,
)

MIB = 1024 * 1024


def test_each_attempt_is_kept_newest_first_with_its_status_duration_error_and_answer(
    client, admin, place_order
):
    answers = {0: (500, b'{"error": "down for maintenance"}'), 1: ("hang", 1.5)}
    with Subscriber(lambda n, body: answers.get(n, (200, b"thanks"))) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        before = utcnow().replace(microsecond=0)
        settle(deliverer(timeout=1.0))

    [delivery] = deliveries(client, admin, endpoint)
    delivered, timed_out, refused = attempts(client, admin, endpoint, delivery)
    assert (delivery["state"], delivery["attempts"]) == ("delivered", 3)
    assert delivered | {"at": None, "durationMs": None, "id": None} == {
        "id": None,
        "at": None,
        "status": 200,
        "durationMs": None,
        "error": None,
        "responseBody": "thanks",
    }
    assert (timed_out["status"], timed_out["error"]) == (None, "timed out after 1s")
    assert timed_out["responseBody"] is None
    assert 1000 <= timed_out["durationMs"] < 3000
    assert (refused["status"], refused["error"]) == (500, "HTTP 500")
    assert refused["responseBody"] == '{"error": "down for maintenance"}'
    assert 0 <= refused["durationMs"] < 1000
    moments = [attempt["at"] for attempt in (delivered, timed_out, refused)]
    assert moments == sorted(moments, reverse=True)
    assert all(moment.endswith("Z") for moment in moments)
    assert datetime.datetime.fromisoformat(moments[-1][:-1]) >= before


def test_an_unreachable_endpoints_attempts_have_no_status_and_no_answer(client, admin, place_order):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")
    place_order()

    settle(deliverer())

    [delivery] = deliveries(client, admin, endpoint)
    logged = attempts(client, admin, endpoint, delivery)
    assert len(logged) == len(SCHEDULE) + 1 == delivery["attempts"]
    for attempt in logged:
        assert attempt["status"] is None and attempt["responseBody"] is None
        assert "Connection" in attempt["error"]


def test_attempts_are_paged_newest_first(client, admin, place_order):
    with Subscriber(lambda n, body: 503) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())
    [delivery] = deliveries(client, admin, endpoint)
    every = attempts(client, admin, endpoint, delivery)

    url = f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/attempts?limit=2"
    first = client.get(url, headers=admin)
    rest = client.get(f"{url}&starting_after={first.get_json()[-1]['id']}", headers=admin)

    assert [a["id"] for a in every] == sorted((a["id"] for a in every), reverse=True)
    assert first.get_json() + rest.get_json() == every
    assert f"starting_after={every[1]['id']}" in first.headers["Link"]


def drip(piece, every, pieces=20):
    """`piece` every `every` seconds, for 8 s: long past any deadline here, yet an end (a
    deliverer that never cuts the attempt fails the test instead of hanging it)."""
    for _ in range(pieces):
        time.sleep(every)
        yield piece


ENDLESS = itertools.repeat(b"z" * 65536)
BINARY = bytes(range(256))
HOSTILE = {
    "5 MiB of binary": (
        (200, BINARY * (5 * MIB // 256)),
        (BINARY * 4).decode("utf-8", "replace").replace("\x00", "\ufffd"),
    ),
    "invalid UTF-8 and a NUL with an error status": (
        (500, b"\xff\xfeno\x00way\xc3"),
        "\ufffd\ufffdno\ufffdway\ufffd",
    ),
    "a character cut at the KiB's end": ((200, b"a" * 1023 + "é".encode() * 10), "a" * 1023),
    "a body dripped past the deadline": (
        ("raw", b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", drip(b"d", 0.4)),
        "d",
    ),
    "a body dripped past the deadline, the connection to close after it": (
        ("raw", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", drip(b"c", 0.4)),
        "c",
    ),
    "an endless body": (("raw", b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", ENDLESS), "z"),
    "an endless body under a negative chunk size": (
        ("raw", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", ENDLESS),
        "z",
    ),
}


@pytest.mark.parametrize("answer, kept", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_answer_keeps_its_first_kib_as_text_within_the_deadline(
    client, admin, place_order, answer, kept
):
    endpoint, delivery, took, _ = deliver_once(client, admin, place_order, answer, timeout=2.0)

    [attempt] = attempts(client, admin, endpoint, delivery)
    status = answer[0] if isinstance(answer[0], int) else 200
    assert (attempt["status"], delivery["state"]) == (
        status,
        "delivered" if status == 200 else "pending",
    )
    assert attempt["error"] == (None if status == 200 else f"HTTP {status}")
    body = attempt["responseBody"]
    if len(kept) == 1:  # a stream of it: as much as came, at most the KiB
        assert 0 < len(body) <= 1024 and set(body) == {kept}, body[:50]
    else:
        assert body == kept
    assert took < 3.5  # the dripped one ends at its 2 s deadline; the others at once


@pytest.mark.parametrize(
    "answer", ["an endless body", "an endless body under a negative chunk size"]
)
def test_no_more_than_the_first_kib_of_an_endless_answer_is_read(
    client, admin, place_order, answer
):
    endpoint, delivery, took, _ = deliver_once(
        client, admin, place_order, HOSTILE[answer][0], timeout=5.0
    )

    assert attempts(client, admin, endpoint, delivery)[0]["responseBody"] == "z" * 1024
    assert took < 2.5  # not read on until the 5 s deadline


@pytest.fixture
def claimed(client, admin, place_order):
    subscribe(client, admin, "http://127.0.0.1:9/never-called")
    place_order()
    [delivery] = claim(1, datetime.timedelta(minutes=1))
    return delivery


def test_a_result_and_its_attempt_are_stored_together_or_not_at_all(claimed, monkeypatch):
    def refused(**row):
        raise RuntimeError("the attempt cannot be written")

    monkeypatch.setattr(DeliveryAttempt, "create", refused)
    with pytest.raises(RuntimeError):
        record_result(claimed, Outcome(utcnow(), 3, 204, None, ""), SCHEDULE)

    stored = Delivery.get_by_id(claimed.id)
    assert (stored.state, stored.claim, stored.last_status) == ("pending", claimed.claim, None)


def test_a_lapsed_claims_late_result_keeps_no_attempt(claimed):
    [again] = claim(1, datetime.timedelta(minutes=1)) or [None]
    assert again is None  # still claimed: the lease is a minute
    Delivery.update(claim="someone-else").where(Delivery.id == claimed.id).execute()

    assert record_result(claimed, Outcome(utcnow(), 3, 204, None, ""), SCHEDULE) is None
    assert DeliveryAttempt.select().count() == 0


def test_attempts_go_with_their_delivery_when_db_prune_removes_its_event(
    client, admin, runner, place_order
):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())
    assert DeliveryAttempt.select().count() == 1
    Event.update(created_at=utcnow() - datetime.timedelta(days=31)).execute()

    result = runner.invoke(args=["db", "prune"])

    assert "order events: 1 deleted." in result.output, result.output
    assert DeliveryAttempt.select().count() == Delivery.select().count() == 0
    assert client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).status_code == 200


def test_attempts_go_with_their_endpoint(client, admin, place_order):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        settle(deliverer())

    client.delete(f"/webhook-endpoints/{endpoint['id']}", headers=admin)

    assert DeliveryAttempt.select().count() == 0
