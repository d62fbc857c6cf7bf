"""Manual capture under the live service: buyers' cards are held at checkout, and staff on two
instances send the goods in random parcels, the first of which captures the payment, while
Stripe sends every event twice, shuffled (some holds reach the service after staff tried)."""

import collections
import json
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from orders_service.events.models import Event
from orders_service.orders.models import Fulfillment, Order, OrderHistory, OrderLine
from orders_service.payments.models import PaymentEvent
from tests.conftest import JWT_SECRET, bearer
from tests.reliability.stripe_webhooks import Redelivering

pytestmark = pytest.mark.reliability

ORDERS = 200
STAFF = 10
FIRST_BUYER = 1000  # the customers' user ids: FIRST_BUYER + i
SIGNER = SimpleNamespace(config={"JWT_SECRET": JWT_SECRET})  # signs the customers' tokens
# Staff work the queue from its top: the oldest orders not yet shipped, this many at once, so
# that several staff often hold one order.
QUEUE_TOP = 12
DEADLINE_SECONDS = 120  # every order shipped by then, or the row fails
# Untracked products (the stock is not what this row is about), a few units of each.
PRODUCTS = (1, 2, 3, 4, 5, 6, 7, 8)
# The life of every order, and nothing else: the hold, its capture, the goods gone.
LIFE = [(None, "pending"), ("pending", "authorized"), ("authorized", "paid"), ("paid", "shipped")]
# The 409s this row expects, by kind: the text that tells each (a real back office retries).
EXPECTED_409 = {
    "pending": re.compile(r"An order that is pending (takes no fulfilment|cannot become shipped)"),
    "past a line": re.compile(r"More units than are left to send: product \d+: \d+ asked"),
    "nothing left": re.compile(r"Order \d+ has nothing left to send\."),
    "change in progress": re.compile(r"Another status change of order \d+ is in progress"),
    "key in progress": re.compile(r"A request with this Idempotency-Key is still in progress"),
}
RETRY_LATER = {"pending": 0.5, "change in progress": 1.0, "key in progress": 1.0}


class Stripe(Redelivering):
    """Buyers confirm their cards at checkout, in shuffled order over a few seconds (the hold:
    amount_capturable_updated); staff's captures send payment_intent.succeeded; every event
    is delivered twice, in shuffled batches."""

    def __init__(self, fake, client, check, intents):
        self.intents = intents
        super().__init__(fake, client, check, seed=23)

    def workers(self):
        return [self._buyers]

    def _buyers(self):
        waiting = list(self.intents)
        random.Random(24).shuffle(waiting)
        while waiting:
            for intent in waiting[:8]:
                self.fake.authorize(intent)
            waiting = waiting[8:]
            time.sleep(0.1)


class Board:
    """The back office's queue: orders not known to be shipped, oldest first, each skipped
    until its retry time after a 409 that says to come back later."""

    def __init__(self, orders, deadline):
        self.orders = list(orders)
        self.open = {order["id"] for order in orders}
        self.retry_at = {}
        self.deadline = deadline
        self._lock = threading.Lock()

    def next(self, rng):
        """An order from the top of the queue, or None once all are shipped (or time is up)."""
        while time.monotonic() < self.deadline:
            with self._lock:
                if not self.open:
                    return None
                top = [order for order in self.orders if order["id"] in self.open][:QUEUE_TOP]
                now = time.monotonic()
                ready = [order for order in top if self.retry_at.get(order["id"], 0) <= now]
            if ready:
                return rng.choice(ready)
            time.sleep(0.05)
        return None

    def later(self, order_id, seconds):
        with self._lock:
            self.retry_at[order_id] = time.monotonic() + seconds

    def shipped(self, order_id):
        with self._lock:
            self.open.discard(order_id)


class Staff:
    """One back-office client: reads an order (or goes by a stale view of it), then sends a
    parcel of random lines, everything left, more than is left, or moves it to shipped; with
    and without Idempotency-Keys, and now and then the same keyed request twice."""

    def __init__(self, n, client, headers, board, answers):
        self.n, self.client, self.headers = n, client, headers
        self.board, self.answers = board, answers
        self.rng = random.Random(n)
        self.sent = 0

    def run(self):
        while (order := self.board.next(self.rng)) is not None:
            self.sent += 1
            try:
                self._work(order)
            except OSError as error:  # no answer in the client's time
                self.answers.check.fail(f"order {order['id']}: {error!r}")

    def _work(self, order):
        view = order
        if self.rng.random() < 0.8:  # else its view is the order as it was created
            view = self.client.get(f"/orders/{order['id']}", headers=self.headers).get_json()
        if view["status"] == "shipped":
            self.board.shipped(order["id"])
            return
        if view["status"] == "pending" and view is not order and self.rng.random() < 0.8:
            self.board.later(order["id"], RETRY_LATER["pending"])  # its card not held yet
            return
        roll = self.rng.random()
        if roll < 0.1:
            self._ship(order)
        else:
            self._fulfil(order, self._body(view, roll))

    def _body(self, view, roll):
        left = left_to_send(view)
        body = {}
        if roll < 0.25:
            pass  # everything left
        elif roll < 0.35 or not any(left.values()):  # more than is left of one line
            product = self.rng.choice(list(left))
            body["lines"] = [
                {"productId": product, "quantity": left[product] + self.rng.randint(1, 2)}
            ]
        else:
            some = [p for p, units in left.items() if units]
            chosen = self.rng.sample(some, self.rng.randint(1, len(some)))
            body["lines"] = [
                {"productId": p, "quantity": self.rng.randint(1, left[p])} for p in chosen
            ]
        if self.rng.random() < 0.7:
            number = f"1Z{self.n:02d}{self.sent:06d}"
            body.update(
                carrier=self.rng.choice(["UPS", "DHL", "La Poste"]),
                trackingNumber=number,
                trackingUrl=f"https://track.example.com/{number}",
                notifyCustomer=self.rng.random() < 0.5,
            )
        return body

    def _fulfil(self, order, body):
        path = f"/orders/{order['id']}/fulfillments"
        headers = dict(self.headers)
        if self.rng.random() < 0.5:
            headers["Idempotency-Key"] = f"staff-{self.n}-{self.sent}"

        def send():
            self._note(order, "fulfil", self.client.post(path, json=body, headers=headers))

        repeat = self.rng.random() if "Idempotency-Key" in headers else 1
        if repeat < 0.15:  # the same request twice at once (a double click on two tabs)
            twin = threading.Thread(target=send)
            twin.start()
            send()
            twin.join()
        else:
            send()
            if repeat < 0.35:  # and again once answered (a retry after a lost answer)
                send()

    def _ship(self, order):
        move = {"orderId": order["id"], "status": "shipped"}
        reply = self.client.post("/orders/status-update", json=move, headers=self.headers)
        self._note(order, "ship", reply)
        if reply.status_code == 200:
            self.board.shipped(order["id"])

    def _note(self, order, what, reply):
        kind = answer_kind(reply)
        self.answers.record(what, order["id"], reply, kind)
        if kind in RETRY_LATER:
            self.board.later(order["id"], RETRY_LATER[kind])


class Answers:
    """Every answer the staff got, by kind, and what each Idempotency-Key was answered."""

    def __init__(self, check):
        self.check = check
        self.kinds = collections.Counter()
        self.by_key = collections.defaultdict(list)
        self.made = []  # the 201 bodies
        self._lock = threading.Lock()

    def record(self, what, order_id, reply, kind):
        with self._lock:
            self.kinds[(what, kind)] += 1
            key = reply.request_key
            if key:
                self.by_key[key].append(reply)
            if reply.status_code == 201:
                self.made.append(reply.get_json())
        if kind == "unexpected":
            self.check.fail(
                f"{what} of order {order_id}: {reply.status_code} {reply.data!r}",
                status=reply.status_code,
            )
        elif kind in RETRY_LATER and kind != "pending" and reply.headers.get("Retry-After") != "1":
            self.check.fail(f"{what} of order {order_id}: {kind} without Retry-After: 1")

    def count(self, kind):
        return sum(n for (_, k), n in self.kinds.items() if k == kind)


def answer_kind(reply):
    """made, replayed, shipped (a status-update's 200), one of EXPECTED_409, or unexpected."""
    if reply.status_code == 201:
        return "replayed" if reply.headers.get("Idempotent-Replayed") == "true" else "made"
    if reply.status_code == 200 and (reply.get_json() or {}).get("status") == "shipped":
        return "shipped"
    if reply.status_code == 409:
        message = (reply.get_json() or {}).get("message", "")
        for kind, pattern in EXPECTED_409.items():
            if pattern.search(message):
                return kind
    return "unexpected"


def left_to_send(view):
    """{product id: units left} as an order body shows them (this row refunds nothing; a line
    sent past what was bought, which the checks at the end report, shows 0 left)."""
    left = {line["id"]: line["quantity"] for line in view["products"]}
    for parcel in view["fulfillments"]:
        for line in parcel["lines"]:
            left[line["productId"]] -= line["quantity"]
    return {product: max(0, units) for product, units in left.items()}


class KeyedClient:
    """The live client, its answers marked with the Idempotency-Key they were sent with."""

    def __init__(self, client):
        self.client = client

    def get(self, path, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path, headers=None, **kwargs):
        reply = self.client.post(path, headers=headers, **kwargs)
        reply.request_key = (headers or {}).get("Idempotency-Key")
        return reply


def checkout(client, i):
    """Customer i's order of a few products, a few units each (its card not yet held)."""
    rng = random.Random(1000 + i)
    cart = [
        {"id": product, "quantity": rng.randint(1, 4)}
        for product in rng.sample(PRODUCTS, rng.randint(1, 3))
    ]
    headers = {
        **bearer(SIGNER, FIRST_BUYER + i),
        "Idempotency-Key": f"checkout-{i}",
    }
    reply = client.post("/orders/new", json=cart, headers=headers)
    assert reply.status_code == 201, reply.data
    return reply.get_json()


def test_staff_fulfilling_manual_capture_orders_on_two_instances_while_stripe_redelivers_twice(
    live, pg_url, fake_stripe, tokens, check
):
    started = time.monotonic()
    app, client = live(pg_url, count=2, WEB_CONCURRENCY=2, PAYMENT_CAPTURE="manual")
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = list(pool.map(lambda i: checkout(client, i), range(ORDERS)))
    intents = [order["paymentIntentId"] for order in orders]
    stripe = Stripe(fake_stripe, client, check, intents).start()
    board = Board(orders, time.monotonic() + DEADLINE_SECONDS)
    answers = Answers(check)
    staff = [Staff(n, KeyedClient(client), tokens["admin"], board, answers) for n in range(STAFF)]
    with ThreadPoolExecutor(max_workers=STAFF) as pool:
        for done in [pool.submit(member.run) for member in staff]:
            done.result()
    stripe.finish()
    if board.open:
        check.fail(f"{len(board.open)} orders not shipped in {DEADLINE_SECONDS}s", kind="other")

    with app.app_context():
        _check_captures(check, fake_stripe, orders)
        _check_fulfilments(check, answers)
        _check_histories(check, orders)
        _check_payment_events(check, fake_stripe)
    _check_keys(check, answers)
    made = answers.count("made")
    check.notes.append(
        f"{ORDERS} manual-capture orders, {STAFF} staff: {made} fulfilments made by POST, "
        f"{answers.count('replayed')} replayed, {answers.count('shipped')} status-updates to "
        f"shipped; 409s: "
        + ", ".join(f"{kind} {answers.count(kind)}" for kind in EXPECTED_409)
        + f"; {len(fake_stripe.calls('POST', r'/v1/payment_intents/[^/]+/capture'))} capture "
        f"requests; {time.monotonic() - started:.1f}s"
    )
    print("\n" + "\n".join(check.notes))
    assert check.failures == 0, check.notes


def _check_captures(check, fake, orders):
    """Each order's hold captured once at Stripe, in full, under the order's one capture key;
    nothing voided."""
    captured = collections.Counter(fake.captures)
    for order in orders:
        intent = order["paymentIntentId"]
        if captured.pop(intent, 0) != 1:
            check.fail(
                f"order {order['id']}: {fake.captures.count(intent)} captures", kind="duplicates"
            )
        charge = fake.charges[fake.intents[intent]["latest_charge"]]
        if charge["amount_captured"] != order["amountInCents"]:
            check.fail(f"order {order['id']}: {charge['amount_captured']} captured")
        key = f"order-{order['id']}-{Order.get_by_id(order['id']).payment_key}-capture"
        calls = fake.calls("POST", f"/v1/payment_intents/{intent}/capture")
        keys = [call.headers.get("idempotency-key") for call in calls]
        if set(keys) != {key}:
            check.fail(f"order {order['id']}: captures asked under {keys}, not {key} alone")
    if captured:
        check.fail(f"captures of intents of no order: {dict(captured)}")
    if fake.cancels:
        check.fail(f"holds voided: {fake.cancels}")


def _check_fulfilments(check, answers):
    """Every order shipped and fulfilled, each line sent exactly once over (never past what was
    bought), one order.fulfillment.created per parcel, and every 201 a parcel as stored."""
    parcels = {parcel.id: parcel for parcel in Fulfillment.select()}
    sent = collections.Counter()
    for parcel in parcels.values():
        for line in parcel.lines:
            sent[(parcel.order_id, line["productId"])] += line["quantity"]
    for line in OrderLine.select():
        units = sent.pop((line.order_id, line.product_id), 0)
        if units != line.quantity or line.quantity_fulfilled != line.quantity:
            check.fail(
                f"order {line.order_id} product {line.product_id}: {line.quantity} bought, "
                f"{units} in parcels, {line.quantity_fulfilled} marked fulfilled",
                kind="duplicates"
                if max(units, line.quantity_fulfilled) > line.quantity
                else "other",
            )
    if sent:
        check.fail(f"units sent of no line: {dict(sent)}")
    for order in Order.select():
        if (order.status, order.fulfillment_status) != ("shipped", "fulfilled"):
            check.fail(f"order {order.id} is {order.status}, {order.fulfillment_status}")
    told = collections.Counter()
    for row in Event.select().where(Event.type == "order.fulfillment.created"):
        body = json.loads(row.body)
        told[body["data"]["fulfillment"]["id"]] += 1
    if told != collections.Counter(list(parcels)):
        check.fail(
            f"{sum(told.values())} order.fulfillment.created events for {len(parcels)} parcels",
            kind="duplicates",
        )
    for made in answers.made:
        parcel = parcels.get(made["id"])
        if parcel is None or parcel.lines != made["lines"] or parcel.order_id != made["orderId"]:
            check.fail(f"answered {made}, stored {parcel and parcel.lines}")


def _check_histories(check, orders):
    """pending → authorized → paid → shipped, each move once; one event of each."""
    moves = collections.defaultdict(list)
    for row in OrderHistory.select().order_by(OrderHistory.id):
        moves[row.order_id].append((row.from_status, row.to_status))
    for order in orders:
        if moves[order["id"]] != LIFE:
            check.fail(f"order {order['id']}: history {moves[order['id']]}", kind="duplicates")
    told = collections.Counter(
        (row.order_id, row.type)
        for row in Event.select().where(
            Event.type.in_(["order.authorized", "order.paid", "order.shipped"])
        )
    )
    if set(told.values()) != {1} or len(told) != 3 * len(orders):
        check.fail(f"status events: {len(told)} kinds of {sum(told.values())}", kind="duplicates")


def _check_payment_events(check, fake):
    """Every event Stripe sent applied once (each delivered twice)."""
    stored = {row.id for row in PaymentEvent.select(PaymentEvent.id)}
    sent = {sent["id"] for sent in fake.events}
    if stored != sent:
        check.fail(f"{len(sent)} Stripe events, {len(stored)} stored")


def _check_keys(check, answers):
    """Every Idempotency-Key's 201s one parcel, made once (the others replays)."""
    for key, replies in answers.by_key.items():
        made = [r for r in replies if r.status_code == 201]
        if len({r.get_json()["id"] for r in made}) > 1:
            check.fail(f"{key}: parcels {[r.get_json() for r in made]}", kind="duplicates")
        if sum(answer_kind(r) == "made" for r in made) > 1:
            check.fail(f"{key}: made twice", kind="duplicates")
