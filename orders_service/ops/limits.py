"""Rate limits per customer on the POSTs that create: flask-limiter, failing open."""

import functools
import logging
import math
import threading
import time
from urllib.parse import urlsplit

from flask import current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from limits.errors import StorageError
from redis.backoff import NoBackoff
from redis.retry import Retry

from .. import idempotency
from ..auth import current_caller
from .metrics import record_rate_limit_storage_error, record_rate_limited

log = logging.getLogger(__name__)

# A Redis slower than this is as good as down: the request goes on unlimited rather than wait.
STORAGE_TIMEOUT_SECONDS = 0.05
LOG_EVERY_SECONDS = 60
REPLAYED_HEADER = "Idempotent-Replayed"


# The headers of an answer that was counted: on the 429, with Retry-After, and on a success.
RATE_LIMIT_HEADERS_DOC = {
    "X-RateLimit-Limit": {
        "description": (
            "How many requests the customer may make in the window of the limit these headers "
            "describe (the one reached, else the shortest)"
        ),
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "X-RateLimit-Remaining": {
        "description": "How many of them are left",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "X-RateLimit-Reset": {
        "description": "When that window ends, in seconds since the Unix epoch",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}


def customer():
    """Every limit's key: the caller's `sub`, never the address (a storefront calls from one
    address for many customers)."""
    return str(current_caller().user_id)


class ViewLimiter(Limiter):
    """flask-limiter that checks the limits on views alone, from their decorators.

    Its before_request check looks for application and default limits, of which this service
    has none, at 50 µs of CPU on every request, reads included.
    """

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        if not in_middleware:
            super()._check_request_limit(callable_name, in_middleware)


limiter = ViewLimiter(
    customer,
    strategy="fixed-window",  # the one whose hits can be given back (see after_limited)
    # Written by after_limited: flask-limiter's own would put Retry-After on every answer.
    headers_enabled=False,
    # A storage error lets the request through; StorageErrors counts it.
    swallow_errors=True,
)


def limited(setting, idempotent=False):
    """Decorator: each call of the view counts against the limits in `setting`, per customer,
    and past one is refused with a 429. It goes below `auth`, which tells who the customer is.

    Admins are not limited. With `idempotent`, a replay is neither counted (after_limited
    gives its hit back) nor refused: past the limit, a request whose Idempotency-Key the
    customer already used goes on to its replay. That lookup is made on a refusal only, so a
    request within the limit costs no query more.
    """

    def decorator(view):
        checked = limiter.limit(
            lambda: current_app.config[setting],
            exempt_when=lambda: current_caller().is_admin,
            error_message=refusal,
        )(view)

        @functools.wraps(view)
        def limited_view(*args, **kwargs):
            try:
                return checked(*args, **kwargs)
            except RateLimitExceeded as refused:
                key = request.headers.get("Idempotency-Key") if idempotent else None
                if key and idempotency.started(current_caller().user_id, key):
                    return view(*args, **kwargs)
                record_rate_limited(f"{setting} {refused.limit.limit}")
                raise

        return limited_view

    return decorator


def refusal():
    return (
        f"Too many requests: {limiter.current_limit.limit} for each customer. "
        "Try again after the seconds in Retry-After."
    )


def after_limited(response):
    """Where the customer stands, on every answer that was counted: X-RateLimit-* headers, and
    Retry-After on the 429 alone (a 409's or a 503's own stays as it is). Should Redis fail to
    tell, a success goes without them, and a 429 gets them for the whole window.

    A replay made nothing new: its hits are given back first, so that twins sent at once (as a
    double click sends them, both counted before either stored the key) count once.
    """
    counted = limiter.current_limit
    if counted is None:
        return response
    try:
        if response.headers.get(REPLAYED_HEADER) == "true":
            for hit in limiter.current_limits:
                limiter.storage.incr(hit.key, hit.limit.get_expiry(), amount=-1)
        reset_at = counted.reset_at
        response.headers["X-RateLimit-Limit"] = str(counted.limit.amount)
        response.headers["X-RateLimit-Remaining"] = str(counted.remaining)
        response.headers["X-RateLimit-Reset"] = str(reset_at)
        if response.status_code == 429:
            wait = math.ceil(counted.window.reset_time - time.time())
            response.headers["Retry-After"] = str(max(0, wait))
    except StorageError as error:
        storage_failed(error)
        if response.status_code == 429:
            # Refused, then Redis failed to say when the window ends (slow past the timeout on
            # a busy host): the window's whole length, which the rest of it cannot outlast.
            wait = counted.limit.get_expiry()
            response.headers["X-RateLimit-Limit"] = str(counted.limit.amount)
            response.headers["X-RateLimit-Remaining"] = "0"
            response.headers["X-RateLimit-Reset"] = str(math.ceil(time.time()) + wait)
            response.headers["Retry-After"] = str(wait)
    return response


class Quiet:
    """True at most once per `seconds` (a Redis down would otherwise log every request)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.next_time = 0.0
        self.lock = threading.Lock()

    def due(self):
        with self.lock:
            now = time.monotonic()
            if now < self.next_time:
                return False
            self.next_time = now + self.seconds
            return True


storage_log = Quiet(LOG_EVERY_SECONDS)


def storage_failed(error):
    record_rate_limit_storage_error()
    if storage_log.due():
        log.warning(
            "rate limit storage failed, so requests go unlimited (logged once a minute "
            "at most; rate_limit_storage_errors_total counts each): %s",
            error,
        )


class StorageErrors(logging.Filter):
    """flask-limiter logs each storage error it swallows, with a traceback, and has no other
    hook: this filter on its logger counts each one and logs it once a minute instead."""

    def filter(self, record):
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, StorageError):
            storage_failed(error)
            return False
        return True


def storage_options(config):
    """The storage's options: errors as StorageError; for Redis, the timeouts and no retries,
    so a Redis down or slow costs a limited request STORAGE_TIMEOUT_SECONDS at most."""
    options = {"wrap_exceptions": True}
    if urlsplit(config["RATELIMIT_STORAGE_URI"]).scheme != "memory":
        options |= {
            "key_prefix": config["RATELIMIT_KEY_PREFIX"],
            "socket_timeout": STORAGE_TIMEOUT_SECONDS,
            "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
            "retry": Retry(NoBackoff(), 0),
        }
    return options


def memory_storage_warning(config, workers):
    """The start-up warning for production counting in each worker's memory, or None."""
    memory = urlsplit(config["RATELIMIT_STORAGE_URI"]).scheme == "memory"
    if config["APP_ENV"] != "production" or not memory or workers < 2:
        return None
    return (
        f"RATELIMIT_STORAGE_URI is memory:// with {workers} workers: each counts alone, so a "
        f"customer gets up to {workers} times each limit (more with more hosts); set it to a "
        "Redis they all share, such as redis://127.0.0.1:6379/0"
    )


def init_app(app):
    """Bind the limiter to the app's storage. flask-limiter keeps one storage per limiter, so
    the last app bound counts for all of a process's apps (there is one, but in tests)."""
    app.config["RATELIMIT_STORAGE_OPTIONS"] = storage_options(app.config)
    limiter.init_app(app)
    app.after_request(after_limited)
    flask_limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, StorageErrors) for f in flask_limiter_log.filters):
        flask_limiter_log.addFilter(StorageErrors())
