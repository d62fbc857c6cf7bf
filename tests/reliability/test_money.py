"""Money under the live service: key retries racing `orders expire` while Stripe is slow."""

import datetime
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_service.orders.models import IdempotencyKey, Order
from tests.reliability.conftest import stripe_env
from tests.reliability.stored import missing_or_incomplete
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.reliability

PAIRS = 16
STRIPE_DELAY = 0.4  # every Stripe answer; expire's cancels spread its run over seconds
NOT_PENDING = "before its payment was set up"


def expire(pg_url, fake):
    """`orders expire` as cron runs it: its own process, on the same database and Stripe."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "orders", "expire", "--older-than", "1h"],
        cwd=ROOT,
        env=server_env(pg_url, **stripe_env(fake)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_key_retries_racing_orders_expire_leave_no_canceled_order_payable(
    live, pg_url, fake_stripe, tokens, check
):
    app, client = live(pg_url, WEB_CONCURRENCY=2)

    def create(key):
        headers = {**tokens["customer"], "Idempotency-Key": key}
        return client.post("/orders/new", json=["3"], headers=headers)

    # Set-up orders between the failed ones: expire's Stripe cancel of each spreads its run,
    # so the retries land before, during and after it reaches their orders.
    check.expected_5xx = frozenset({502})
    keys = [f"race-{i}" for i in range(PAIRS)]
    for key in keys:
        assert create(f"ok-{key}").status_code == 201
        fake_stripe.mode = "fail"
        assert create(key).status_code == 502
        fake_stripe.mode = None
    check.expected_5xx = frozenset()
    with app.app_context():
        Order.update(created_at=Order.created_at - datetime.timedelta(days=1)).execute()
        raced = {
            k.key: k.order_id for k in IdempotencyKey.select().where(IdempotencyKey.key.in_(keys))
        }
    fake_stripe.delay_seconds = STRIPE_DELAY

    cron = expire(pg_url, fake_stripe)
    first_line = cron.stdout.readline()  # expire has read the stale orders and canceled one
    # Spread over about the time expire takes, so some retries lead it, some meet it mid-call
    # and some come after; which does which varies with the machine's load.
    starts = [random.Random(i).uniform(0, PAIRS * 1.5 * STRIPE_DELAY) for i in range(PAIRS)]

    def retry(i):
        time.sleep(starts[i])
        return create(keys[i])

    with ThreadPoolExecutor(max_workers=PAIRS) as pool:
        replies = list(pool.map(retry, range(PAIRS)))
    output = first_line + cron.communicate(timeout=120)[0]
    assert cron.returncode == 0, output

    intents = {}
    for intent in fake_stripe.created_intents():
        intents.setdefault(int(intent["metadata"]["order_id"]), []).append(intent)
    first, overtaken, late = [], [], []
    for key, reply in zip(keys, replies, strict=True):
        body = reply.get_json()
        if reply.status_code == 201 and body["status"] == "pending":
            first.append(body)
        elif reply.status_code == 409 and NOT_PENDING in body["message"]:
            (overtaken if raced[key] in intents else late).append(key)
        else:
            check.fail(f"{key}: {reply.status_code} {body}", status=reply.status_code)
    with app.app_context():
        check.lost = len(missing_or_incomplete(first))
        for key, order_id in raced.items():
            order = Order.get_by_id(order_id)
            payable = [i["id"] for i in intents.get(order_id, []) if i["status"] != "canceled"]
            if order.status != "canceled" or payable:
                check.fail(f"{key}: order {order.status}, payable intents {payable}")
            if len(intents.get(order_id, [])) > 1:
                check.fail(f"{key}: {len(intents[order_id])} intents", kind="duplicates")
    check.notes.append(
        f"retries: {len(first)} set up payment first (201; expire canceled order and intent), "
        f"{len(overtaken)} overtaken mid-call (409; intent canceled), {len(late)} after expire "
        "(409; no intent)"
    )
    assert (check.failures, check.lost) == (0, 0), [*check.notes, output]
