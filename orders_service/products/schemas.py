"""Catalog bodies."""

import marshmallow as ma

from ..fields import Schema, StrictBoolean, StrictInteger, always_sent
from ..pagination import KeysetArgsSchema
from .models import MAX_STOCK

MAX_PRICE = 99_999_999


class ProductCreateSchema(Schema):
    """A new product: sku, name and priceInCents, and whether it is on sale and its stock."""

    id = ma.fields.Integer(dump_only=True)
    sku = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    priceInCents = StrictInteger(
        attribute="price_in_cents", required=True, validate=ma.validate.Range(min=1, max=MAX_PRICE)
    )
    active = StrictBoolean(load_default=True)
    stock = StrictInteger(
        allow_none=True,
        load_default=None,
        validate=ma.validate.Range(min=0, max=MAX_STOCK),
        metadata={"description": "Units left to sell; null: not tracked (sold without limit)."},
    )


@always_sent
class ProductSchema(ProductCreateSchema):
    """A product as the service answers it."""


class ProductPatchSchema(ProductCreateSchema):
    """Any subset of a product's fields; one left out is left as it is."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ProductQueryArgsSchema(KeysetArgsSchema):
    pass
