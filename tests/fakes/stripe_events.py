"""Stripe events as Stripe sends them: signed with its scheme, posted as raw JSON."""

import hashlib
import hmac
import json
import time
import uuid

import pytest


def signature_header(payload, secret, timestamp=None):
    """Stripe's scheme: t=<ts>,v1=hex(HMAC-SHA256(secret, "<ts>.<payload>"))."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def event(event_type, obj, event_id=None, created=None):
    """A Stripe event wrapping `obj`, made now (or at `created`, Unix seconds)."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
    }


def succeeded(intent):
    """The intent as payment_intent.succeeded carries it: charged, all of it received."""
    return {**intent, "status": "succeeded", "amount_received": intent["amount"]}


# A succeeded intent's field set to money that is not its order's, and why it is ignored.
other_money = pytest.mark.parametrize(
    ("field", "value", "outcome"),
    [
        ("currency", "jpy", "currency does not match the order"),
        ("amount_received", 100, "amount received does not match the order"),
    ],
    ids=["another-currency", "received-in-part"],
)


def charge_refunded(intent, amount_refunded=None):
    """The charge.refunded event's object for one refund of `intent` (in full unless told),
    its refunds expanded (as a webhook endpoint may ask Stripe to)."""
    amount = intent["amount"]
    refunded = amount if amount_refunded is None else amount_refunded
    return {
        "id": f"ch_{intent['id']}",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "currency": intent["currency"],
        "payment_intent": intent["id"],
        "refunded": refunded == amount,
        "refunds": {
            "object": "list",
            "data": [refund_object(intent, refunded)],
            "has_more": False,
        },
    }


def refund_object(intent, amount, status="succeeded", number=1):
    """A Refund object of `intent`'s charge, made in Stripe's dashboard (no metadata)."""
    return {
        "id": f"re_{intent['id']}_{number}",
        "object": "refund",
        "amount": amount,
        "charge": f"ch_{intent['id']}",
        "currency": intent["currency"],
        "metadata": {},
        "payment_intent": intent["id"],
        "reason": "requested_by_customer",
        "status": status,
    }


def deliver(client, event_body, secret="whsec_test", timestamp=None, signature=None):
    """POST an event to /webhooks/stripe as Stripe would: the raw JSON, signed."""
    payload = event_body if isinstance(event_body, str) else json.dumps(event_body)
    headers = {"Content-Type": "application/json"}
    if signature is None and secret is not None:
        signature = signature_header(payload, secret, timestamp)
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return client.post("/webhooks/stripe", data=payload, headers=headers)
