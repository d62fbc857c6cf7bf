"""Idempotency-Key leases: one request at a time works on a key, and proves it before it writes.

The life of a key, for every keyed POST: the first request inserts it with the rows it makes
and holds its lease; every later transaction of that request proves it still owns the key
(renewing the lease after a wait), and the last one stores its response. A repeat replays
that response, waits a little while the owner is alive, and takes over only a lease nobody
has renewed for LEASE: its new token fences the old owner out, whose next write fails and
rolls back.
Stripe's design note on idempotency and Brandur Leach's "Implementing Stripe-like idempotency
keys in Postgres" are the models.
"""

import datetime
import json
import secrets
import time
from dataclasses import dataclass

from flask import jsonify

from .database import db, is_sqlite, utcnow
from .errors import Conflict
from .orders.models import IdempotencyKey

# A keyed POST's answer says when it is the first response again (documented on each).
REPLAYED_HEADER_DOC = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the first response to the Idempotency-Key again.",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def created(body, replayed):
    """The 201 of a keyed POST: `body` as it was first serialized (a replay answers the stored
    one), marked when it is the first response again."""
    response = jsonify(body)
    response.status_code = 201
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# Far longer than one phase of a request lasts (the provider's whole budget is 24 s): a lease
# this old belongs to a request that died.
LEASE = datetime.timedelta(seconds=60)
RELEASED = datetime.datetime(1970, 1, 1)
WAIT_SECONDS = 3.0
# A transaction that lasted longer than this (it waited on a lock) renews the lease as it ends.
RENEW_AFTER_SECONDS = 5.0


class IdempotencyConflict(Conflict):
    def __init__(self, message, retry_after=None):
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(message, headers=headers)


class KeyInProgress(IdempotencyConflict):
    def __init__(self):
        super().__init__(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            retry_after=1,
        )


class LeaseLost(KeyInProgress):
    """A retry took the key over while this request waited: it stops without writing."""


@dataclass
class Replay:
    body: dict


class Lease:
    """One request's hold on a key row, fenced by a token that a take-over replaces.

    Every transaction the owner writes in after a wait ends with a fenced write to the key
    (`keep_alive`, `finish` or `release`): when a retry has taken the key over, that write
    finds no row, raises LeaseLost, and the transaction's other writes roll back with it.
    """

    def __init__(self, record_id, token):
        self.record_id = record_id
        self.token = token
        self.renewed = time.monotonic()

    @classmethod
    def start(cls, user_id, key, fingerprint, order_id):
        """Insert the key (inside the caller's transaction); IntegrityError if it exists."""
        token = secrets.token_hex(16)
        record = IdempotencyKey.create(
            user_id=user_id, key=key, request_hash=fingerprint, order=order_id, lease=token
        )
        return cls(record.id, token)

    @property
    def order_id(self):
        return IdempotencyKey.get_by_id(self.record_id).order_id

    def keep_alive(self):
        """Renew the lease if this request waited since it last did (a row lock, a slow
        migration), so the lease counts from its last sign of life; LeaseLost if taken over."""
        if time.monotonic() - self.renewed > RENEW_AFTER_SECONDS:
            self._update(locked_at=utcnow())
            self.renewed = time.monotonic()

    def finish(self, code, body):
        """Store the response every repeat replays."""
        self._update(response_code=code, response_body=json.dumps(body))

    def release(self):
        """Let the next retry take over at once (after a failure this request gave up on)."""
        self._update(locked_at=RELEASED)

    def forget(self):
        """Delete the key: the request changed nothing anywhere (the provider refused), so a
        retry starts anew rather than replaying the refusal."""
        if not IdempotencyKey.delete().where(*self._owned()).execute():
            raise LeaseLost()

    def _owned(self):
        return IdempotencyKey.id == self.record_id, IdempotencyKey.lease == self.token

    def _update(self, **values):
        if not IdempotencyKey.update(**values).where(*self._owned()).execute():
            raise LeaseLost()


def started(user_id, key):
    """Whether a request with this key was stored already: a repeat of it replays, waits or is
    refused, and never makes anything new."""
    return (
        IdempotencyKey.select()
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .exists()
    )


def resume(user_id, key, fingerprint):
    """What a repeat of a keyed request gets: None (no such key), a Replay, or a Lease it took
    over from a request that died; IdempotencyConflict for another body or a live owner."""
    record = IdempotencyKey.get_or_none(user_id=user_id, key=key)
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different body.")
    deadline = time.monotonic() + WAIT_SECONDS
    while record.response_code is None:
        lease = _take_over(record)
        if lease:
            return lease
        if time.monotonic() > deadline:
            raise KeyInProgress()
        time.sleep(0.05)
        record = IdempotencyKey.get_by_id(record.id)
    return Replay(json.loads(record.response_body))


def _take_over(record):
    """A new lease on a key whose owner has not renewed it for LEASE, or None.

    On PostgreSQL a key row locked by its owner (a transaction that renewed it and has not
    committed) is skipped, not waited for: its owner is alive.
    """
    cutoff = utcnow() - LEASE
    dead = IdempotencyKey.select(IdempotencyKey.id).where(
        IdempotencyKey.id == record.id,
        IdempotencyKey.lease == record.lease,
        IdempotencyKey.locked_at < cutoff,
        IdempotencyKey.response_code.is_null(),
    )
    token = secrets.token_hex(16)
    with db.atomic():
        if not is_sqlite():
            dead = dead.for_update(skip_locked=True)
        if dead.scalar() is None:
            return None
        IdempotencyKey.update(lease=token, locked_at=utcnow()).where(
            IdempotencyKey.id == record.id
        ).execute()
    return Lease(record.id, token)
