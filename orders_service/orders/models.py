"""Orders, their lines (priced at purchase), their history, fulfilments and idempotency keys."""

import json
import secrets

import peewee

from ..database import BaseModel, utcnow
from ..products.models import Product


class Order(BaseModel):
    user_id = peewee.BigIntegerField()
    created_at = peewee.DateTimeField(default=utcnow)
    status = peewee.CharField(max_length=16, default="pending")
    amount_in_cents = peewee.BigIntegerField()
    currency = peewee.CharField(max_length=3)
    payment_intent_id = peewee.CharField(max_length=255, null=True, unique=True)
    # Null until the provider has answered: such an order is not shown to anyone.
    client_secret = peewee.CharField(max_length=255, null=True)
    payment_error = peewee.TextField(null=True)
    # Random, so that the provider's idempotency keys of this order are unique to it for good
    # (order ids repeat across deployments and restored backups); null on older orders.
    payment_key = peewee.CharField(max_length=32, null=True, default=lambda: secrets.token_hex(16))
    # Set while a staff, owner or system status change (and its provider call) holds the order.
    change_claimed_until = peewee.DateTimeField(null=True)
    # Moves on when the provider keeps a failure under one of the order's keys (payments/stripe.py).
    payment_key_generation = peewee.IntegerField(default=0)
    # The version of the order's last event (events/outbox.py): 1 for order.created, then one
    # more for each status change, refund or dispute change, whatever events were pruned since.
    event_version = peewee.IntegerField(default=0)
    # The sum of the order's succeeded refunds (payments/refunds.py keeps it so).
    amount_refunded_in_cents = peewee.BigIntegerField(default=0)
    # The payment's dispute as Stripe last reported it (payments/disputes.py); all null until
    # one is opened. `dispute_as_of` is when Stripe made the event that said so.
    dispute_id = peewee.CharField(max_length=255, null=True)
    dispute_status = peewee.CharField(max_length=32, null=True)
    dispute_reason = peewee.CharField(max_length=64, null=True)
    dispute_amount_in_cents = peewee.BigIntegerField(null=True)
    dispute_as_of = peewee.DateTimeField(null=True)
    # unfulfilled, partial or fulfilled (orders/fulfillments.py keeps it so).
    fulfillment_status = peewee.CharField(max_length=16, default="unfulfilled")
    # Until when a manual-capture payment's hold can be captured (the charge's capture_before).
    authorization_expires_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "orders"
        # A list is newest first by id; with a date filter, by (created_at, id), each filter
        # leading its index so that any page is one range scan (orders/queries.py).
        indexes = (
            (("user_id", "id"), False),
            (("status", "id"), False),
            (("created_at", "id"), False),
            (("user_id", "created_at", "id"), False),
            (("status", "created_at", "id"), False),
        )

    @property
    def fulfillments(self):
        """The order's fulfilments, oldest first: read when asked (an unfulfilled order has
        none, so its body costs no query)."""
        if self.fulfillment_status == "unfulfilled":
            return []
        return list(
            Fulfillment.select().where(Fulfillment.order == self.id).order_by(Fulfillment.id)
        )


class OrderLine(BaseModel):
    order = peewee.ForeignKeyField(Order, backref="lines", on_delete="CASCADE")
    product = peewee.ForeignKeyField(Product, on_delete="RESTRICT")
    name = peewee.CharField(max_length=200)
    quantity = peewee.IntegerField()
    price_in_cents = peewee.BigIntegerField()
    # Units this line holds from the product's stock, what a cancel gives back.
    stock_taken = peewee.IntegerField(default=0)
    # Units that pending and succeeded line refunds claim: no refund goes past the quantity.
    quantity_refunded = peewee.IntegerField(default=0)
    # Units sent in the order's fulfilments: none is sent past what was bought and not refunded.
    quantity_fulfilled = peewee.IntegerField(default=0)


class OrderHistory(BaseModel):
    order = peewee.ForeignKeyField(Order, backref="history", on_delete="CASCADE")
    from_status = peewee.CharField(max_length=16, null=True)
    to_status = peewee.CharField(max_length=16)
    actor = peewee.CharField(max_length=255)
    at = peewee.DateTimeField(default=utcnow)


class IdempotencyKey(BaseModel):
    user_id = peewee.BigIntegerField()
    key = peewee.CharField(max_length=255)
    request_hash = peewee.CharField(max_length=64)
    order = peewee.ForeignKeyField(Order, null=True, on_delete="CASCADE")
    response_code = peewee.IntegerField(null=True)
    response_body = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    # The lease of the request working on the key: its last sign of life, and its fencing token.
    locked_at = peewee.DateTimeField(default=utcnow)
    lease = peewee.CharField(max_length=32, null=True)

    class Meta:
        indexes = ((("user_id", "key"), True), (("created_at",), False))


class Fulfillment(BaseModel):
    """One parcel: the lines it sent, and how to follow it."""

    order = peewee.ForeignKeyField(Order, on_delete="CASCADE", index=False)
    # [{"productId": 3, "quantity": 1}]
    lines_json = peewee.TextField(column_name="lines")
    carrier = peewee.CharField(max_length=100, null=True)
    tracking_number = peewee.CharField(max_length=100, null=True)
    tracking_url = peewee.CharField(max_length=2048, null=True)
    notify_customer = peewee.BooleanField(default=False)
    actor = peewee.CharField(max_length=255)
    created_at = peewee.DateTimeField(default=utcnow)
    idempotency_key = peewee.ForeignKeyField(
        IdempotencyKey, null=True, unique=True, on_delete="SET NULL"
    )

    class Meta:
        indexes = ((("order", "id"), False),)

    @property
    def lines(self):
        return json.loads(self.lines_json)
