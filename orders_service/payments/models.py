"""Payment events already applied, so each is applied once."""

import peewee

from ..database import BaseModel, utcnow
from ..orders.models import Order


class PaymentEvent(BaseModel):
    id = peewee.CharField(max_length=255, primary_key=True)
    type = peewee.CharField(max_length=100)
    order = peewee.ForeignKeyField(Order, null=True, on_delete="CASCADE")
    outcome = peewee.CharField(max_length=255)
    received_at = peewee.DateTimeField(default=utcnow, index=True)
