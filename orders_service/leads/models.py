"""The CRM board: its columns (lead statuses) and the leads in them."""

import peewee

from ..database import BaseModel, utcnow

# statusOrder is a 32-bit signed integer in every request and response.
MAX_STATUS_ORDER = 2**31 - 1


class LeadStatus(BaseModel):
    name = peewee.CharField(max_length=100)
    status_order = peewee.IntegerField(default=0)

    class Meta:
        indexes = ((("status_order", "id"), False),)


class Lead(BaseModel):
    name = peewee.CharField(max_length=200)
    email = peewee.CharField(max_length=254)
    phone = peewee.CharField(max_length=50, null=True)
    source = peewee.CharField(max_length=100, null=True)
    # No index of its own: (status_id, id) below serves the foreign key too.
    status = peewee.ForeignKeyField(LeadStatus, backref="leads", on_delete="RESTRICT", index=False)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "id"), False),)


# Case-insensitive uniqueness, kept by the database on SQLite and PostgreSQL alike.
LeadStatus.add_index(
    LeadStatus.index(peewee.fn.LOWER(LeadStatus.name), unique=True, name="lead_status_name_lower")
)
Lead.add_index(Lead.index(peewee.fn.LOWER(Lead.email), unique=True, name="lead_email_lower"))
