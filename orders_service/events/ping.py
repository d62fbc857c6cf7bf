"""A `webhook.ping` sent to one endpoint at once, outside the outbox, and what came of it."""

import time
from dataclasses import dataclass

from ..database import release_connection, utcnow
from .answers import as_text
from .deliver import Attempt, post_signed
from .outbox import envelope
from .service import get_endpoint


@dataclass(frozen=True)
class PingResult:
    event_id: str
    status: int | None
    duration_ms: int
    error: str | None
    response_body: str | None


def ping(endpoint_id, timeout, allow_private_targets):
    """POST a signed `webhook.ping` to the endpoint now, as a delivery's attempt would be sent
    (same headers, secrets, timeout and Attempt), whether or not the endpoint is enabled.

    Nothing is stored: no event, no delivery, and no other endpoint receives it.
    """
    endpoint = get_endpoint(endpoint_id)
    uid, body = envelope("webhook.ping", {"endpointId": endpoint.id}, utcnow())
    release_connection()  # not held while the subscriber takes its time
    attempt = Attempt(endpoint.url, timeout, allow_private_targets)
    started = time.monotonic()
    status, error = post_signed(endpoint, uid, body, attempt)
    return PingResult(
        event_id=uid,
        status=status,
        duration_ms=round((time.monotonic() - started) * 1000),
        error=error,
        response_body=as_text(attempt.answer),
    )
