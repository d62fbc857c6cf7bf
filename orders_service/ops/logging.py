"""Request ids, one access line per request, JSON or text log lines, and secrets kept out."""

import datetime
import json
import logging
import re
import sys
import time
import uuid

from flask import g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
MAX_REQUEST_ID = 200
ACCESS_FIELDS = ("method", "path", "endpoint", "status", "duration_ms")
REDACTED = "[REDACTED]"

access_log = logging.getLogger("orders_service.access")

# Whatever a line says, these never reach the output: bearer tokens and other JWTs, Stripe
# keys and webhook secrets, PaymentIntent client secrets, webhook signatures, URL passwords.
# Each pattern runs only when the line, case-folded, holds one of its needles (a pattern can't
# match without one): most lines, the access line of every request among them, hold none.
SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 " + REDACTED, ("bearer", "basic")),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), REDACTED, ("eyj",)),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_\w+"), REDACTED, ("_live_", "_test_")),
    (re.compile(r"\bwhsec_\w+"), REDACTED, ("whsec_",)),
    (re.compile(r"\b(?:pi|seti)_\w*?_secret_\w+"), REDACTED, ("_secret_",)),
    (re.compile(r"\b(t=\d+,)?v[01]=[0-9a-f]{16,}"), REDACTED, ("v0=", "v1=")),
    (re.compile(r"(?i)((?:authorization|stripe-signature|cookie)[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+"),
     r"\1" + REDACTED, ("authorization", "stripe-signature", "cookie")),
    (re.compile(r"(://[^:/@\s]+:)[^@/\s]+@"), r"\1" + REDACTED + "@", ("://",)),
)  # fmt: skip


# Every needle at once: most lines hold none, and one scan of them is cheaper than twelve.
# (re's IGNORECASE folds as the (?i) patterns do, so a line it passes holds no match.)
ANY_NEEDLE = re.compile(
    "|".join(re.escape(needle) for _, _, needles in SECRETS for needle in needles), re.IGNORECASE
)


def redact(text):
    if not ANY_NEEDLE.search(text):
        return text
    lowered = text.casefold()
    for pattern, replacement, needles in SECRETS:
        if any(needle in lowered for needle in needles):
            text = pattern.sub(replacement, text)
    return text


def valid_request_id(value):
    return bool(value) and len(value) <= MAX_REQUEST_ID and value.isascii() and value.isprintable()


def current_request_id():
    return g.get("request_id") if has_request_context() else None


ENCODER = json.JSONEncoder(default=str)  # json.dumps(default=…) would build one a line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: level, time, logger, message, request id, access fields."""

    def format(self, record):
        entry = {
            "level": record.levelname,
            "time": utc_timestamp(record.created),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            "pid": record.process,
        }
        entry.update(
            {name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return redact(ENCODER.encode(entry))


class TextFormatter(logging.Formatter):
    """A line a person reads: time, level, request id, logger, message."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record):
        record.request_id = getattr(record, "request_id", None) or current_request_id() or "-"
        return redact(super().format(record))


def formatter_for(log_format):
    return TextFormatter() if log_format == "text" else JsonFormatter()


def dict_config(log_format, level="INFO"):
    """logging.config.dictConfig settings for the process, gunicorn's own loggers included."""
    formatter = f"{__name__}.{type(formatter_for(log_format)).__name__}"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"app": {"()": formatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "app",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stdout"], "propagate": False},
            # The app writes the access line itself, with the request id and the endpoint;
            # gunicorn's own would repeat it without them.
            "gunicorn.access": {"handlers": [], "propagate": False},
        },
    }


def configure_logging(config):
    """Send the process's log lines to stdout in the configured format, once per process."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter | TextFormatter) for h in root.handlers):
        return  # gunicorn.conf.py has already done it before the fork
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter_for(config["LOG_FORMAT"]))
    root.addHandler(handler)
    root.setLevel(config["LOG_LEVEL"])


_second = (None, "")  # the last second formatted, and its text: lines come many a second


def utc_timestamp(created):
    global _second
    whole = int(created)
    if _second[0] != whole:
        moment = datetime.datetime.fromtimestamp(whole, datetime.UTC)
        _second = (whole, moment.strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{_second[1]}{int((created - whole) * 1000):03d}Z"


def request_duration():
    """Seconds since the request began (0 when it began before these hooks existed)."""
    started = g.get("started_at")
    return time.perf_counter() - started if started is not None else 0.0


def init_app(app):
    @app.before_request
    def start_request():
        g.started_at = time.perf_counter()
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if valid_request_id(given) else uuid.uuid4().hex

    @app.after_request
    def finish_request(response):
        if "request_id" not in g:  # the request failed before before_request ran
            g.request_id = uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = g.request_id
        if access_log.isEnabledFor(logging.INFO):
            access_log.handle(access_record(response))
        return response


def access_record(response):
    """The request's access line, made directly: Logger.info would also walk the stack to
    find its caller, which no formatter here prints, at every request."""
    duration_ms = round(request_duration() * 1000, 2)
    method, path, status = request.method, request.path, response.status_code
    fields = {
        "method": method,
        "path": path,
        "endpoint": request.url_rule.rule if request.url_rule else None,
        "status": status,
        "duration_ms": duration_ms,
        "request_id": g.request_id,
    }
    args = (method, path, status, duration_ms)
    return access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, "%s %s %s %.1fms", args, None, extra=fields
    )
