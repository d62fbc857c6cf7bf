"""`flask events deliver` as operations run it: --once, long-running and woken by a commit,
stopped by SIGTERM after its attempt in flight; and `db prune` removing old events."""

import datetime
import signal
import subprocess
import sys
import threading
import time

from orders_service.database import utcnow
from orders_service.events.deliver import Deliverer, Settings
from orders_service.events.models import Delivery, Event
from tests.servers import ROOT, server_env
from tests.subscriber import Subscriber


def subscribe(client, admin, url):
    response = client.post("/webhook-endpoints", json={"url": url}, headers=admin)
    assert response.status_code == 201
    return response.get_json()


def wait_for(condition, seconds=30):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_deliver_once_sends_what_is_due_and_exits(client, admin, runner, place_order):
    with Subscriber() as subscriber:
        subscribe(client, admin, subscriber.url)
        place_order()
        place_order()

        result = runner.invoke(args=["events", "deliver", "--once"])

    assert result.exit_code == 0, result.output
    assert "stopped after 2 attempts" in result.output
    assert len(subscriber.received) == 2
    assert {d.state for d in Delivery.select()} == {"delivered"}


def test_a_bad_retry_schedule_stops_the_deliverer_with_a_message(make_app, migrated):
    runner = make_app(WEBHOOK_RETRY_SCHEDULE="5s,soon").test_cli_runner()

    result = runner.invoke(args=["events", "deliver", "--once"])

    assert result.exit_code != 0
    assert "WEBHOOK_RETRY_SCHEDULE" in result.output


def test_an_idle_deliverer_sends_a_new_event_as_it_is_committed(
    client, admin, place_order, database_url
):
    settings = Settings(5.0, (datetime.timedelta(seconds=1),), allow_private_targets=True)
    worker = Deliverer(settings, database_url)
    with Subscriber() as subscriber:
        subscribe(client, admin, subscriber.url)
        running = threading.Thread(target=worker.run)
        running.start()
        try:
            time.sleep(1.5)  # idle: nothing to deliver yet
            committed = time.monotonic()
            place_order()
            wait_for(lambda: subscriber.received)
        finally:
            worker.stop()
            running.join(30)

    assert not running.is_alive()
    # The SPEC's second, from before the order's request (so its own time counts too), with
    # half a second for a loaded machine.
    assert subscriber.received[0].at - committed < 1.5


def test_sigterm_stops_the_deliverer_after_its_attempt_in_flight(
    client, admin, place_order, database_url, tmp_path
):
    log_path = tmp_path / "deliver.log"
    with Subscriber(lambda n, body: ("hang", 2)) as subscriber, open(log_path, "wb") as log:
        subscribe(client, admin, subscriber.url)
        place_order()
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "events", "deliver"],
            cwd=ROOT,
            env=server_env(database_url, WEBHOOK_TIMEOUT_SECONDS="10"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: subscriber.received)
            process.send_signal(signal.SIGTERM)
            code = process.wait(30)
        finally:
            process.kill()

    output = log_path.read_text()
    assert code == 0, output
    assert "stopped after 1 attempts" in output
    [delivery] = Delivery.select()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)


def test_db_prune_removes_events_and_their_deliveries_past_retention_only(
    client, admin, runner, place_order
):
    subscribe(client, admin, "http://127.0.0.1:9/hook")
    old, recent = place_order(), place_order()
    Event.update(created_at=utcnow() - datetime.timedelta(days=31)).where(
        Event.order == old["id"]
    ).execute()
    # Sent for good (a pending delivery keeps its event: see test_prune.py).
    Delivery.update(state="delivered").where(Delivery.order_id == old["id"]).execute()

    first = runner.invoke(args=["db", "prune"])
    again = runner.invoke(args=["db", "prune"])

    assert "order events: 1 deleted." in first.output, first.output
    assert "order events: 0 deleted." in again.output
    assert [e.order_id for e in Event.select()] == [recent["id"]]
    assert [d.order_id for d in Delivery.select()] == [recent["id"]]
