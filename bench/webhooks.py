"""Scenario 6: order events as webhooks to a loopback subscriber that answers at once.

Throughput: events written while no deliverer runs, then one deliverer sends them all
(deliveries a second, first receipt to last). Latency: with that deliverer idle, one status
change at a time, from its commit to the subscriber's receipt (p50, p99).
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orders_service import create_app
from orders_service.database import db
from orders_service.events.models import Delivery, Event
from orders_service.events.service import create_endpoint
from orders_service.orders.lifecycle import apply_transition
from tests.servers import ROOT, server_env
from tests.subscriber import Subscriber

from . import data

CONCURRENCY = 16
ORDERS = 1_000  # seeded, all pending: data.seed_orders numbers them from 1
# Each seeded order (pending) goes through these, one event each; an order's second event
# waits for its first, as every endpoint gets an order's events in version order.
MOVES = ("paid", "shipped", "completed", "refunded")


def _wait(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench webhooks: {what} not done in {seconds} s")
        time.sleep(0.01)


def _start_deliverer(database_url, log_dir):
    env = server_env(database_url, WEBHOOK_TIMEOUT_SECONDS="5")
    with open(Path(log_dir) / "deliverer.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "events", "deliver",
             "--concurrency", str(CONCURRENCY)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _row(key, label, target="reported", **figures):
    return {"key": key, "scenario": label, "connections": CONCURRENCY, "ratio": "",
            "target": target, "met": None, **figures}  # fmt: skip


def run(database_url, order_ids, log_dir, events=2000, samples=50):
    """Both figures as rows of the bench's table, on a database seeded with `order_ids`."""
    # The subscriber is on loopback, a private target the service refuses unless told.
    app = create_app({"DATABASE_URL": database_url, "APP_ENV": "development",
                      "PAYMENT_PROVIDER": "local",
                      "WEBHOOK_ALLOW_PRIVATE_TARGETS": True})  # fmt: skip
    moves = [(order_id, move) for move in MOVES for order_id in order_ids]
    with Subscriber() as subscriber, app.app_context():
        create_endpoint({"url": subscriber.url, "events": ["*"]})
        for order_id, move in moves[:events]:
            apply_transition(order_id, move, "system")
        db.close()
        deliverer = _start_deliverer(database_url, log_dir)
        try:
            _wait(lambda: len(subscriber.received) >= events, 600, f"{events} deliveries")
            first, last = subscriber.received[0].at, subscriber.received[-1].at
            latencies = []
            for order_id, move in moves[events : events + samples]:
                time.sleep(0.2)  # the deliverer is idle again: it must be woken
                before = len(subscriber.received)
                apply_transition(order_id, move, "system")
                committed = time.monotonic()
                db.close()
                _wait(lambda n=before: len(subscriber.received) > n, 30, "a delivery")
                latencies.append((subscriber.received[before].at - committed) * 1000)
        finally:
            deliverer.send_signal(signal.SIGTERM)
            deliverer.wait(30)
        failed = Delivery.select().where(Delivery.state != "delivered").count()
        stored = Event.select().count()
        db.close()
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return [
        _row(
            "6-throughput",
            f"6 webhooks: {events:,} events, one deliverer",
            rps=round(events / (last - first), 1) if last > first else 0.0,
            errors=failed,
            note=f"6: {stored:,} events stored; {len(subscriber.received):,} deliveries received "
            f"(rps = deliveries a second, first to last)",
        ),
        _row(
            "6-latency",
            f"6 webhooks: commit to receipt, idle deliverer ({len(latencies)} events)",
            p50_ms=round(statistics.median(latencies), 1),
            p99_ms=round(percentiles[98], 1),
            errors=0,
        ),
    ]


def main(argv=None):
    """This scenario alone: python -m bench.webhooks [--database-url URL] [--events N]."""
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args(argv)
    url = data.reset(args.database_url or data.DEFAULT_URL)
    data.seed_orders(url, ORDERS)
    logs = tempfile.mkdtemp(prefix="orders-bench-")
    for row in run(url, range(1, ORDERS + 1), logs, args.events, args.samples):
        print(row)


if __name__ == "__main__":
    raise SystemExit(main())
