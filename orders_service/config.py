"""Configuration read from the environment, and the checks production insists on."""

import datetime
import os
import re
import sys
from urllib.parse import urlsplit

from jwt.algorithms import get_default_algorithms
from jwt.exceptions import InvalidKeyError
from limits import parse_many

JWT_ALGORITHMS = frozenset(
    {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
    | {"PS256", "PS384", "PS512", "EdDSA"}
)
DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me-0123456789"
# An HMAC key shorter than its hash's output is weaker than the hash: RFC 7518, section 3.2.
HS_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


STOP = "orders-service cannot start: "
# The exit status of a process stopped by its configuration (as for a command-line usage error).
CONFIG_ERROR_STATUS = 2


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the message says what to set."""


def as_bool(value):
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def as_list(value):
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def parse_duration(text):
    """'30m', '24h', '7d' as a timedelta; ValueError for anything else."""
    match = DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return datetime.timedelta(**{UNITS[match[2]]: int(match[1])})


def _env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _number(name, default, kind):
    text = _env(name, default)
    try:
        return kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{STOP}{name} must be {noun}, not {text!r}") from None


class Config:
    """Every setting the service reads, with the names and defaults the README lists."""

    def __init__(self, instance_path):
        self.APP_ENV = _env("APP_ENV", "production")
        self.DATABASE_URL = _env(
            "DATABASE_URL", f"sqlite:///{os.path.join(instance_path, 'orders.db')}"
        )
        self.DB_POOL_SIZE = _number("DB_POOL_SIZE", "20", int)
        self.DB_PREPARED_STATEMENTS = as_bool(_env("DB_PREPARED_STATEMENTS", "true"))
        self.JWT_SECRET = _env("JWT_SECRET")
        self.JWT_PUBLIC_KEY = _env("JWT_PUBLIC_KEY")
        self.JWT_ALGORITHM = _env("JWT_ALGORITHM", "HS256")
        self.JWT_AUDIENCE = _env("JWT_AUDIENCE")
        self.JWT_ISSUER = _env("JWT_ISSUER")
        self.STRIPE_SECRET_KEY = _env("STRIPE_SECRET_KEY")
        self.STRIPE_WEBHOOK_SECRET = _env("STRIPE_WEBHOOK_SECRET")
        self.STRIPE_API_BASE = _env("STRIPE_API_BASE")
        self.PAYMENT_PROVIDER = _env("PAYMENT_PROVIDER")
        self.PAYMENT_TIMEOUT_SECONDS = _number("PAYMENT_TIMEOUT_SECONDS", "10", float)
        self.PAYMENT_MAX_RETRIES = _number("PAYMENT_MAX_RETRIES", "2", int)
        # automatic: the card is charged at checkout; manual: held, and captured at fulfilment.
        self.PAYMENT_CAPTURE = _env("PAYMENT_CAPTURE", "automatic").lower()
        self.CURRENCY = _env("CURRENCY", "usd").lower()
        self.CORS_ORIGINS = as_list(_env("CORS_ORIGINS"))
        self.WEBHOOK_TIMEOUT_SECONDS = _number("WEBHOOK_TIMEOUT_SECONDS", "10", float)
        self.WEBHOOK_RETRY_SCHEDULE = _env("WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h")
        self.WEBHOOK_SECRET_OVERLAP = _env("WEBHOOK_SECRET_OVERLAP", "24h")
        # Development delivers to loopback consumers; production only to public addresses.
        self.WEBHOOK_ALLOW_PRIVATE_TARGETS = as_bool(
            _env("WEBHOOK_ALLOW_PRIVATE_TARGETS", str(self.APP_ENV == "development"))
        )
        self.EVENT_RETENTION_DAYS = _number("EVENT_RETENTION_DAYS", "30", int)
        self.WEBHOOK_DISABLE_AFTER = _env("WEBHOOK_DISABLE_AFTER", "5d")
        self.MAX_PENDING_ORDERS = _number("MAX_PENDING_ORDERS", "5", int)
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "orders-service")
        self.RATE_LIMIT_ORDERS = _env("RATE_LIMIT_ORDERS", "10/minute;100/hour")
        self.RATE_LIMIT_LEADS = _env("RATE_LIMIT_LEADS", "5/minute;20/hour")
        self.LOG_FORMAT = _env("LOG_FORMAT", "text" if self.APP_ENV == "development" else "json")
        self.LOG_LEVEL = _env("LOG_LEVEL", "INFO").upper()
        if self.APP_ENV == "development" and not (self.JWT_SECRET or self.JWT_PUBLIC_KEY):
            self.JWT_SECRET = DEV_JWT_SECRET

    def as_dict(self):
        return {name: value for name, value in vars(self).items() if name.isupper()}


def resolve_payment_provider(config):
    """The provider to use: explicit, else stripe when a key is set, else local."""
    explicit = config.get("PAYMENT_PROVIDER")
    if explicit:
        return explicit.lower()
    return "stripe" if config.get("STRIPE_SECRET_KEY") else "local"


def jwt_verification_key(config):
    """(name, value) of the setting that verifies tokens: JWT_SECRET for HS*, else the PEM key."""
    algorithm = config.get("JWT_ALGORITHM") or "HS256"
    name = "JWT_SECRET" if algorithm.startswith("HS") else "JWT_PUBLIC_KEY"
    return name, config.get(name)


def jwt_key_problems(config):
    """What is wrong with the token settings: an algorithm without its kind of key, a bad PEM."""
    algorithm = config.get("JWT_ALGORITHM") or "HS256"
    if algorithm not in JWT_ALGORITHMS:
        return [f"JWT_ALGORITHM must be one of {', '.join(sorted(JWT_ALGORITHMS))}"]
    name, key = jwt_verification_key(config)
    if not key:
        kind = "" if name == "JWT_SECRET" else " (a PEM public key)"
        return [f"JWT_ALGORITHM={algorithm} needs {name}{kind}"]
    try:
        prepared = get_default_algorithms()[algorithm].prepare_key(key)
    except (InvalidKeyError, ValueError, TypeError) as error:
        return [f"the key in {name} cannot be used with JWT_ALGORITHM={algorithm}: {error}"]
    if hasattr(prepared, "private_bytes"):
        return [f"{name} holds a private key: give the public one, which verifies tokens"]
    return []


def production_problems(config):
    """What production refuses on top: guessable token secrets, settings that break every
    request of a kind (a blank webhook secret, a currency no database column will take)."""
    problems = []
    if not (config.get("JWT_SECRET") or config.get("JWT_PUBLIC_KEY")):
        problems.append("set JWT_SECRET (HS256) or JWT_PUBLIC_KEY to verify bearer tokens")
    name, key = jwt_verification_key(config)
    algorithm = config.get("JWT_ALGORITHM") or "HS256"
    if name == "JWT_SECRET" and key:
        needed = HS_SECRET_BYTES.get(algorithm, 0)
        if key == DEV_JWT_SECRET:
            problems.append("JWT_SECRET is the development default: set a random secret")
        elif len(key.encode()) < needed:
            problems.append(
                f"JWT_SECRET must be at least {needed} bytes for {algorithm} "
                f"(it has {len(key.encode())}): e.g. the output of `openssl rand -base64 {needed}`"
            )
    webhook_secret = config.get("STRIPE_WEBHOOK_SECRET")
    if webhook_secret is not None and webhook_secret.strip() != webhook_secret:
        problems.append(
            "STRIPE_WEBHOOK_SECRET is blank or has spaces around it: "
            "set the endpoint's signing secret (whsec_…) exactly"
        )
    currency = config.get("CURRENCY")
    if not (isinstance(currency, str) and re.fullmatch(r"[a-z]{3}", currency)):
        problems.append(
            f"CURRENCY must be an ISO 4217 code of three ASCII letters (e.g. usd), not {currency!r}"
        )
    return problems


# Settings below 1 would make every attempt, order or prune of a kind go wrong (a webhook
# attempt that cannot start, events pruned while their deliveries are pending).
POSITIVE = (
    "DB_POOL_SIZE",
    "PAYMENT_TIMEOUT_SECONDS",
    "WEBHOOK_TIMEOUT_SECONDS",
    "EVENT_RETENTION_DAYS",
    "MAX_PENDING_ORDERS",
)


# Durations read at each request of a kind (a secret's rotation) or by the deliverer (when an
# endpoint is dead): refused at start, not there.
DURATIONS = ("WEBHOOK_SECRET_OVERLAP", "WEBHOOK_DISABLE_AFTER")
CAPTURE_MODES = ("automatic", "manual")


# flask-limiter's limits, parsed at each limited request: refused at start, not there.
RATE_LIMITS = ("RATE_LIMIT_ORDERS", "RATE_LIMIT_LEADS")
# The rate limits' storage: one process's memory, or Redis shared by every worker and host.
RATE_LIMIT_STORAGES = {"memory", "redis", "rediss", "redis+unix"}


def rate_limit_problems(config):
    """Limit strings flask-limiter cannot read (or that refuse everything), a storage it has not."""
    problems = []
    for name in RATE_LIMITS:
        text = str(config.get(name))
        try:
            readable = all(item.amount > 0 for item in parse_many(text))
        except ValueError:
            readable = False
        if not readable:
            problems.append(
                f"{name} must be flask-limiter limits of 1 or more, "
                f"such as 10/minute;100/hour, not {text!r}"
            )
    # The scheme alone: a Redis URI may hold a password.
    scheme = urlsplit(str(config.get("RATELIMIT_STORAGE_URI"))).scheme
    if scheme not in RATE_LIMIT_STORAGES:
        problems.append(
            "RATELIMIT_STORAGE_URI must be memory:// or a Redis URI such as "
            f"redis://127.0.0.1:6379/0 (rediss://, redis+unix:// too), not a {scheme!r} one"
        )
    return problems


def check(config):
    """Refuse to start with settings that would be unsafe; the message says what to fix."""
    problems = [
        f"{name} must be greater than 0, not {config[name]!r}"
        for name in POSITIVE
        if config.get(name) is not None and not config[name] > 0
    ]
    for name in DURATIONS:
        try:
            parse_duration(str(config.get(name)))
        except ValueError as error:
            problems.append(f"{name}: {error}")
    problems += rate_limit_problems(config)
    provider = resolve_payment_provider(config)
    if provider not in {"stripe", "local"}:
        problems.append(f"PAYMENT_PROVIDER must be 'stripe' or 'local', not {provider!r}")
    if config.get("PAYMENT_CAPTURE", "automatic") not in CAPTURE_MODES:
        modes = " or ".join(repr(mode) for mode in CAPTURE_MODES)
        problems.append(f"PAYMENT_CAPTURE must be {modes}, not {config['PAYMENT_CAPTURE']!r}")
    if provider == "stripe" and not config.get("STRIPE_SECRET_KEY"):
        problems.append("PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY")
    if config.get("JWT_SECRET") or config.get("JWT_PUBLIC_KEY"):
        problems += jwt_key_problems(config)
    if config.get("APP_ENV") != "development":
        problems += production_problems(config)
        if provider == "local" and not config.get("PAYMENT_PROVIDER"):
            problems.append(
                "no STRIPE_SECRET_KEY is set: set it, or ask for the local payment "
                "provider explicitly with PAYMENT_PROVIDER=local"
            )
        if provider == "stripe" and not config.get("STRIPE_WEBHOOK_SECRET"):
            problems.append("PAYMENT_PROVIDER=stripe needs STRIPE_WEBHOOK_SECRET")
    if problems:
        raise ConfigError(STOP + "; ".join(problems))


def exit_for(error):
    """Stop the process on a configuration error: its one-line message on stderr and status 2,
    no traceback (the message already says what to set)."""
    print(str(error).replace("\n", " "), file=sys.stderr, flush=True)
    raise SystemExit(CONFIG_ERROR_STATUS)


def startup_problem(instance_path):
    """The configuration error create_app would stop on, from the environment; None if none."""
    try:
        check(Config(instance_path).as_dict())
    except ConfigError as error:
        return error
    return None
