"""Keyset pagination: newest first, `limit` and `starting_after`, a Link to the next page."""

from urllib.parse import quote, urlencode

import marshmallow as ma
from flask import request

from .fields import MAX_ID, QueryInteger, Schema


class KeysetArgsSchema(Schema):
    """`limit` and `starting_after`: newest first, one page after another."""

    limit = QueryInteger(load_default=20, validate=ma.validate.Range(min=1, max=100))
    starting_after = QueryInteger(
        data_key="starting_after", validate=ma.validate.Range(min=1, max=MAX_ID)
    )


LINK_HEADER_DOC = {
    "Link": {
        "description": (
            'Present when more items exist: `</path?starting_after=ID&limit=N>; rel="next"`, '
            "a relative reference to resolve against the URL requested (RFC 8288)"
        ),
        "schema": {"type": "string"},
    }
}


def keyset_query(query, id_field, starting_after, fetch):
    """`fetch` rows of `query` (a page and one more), newest first by `id_field`, after the cursor.

    Cost does not grow with the depth of the page: it is a range scan from the cursor.
    """
    if starting_after is not None:
        query = query.where(id_field < starting_after)
    return query.order_by(id_field.desc()).limit(fetch)


def keyset_page(query, id_field, args, headers):
    """One page of `query`, newest first by `id_field`; sets a next Link when more exist."""
    rows = list(keyset_query(query, id_field, args.get("starting_after"), args["limit"] + 1))
    return finish_page(rows, id_field, args, headers)


def finish_page(rows, id_field, args, headers):
    """The page from keyset_query's rows, and the next Link in `headers` when more exist."""
    limit = args["limit"]
    if len(rows) > limit:
        rows = rows[:limit]
        params = request.args.to_dict()
        params.update(starting_after=str(getattr(rows[-1], id_field.name)), limit=str(limit))
        # Relative (RFC 8288 allows it): the Host header is the client's word, not ours to echo.
        headers["Link"] = f'<{quote(request.path)}?{urlencode(params)}>; rel="next"'
    return rows
