"""Payment events already applied (each once), and the refund ledger."""

import json

import peewee

from ..database import BaseModel, utcnow
from ..orders.models import IdempotencyKey, Order


class PaymentEvent(BaseModel):
    id = peewee.CharField(max_length=255, primary_key=True)
    type = peewee.CharField(max_length=100)
    order = peewee.ForeignKeyField(Order, null=True, on_delete="CASCADE")
    outcome = peewee.CharField(max_length=255)
    received_at = peewee.DateTimeField(default=utcnow, index=True)


class Refund(BaseModel):
    """One refund of an order, made by staff here or found at the provider."""

    order = peewee.ForeignKeyField(Order, backref="refunds", on_delete="CASCADE", index=False)
    amount_in_cents = peewee.BigIntegerField()
    # [{"productId": 3, "quantity": 1}] for a line refund, [] for an amount.
    lines_json = peewee.TextField(column_name="lines", default="[]")
    reason = peewee.CharField(max_length=500, null=True)
    restock = peewee.BooleanField(default=False)
    status = peewee.CharField(max_length=16, default="pending")
    origin = peewee.CharField(max_length=16)
    actor = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)
    provider_refund_id = peewee.CharField(max_length=255, null=True, unique=True)
    # Random, so the provider's key and metadata of a staff refund are its own for good (ids
    # repeat across deployments and restored backups); null for refunds found at the provider.
    key = peewee.CharField(max_length=32, null=True, unique=True)
    idempotency_key = peewee.ForeignKeyField(
        IdempotencyKey, null=True, unique=True, on_delete="SET NULL"
    )
    # The status the order had when this refund made it refunded: where its failure takes it back.
    status_before_refunded = peewee.CharField(max_length=16, null=True)

    class Meta:
        indexes = ((("order", "id"), False),)

    @property
    def lines(self):
        return json.loads(self.lines_json)
