"""Order bodies as the API page documents them."""

import marshmallow as ma

from ..fields import (
    MAX_ID,
    Derived,
    Embedded,
    QueryInteger,
    Schema,
    StoredList,
    StrictBoolean,
    StrictInteger,
    UTCDateTime,
    UTCInstant,
    always_sent,
)
from ..pagination import KeysetArgsSchema
from . import disputes, fulfillments
from .lifecycle import ALIASES, STATUSES, next_statuses, next_statuses_sql, normalize_status

MAX_ITEMS = 100
MAX_LINES = 100
MAX_QUANTITY = 1000


PRODUCT_ID_DOC = [
    {"type": "string", "pattern": "^[0-9]{1,18}$", "description": "A product id"},
    {"type": "integer", "minimum": 1, "maximum": MAX_ID},
]


class ProductId(ma.fields.Field):
    """A product id as the storefront sends it: 3 or "3"."""

    default_error_messages = {"invalid": "Must be a product id: an integer or a string of digits."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise self.make_error("invalid")
        return value


def _any_case(word):
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


# What Status reads, for OpenAPI (whose patterns have no flag for case): exactly these words.
STATUS_PATTERN = r"^\s*(" + "|".join(_any_case(s) for s in (*STATUSES, *ALIASES)) + r")\s*$"


class Status(ma.fields.String):
    """An order status in any case; 'cancelled' is read as 'canceled'."""

    default_error_messages = {"unknown": f"Must be one of: {', '.join(STATUSES)}."}

    def __init__(self, **kwargs):
        metadata = {
            "pattern": STATUS_PATTERN,
            "description": f"One of {', '.join(STATUSES)}, in any case ('cancelled' too).",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        status = normalize_status(super()._deserialize(value, attr, data, **kwargs))
        if status is None:
            raise self.make_error("unknown")
        return status


class OrderItemSchema(Schema):
    """One cart item: a bare product id, or {id, quantity}."""

    id = ProductId(required=True, metadata={"oneOf": PRODUCT_ID_DOC})
    quantity = StrictInteger(load_default=1, validate=ma.validate.Range(min=1, max=1000))

    @ma.pre_load(pass_collection=True)
    def accept_bare_ids(self, data, many, **kwargs):
        if not many:
            return data
        if not isinstance(data, list):
            raise ma.ValidationError("The body must be a JSON array of product ids.")
        if not 1 <= len(data) <= MAX_ITEMS:
            raise ma.ValidationError(f"An order has 1 to {MAX_ITEMS} items, not {len(data)}.")
        return [item if isinstance(item, dict) else {"id": item} for item in data]


CART_DOC_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_ITEMS,
    "items": {
        "oneOf": [*PRODUCT_ID_DOC, OrderItemSchema],
    },
}


class IdempotencyHeaderSchema(Schema):
    class Meta:
        unknown = ma.EXCLUDE  # every other header

    key = ma.fields.String(
        data_key="Idempotency-Key",
        validate=ma.validate.Length(min=1, max=255),
        metadata={
            "description": "Repeat a request safely: the same key and body answer the first "
            "response again (scoped to the caller)."
        },
    )


@always_sent
class OrderLineSchema(Schema):
    id = ma.fields.Integer(attribute="product_id")
    name = ma.fields.String()
    quantity = ma.fields.Integer()
    priceInCents = ma.fields.Integer(attribute="price_in_cents")


@always_sent
class DisputeSchema(Schema):
    """The payment's dispute (chargeback or inquiry) as Stripe last reported it."""

    status = ma.fields.String(
        attribute="dispute_status",
        validate=ma.validate.OneOf(disputes.STATUSES),
        metadata={
            "description": "Stripe's; shipping waits while it is "
            + ", ".join(sorted(disputes.OPEN))
        },
    )
    reason = ma.fields.String(attribute="dispute_reason", metadata={"example": "fraudulent"})
    amountInCents = ma.fields.Integer(attribute="dispute_amount_in_cents")


class LineSchema(Schema):
    """Units of one of the order's lines, named by its product."""

    productId = StrictInteger(required=True, validate=ma.validate.Range(min=1, max=MAX_ID))
    quantity = StrictInteger(required=True, validate=ma.validate.Range(min=1, max=MAX_QUANTITY))


def each_product_once(lines):
    products = [line["productId"] for line in lines]
    if len(set(products)) != len(products):
        raise ma.ValidationError("Name each product once.")


class FulfillmentLineSchema(LineSchema):
    """Units of a line sent in one fulfilment."""


class FulfillmentRequestSchema(Schema):
    lines = ma.fields.List(
        ma.fields.Nested(FulfillmentLineSchema),
        validate=[ma.validate.Length(min=1, max=MAX_LINES), each_product_once],
        metadata={"description": "What this parcel sends; everything not yet sent if absent."},
    )
    carrier = ma.fields.String(
        load_default=None, allow_none=True, validate=ma.validate.Length(min=1, max=100)
    )
    trackingNumber = ma.fields.String(
        attribute="tracking_number",
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(min=1, max=100),
    )
    trackingUrl = ma.fields.Url(
        attribute="tracking_url",
        load_default=None,
        allow_none=True,
        relative=False,
        schemes={"http", "https"},
        validate=ma.validate.Length(max=2048),
        metadata={"description": "Where the buyer follows the parcel: an absolute http(s) URL."},
    )
    notifyCustomer = StrictBoolean(
        attribute="notify_customer",
        load_default=False,
        metadata={"description": "Passed on in order.fulfillment.created, for the shop's mailer."},
    )


@always_sent
class FulfillmentSchema(Schema):
    id = ma.fields.Integer()
    orderId = ma.fields.Integer(attribute="order_id")
    lines = StoredList(ma.fields.Nested(FulfillmentLineSchema), column="lines_json")
    carrier = ma.fields.String(allow_none=True, metadata={"example": "UPS"})
    trackingNumber = ma.fields.String(
        attribute="tracking_number", allow_none=True, metadata={"example": "1Z999AA10123456784"}
    )
    trackingUrl = ma.fields.String(
        attribute="tracking_url",
        allow_none=True,
        metadata={"example": "https://www.ups.com/track?tracknum=1Z999AA10123456784"},
    )
    notifyCustomer = ma.fields.Boolean(attribute="notify_customer")
    actor = ma.fields.String(metadata={"example": "admin:1"})
    createdAt = UTCDateTime(attribute="created_at")


@always_sent
class OrderSchema(Schema):
    id = ma.fields.Integer()
    userId = ma.fields.Integer(attribute="user_id")
    date = UTCDateTime(attribute="created_at")
    products = ma.fields.List(ma.fields.Nested(OrderLineSchema))
    amountInCents = ma.fields.Integer(attribute="amount_in_cents")
    amountRefundedInCents = ma.fields.Integer(
        attribute="amount_refunded_in_cents",
        metadata={"description": "What succeeded refunds gave back: 0 until one does."},
    )
    currency = ma.fields.String()
    clientSecret = ma.fields.String(attribute="client_secret")
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    dispute = Embedded(DisputeSchema, metadata={"description": "null until one is opened"})
    paymentIntentId = ma.fields.String(
        attribute="payment_intent_id",
        metadata={"description": "The payment's PaymentIntent (pi_…), set up with the order."},
    )
    nextStatuses = Derived(
        next_statuses,
        next_statuses_sql,
        metadata={
            "type": "array",
            "items": {"type": "string", "enum": list(STATUSES)},
            "description": "The statuses the life cycle lets the order move to now (an open "
            "dispute holds shipped); owners may only cancel a pending order.",
        },
    )
    fulfillmentStatus = ma.fields.String(
        attribute="fulfillment_status",
        validate=ma.validate.OneOf(fulfillments.STATUSES),
        metadata={
            "description": "partial once a line is sent; fulfilled when all are sent or refunded."
        },
    )
    fulfillments = ma.fields.List(
        ma.fields.Nested(FulfillmentSchema),
        metadata={"description": "The parcels sent, oldest first."},
    )
    authorizationExpiresAt = UTCDateTime(
        attribute="authorization_expires_at",
        allow_none=True,
        metadata={
            "description": "Until when an authorized payment can be captured (manual "
            "capture); null otherwise."
        },
    )


class OrderQueryArgsSchema(KeysetArgsSchema):
    userId = QueryInteger(attribute="user_id", validate=ma.validate.Range(min=1, max=MAX_ID))
    status = Status()
    createdAfter = UTCInstant(
        attribute="created_after",
        metadata={"description": "Orders created at or after this moment (Z or an offset)."},
    )
    createdBefore = UTCInstant(
        attribute="created_before",
        metadata={"description": "Orders created before this moment (Z or an offset)."},
    )

    @ma.validates_schema
    def a_range_is_not_empty(self, data, **kwargs):
        after, before = data.get("created_after"), data.get("created_before")
        if after is not None and before is not None and after >= before:
            raise ma.ValidationError("createdAfter must be earlier than createdBefore.")


class StatusUpdateSchema(Schema):
    orderId = StrictInteger(
        attribute="order_id", required=True, validate=ma.validate.Range(min=1, max=MAX_ID)
    )
    status = Status(required=True, metadata={"example": "Shipped"})


@always_sent
class StatusUpdatedSchema(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))


@always_sent
class HistorySchema(Schema):
    # "from" is a Python keyword: the field is declared under another name.
    from_ = ma.fields.String(attribute="from_status", data_key="from", allow_none=True)
    to = ma.fields.String(attribute="to_status")
    at = UTCDateTime()
    actor = ma.fields.String()
