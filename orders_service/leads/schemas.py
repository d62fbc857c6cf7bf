"""Lead status bodies."""

import marshmallow as ma

from ..extensions import Schema, StrictInteger

MAX_ORDER = 2**31 - 1
MAX_ID = 2**63 - 1


class LeadStatusSchema(Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    statusOrder = StrictInteger(
        attribute="status_order", validate=ma.validate.Range(min=0, max=MAX_ORDER)
    )


class StatusPositionSchema(Schema):
    """One column's new place: {"id": 1, "statusOrder": 1}."""

    id = StrictInteger(required=True, validate=ma.validate.Range(min=1, max=MAX_ID))
    statusOrder = StrictInteger(
        attribute="status_order", required=True, validate=ma.validate.Range(min=0, max=MAX_ORDER)
    )

    @ma.pre_load(pass_collection=True)
    def accept_single_object(self, data, many, **kwargs):
        # The API page's example sends one object; SPEC sends an array. Both mean the same.
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
