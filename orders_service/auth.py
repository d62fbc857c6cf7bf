"""Bearer tokens: who is calling, and whether they may."""

import datetime
import functools
import re
import threading
import time
from dataclasses import dataclass

import jwt
from flask import current_app, g, request
from flask_smorest import abort

from .config import jwt_verification_key
from .fields import MAX_ID

# A user id as a string: decimal digits, no sign, no leading zero, at most MAX_ID's 19 digits.
USER_ID_TEXT = re.compile(r"[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Caller:
    user_id: int
    is_admin: bool

    @property
    def actor(self):
        return f"{'admin' if self.is_admin else 'user'}:{self.user_id}"


def _unauthorized(message):
    abort(401, message=message, headers={"WWW-Authenticate": 'Bearer realm="orders"'})


def decode_token(token, config):
    """The token's claims, or jwt.InvalidTokenError."""
    audience = config.get("JWT_AUDIENCE")
    return jwt.decode(
        token,
        jwt_verification_key(config)[1],
        algorithms=[config.get("JWT_ALGORITHM", "HS256")],
        audience=audience,
        issuer=config.get("JWT_ISSUER"),
        options={"require": ["exp", "sub"], "verify_sub": False, "verify_aud": bool(audience)},
    )


def _caller_from(claims):
    roles = claims.get("roles") or []
    if not isinstance(roles, list):
        raise jwt.InvalidTokenError("roles must be a list")
    return Caller(user_id=user_id_from(claims.get("sub")), is_admin="admin" in roles)


def user_id_from(sub):
    """`sub` as a user id (an integer, or its digits without leading zeros), 1 to MAX_ID."""
    if isinstance(sub, str) and USER_ID_TEXT.fullmatch(sub):
        sub = int(sub)
    # bool is an int to Python, not a user id; a float such as 7.0 is refused too.
    if type(sub) is not int or not 0 < sub <= MAX_ID:
        raise jwt.InvalidTokenError("sub must be a user id")
    return sub


def expiry_from(exp):
    """`exp` as the second PyJWT checked it against; only a JSON number is a NumericDate.

    PyJWT checks int(exp), which takes the string "1900000000" as well (" 19…" and "١٩…"
    too); such a token is refused here, on its first use as on every later one.
    """
    # bool is an int to Python, not a date.
    if type(exp) not in (int, float):
        raise jwt.InvalidTokenError("exp must be a NumericDate")
    return int(exp)


class VerifiedTokens:
    """Callers of tokens already verified, kept until their `exp`.

    Checking a signature and parsing the claims again cost a fifth of a read's CPU, for the
    same answer each time the same client calls (a token is used until it expires). A token
    is keyed with the settings it was checked against; past its `exp` it is checked again
    (and so refused as expired); `nbf` and `iat` cannot become unmet as time moves on.
    """

    SIZE = 4096

    def __init__(self):
        self._callers = {}
        self._lock = threading.Lock()

    def caller(self, token, config):
        key = (token, *(config.get(name) for name in TOKEN_SETTINGS))
        found = self._callers.get(key)
        if found is not None and time.time() < found[1]:
            return found[0]
        claims = decode_token(token, config)
        caller, expires = _caller_from(claims), expiry_from(claims["exp"])
        with self._lock:
            if len(self._callers) >= self.SIZE:
                del self._callers[next(iter(self._callers))]  # the oldest
            self._callers[key] = (caller, expires)
        return caller


TOKEN_SETTINGS = ("JWT_PUBLIC_KEY", "JWT_SECRET", "JWT_ALGORITHM", "JWT_AUDIENCE", "JWT_ISSUER")
verified_tokens = VerifiedTokens()


def current_caller(optional=False):
    """The authenticated caller (cached for the request); 401 unless `optional` and no header."""
    if "caller" in g:
        return g.caller
    header = request.headers.get("Authorization", "")
    if not header and optional:
        g.caller = None
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        _unauthorized("A bearer token is required (Authorization: Bearer <token>).")
    try:
        g.caller = verified_tokens.caller(token.strip(), current_app.config)
    except jwt.ExpiredSignatureError:
        _unauthorized("The token has expired.")
    except jwt.InvalidTokenError:
        _unauthorized("The token is invalid.")
    return g.caller


def require(admin=False, optional=False):
    """Decorator: the view runs only for an authenticated caller (an admin if `admin`)."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            caller = current_caller(optional=optional)
            if admin and not caller.is_admin:
                abort(403, message="This needs an admin token.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def issue_token(config, user_id, admin=False, ttl=3600):
    """A token signed with the configured HS key (for local runs, scripts and tests)."""
    secret = config.get("JWT_SECRET")
    algorithm = config.get("JWT_ALGORITHM") or "HS256"
    if not secret or not algorithm.startswith("HS"):
        raise RuntimeError(
            "tokens are made here for HS keys only; RS/ES ones come from your issuer"
        )
    now = datetime.datetime.now(datetime.UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + datetime.timedelta(seconds=ttl)}
    if admin:
        claims["roles"] = ["admin"]
    if config.get("JWT_AUDIENCE"):
        claims["aud"] = config["JWT_AUDIENCE"]
    if config.get("JWT_ISSUER"):
        claims["iss"] = config["JWT_ISSUER"]
    return jwt.encode(claims, secret, algorithm=algorithm)
