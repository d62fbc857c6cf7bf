"""Money under the live service: key retries racing `orders expire` while Stripe is slow, and
key retries while PostgreSQL holds rows past the key lease and Stripe keeps 500s."""

import datetime
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import psycopg
import pytest
from peewee import fn

from orders_service.events.models import Event
from orders_service.orders.models import IdempotencyKey, Order, OrderLine
from orders_service.products.models import Product
from tests.conftest import JWT_SECRET, bearer
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


KEYS = 40
UNITS = 30  # of the tracked product each order takes one of: ten keys find it sold out
CLIENTS = 8
HOLD_SECONDS = 70  # past the key lease (60 s): a waiting first request must not be taken over
SOLD_OUT = "Not enough stock"


def hold_rows(pg_url, seconds, held):
    """What a long migration or a stuck transaction does: lock the tracked products' rows."""
    with psycopg.connect(pg_url) as connection:
        connection.execute("SELECT id FROM product WHERE stock IS NOT NULL FOR UPDATE")
        held.set()
        time.sleep(seconds)


def saved_500s(share, seed=7):
    """Stripe's answer to `share` of the POSTs: a 500 it keeps under the key, half of them after
    doing the work (an intent made, a cancel or refund done) and half before."""
    rng, lock = random.Random(seed), threading.Lock()

    def fail_when(method, path):
        with lock:
            if method == "POST" and rng.random() < share:
                return rng.choice(["before", "after"])
        return None

    return fail_when


def test_key_retries_while_product_rows_are_locked_past_the_lease_and_stripe_keeps_500s(
    live, pg_url, fake_stripe, check
):
    app, client = live(pg_url, WEB_CONCURRENCY=2)
    client.timeout = 5  # clients give up on a stuck request and retry, as storefronts do
    with app.app_context():
        Product.update(stock=UNITS).where(Product.id == 9).execute()
    customers = {
        i: bearer(SimpleNamespace(config={"JWT_SECRET": JWT_SECRET}), 100 + i) for i in range(KEYS)
    }
    fake_stripe.fail_when = saved_500s(0.1)
    check.expected_5xx = frozenset({502})  # the 500s Stripe keeps, each retried
    outcomes, timeouts = {}, []

    deadline = time.monotonic() + HOLD_SECONDS + 120

    def create(i):
        headers = {**customers[i], "Idempotency-Key": f"held-{i}"}
        while time.monotonic() < deadline:
            try:
                reply = client.post("/orders/new", json=["9", "3"], headers=headers)
            except OSError:
                timeouts.append(i)
                continue
            body = reply.get_json()
            if reply.status_code == 201 or (
                reply.status_code == 409 and SOLD_OUT in body["message"]
            ):
                return reply.status_code, body
            if reply.status_code not in (409, 502):
                check.fail(f"key {i}: {reply.status_code} {body}", status=reply.status_code)
                return reply.status_code, body
            time.sleep(0.2)  # in progress, or Stripe failed: the storefront retries
        check.fail(f"key {i}: no answer but 409s and 502s for {HOLD_SECONDS + 120} s")
        return None, {}

    def storefront(n):
        for i in random.Random(n).sample(range(KEYS), KEYS):
            outcomes.setdefault(i, []).append(create(i))
            if time.monotonic() > deadline:
                return

    held = threading.Event()
    holder = threading.Thread(target=hold_rows, args=(pg_url, HOLD_SECONDS, held))
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        clients = [pool.submit(storefront, n) for n in range(CLIENTS)]
        time.sleep(1)
        holder.start()
        held.wait(30)
        for done in clients:
            done.result()
    holder.join()

    with app.app_context():
        _check_held_keys(check, fake_stripe, outcomes)
    check.notes.append(
        f"{KEYS} keys by {CLIENTS} storefronts, rows held {HOLD_SECONDS} s: "
        f"{sum(any(s == 201 for s, _ in o) for o in outcomes.values())} keys with an order, "
        f"{len(timeouts)} client time-outs retried, "
        f"{sum(1 for r in fake_stripe.requests if r.method == 'POST')} Stripe POSTs"
    )
    assert (check.failures, check.lost) == (0, 0), check.notes


def _check_held_keys(check, fake_stripe, outcomes):
    """Every key one order (the same for every client), every visible order one intent and one
    order.created, the stock what visible orders hold, none oversold."""
    intents = {}
    for intent in fake_stripe.created_intents():
        intents.setdefault(int(intent["metadata"]["order_id"]), []).append(intent)
    for i, answers in outcomes.items():
        # A key may find the product sold out, then take units a failed set-up gave back.
        if len({body["id"] for status, body in answers if status == 201}) > 1:
            check.fail(f"key {i}: two orders answered: {answers}", kind="duplicates")
    for key in IdempotencyKey.select():
        if Order.select().where(Order.user_id == key.user_id).count() != 1:
            check.fail(f"key {key.key}: not one order", kind="duplicates")
    visible = list(Order.select().where(Order.client_secret.is_null(False)))
    for order in visible:
        made = intents.get(order.id, [])
        created = Event.select().where(Event.order == order.id, Event.type == "order.created")
        if len(made) != 1 or made[0]["id"] != order.payment_intent_id:
            check.fail(f"order {order.id}: intents {[i['id'] for i in made]}", kind="duplicates")
        if created.count() != 1:
            check.fail(f"order {order.id}: {created.count()} order.created", kind="duplicates")
    held = OrderLine.select(fn.SUM(OrderLine.stock_taken)).where(OrderLine.product == 9).scalar()
    in_visible = sum(line.stock_taken for o in visible for line in o.lines if line.product_id == 9)
    left = Product.get_by_id(9).stock
    if held != in_visible or left != UNITS - in_visible or left < 0:
        check.fail(f"stock {left}, held {held}, by visible orders {in_visible}")
    if in_visible > UNITS or len(visible) != in_visible:
        check.fail(f"{len(visible)} visible orders hold {in_visible} of {UNITS} units")
    check.notes.append(f"{len(visible)} visible orders hold {in_visible} of {UNITS} units")
