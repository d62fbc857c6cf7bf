"""The Schema base and the strict field types every body and query is read with."""

import datetime
import re

import marshmallow as ma

MAX_ID = 2**63 - 1


class Schema(ma.Schema):
    """Unknown fields are errors (the Parser makes webargs leave that to the schema)."""

    class Meta:
        unknown = ma.RAISE


class StrictInteger(ma.fields.Integer):
    """An integer and only an integer: no floats, strings or booleans."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class QueryInteger(ma.fields.Integer):
    """A query string integer: ASCII digits only (int() takes " 7", "7_0", other scripts too)."""

    DIGITS = re.compile(r"-?[0-9]+")

    def _validated(self, value):
        if isinstance(value, str) and not self.DIGITS.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class StrictBoolean(ma.fields.Boolean):
    """true or false, nothing truthy (not even 1 or 0, which equal True and False)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        raise self.make_error("invalid", input=value)


class UTCDateTime(ma.fields.DateTime):
    """Naive UTC datetimes out as ISO 8601 ending in Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class UTCInstant(ma.fields.AwareDateTime):
    """An ISO 8601 time with its offset (Z or ±hh:mm), read as naive UTC, as times are stored."""

    def _deserialize(self, value, attr, data, **kwargs):
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            return instant.astimezone(datetime.UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 moved past the calendar's end by its offset
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
