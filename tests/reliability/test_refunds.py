"""Refunds under the live service: staff on two instances refund random parts of paid orders
while Stripe settles them, makes some in its dashboard, and sends every event twice, shuffled."""

import contextlib
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_service.orders.models import OrderLine
from orders_service.payments.models import Refund
from orders_service.products.models import Product
from tests.fakes.stripe_api import StripeRefusal
from tests.fakes.stripe_events import event, signature_header
from tests.reliability.stripe_webhooks import Redelivering

pytestmark = pytest.mark.reliability

ORDERS = 200
STAFF = 20
REFUNDS_EACH = 15
DASHBOARD_REFUNDS = 20
FAIL_SHARE = 0.15  # of the refunds the bank settles: it returns them
REST_SHARE = 0.1  # of the staff's moves: the order to refunded, which refunds what is left
PINS, POSTERS, HOODIE = 10, 11, 3  # two tracked products, and an untracked one
CART = [{"id": PINS, "quantity": 3}, {"id": POSTERS, "quantity": 1}, {"id": HOODIE, "quantity": 1}]
STOCK = 10_000


class Stripe(Redelivering):
    """What Stripe does around the service: settles pending refunds (most succeed, some fail),
    refunds in its dashboard, and sends each event twice, in shuffled batches."""

    def __init__(self, fake, client, check):
        super().__init__(fake, client, check, seed=18)

    def workers(self):
        return [self._bank]

    def _bank(self):
        while True:
            with self.fake._lock:
                pending = [r["id"] for r in self.fake.refunds if r["status"] == "pending"]
            for refund_id in pending:
                failed = self.rng.random() < FAIL_SHARE
                self.fake.set_refund_status(refund_id, "failed" if failed else "succeeded")
            if not pending and self.finishing.is_set():
                return
            time.sleep(0.1)


def pay(client, fake, headers, i):
    reply = client.post("/orders/new", json=CART, headers={**headers, "Idempotency-Key": f"o{i}"})
    assert reply.status_code == 201, reply.data
    order = reply.get_json()
    intent = fake.set_status(order["clientSecret"].split("_secret")[0], "succeeded")
    payload = json.dumps(event("payment_intent.succeeded", intent))
    signed = {
        "Content-Type": "application/json",
        "Stripe-Signature": signature_header(payload, "whsec_test"),
    }
    assert client.post("/webhooks/stripe", data=payload, headers=signed).status_code == 200
    return order


def random_refund(rng, order):
    """An amount, or lines of the order (restocked or not), now and then more than is left."""
    if rng.random() < 0.5:
        return {"amountInCents": rng.randint(1, order["amountInCents"] // 3)}
    line = rng.choice(order["products"])
    body = {"lines": [{"productId": line["id"], "quantity": rng.randint(1, line["quantity"])}]}
    return {**body, "restock": rng.random() < 0.7, "reason": "reliability"}


def test_staff_refunding_on_two_instances_while_stripe_redelivers_every_event_twice_shuffled(
    live, pg_url, fake_stripe, tokens, check
):
    app, client = live(pg_url, count=2, WEB_CONCURRENCY=2)
    with app.app_context():
        Product.update(stock=STOCK).where(Product.id.in_([PINS, POSTERS])).execute()
    admin = tokens["admin"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        orders = list(pool.map(lambda i: pay(client, fake_stripe, admin, i), range(ORDERS)))
    fake_stripe.refund_status = "pending"  # the bank settles them, as Stripe's do in time
    stripe = Stripe(fake_stripe, client, check).start()
    answers = {}

    def staff(n):
        rng = random.Random(n)
        for i in range(REFUNDS_EACH):
            order = rng.choice(orders)
            if rng.random() < REST_SHARE:  # the rest, through the ledger too
                move = {"orderId": order["id"], "status": "refunded"}
                reply = client.post("/orders/status-update", json=move, headers=admin)
                if reply.status_code not in (200, 409):
                    check.fail(
                        f"rest: {reply.status_code} {reply.data!r}", status=reply.status_code
                    )
                continue
            headers = {**admin, "Idempotency-Key": f"staff-{n}-{i}"}
            body = random_refund(rng, order)
            reply = client.post(f"/orders/{order['id']}/refunds", json=body, headers=headers)
            answers.setdefault(reply.status_code, []).append(reply.get_json())
            if reply.status_code not in (201, 409):
                check.fail(
                    f"refund: {reply.status_code} {reply.get_json()}", status=reply.status_code
                )

    def dashboard():
        rng = random.Random(99)
        for _ in range(DASHBOARD_REFUNDS):
            order = rng.choice(orders)
            intent = order["clientSecret"].split("_secret")[0]
            with contextlib.suppress(StripeRefusal):  # refunded past it already
                fake_stripe.refund_in_dashboard(intent, rng.randint(1, 2000))
            time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=STAFF + 1) as pool:
        done = [pool.submit(staff, n) for n in range(STAFF)] + [pool.submit(dashboard)]
        for each in done:
            each.result()
    stripe.finish()

    bodies = {}
    for page in ("/orders?limit=100", None):
        reply = client.get(page or f"/orders?limit=100&starting_after={min(bodies)}", headers=admin)
        bodies.update({o["id"]: o for o in reply.get_json()})
    with app.app_context():
        _check_money(check, fake_stripe, bodies, orders)
        _check_stock(check)
    check.notes.append(
        f"{ORDERS} paid orders, {STAFF} staff: {len(answers.get(201, []))} refunds made, "
        f"{len(answers.get(409, []))} refused (409); "
        f"{sum(r['status'] == 'failed' for r in fake_stripe.refunds)} failed at the bank; "
        f"{sum(b['status'] == 'refunded' for b in bodies.values())} orders refunded in full"
    )
    assert check.failures == 0, check.notes


def _check_money(check, fake, bodies, orders):
    """Each order's refunded total Stripe's own, never past what was paid; every Stripe refund
    in the ledger once, with its status."""
    for order in orders:
        intent = fake.intents[order["clientSecret"].split("_secret")[0]]
        charge = fake.charges[intent["latest_charge"]]
        body = bodies[order["id"]]
        if body["amountRefundedInCents"] != charge["amount_refunded"]:
            check.fail(
                f"order {order['id']}: {body['amountRefundedInCents']} refunded here, "
                f"{charge['amount_refunded']} at Stripe"
            )
        if (
            charge["amount_refunded"] > charge["amount"]
            or body["amountRefundedInCents"] > body["amountInCents"]
        ):
            check.fail(f"order {order['id']}: refunded past its amount")
        refunded = charge["amount_refunded"] == charge["amount"]
        if (body["status"] == "refunded") != refunded:
            check.fail(f"order {order['id']}: {body['status']} with {charge['amount_refunded']}")
    ledger = {r.provider_refund_id: r for r in Refund.select()}
    for made in fake.refunds:
        recorded = ledger.get(made["id"])
        if recorded is None or recorded.status != made["status"]:
            check.fail(f"{made['id']} {made['status']}: {recorded and recorded.status} here")
    if len(ledger) != len(fake.refunds) or None in ledger:
        check.fail(f"{len(ledger)} refunds here, {len(fake.refunds)} at Stripe", kind="duplicates")


def _check_stock(check):
    """Each tracked product's stock what orders took less what succeeded refunds restocked, and
    each line's refunded units those of its pending and succeeded refunds."""
    restocked, claimed = {}, {}
    for refund in Refund.select():
        for item in refund.lines:
            key = (refund.order_id, item["productId"])
            if refund.status != "failed":
                claimed[key] = claimed.get(key, 0) + item["quantity"]
            if refund.restock and refund.status == "succeeded":
                restocked[item["productId"]] = (
                    restocked.get(item["productId"], 0) + item["quantity"]
                )
    for product_id in (PINS, POSTERS):
        bought = sum(
            line.quantity for line in OrderLine.select().where(OrderLine.product == product_id)
        )
        expected = STOCK - bought + restocked.get(product_id, 0)
        left = Product.get_by_id(product_id).stock
        if left != expected:
            check.fail(f"product {product_id}: stock {left}, {expected} expected")
    for line in OrderLine.select():
        if line.quantity_refunded != claimed.get((line.order_id, line.product_id), 0):
            check.fail(f"line {line.id}: {line.quantity_refunded} units refunded")
        if line.quantity_refunded > line.quantity:
            check.fail(f"line {line.id}: refunded past what was bought")
    check.notes.append(f"restocked {restocked}")
