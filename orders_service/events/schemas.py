"""Webhook endpoint, delivery and event bodies, and the queries of their lists."""

import marshmallow as ma

from ..fields import (
    MAX_ID,
    QueryInteger,
    Schema,
    StrictBoolean,
    UTCDateTime,
    UTCInstant,
    always_sent,
    sometimes_absent,
)
from ..orders.disputes import STATUSES as DISPUTE_STATUSES
from ..orders.lifecycle import STATUSES
from ..orders.schemas import DisputeSchema, FulfillmentSchema, OrderSchema
from ..pagination import KeysetArgsSchema
from ..payments.schemas import RefundSchema
from .models import TYPES
from .targets import MAX_URL, normalise_url

DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookURL(ma.fields.String):
    """An endpoint URL, loaded as stored: its host in ASCII, so it is always a valid URI."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalise_url(super()._deserialize(value, attr, data, **kwargs))
        except ValueError as error:
            raise ma.ValidationError(str(error)) from None


class WebhookEndpointCreateSchema(Schema):
    """An endpoint as sent: its URL may be an IRI (Unicode host, path), stored as a URI."""

    id = ma.fields.Integer(dump_only=True)
    url = WebhookURL(
        required=True,
        metadata={
            "format": "iri",
            "pattern": "^https?://",
            "maxLength": MAX_URL,
            "example": "https://example.com/hook",
            "description": "Absolute http(s), without a user or password. Refused (400) "
            "unless the service allows private targets: a host that is, or resolves to, a "
            "loopback, private, link-local, shared, unspecified, multicast or reserved address.",
        },
    )
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(("*", *TYPES))),
        load_default=("*",),
        validate=ma.validate.Length(min=1, max=50),
        metadata={"description": 'Event types to receive; "*" (the default) for all.'},
    )
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    enabled = StrictBoolean(
        load_default=True,
        metadata={"description": "false: nothing is sent; true again resumes what is pending."},
    )
    disabledReason = ma.fields.String(
        attribute="disabled_reason",
        dump_only=True,
        allow_none=True,
        metadata={"description": "Why the deliverer disabled it (no 2xx for too long)."},
    )
    secret = ma.fields.String(
        dump_only=True,
        metadata={"description": "whsec_ + base64 of 32 bytes: verifies webhook-signature."},
    )
    createdAt = UTCDateTime(attribute="created_at", dump_only=True)


@always_sent
class WebhookEndpointSchema(WebhookEndpointCreateSchema):
    """An endpoint as the service answers it: its URL as stored."""

    url = ma.fields.String(
        metadata={
            "format": "uri",
            "pattern": "^https?://",
            "maxLength": MAX_URL,
            "example": "https://example.com/hook",
            "description": "As stored: a DNS name in its ASCII (IDNA) form, or an IP literal.",
        },
    )


class WebhookEndpointPatchSchema(WebhookEndpointCreateSchema):
    """Any of url, events, description, enabled; applies to events written after it."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class AttemptOutcomeSchema(Schema):
    """What one attempt came to: a delivery's (in its attempts log), or a ping's."""

    status = ma.fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The HTTP status answered; null when no answer came."},
    )
    durationMs = ma.fields.Integer(attribute="duration_ms", required=True)
    error = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why the attempt failed (as lastError says); null on a 2xx."},
    )
    responseBody = ma.fields.String(
        attribute="response_body",
        required=True,
        allow_none=True,
        metadata={
            "description": "The answer's first KiB, as text (bytes that are not UTF-8 as "
            "U+FFFD); null when no answer came."
        },
    )


class PingSchema(AttemptOutcomeSchema):
    eventId = ma.fields.String(
        attribute="event_id",
        required=True,
        metadata={
            "description": "The ping's webhook-id.",
            "example": "evt_5f0c8e2a9b1d4c7e3a6b8d0f",
        },
    )

    class Meta:
        fields = ("eventId", "status", "durationMs", "error", "responseBody")


class DeliverySchema(Schema):
    id = ma.fields.Integer(required=True)
    eventId = ma.fields.String(attribute="event.uid", required=True)
    eventType = ma.fields.String(
        attribute="event.type", required=True, validate=ma.validate.OneOf(TYPES)
    )
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(DELIVERY_STATES))
    attempts = ma.fields.Integer(required=True)
    lastStatus = ma.fields.Integer(attribute="last_status", required=True, allow_none=True)
    lastError = ma.fields.String(attribute="last_error", required=True, allow_none=True)
    nextAttemptAt = UTCDateTime(
        attribute="next_attempt",
        required=True,
        allow_none=True,
        metadata={
            "description": "null once it is delivered or failed, or while its endpoint is disabled"
        },
    )
    deliveredAt = UTCDateTime(attribute="delivered_at", required=True, allow_none=True)


class DeliveryQueryArgsSchema(KeysetArgsSchema):
    state = ma.fields.String(
        validate=ma.validate.OneOf(DELIVERY_STATES),
        metadata={"description": "Only the deliveries in this state."},
    )


class DeliveryAttemptSchema(AttemptOutcomeSchema):
    id = ma.fields.Integer(required=True)
    at = UTCDateTime(required=True, metadata={"description": "When the attempt began."})

    class Meta:
        fields = ("id", "at", "status", "durationMs", "error", "responseBody")


class ReplaySchema(Schema):
    since = UTCInstant(
        required=True,
        metadata={
            "description": "Events written from this time on are sent again.",
            "example": "2026-03-01T00:00:00Z",
        },
    )


class ReplayedSchema(Schema):
    count = ma.fields.Integer(
        required=True,
        metadata={"description": "The deliveries queued (one in flight is left to finish)."},
    )


class EventOrderSchema(OrderSchema):
    """The order as GET /orders/{id} showed it when the event was written, but for the client
    secret (the buyer's alone). An event keeps its body: one written before the order body
    gained a field (ORDER_FIELDS_ADDED_SINCE) is served without it."""

    class Meta:
        exclude = ("clientSecret",)


# The order body's fields newer than the first stored events (2026-11-29).
ORDER_FIELDS_ADDED_SINCE = (
    *("amountRefundedInCents", "dispute", "paymentIntentId", "nextStatuses"),
    *("fulfillmentStatus", "fulfillments", "authorizationExpiresAt"),
)
sometimes_absent(EventOrderSchema, *ORDER_FIELDS_ADDED_SINCE)


@always_sent
class DisputeChangeSchema(DisputeSchema):
    """The dispute an order.dispute.updated reports, with Stripe's id and the status before."""

    id = ma.fields.String(attribute="dispute_id", metadata={"example": "dp_1QxYz"})
    previousStatus = ma.fields.String(
        attribute="previous_status",
        allow_none=True,
        validate=ma.validate.OneOf(DISPUTE_STATUSES),
        metadata={"description": "null for the first report of the dispute"},
    )


class EventEndpointSchema(WebhookEndpointSchema):
    """The endpoint as GET /webhook-endpoints/{id} shows it, but for its secret."""

    class Meta:
        exclude = ("secret",)


class EventDataSchema(Schema):
    """An order event's order, previousStatus, version and actor; webhook_endpoint.disabled's
    endpoint."""

    endpoint = ma.fields.Nested(EventEndpointSchema)
    order = ma.fields.Nested(EventOrderSchema)
    previousStatus = ma.fields.String(
        allow_none=True,
        validate=ma.validate.OneOf(STATUSES),
        metadata={"description": "Of a status change (order.<status>) only."},
    )
    refund = ma.fields.Nested(
        RefundSchema, metadata={"description": "Of order.refund.succeeded and .failed only."}
    )
    dispute = ma.fields.Nested(
        DisputeChangeSchema, metadata={"description": "Of order.dispute.updated only."}
    )
    fulfillment = ma.fields.Nested(
        FulfillmentSchema, metadata={"description": "Of order.fulfillment.created only."}
    )
    version = ma.fields.Integer(metadata={"description": "1 for order.created, then +1 a change"})
    actor = ma.fields.String()


@always_sent
class EventSchema(Schema):
    id = ma.fields.String(metadata={"example": "evt_5f0c8e2a9b1d4c7e3a6b8d0f"})
    type = ma.fields.String(validate=ma.validate.OneOf(TYPES))
    createdAt = UTCDateTime()
    data = ma.fields.Nested(EventDataSchema)


class EventQueryArgsSchema(KeysetArgsSchema):
    starting_after = ma.fields.String(
        data_key="starting_after",
        validate=ma.validate.Length(min=1, max=40),
        metadata={"description": "An event id from the previous page."},
    )
    type = ma.fields.String(validate=ma.validate.OneOf(TYPES))
    orderId = QueryInteger(attribute="order_id", validate=ma.validate.Range(min=1, max=MAX_ID))
