"""The Schema base and the strict field types every body and query is read with."""

import copy
import datetime
import re

import marshmallow as ma

MAX_ID = 2**63 - 1


class Schema(ma.Schema):
    """Unknown fields are errors (the Parser makes webargs leave that to the schema)."""

    class Meta:
        unknown = ma.RAISE


def always_sent(schema):
    """A response schema: each of its fields is `required` in the API document, the service
    sending it every time (null where the field allows none), so a generated client types it
    as always there. Fields a subclass adds later are not (LeadStatusCounted's leadCount).

    The fields are copies: a request schema it derives from keeps its own `required` and
    defaults (a dump never checks `required`, and a response has no defaults to document).
    """
    for name, field in schema._declared_fields.items():
        sent = copy.copy(field)
        sent.required = True
        sent.load_default = ma.missing
        schema._declared_fields[name] = sent
    return schema


def sometimes_absent(schema, *names):
    """The fields `names` of an always_sent schema made optional again in the API document:
    bodies stored before those fields existed (an event's order) are served as written."""
    for name in names:
        absent = copy.copy(schema._declared_fields[name])
        absent.required = False
        schema._declared_fields[name] = absent
    return schema


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


class Embedded(ma.fields.Nested):
    """An object made of some of the row's own columns (the nested schema's attributes), null
    while its first field is: an order's `dispute` is its dispute_* columns, or null.

    documents.Document writes the same object, or null, in SQL.
    """

    _CHECK_ATTRIBUTE = False  # the nested schema reads the row itself

    def __init__(self, nested, **kwargs):
        super().__init__(nested, allow_none=True, **kwargs)

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        first = next(iter(self.schema.dump_fields.values()))
        if first.get_value(obj, first.attribute or first.name) is None:
            return None
        return self.schema.dump(obj)


class Derived(ma.fields.Field):
    """A value made from the row's other columns: by `python(row)` when dumped, and by the SQL
    expression `sql(alias, sqlite)` (of JSON) when documents.Document writes the body."""

    _CHECK_ATTRIBUTE = False

    def __init__(self, python, sql, **kwargs):
        super().__init__(dump_only=True, **kwargs)
        self.python = python
        self.sql = sql

    def _serialize(self, value, attr, obj, **kwargs):
        return self.python(obj)


class StoredList(ma.fields.List):
    """A list kept as JSON text in one of the row's columns (the model field `column`): dumped
    from the attribute that parses it, and written as that JSON by documents.Document."""

    def __init__(self, inner, column, **kwargs):
        super().__init__(inner, **kwargs)
        self.column = column


class UTCInstant(ma.fields.AwareDateTime):
    """An ISO 8601 time with its offset (Z or ±hh:mm), read as naive UTC, as times are stored.

    A time without one would be a guess: refused, saying so.
    """

    default_error_messages = {
        "invalid": "Not an ISO 8601 date and time, like 2026-03-01T00:00:00Z.",
        "invalid_awareness": "Give the time zone: end with Z or an offset such as +02:00.",
    }

    def _deserialize(self, value, attr, data, **kwargs):
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            return instant.astimezone(datetime.UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 moved past the calendar's end by its offset
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None
