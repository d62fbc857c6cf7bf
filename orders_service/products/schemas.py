"""Catalog bodies."""

import marshmallow as ma

from ..fields import Schema, StrictBoolean, StrictInteger
from ..pagination import KeysetArgsSchema
from .models import MAX_STOCK

MAX_PRICE = 99_999_999


class ProductSchema(Schema):
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


class ProductPatchSchema(ProductSchema):
    """Any subset of a product's fields."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ProductQueryArgsSchema(KeysetArgsSchema):
    pass
