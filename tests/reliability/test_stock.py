"""200 buyers of ten hoodies at one moment, on two live instances: never a unit sold twice."""

import random
import threading
from types import SimpleNamespace

import pytest

from orders_service.database import db
from orders_service.orders.models import Order
from orders_service.products.models import Product
from tests.conftest import JWT_SECRET, bearer
from tests.reliability.stored import at_once, missing_or_incomplete

pytestmark = pytest.mark.reliability

HOODIE, STOCK, BUYERS = 9, 10, 200
SHARED_USER, SHARED_KEY = 5000, "storm-shared"


@pytest.fixture(params=["postgresql", "sqlite"])
def stock_pair(request, live, tmp_path):
    """(app, client): two instances on PostgreSQL, or on one SQLite file (separate processes)."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'stock.db'}"
    return live(url, count=2, WEB_CONCURRENCY=3)


def plan(i, rng):
    """Buyer i: (user id, quantity, Idempotency-Key or None, cancels right after)."""
    if i % 10 == 0:  # twenty buyers send one request with one key
        return SHARED_USER, 2, SHARED_KEY, False
    return 1000 + i, rng.choice([1, 2]), None, i % 4 == 1


class StockWatch(threading.Thread):
    """Reads the hoodie's stock over and over while the buyers run; keeps the lowest seen."""

    def __init__(self, app):
        super().__init__(daemon=True)
        self.app, self.lowest, self.reads = app, STOCK, 0
        self.done = threading.Event()

    def run(self):
        with self.app.app_context():
            while not self.done.is_set():
                self.lowest = min(self.lowest, Product.get_by_id(HOODIE).stock)
                self.reads += 1
                db.close()
                self.done.wait(0.01)


def test_two_hundred_buyers_of_ten_units_never_oversell(stock_pair, check):
    app, client = stock_pair
    rng = random.Random(13)
    plans = [plan(i, rng) for i in range(BUYERS)]
    signer = SimpleNamespace(config={"JWT_SECRET": JWT_SECRET})
    headers = {user: bearer(signer, user) for user, *_ in plans}
    canceled = set()

    def buy(i):
        user, quantity, key, cancels = plans[i]
        extra = {"Idempotency-Key": key} if key else {}
        body = [{"id": HOODIE, "quantity": quantity}]
        reply = client.post("/orders/new", json=body, headers={**headers[user], **extra})
        if reply.status_code == 201 and cancels:
            order_id = reply.get_json()["id"]
            done = client.post(
                "/orders/status-update",
                json={"orderId": order_id, "status": "canceled"},
                headers=headers[user],
            )
            if done.status_code == 200:
                canceled.add(order_id)
            else:
                check.fail(f"cancel of {order_id}: {done.status_code}", status=done.status_code)
        return reply

    watch = StockWatch(app)
    watch.start()
    replies = at_once(BUYERS, buy)
    watch.done.set()
    watch.join()

    created = {}
    for reply in replies:
        body = reply.get_json()
        if reply.status_code == 201:
            created[body["id"]] = body
        elif reply.status_code != 409 or not (
            body.get("errors", {}).get("products") or "in progress" in body["message"]
        ):
            check.fail(f"{reply.status_code}: {body}", status=reply.status_code)
    with app.app_context():
        left = Product.get_by_id(HOODIE).stock
        held = {
            order.id: (order.status, sum(line.stock_taken for line in order.lines))
            for order in Order.select()
        }
        shared_orders = Order.select().where(Order.user_id == SHARED_USER).count()
        check.lost = len(missing_or_incomplete(created.values()))
        db.close()

    sold = sum(body["products"][0]["quantity"] for body in created.values())
    returned = sum(created[order_id]["products"][0]["quantity"] for order_id in canceled)
    check.notes.append(
        f"{len(created)} orders, {sold} units sold, {returned} returned, {left} left; "
        f"lowest stock seen {watch.lowest} in {watch.reads} reads"
    )
    if sold + left != STOCK + returned:
        check.fail(f"sold {sold} + left {left} != {STOCK} + returned {returned}")
    if min(watch.lowest, left) < 0:
        check.fail(f"stock went below 0: {min(watch.lowest, left)}")
    holding = sum(taken for _, taken in held.values())
    if holding + left != STOCK:
        check.fail(f"orders hold {holding} units and {left} are left: not {STOCK}")
    for order_id, body in created.items():
        expected = 0 if order_id in canceled else body["products"][0]["quantity"]
        if held.get(order_id, ("missing", None))[1] != expected:
            check.fail(f"order {order_id} answered 201 but holds {held.get(order_id)}")
    if shared_orders > 1:
        check.fail(f"{shared_orders} orders for one Idempotency-Key", kind="duplicates")
    assert created, "some buyers should have been sold a hoodie"
    assert check.failures == 0 and check.lost == 0, check.notes
