"""Stripe keeps a 500 under its idempotency key for 24 h: a retry moves to a new key, safely."""

import pytest

from orders_service.orders.models import Order
from tests.fakes.stripe_events import deliver, event

CART = ["3", "3", "8"]
WHEN = pytest.mark.parametrize("when", ["before", "after"], ids=["500-undone", "500-done"])


def fail_once(stripe_fake, method, path, when):
    """The next `method path` request answers a 500 that Stripe keeps for its key, after doing
    its work (`after`) or not (`before`)."""
    fired = []

    def fail_when(seen_method, seen_path):
        if (seen_method, seen_path) == (method, path) and not fired:
            fired.append(True)
            return when
        return None

    stripe_fake.fail_when = fail_when


def place(stripe_client, customer, key="cart"):
    return stripe_client.post(
        "/orders/new", json=CART, headers={**customer, "Idempotency-Key": key}
    )


def set_status(stripe_client, headers, order_id, status):
    return stripe_client.post(
        "/orders/status-update", json={"orderId": order_id, "status": status}, headers=headers
    )


@WHEN
def test_a_create_whose_500_stripe_keeps_succeeds_on_retry_with_one_intent(
    stripe_client, stripe_fake, customer, catalog, when
):
    fail_once(stripe_fake, "POST", "/v1/payment_intents", when)

    failed = place(stripe_client, customer)
    assert failed.status_code == 502, failed.get_json()
    assert stripe_client.get("/orders", headers=customer).get_json() == []

    retried = place(stripe_client, customer)

    assert retried.status_code == 201, retried.get_json()
    [intent] = [i for i in stripe_fake.created_intents()]
    assert retried.get_json()["clientSecret"] == intent["client_secret"]
    assert Order.get().payment_key_generation == 1
    assert place(stripe_client, customer).get_json() == retried.get_json()


@WHEN
def test_a_cancel_whose_500_stripe_keeps_succeeds_on_retry_with_one_cancel(
    stripe_client, stripe_fake, customer, catalog, when
):
    order = place(stripe_client, customer).get_json()
    fail_once(stripe_fake, "POST", rf"/v1/payment_intents/{intent_of(order)}/cancel", when)

    failed = set_status(stripe_client, customer, order["id"], "canceled")
    assert failed.status_code == 502, failed.get_json()
    assert Order.get_by_id(order["id"]).status == "pending"

    retried = set_status(stripe_client, customer, order["id"], "canceled")

    assert retried.status_code == 200, retried.get_json()
    assert Order.get_by_id(order["id"]).status == "canceled"
    assert stripe_fake.cancels == [intent_of(order)]


@WHEN
def test_a_refund_whose_500_stripe_keeps_succeeds_on_retry_with_one_refund(
    stripe_client, stripe_fake, customer, admin, catalog, when
):
    order = place(stripe_client, customer).get_json()
    paid = stripe_fake.set_status(intent_of(order), "succeeded")
    assert deliver(stripe_client, event("payment_intent.succeeded", paid)).status_code == 200
    fail_once(stripe_fake, "POST", "/v1/refunds", when)

    failed = set_status(stripe_client, admin, order["id"], "refunded")
    assert failed.status_code == 502, failed.get_json()
    assert Order.get_by_id(order["id"]).status == "paid"

    retried = set_status(stripe_client, admin, order["id"], "refunded")

    assert retried.status_code == 200, retried.get_json()
    assert Order.get_by_id(order["id"]).status == "refunded"
    assert [r["payment_intent"] for r in stripe_fake.refunds] == [intent_of(order)]


def test_a_connection_lost_keeps_the_key_so_stripe_replays_what_it_did(
    stripe_client, stripe_fake, customer, catalog
):
    stripe_fake.mode = "hang"
    stripe_fake.hang_seconds = 2
    assert place(stripe_client, customer).status_code == 503
    stripe_fake.mode = None

    assert place(stripe_client, customer).status_code == 201
    assert Order.get().payment_key_generation == 0
    assert len(stripe_fake.created_intents()) == 1


def intent_of(order):
    return Order.get_by_id(order["id"]).payment_intent_id


def test_a_cancel_refused_while_processing_is_not_replayed_once_the_payment_failed(
    stripe_client, stripe_fake, customer, admin, catalog
):
    order = place(stripe_client, customer).get_json()
    stripe_fake.set_status(intent_of(order), "processing")
    refused = set_status(stripe_client, admin, order["id"], "paid")  # a bank transfer, too late
    assert refused.status_code == 409, refused.get_json()
    stripe_fake.set_status(intent_of(order), "requires_payment_method")  # the card was declined

    canceled = set_status(stripe_client, customer, order["id"], "canceled")

    assert canceled.status_code == 200, canceled.get_json()
    assert Order.get_by_id(order["id"]).status == "canceled"
    assert stripe_fake.cancels == [intent_of(order)]
