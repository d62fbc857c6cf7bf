"""Lead status and lead bodies, and the query of the lead list."""

import marshmallow as ma

from ..fields import MAX_ID, QueryInteger, Schema, StrictInteger, UTCDateTime, always_sent
from ..pagination import KeysetArgsSchema
from .models import MAX_STATUS_ORDER as MAX_ORDER


class LeadStatusCreateSchema(Schema):
    """A new column: its name, and its place if not the last."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    statusOrder = StrictInteger(
        attribute="status_order", validate=ma.validate.Range(min=0, max=MAX_ORDER)
    )


@always_sent
class LeadStatusSchema(LeadStatusCreateSchema):
    """A column as the service answers it."""


class LeadStatusPatchSchema(LeadStatusCreateSchema):
    """A new name, a new place, or both."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class LeadStatusCountedSchema(LeadStatusSchema):
    leadCount = ma.fields.Integer(
        attribute="lead_count",
        metadata={"description": "How many leads sit in the column (with withCounts=true)."},
    )


class LeadStatusListArgsSchema(Schema):
    withCounts = ma.fields.Boolean(
        attribute="with_counts",
        load_default=False,
        truthy={"true", "1"},
        falsy={"false", "0"},
        metadata={"description": "Add leadCount to each column."},
    )


class StatusPositionSchema(Schema):
    """One column's new place: {"id": 1, "statusOrder": 1}."""

    id = StrictInteger(required=True, validate=ma.validate.Range(min=1, max=MAX_ID))
    statusOrder = StrictInteger(
        attribute="status_order", required=True, validate=ma.validate.Range(min=0, max=MAX_ORDER)
    )

    @ma.pre_load(pass_collection=True)
    def accept_single_object(self, data, many, **kwargs):
        # The API page's example sends one object; the contract sends an array. Both mean the same.
        return [data] if many and isinstance(data, dict) else data

    @ma.validates_schema(pass_collection=True)
    def no_repeats(self, data, many, **kwargs):
        if not many:
            return
        if not data:
            raise ma.ValidationError("Send at least one {id, statusOrder}.")
        for name, attribute in (("id", "id"), ("statusOrder", "status_order")):
            values = [item[attribute] for item in data]
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ma.ValidationError(f"Repeated {name}: {', '.join(map(str, repeated))}.")


class LeadCreateSchema(Schema):
    """A new lead: its name and email, and whatever else is known."""

    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    email = ma.fields.Email(
        required=True,
        validate=ma.validate.Length(max=254),
        metadata={"description": "Unique, case-insensitively."},
    )
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=50))
    source = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=100))
    statusId = StrictInteger(
        attribute="status_id",
        validate=ma.validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The column; the first one when left out."},
    )
    createdAt = UTCDateTime(attribute="created_at", dump_only=True)


@always_sent
class LeadSchema(LeadCreateSchema):
    """A lead as the service answers it."""


class LeadPatchSchema(LeadCreateSchema):
    """Any subset of a lead's fields; moving a lead to another column is a new statusId."""

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class LeadQueryArgsSchema(KeysetArgsSchema):
    statusId = QueryInteger(attribute="status_id", validate=ma.validate.Range(min=1, max=MAX_ID))
    q = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={"description": "Case-insensitive substring of the name or the email."},
    )


class LeadReceivedSchema(Schema):
    message = ma.fields.String(
        required=True, metadata={"description": "A receipt; nothing about any lead."}
    )
