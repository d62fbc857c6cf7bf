"""Two gunicorn instances, three workers each, one PostgreSQL (directly, then through PgBouncer
in transaction pooling mode): duplicates and conflicting changes sent at one moment."""

import random

import pytest

from orders_service.leads.models import LeadStatus
from orders_service.orders.lifecycle import TRANSITIONS
from orders_service.orders.models import Order, OrderHistory
from orders_service.payments.models import PaymentEvent
from tests.conftest import CUSTOMER_ID
from tests.fakes.stripe_events import charge_refunded, deliver, event, succeeded
from tests.reliability.stored import (
    at_once,
    chain_problems,
    history_chain,
    missing_or_incomplete,
    written_twice,
)

pytestmark = pytest.mark.reliability


@pytest.fixture(params=["postgres", "pgbouncer"])
def pair(request, live, pg_url):
    """(app, client): two instances of the service on PostgreSQL, requests alternating; the
    instances reach it directly or through PgBouncer (prepared statements off)."""
    if request.param == "pgbouncer":
        through = request.getfixturevalue("bouncer_url")
        return live(pg_url, count=2, through=through, WEB_CONCURRENCY=3, DB_PREPARED_STATEMENTS=0)
    return live(pg_url, count=2, WEB_CONCURRENCY=3)


def test_concurrent_creations_with_one_idempotency_key(pair, tokens, fake_stripe, check):
    app, client = pair
    headers = {**tokens["customer"], "Idempotency-Key": "storm-0001"}

    replies = at_once(50, lambda i: client.post("/orders/new", json=["3", "8"], headers=headers))
    retry = client.post("/orders/new", json=["3", "8"], headers=headers)

    created = [r.get_json() for r in replies if r.status_code == 201]
    check.notes.append(f"{len(created)} of 50 answered 201, the others 409 in progress")
    for reply in replies:
        if reply.status_code == 409:
            assert "in progress" in reply.get_json()["message"]
        elif reply.status_code != 201:
            check.fail(f"status {reply.status_code}: {reply.get_json()}", status=reply.status_code)
    ids = {body["id"] for body in created} | {retry.get_json()["id"]}
    with app.app_context():
        stored = Order.select().where(Order.user_id == CUSTOMER_ID).count()
        check.lost = len(missing_or_incomplete([*created, retry.get_json()]))
    intents = fake_stripe.created_intents()
    if len(ids) != 1 or stored != 1 or len(intents) != 1:
        check.fail(
            f"{len(ids)} ids answered, {stored} orders, {len(intents)} intents", kind="duplicates"
        )
    assert retry.status_code == 201 and retry.headers["Idempotent-Replayed"] == "true"
    assert created, "at least one of the 50 should have been answered 201"
    assert (check.failures, check.lost) == (0, 0), check.notes


def place_orders(client, headers, count):
    bodies = [client.post("/orders/new", json=["3"], headers=headers) for _ in range(count)]
    assert all(b.status_code == 201 for b in bodies)
    return [b.get_json() for b in bodies]


def intent_of(app, fake, body):
    with app.app_context():
        return dict(fake.intents[Order.get_by_id(body["id"]).payment_intent_id])


def test_webhook_events_delivered_ten_times_each_apply_once(pair, tokens, fake_stripe, check):
    app, client = pair
    orders = place_orders(client, tokens["customer"], 7)
    a, b, c, d, e, f, g = (intent_of(app, fake_stripe, body) for body in orders)
    paid = client.post(
        "/orders/status-update",
        json={"orderId": orders[5]["id"], "status": "paid"},
        headers=tokens["admin"],
    )
    assert paid.status_code == 200

    def happened(kind, intent):
        return succeeded(intent) if kind == "succeeded" else {**intent, "status": kind}

    failed = {"last_payment_error": {"message": "Your card was declined."}}
    # (event, order index) chosen so the final status does not depend on the arrival order.
    events = [
        event("payment_intent.succeeded", happened("succeeded", a)),
        event("payment_intent.succeeded", happened("succeeded", b)),
        event("payment_intent.canceled", happened("canceled", c)),
        event("payment_intent.payment_failed", {**d, **failed}),
        event("payment_intent.succeeded", happened("succeeded", e)),
        event("payment_intent.payment_failed", {**e, **failed}),
        event("payment_intent.succeeded", happened("succeeded", f)),
        event("charge.refunded", charge_refunded(f)),
        event("payment_intent.canceled", happened("canceled", g)),
        event("payment_intent.payment_failed", {**g, **failed}),
    ]
    expected = ["paid", "paid", "canceled", "pending", "paid", "refunded", "canceled"]
    history_rows = [2, 2, 2, 1, 2, 3, 2]
    deliveries = [body for body in events for _ in range(10)]
    random.Random(6).shuffle(deliveries)

    replies = at_once(len(deliveries), lambda i: deliver(client, deliveries[i]))

    refused = [r.status_code for r in replies if r.status_code != 200]
    if refused:
        wrong = [status for status in refused if status < 500]  # a 5xx: a server error already
        check.fail(f"deliveries answered {refused}", len(wrong))
    with app.app_context():
        recorded = {row.id: row.outcome for row in PaymentEvent.select()}
        statuses = [Order.get_by_id(body["id"]).status for body in orders]
        rows = [OrderHistory.select().where(OrderHistory.order == o["id"]).count() for o in orders]
        problems = [p for body in orders for p in chain_problems(body["id"])]
        actors = [
            actor
            for body in orders
            for _, _, actor in history_chain(body["id"])
            if actor.startswith("stripe:")
        ]
    if sorted(recorded) != sorted(e["id"] for e in events):
        check.fail(f"payment_event rows: {recorded}")
    applied = [r.get_json()["outcome"] for r in replies if r.status_code == 200]
    firsts = len(applied) - applied.count("duplicate")
    if firsts != len(events):
        kind = "duplicates" if firsts > len(events) else "other"
        check.fail(f"{firsts} first deliveries, not {len(events)}", kind=kind)
    if statuses != expected:
        check.fail(f"statuses {statuses}, not {expected}")
    if rows != history_rows or problems:
        extra = any(row > due for row, due in zip(rows, history_rows, strict=True))
        kind = "duplicates" if extra else "other"
        check.fail(f"history rows {rows}, not {history_rows}; {problems}", kind=kind)
    if len(actors) != len(set(actors)):
        check.fail(f"an event wrote history twice: {sorted(actors)}", kind="duplicates")
    assert check.failures == 0, check.notes


def test_simultaneous_status_updates_on_one_order(pair, tokens, fake_stripe, check):
    app, client = pair
    (order,) = place_orders(client, tokens["customer"], 1)
    fake_stripe.set_status(intent_of(app, fake_stripe, order)["id"], "succeeded")
    targets = [status for status in TRANSITIONS if status != "pending"] * 4

    replies = at_once(
        len(targets),
        lambda i: client.post(
            "/orders/status-update",
            json={"orderId": order["id"], "status": targets[i].capitalize()},
            headers=tokens["admin"],
        ),
    )

    for reply in replies:
        if reply.status_code not in (200, 409):
            check.fail(f"status {reply.status_code}: {reply.get_json()}", status=reply.status_code)
    with app.app_context():
        problems = chain_problems(order["id"])
        twice = written_twice(order["id"])
        final = Order.get_by_id(order["id"]).status
    if problems:
        check.fail("; ".join(problems), kind="duplicates" if twice else "other")
    answered = {r.get_json()["status"] for r in replies if r.status_code == 200}
    assert final in answered or final == "pending"
    assert check.failures == 0, check.notes


def test_paid_and_canceled_racing_end_as_the_provider_says(pair, tokens, fake_stripe, check):
    app, client = pair
    orders = place_orders(client, tokens["customer"], 12)
    charged = orders[::3]  # Stripe charges these as the staff and the owner act
    intents = {body["id"]: intent_of(app, fake_stripe, body)["id"] for body in orders}
    fake_stripe.delay_seconds = 0.2  # a provider call long enough for the others to land in it

    def status(body, value, role):
        return lambda: client.post(
            "/orders/status-update",
            json={"orderId": body["id"], "status": value},
            headers=tokens[role],
        )

    def charge(body):
        def send():
            intent = fake_stripe.set_status(intents[body["id"]], "succeeded")
            return deliver(client, event("payment_intent.succeeded", intent))

        return send

    moves = [
        move
        for body in orders
        for move in (
            status(body, "paid", "admin"),
            status(body, "canceled", "customer"),
            status(body, "Cancelled", "admin"),
            *([charge(body)] if body in charged else []),
        )
    ]
    replies = at_once(len(moves), lambda i: moves[i]())

    for reply in replies:
        if reply.status_code not in (200, 409):
            check.fail(f"status {reply.status_code}: {reply.get_json()}", status=reply.status_code)
    with app.app_context():
        problems = [p for body in orders for p in chain_problems(body["id"])]
        final = {body["id"]: Order.get_by_id(body["id"]).status for body in orders}
    if problems:
        check.fail("; ".join(problems))
    # Paid by card (succeeded) or by hand (the intent canceled first, so the card cannot pay).
    agreeing = {"paid": {"succeeded", "canceled"}, "canceled": {"canceled"}}
    for order_id, order_status in final.items():
        at_stripe = fake_stripe.intents[intents[order_id]]["status"]
        if at_stripe not in agreeing.get(order_status, ()):
            check.fail(f"order {order_id} is {order_status}, its intent {at_stripe}")
    for body in charged:
        if final[body["id"]] != "paid":
            check.fail(f"order {body['id']} was charged but is {final[body['id']]}")
    check.notes.append(f"final statuses: {sorted(final.values())}")
    assert check.failures == 0, check.notes


def test_concurrent_reorders_of_the_lead_statuses(pair, tokens, check):
    app, client = pair
    columns = client.get("/leads/statuses", headers=tokens["admin"]).get_json()  # seeded
    ids = [column["id"] for column in columns]
    shuffler = random.Random(4)

    def submission(round_number, i):
        orders = list(range(round_number * 100 + i * 10, round_number * 100 + i * 10 + len(ids)))
        shuffler.shuffle(orders)
        return [{"id": id_, "statusOrder": order} for id_, order in zip(ids, orders, strict=True)]

    def as_mapping(items):
        return {item["id"]: item["statusOrder"] for item in items}

    for round_number in range(12):
        bodies = [submission(round_number, i) for i in range(6)]
        submitted = [as_mapping(body) for body in bodies]
        replies = at_once(
            len(bodies),
            lambda i, bodies=bodies: client.put(
                "/leads/statuses/order", json=bodies[i], headers=tokens["admin"]
            ),
        )
        final = client.get("/leads/statuses", headers=tokens["admin"])
        for reply in [*replies, final]:
            if reply.status_code != 200 or as_mapping(reply.get_json()) not in submitted:
                check.fail(f"round {round_number}: a mix or an error: {reply.get_json()}")
        with app.app_context():
            stored = {row.id: row.status_order for row in LeadStatus.select()}
        if stored not in submitted:
            check.fail(f"round {round_number}: stored {stored}")
    assert check.failures == 0, check.notes
