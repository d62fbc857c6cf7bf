"""Refund bodies: what staff ask for, and the ledger's refund as the API shows it."""

import marshmallow as ma

from ..fields import Schema, StrictBoolean, StrictInteger, UTCDateTime
from ..orders.schemas import MAX_LINES, LineSchema, each_product_once

MAX_REASON = 500
# As an order's own bounds (orders/service.py): no refund is worth more than an order can be.
MAX_AMOUNT = 99_999_999
REFUND_STATUSES = ("pending", "succeeded", "failed")
ORIGINS = ("staff", "stripe")


class RefundLineSchema(LineSchema):
    """Units of a line to refund."""


class _RefundRequestBase(Schema):
    reason = ma.fields.String(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Length(max=MAX_REASON),
        metadata={"description": "Why, for the shop's own records (kept in Stripe's metadata)."},
    )


class AmountRefundSchema(_RefundRequestBase):
    """A refund of an amount."""

    amountInCents = StrictInteger(
        attribute="amount_in_cents",
        required=True,
        validate=ma.validate.Range(min=1, max=MAX_AMOUNT),
    )


class LineRefundSchema(_RefundRequestBase):
    """A refund of order lines, each worth its quantity times the line's price at purchase."""

    lines = ma.fields.List(
        ma.fields.Nested(RefundLineSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_LINES),
    )
    restock = StrictBoolean(
        load_default=False,
        metadata={"description": "Give the lines' tracked stock back once the refund succeeds."},
    )


class RefundRequestSchema(AmountRefundSchema, LineRefundSchema):
    """Exactly one of amountInCents and lines (REFUND_REQUEST_DOC says so to OpenAPI)."""

    amountInCents = StrictInteger(
        attribute="amount_in_cents", validate=ma.validate.Range(min=1, max=MAX_AMOUNT)
    )
    lines = ma.fields.List(
        ma.fields.Nested(RefundLineSchema), validate=ma.validate.Length(min=1, max=MAX_LINES)
    )

    @ma.validates_schema
    def exactly_one_kind(self, data, **kwargs):
        if ("amount_in_cents" in data) == ("lines" in data):
            raise ma.ValidationError("Give exactly one of amountInCents and lines.")
        if data["restock"] and "lines" not in data:
            raise ma.ValidationError("Only a refund of lines can restock.", "restock")
        if "lines" in data:
            try:
                each_product_once(data["lines"])
            except ma.ValidationError as error:
                raise ma.ValidationError(error.messages, "lines") from None


REFUND_REQUEST_DOC = {"oneOf": [AmountRefundSchema, LineRefundSchema]}


class RefundSchema(Schema):
    id = ma.fields.Integer(required=True)
    orderId = ma.fields.Integer(attribute="order_id", required=True)
    amountInCents = ma.fields.Integer(attribute="amount_in_cents", required=True)
    lines = ma.fields.List(
        ma.fields.Nested(RefundLineSchema),
        required=True,
        metadata={"description": "The lines refunded; empty for a refund of an amount."},
    )
    reason = ma.fields.String(required=True, allow_none=True)
    restock = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(REFUND_STATUSES))
    origin = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(ORIGINS),
        metadata={"description": "staff: made here; stripe: made in Stripe (the dashboard)."},
    )
    actor = ma.fields.String(required=True, metadata={"example": "admin:1"})
    createdAt = UTCDateTime(attribute="created_at", required=True)
