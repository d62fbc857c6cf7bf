"""Bodies the database writes: the JSON a schema dumps for a row, built in the same SELECT."""

import collections
import json

import marshmallow as ma
from flask import Response

from .database import db, is_sqlite
from .fields import Derived, Embedded, StoredList, UTCDateTime

# A document and the id it is paged by (pagination.finish_page reads `.id`).
Row = collections.namedtuple("Row", "id doc")

# The timestamp as UTCDateTime dumps it: the second cut, never rounded (as a cast to
# timestamp(0) would), then Z. SQLite holds the text peewee wrote ('YYYY-MM-DD HH:MM:SS[.ffffff]'),
# so slicing it is enough.
TIMESTAMP = {
    False: 'to_char({}, \'YYYY-MM-DD"T"HH24:MI:SS"Z"\')',
    True: "substr({0}, 1, 10) || 'T' || substr({0}, 12, 8) || 'Z'",
}


def quote(name):
    return '"' + name.replace('"', '""') + '"'


class Document:
    """The body `schema` dumps for a row of `model`, as one SQL expression.

    The fields are the schema's own, in their declared order: a field added to the schema is
    in the fast body too. `children` fills each List(Nested) field with the rows of another
    model pointing at this one, in id order: {"products": OrderLine.order}. An Embedded field
    is an object of the row's own columns, null while its first column is (as it dumps).
    """

    def __init__(self, schema, model, children=None):
        self.model = model
        self.fields = []
        for name, field in schema().dump_fields.items():
            key = field.data_key or name
            if isinstance(field, Derived):
                self.fields.append((key, "derived", field.sql))
            elif isinstance(field, Embedded):
                embedded = Document(type(field.schema), model)
                self.fields.append((key, "embedded", embedded))
            elif isinstance(field, StoredList):
                self.fields.append((key, "json", model._meta.combined[field.column].column_name))
            elif isinstance(field, ma.fields.List):
                foreign_key = (children or {})[key]
                child = Document(type(field.inner.schema), foreign_key.model)
                self.fields.append((key, "children", (child, foreign_key)))
            else:
                column = model._meta.combined[field.attribute or name].column_name
                self.fields.append((key, _kind(field), column))

    def sql(self, alias, sqlite):
        """The expression (JSON) of the document of the row `alias` names."""
        values = [
            (key, self._value(kind, alias, detail, sqlite)) for key, kind, detail in self.fields
        ]
        if sqlite:
            return "json_object(" + ", ".join(f"'{key}', {value}" for key, value in values) + ")"
        # row_to_json writes compact JSON and keeps the columns' order (jsonb would sort keys).
        columns = ", ".join(f"{value} AS {quote(key)}" for key, value in values)
        return f"(SELECT row_to_json(d) FROM (SELECT {columns}) AS d)"

    def _value(self, kind, alias, detail, sqlite):
        if kind == "derived":
            return detail(alias, sqlite)
        if kind == "children":
            child, foreign_key = detail
            return child.array_sql(f"{alias}.id", foreign_key, f"{alias}_c", sqlite)
        if kind == "embedded":
            first_column = f"{alias}.{quote(detail.fields[0][2])}"
            value = (
                f"CASE WHEN {first_column} IS NULL THEN NULL ELSE {detail.sql(alias, sqlite)} END"
            )
            # json() keeps it JSON, not text, in the outer object whatever SQLite does to a
            # subtype through CASE.
            return f"json({value})" if sqlite else value
        column = f"{alias}.{quote(detail)}"
        if kind == "timestamp":
            return TIMESTAMP[sqlite].format(column)
        if kind == "json":
            return f"json({column})" if sqlite else f"{column}::json"
        if kind == "boolean" and sqlite:  # SQLite stores 0 and 1
            return f"CASE {column} WHEN 1 THEN json('true') WHEN 0 THEN json('false') END"
        return column

    def array_sql(self, parent_id, foreign_key, alias, sqlite):
        """A JSON array of the documents of this model's rows whose `foreign_key` is `parent_id`."""
        table = quote(self.model._meta.table_name)
        where = f"{alias}.{quote(foreign_key.column_name)} = {parent_id}"
        doc = self.sql(alias, sqlite)
        if sqlite:
            # An ordered subquery feeds json_group_array in order (no ORDER BY in aggregates
            # before SQLite 3.44); json() keeps each element and the result JSON, not text.
            ordered = (
                f"SELECT {doc} AS doc FROM {table} AS {alias} WHERE {where} ORDER BY {alias}.id"
            )
            return f"json((SELECT json_group_array(json(doc)) FROM ({ordered})))"
        return (
            f"(SELECT coalesce('[' || string_agg(({doc})::text, ',' ORDER BY {alias}.id) || ']',"
            f" '[]')::json FROM {table} AS {alias} WHERE {where})"
        )

    def select(self, alias, where, order_by="", limit=False, body=None):
        """SELECT (id, document text) FROM the model's rows matching `where` (SQL with %s).

        `body(alias, sqlite)`, when given, is the SQL answered in place of the row's document.
        """
        sqlite = is_sqlite()
        table = quote(self.model._meta.table_name)
        doc = (body or self.sql)(alias, sqlite)
        sql = f"SELECT {alias}.id, {doc}{'' if sqlite else '::text'} FROM {table} AS {alias}"
        sql += f" WHERE {where}" if where else ""
        sql += f" ORDER BY {order_by}" if order_by else ""
        sql += " LIMIT %s" if limit else ""
        return sql.replace("%s", db.obj.param)


def json_literal(value, sqlite):
    """A constant JSON value, in SQL: JSON, not text, to either database's json builders."""
    text = json.dumps(value, separators=(",", ":")).replace("'", "''")
    return f"json('{text}')" if sqlite else f"'{text}'::json"


def _kind(field):
    if isinstance(field, UTCDateTime):
        return "timestamp"
    if isinstance(field, ma.fields.Boolean):
        return "boolean"
    if isinstance(field, ma.fields.Integer | ma.fields.String):
        return "scalar"
    raise TypeError(f"{type(field).__name__} has no SQL document form: add one here")


class Statements:
    """SQL text made once per database kind and shape, then reused (making it is not free)."""

    def __init__(self, make):
        self.make = make
        self._made = {}

    def __call__(self, *shape):
        key = (type(db.obj), *shape)
        sql = self._made.get(key)
        if sql is None:
            sql = self._made[key] = self.make(*shape)
        return sql


def fetch(sql, params):
    """Rows (id, document) of one statement."""
    return [Row(*row) for row in db.execute_sql(sql, params).fetchall()]


def response(body, headers=None):
    """A 200 with a JSON body already written (flask-smorest passes a Response through)."""
    return Response(body, mimetype="application/json", headers=headers)


def as_array(rows):
    """The documents of `rows` as one JSON array (bytes)."""
    return ("[" + ",".join(row.doc for row in rows) + "]").encode()
