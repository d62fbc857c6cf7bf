"""The CRM board's columns."""

import peewee

from ..database import BaseModel


class LeadStatus(BaseModel):
    name = peewee.CharField(max_length=100)
    status_order = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("status_order", "id"), False),)
