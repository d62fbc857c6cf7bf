"""The Api with its error shape, the request Parser, the Blueprint with auth and error docs."""

import http
import logging

import marshmallow as ma
import peewee
from flask import current_app, has_request_context, request
from flask_smorest import Api as BaseApi
from flask_smorest import Blueprint as BaseBlueprint
from flask_smorest import abort
from flask_smorest.utils import prepare_response
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, IntegerConverter, Map

from .auth import require
from .database import is_missing_schema, pending_migrations, unmigrated_message
from .errors import DomainError
from .fields import MAX_ID, Schema
from .ops.limits import RATE_LIMIT_HEADERS_DOC, limited

log = logging.getLogger(__name__)


LOCATIONS = {"json", "query", "querystring", "headers", "view_args", "_schema"}


def _flatten(errors, prefix=""):
    """("field.sub: message", …) from marshmallow's nested error dict."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key in LOCATIONS:
                yield from _flatten(value, prefix)
            else:
                yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(errors, list | tuple):
        for item in errors:
            yield from _flatten(item, prefix)
    else:
        yield f"{prefix}: {errors}" if prefix else str(errors)


def summarize(errors, limit=5):
    lines = list(_flatten(errors))
    text = "; ".join(lines[:limit])
    return text + ("; …" if len(lines) > limit else "")


class ErrorSchema(Schema):
    """Every error's body: code, status and message always; errors with the details."""

    code = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    status = ma.fields.String(required=True, metadata={"description": "Its reason phrase"})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong"})
    errors = ma.fields.Dict(metadata={"description": "The details, by field where a field is"})


RETRY_AFTER_DOC = {
    "description": "Seconds to wait before trying again, when a retry may succeed",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
# Headers of the shared error responses (components.responses), by status.
ERROR_HEADERS_DOC = {
    401: {
        "WWW-Authenticate": {
            "description": 'The scheme to authenticate with: `Bearer realm="orders"`',
            "schema": {"type": "string"},
            "required": True,
        }
    },
    409: {"Retry-After": RETRY_AFTER_DOC},  # another change or keyed request is in progress
    429: {"Retry-After": RETRY_AFTER_DOC, **RATE_LIMIT_HEADERS_DOC},  # past a rate limit
    503: {"Retry-After": RETRY_AFTER_DOC},  # the database is down
}


def nullable_reference(self, field, ret, **kwargs):
    """A nullable nested object is `anyOf: [$ref, null]`: apispec's `{type: object, nullable}`
    alternative would take any object too (and make generated types a loose union)."""
    if "anyOf" in ret:
        return {
            "anyOf": [
                {**item, "enum": [None]} if item == {"type": "object", "nullable": True} else item
                for item in ret["anyOf"]
            ]
        }
    return {}


def no_default_in_patch(self, field, ret, **kwargs):
    """A partial schema (a PATCH body) has no defaults: a field left out is left unchanged."""
    if getattr(field.parent, "partial", False) is True:
        ret.pop("default", None)
    return {}


class Api(BaseApi):
    """flask-smorest's Api whose every error, routing and database ones included, has a message.

    No `default` response: each operation documents the statuses it really answers (see
    Blueprint), so an undocumented one is a finding, not something `default` lets through.
    """

    DEFAULT_ERROR_RESPONSE_NAME = None
    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(nullable_reference)
        self.ma_plugin.converter.add_attribute_function(no_default_in_patch)

    def _register_pagination_header(self):
        pass  # flask-smorest's page-number pagination is not used (see pagination.py)

    def _register_responses(self):
        """flask-smorest's response per status, with the headers the errors here carry."""
        for status in http.HTTPStatus:
            if status < 400:
                continue
            response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
            if status in ERROR_HEADERS_DOC:
                response["headers"] = ERROR_HEADERS_DOC[status]
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)

    def _register_error_handlers(self):
        super()._register_error_handlers()
        self._app.register_error_handler(peewee.OperationalError, self.handle_database_down)
        self._app.register_error_handler(peewee.InterfaceError, self.handle_database_down)
        self._app.register_error_handler(DomainError, self.handle_domain_error)
        self._app.register_error_handler(peewee.DataError, self.handle_database_refused)
        # PostgreSQL's missing relation: a 503 when migrations are pending, else a 500.
        self._app.register_error_handler(peewee.ProgrammingError, self.handle_database_bug)

    def handle_http_exception(self, error):
        payload, code, headers = super().handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = as_error_object(payload["errors"])
        if code == 404 and has_request_context() and request.routing_exception is error:
            payload["message"] = not_an_id_message() or NO_SUCH_URL
        if "message" not in payload:
            if "errors" in payload:
                payload["message"] = "Invalid request: " + summarize(payload["errors"])
            elif code >= 500:
                payload["message"] = http.HTTPStatus(code).description
            else:
                payload["message"] = error.description or http.HTTPStatus(code).description
        if code == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="orders"', **dict(headers)}
        if code == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            headers = {"Allow": ", ".join(error.valid_methods), **dict(headers)}
        return payload, code, headers

    def handle_domain_error(self, error):
        payload = {
            "code": error.code,
            "status": http.HTTPStatus(error.code).phrase,
            "message": error.message,
        }
        if error.errors:
            payload["errors"] = as_error_object(error.errors)
        return payload, error.code, error.headers or {}

    def handle_database_refused(self, error):
        # A value the schemas let through but the database will not store: still the caller's.
        log.warning("database refused a value: %s", error)
        payload = {"code": 400, "status": "Bad Request", "message": "A value cannot be stored."}
        return payload, 400

    def handle_database_down(self, error):
        unmigrated = self.unmigrated(error)
        if unmigrated is not None:
            return unmigrated
        log.error("database unavailable: %s", error)
        payload = {
            "code": 503,
            "status": "Service Unavailable",
            "message": "The database is unavailable; try again shortly.",
        }
        return payload, 503, {"Retry-After": "2"}

    def handle_database_bug(self, error):
        unmigrated = self.unmigrated(error)
        if unmigrated is not None:
            return unmigrated
        raise error  # Flask's 500, logged with its traceback

    def unmigrated(self, error):
        """The 503 for a table or column missing because migrations are not applied (the
        database says some are pending, or cannot say); None for anything else. Waiting will
        not help: the message names the command that applies them."""
        if not is_missing_schema(error):
            return None
        pending = pending_migrations()
        if pending == []:
            return None  # every migration is applied: the query itself is wrong
        message = unmigrated_message(pending)
        log.error("%s (%s)", message, error)
        payload = {"code": 503, "status": "Service Unavailable", "message": message}
        return payload, 503


def as_error_object(errors):
    """`errors` always as an object, and each location in it (json, query…) as one too: messages
    about the whole of a body or query (a list, as marshmallow's schema-level errors and the
    invalid-JSON answer have them) go under `_schema`, as marshmallow puts its own."""
    if not isinstance(errors, dict):
        return {"_schema": errors if isinstance(errors, list | tuple) else [errors]}
    return {
        key: {"_schema": list(value)}
        if key in LOCATIONS and isinstance(value, list | tuple)
        else value
        for key, value in errors.items()
    }


class IdConverter(IntegerConverter):
    """`<id:order_id>`: a positive 64-bit id; anything else is a 404, never an overflow (whose
    message names the parameter: see not_an_id_message). ASCII digits only: `\\d` would take
    any script's digits, and /orders/%D9%A1 (an Arabic-Indic 1) would be order 1."""

    regex = r"[0-9]+"

    def __init__(self, url_map, min=1, max=MAX_ID):
        super().__init__(url_map, min=min, max=max)


NO_SUCH_URL = "Nothing is at this URL: /docs lists the API's paths."


class AnySegment(BaseConverter):
    """Any one path segment where an id goes: what the request would have matched, but for its
    ids."""


def _is_id(text):
    return text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_ID


def not_an_id_message():
    """For the request's path no rule matched: when it matches one with anything in place of
    its ids, a message naming the ids that are not ids (None otherwise)."""
    app = current_app
    rules = list(app.url_map.iter_rules())
    probe = app.extensions.get("id_probe")
    if probe is None or probe[0] != len(rules):
        converters = {**app.url_map.converters, "id": AnySegment}
        probe = (len(rules), Map([rule.empty() for rule in rules], converters=converters))
        app.extensions["id_probe"] = probe
    try:
        rule, values = probe[1].bind_to_environ(request.environ).match(return_rule=True)
    except HTTPException:
        return None
    wrong = [
        f"{name} must be a whole number from 1 to {MAX_ID}, not {values[name][:40]!r}"
        for name, converter in rule._converters.items()
        if isinstance(converter, AnySegment) and not _is_id(values[name])
    ]
    return f"Not found: {'; '.join(wrong)}." if wrong else None


UNSTORABLE = "Text may not hold NUL characters or unpaired UTF-16 surrogates."


def storable(value):
    """False if a string anywhere in `value` (keys too) is text no database can store.

    JSON may escape a NUL (\\u0000) or half a surrogate pair (\\ud800); PostgreSQL refuses the
    first and no UTF-8 encoder takes the second, so they are refused here, as bad input.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item or not _encodes(item):
                return False
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return True


def _encodes(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Parser(FlaskParser):
    """Validation errors are 400s; a body that is not JSON is a 415; unknown query args are 400s."""

    DEFAULT_VALIDATION_STATUS = 400
    # webargs drops unknown query arguments; the schema's own RAISE applies instead, so a typo
    # (`?userid=5`) is an error, not a silently unfiltered list.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }

    def load_json(self, req, schema):
        try:
            return super().load_json(req, schema)
        except (RecursionError, ValueError):
            # Nesting too deep for the parser, or an integer too long to convert.
            abort(400, message="The body is not JSON this API can read (too deep or too large).")

    def _raw_load_json(self, req):
        if not is_json_request(req):
            if req.get_data(cache=True):
                abort(415, message="Send the body as JSON (Content-Type: application/json).")
            return core.missing
        data = core.parse_json(req.get_data(cache=True))
        if not storable(data):
            abort(400, message=UNSTORABLE)
        return data

    def load_querystring(self, req, schema):
        if not storable(list(req.args.items(multi=True))):
            abort(400, message=UNSTORABLE)
        return super().load_querystring(req, schema)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        abort(
            400,
            message="The body is not valid JSON.",
            errors={"json": {"_schema": ["Invalid JSON body."]}},
        )


# Statuses documented where they arise, once, not view by view:
# every operation: 503, the database unavailable (Api.handle_database_down);
EVERY_OPERATION = (503,)
# a JSON body: 413 over MAX_CONTENT_LENGTH, 415 not sent as JSON (Parser._raw_load_json);
# 400 comes with blp.arguments, 401 and 403 with Blueprint.auth, the rest with blp.errors.
JSON_BODY = (413, 415)


class Blueprint(BaseBlueprint):
    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_security_doc)

    @staticmethod
    def _prepare_security_doc(doc, doc_info, **kwargs):
        """An operation without `auth` is public, and says so (`security: []`): the document's
        security is per operation, so one without any would be left to guess."""
        if "security" not in doc_info.get("manual_doc", {}):
            doc["security"] = []
        return doc

    def arguments(self, schema, *, doc_schema=None, **kwargs):
        """flask-smorest's arguments; `doc_schema` documents a body the schema alone can't.

        (A cart item is a string, an integer or an object: marshmallow reads all three,
        but only an explicit oneOf tells OpenAPI so.) A JSON body documents 413 and 415.
        A schema class is made into an instance here, once: webargs would make one (deep-copying
        every field) at each request.
        """
        decorator = super().arguments(schema() if isinstance(schema, type) else schema, **kwargs)
        json_body = kwargs.get("location", "json") == "json"

        def documented(func):
            wrapper = decorator(func)
            if doc_schema is not None:
                wrapper._apidoc["arguments"]["parameters"][-1]["schema"] = doc_schema
            return self.errors(*JSON_BODY)(wrapper) if json_body else wrapper

        return documented

    @staticmethod
    def _prepare_response_doc(doc, doc_info, *, api, spec, **kwargs):
        """flask-smorest's response doc, with the statuses every operation may answer."""
        responses = doc_info.setdefault("response", {}).setdefault("responses", {})
        for code in EVERY_OPERATION:
            if code not in responses and str(code) not in responses:
                responses[code] = [http.HTTPStatus(code).name]
        return BaseBlueprint._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)

    def errors(self, *codes):
        """Document the error statuses a view may answer (each in the shared error shape)."""

        def decorator(func):
            for code in codes:
                func = self.alt_response(code, response=http.HTTPStatus(code).name)(func)
            return func

        return decorator

    def limit(self, setting, idempotent=False):
        """Rate-limited per customer by the limits in `setting` (ops/limits.py), and documented
        so; nearest the view, so that it counts only requests that `auth` and `arguments` let
        through (and the body is read: a 429 keeps the connection alive)."""

        def decorator(func):
            return self.errors(429)(limited(setting, idempotent=idempotent)(func))

        return decorator

    def auth(self, admin=False, optional=False):
        """Only for an authenticated caller (an admin if `admin`), and documented so."""

        def decorator(func):
            func = require(admin=admin, optional=optional)(func)
            func = self.errors(401, *([403] if admin else []))(func)
            security = [{"bearerAuth": []}, *([{}] if optional else [])]
            return self.doc(security=security)(func)

        return decorator
