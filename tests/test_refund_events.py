"""Stripe's refund events and reconcile, into the ledger: dashboard refunds, any order of
arrival, redeliveries, failures; and one Idempotency-Key on two live servers at once."""

import datetime
import itertools
import threading

import pytest

from orders_service.database import utcnow
from orders_service.orders.models import Order
from orders_service.payments.models import Refund
from tests.fakes.stripe_events import charge_refunded, deliver, event, refund_object
from tests.servers import Gunicorn, server_env

from .conftest import WEBHOOK_SECRET

CART = ["3", "3", "8"]
TOTAL = 2 * 4999 + 899


def end_state(client, headers, order):
    """What the order and its refunds say, less what differs between runs (ids, times)."""
    body = client.get(f"/orders/{order['id']}", headers=headers).get_json()
    refunds = client.get(f"/orders/{order['id']}/refunds", headers=headers).get_json()
    kept = ("amountInCents", "status", "origin", "reason", "lines", "restock")
    return (
        body["status"],
        body["amountRefundedInCents"],
        [{k: r[k] for k in kept} for r in refunds],
    )


DASHBOARD_ORDERS = sorted(set(itertools.permutations(["refunded", "refunded", "updated"])))


@pytest.mark.parametrize("arrival", DASHBOARD_ORDERS, ids=["-".join(a) for a in DASHBOARD_ORDERS])
def test_a_dashboard_refund_ends_the_same_whatever_the_order_and_number_of_its_events(
    stripe_client, stripe_fake, paid, admin, arrival
):
    order = paid()
    stripe_fake.refund_status = "pending"
    made = stripe_fake.refund_in_dashboard(order["intent"]["id"], 1500, "requested_by_customer")
    stripe_fake.set_refund_status(made["id"], "succeeded")
    refunded, updated = stripe_fake.events  # charge.refunded, charge.refund.updated
    sent = {"refunded": refunded, "updated": updated}

    answers = [deliver(stripe_client, sent[name]) for name in arrival]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert end_state(stripe_client, admin, order) == (
        "paid",
        1500,
        [
            {
                "amountInCents": 1500,
                "status": "succeeded",
                "origin": "stripe",
                "reason": "requested_by_customer",
                "lines": [],
                "restock": False,
            }
        ],
    )
    [recorded] = Refund.select()
    assert recorded.actor == f"stripe:{sent[arrival[0]]['id']}"


@pytest.mark.parametrize("arrival", ["snapshots-in-order", "snapshots-reversed"])
def test_refund_snapshots_of_any_age_never_move_a_refund_back(stripe_client, paid, admin, arrival):
    order = paid()
    intent = order["intent"]
    pending, succeeded, failed = (
        refund_object(intent, TOTAL, status) for status in ("pending", "succeeded", "failed")
    )
    charge = charge_refunded(intent)
    charge["refunds"]["data"] = [pending]  # as the charge was when the refund was made
    sent = [
        event("charge.refunded", charge),
        event("charge.refund.updated", succeeded),
        event("charge.refund.updated", failed),
    ]
    if arrival == "snapshots-reversed":
        sent.reverse()

    for each in sent:
        assert deliver(stripe_client, each).status_code == 200

    status, refunded, [recorded] = end_state(stripe_client, admin, order)
    assert (refunded, recorded["status"]) == (0, "failed")
    # Reversed, the failure came first and the refund never counted: the order never left paid.
    assert status == "paid"


def test_a_refund_event_for_an_order_not_paid_yet_waits_for_the_payment(
    stripe_client, stripe_fake, customer, catalog
):
    order = stripe_client.post("/orders/new", json=CART, headers=customer).get_json()
    intent = stripe_fake.set_status(order["clientSecret"].split("_secret")[0], "succeeded")
    stripe_fake.refund_in_dashboard(intent["id"], 100)
    [refunded] = stripe_fake.events

    early = deliver(stripe_client, refunded)
    assert deliver(stripe_client, event("payment_intent.succeeded", intent)).status_code == 200
    later = deliver(stripe_client, refunded)

    assert early.status_code == 409
    assert later.status_code == 200, later.get_json()
    assert Order.get_by_id(order["id"]).amount_refunded_in_cents == 100


def test_reconcile_records_a_dashboard_refund_whose_event_was_lost(
    stripe_app, stripe_client, stripe_fake, paid, admin
):
    order = paid()
    stripe_fake.refund_in_dashboard(order["intent"]["id"], 2500)  # its webhook never came

    output = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile"]).output
    again = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile"]).output

    assert f"order {order['id']}: refunds recorded: " in output
    assert f"order {order['id']}" not in again  # nothing left to repair
    status, refunded, [found] = end_state(stripe_client, admin, order)
    assert (status, refunded, found["origin"]) == ("paid", 2500, "stripe")


def test_reconcile_fails_a_staff_refund_whose_request_died_before_stripe_heard_of_it(
    stripe_app, stripe_client, stripe_fake, paid, admin
):
    order = paid()
    stripe_fake.refund_in_dashboard(order["intent"]["id"], 100)  # the charge differs: re-read
    Refund.create(
        order=order["id"],
        amount_in_cents=900,
        origin="staff",
        actor="admin:1",
        key="dead",
        created_at=utcnow() - datetime.timedelta(minutes=2),
    )

    output = stripe_app.test_cli_runner().invoke(args=["payments", "reconcile"]).output

    assert f"order {order['id']}: refunds recorded: " in output
    assert "abandoned refunds: " in output
    assert "reconcile: 1 orders changed." in output
    statuses = [r.status for r in Refund.select().order_by(Refund.id)]
    assert statuses == ["failed", "succeeded"]


@pytest.fixture
def two_servers(stripe_app, stripe_fake, database_url, tmp_path):
    """Two gunicorn instances (a worker each) on the test database and the Stripe fake."""
    env = server_env(
        database_url,
        PAYMENT_PROVIDER="stripe",
        STRIPE_SECRET_KEY=stripe_fake.api_key,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_fake.url,
        WEB_CONCURRENCY=1,
    )
    servers = [Gunicorn(env, tmp_path / f"gunicorn-{i}.log") for i in range(2)]
    try:
        yield [server.start() for server in servers]
    finally:
        for server in servers:
            server.stop()


def test_one_key_sent_to_two_servers_at_the_same_moment_makes_one_stripe_refund(
    two_servers, stripe_fake, paid, admin
):
    order = paid()
    stripe_fake.delay_seconds = 0.5  # the first is still at Stripe when the second arrives
    start, answers = threading.Barrier(2), []
    headers = {**admin, "Idempotency-Key": "twice"}

    def post(server):
        start.wait()
        answers.append(
            server.request(
                "POST", f"/orders/{order['id']}/refunds", {"amountInCents": 1200}, headers
            )
        )

    threads = [threading.Thread(target=post, args=(server,)) for server in two_servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(a.status for a in answers) in ([201, 201], [201, 409]), [a.body for a in answers]
    made = {a.json()["id"] for a in answers if a.status == 201}
    assert len(made) == 1
    assert [r["amount"] for r in stripe_fake.refunds] == [1200]
    assert Refund.select().count() == 1


def test_two_different_refunds_at_once_never_pass_what_was_paid(
    two_servers, stripe_fake, paid, admin
):
    order = paid()
    stripe_fake.delay_seconds = 0.3
    start, answers = threading.Barrier(2), []

    def post(server, key):
        start.wait()
        body = {"amountInCents": TOTAL - 1000}
        answers.append(
            server.request(
                "POST",
                f"/orders/{order['id']}/refunds",
                body,
                {**admin, "Idempotency-Key": key},
            )
        )

    threads = [
        threading.Thread(target=post, args=(server, f"k{i}"))
        for i, server in enumerate(two_servers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(a.status for a in answers) == [201, 409], [a.body for a in answers]
    assert [r["amount"] for r in stripe_fake.refunds] == [TOTAL - 1000]
