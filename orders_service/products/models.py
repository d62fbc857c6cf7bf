"""The catalog that prices orders."""

import peewee

from ..database import BaseModel, utcnow

# The column is a 32-bit integer on PostgreSQL.
MAX_STOCK = 2_147_483_647


class Product(BaseModel):
    sku = peewee.CharField(max_length=64, unique=True)
    name = peewee.CharField(max_length=200)
    price_in_cents = peewee.BigIntegerField()
    active = peewee.BooleanField(default=True)
    # Units left to sell; None: not tracked, sold without limit.
    stock = peewee.IntegerField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
