"""Order events (the outbox), the webhook endpoints subscribed to them, and their deliveries."""

import json

import peewee

from ..database import BaseModel, utcnow
from ..orders.models import Order

TYPES = tuple(
    f"order.{name}"
    for name in (
        *("created", "authorized", "paid", "shipped", "completed", "canceled", "refunded"),
        *("refund.succeeded", "refund.failed", "dispute.updated", "fulfillment.created"),
    )
)
# Written when the deliverer gives up on a dead endpoint; delivered like any other type.
ENDPOINT_DISABLED = "webhook_endpoint.disabled"
TYPES += (ENDPOINT_DISABLED,)
# The order id a delivery of an event about no order files under: a group of its own, where
# every version is 0, so none waits for another.
NO_ORDER = 0


class Event(BaseModel):
    id = peewee.BigAutoField()
    # The public id ("evt_" + random), so that a restored database never reissues one a
    # consumer has already seen and dropped as a duplicate.
    uid = peewee.CharField(max_length=40, unique=True)
    type = peewee.CharField(max_length=32)
    # None for an event about something else than an order (then `version` is 0).
    order = peewee.ForeignKeyField(Order, on_delete="CASCADE", index=False, null=True)
    version = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)
    # The event's JSON exactly as GET /events/{id} answers it and every attempt sends it.
    body = peewee.TextField()

    class Meta:
        indexes = (
            (("order", "id"), False),
            (("type", "id"), False),
            (("created_at",), False),
        )


class WebhookEndpoint(BaseModel):
    url = peewee.CharField(max_length=2048)
    events_json = peewee.TextField(column_name="events")
    description = peewee.CharField(max_length=500, default="")
    enabled = peewee.BooleanField(default=True)
    # Why the deliverer disabled it (None when enabled, or disabled by an admin).
    disabled_reason = peewee.CharField(max_length=255, null=True)
    # Its last 2xx, or its enabling again since (None: neither since its creation); the
    # deliverer disables it once this is older than WEBHOOK_DISABLE_AFTER.
    alive_at = peewee.DateTimeField(null=True)
    secret = peewee.CharField(max_length=64)
    created_at = peewee.DateTimeField(default=utcnow)
    # The secret the last rotation replaced: every attempt is signed with it too until it expires.
    previous_secret = peewee.CharField(max_length=64, null=True)
    previous_secret_expires_at = peewee.DateTimeField(null=True)

    @property
    def events(self):
        return json.loads(self.events_json)

    def subscribes_to(self, event_type):
        types = self.events
        return "*" in types or event_type in types

    def signing_secrets(self, now):
        """The current secret, then the one it replaced while their overlap lasts (`now`: naive
        UTC), so a consumer verifies with either while it switches."""
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            return (self.secret, self.previous_secret)
        return (self.secret,)


class Delivery(BaseModel):
    id = peewee.BigAutoField()
    event = peewee.ForeignKeyField(Event, on_delete="CASCADE", index=False)
    endpoint = peewee.ForeignKeyField(WebhookEndpoint, on_delete="CASCADE", index=False)
    # The event's order and version, copied so the claim can keep each order's events in turn.
    order_id = peewee.BigIntegerField()
    version = peewee.IntegerField()
    state = peewee.CharField(max_length=16, default="pending")
    attempts = peewee.IntegerField(default=0)
    last_status = peewee.IntegerField(null=True)
    last_error = peewee.CharField(max_length=255, null=True)
    # While claimed: when the claim lapses (a killed deliverer's delivery is then due again).
    # None while its endpoint is disabled: not due at all, until enabling it resumes it.
    next_attempt_at = peewee.DateTimeField(default=utcnow, null=True)
    delivered_at = peewee.DateTimeField(null=True)
    claim = peewee.CharField(max_length=32, null=True)
    # The attempts made before a retry or replay queued it again: the retry schedule counts
    # its waits from there, so a delivery queued again gets the whole schedule.
    schedule_start = peewee.IntegerField(default=0)

    @property
    def next_attempt(self):
        return self.next_attempt_at if self.state == "pending" else None

    class Meta:
        indexes = (
            (("endpoint", "id"), False),
            (("endpoint", "state", "id"), False),
            (("event", "endpoint"), True),
            (("state", "next_attempt_at"), False),
        )


# The claim's "no earlier version of this order still pending" test, one index probe per
# candidate: partial, so the planner takes it even before the statistics know the table.
Delivery.add_index(
    Delivery.index(
        Delivery.endpoint,
        Delivery.order_id,
        Delivery.version,
        where=(Delivery.state == "pending"),
        name="delivery_pending_versions",
    )
)


class DeliveryAttempt(BaseModel):
    """One attempt of a delivery: when, how long, what the endpoint answered."""

    id = peewee.BigAutoField()
    delivery = peewee.ForeignKeyField(Delivery, on_delete="CASCADE", index=False)
    at = peewee.DateTimeField()
    status = peewee.IntegerField(null=True)
    duration_ms = peewee.IntegerField()
    error = peewee.CharField(max_length=255, null=True)
    # The answer's first KiB as text; None when no answer came.
    response_body = peewee.TextField(null=True)

    class Meta:
        indexes = ((("delivery", "id"), False),)
