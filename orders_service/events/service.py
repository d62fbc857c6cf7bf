"""Webhook endpoints (subscribe, change, remove) and reading the event feed."""

import base64
import json
import secrets
from urllib.parse import urlsplit

from flask import current_app

from ..database import db, shared, utcnow
from ..errors import DomainError, NotFound
from ..pagination import keyset_query
from .liveness import set_enabled
from .models import Delivery, Event, WebhookEndpoint
from .targets import Refused, checked_addresses

FIELDS = {"url": "url", "description": "description", "enabled": "enabled"}


def new_secret():
    """The Standard Webhooks form: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_target(url):
    """A 400 for a URL whose host is, or now resolves to, a refused address; a name that does
    not resolve (yet) passes, as the deliverer checks the address of every attempt anyway."""
    if current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]:
        return
    try:
        checked_addresses(urlsplit(url).hostname, allow_private=False)
    except Refused as refused:
        reason = f"Refused: {refused}; webhooks go to public addresses only."
        raise DomainError(f"url: {reason}", {"json": {"url": [reason]}}) from None
    except OSError:
        pass


def _columns(data):
    columns = {FIELDS[name]: value for name, value in data.items() if name in FIELDS}
    if "events" in data:
        types = list(dict.fromkeys(data["events"]))
        columns["events_json"] = json.dumps(["*"] if "*" in types else types)
    return columns


def create_endpoint(data):
    check_target(data["url"])
    return WebhookEndpoint.create(secret=new_secret(), **_columns(data))


def get_endpoint(endpoint_id, hold=False):
    """The endpoint; with `hold`, kept from changing (being enabled or disabled) until the
    transaction ends."""
    query = WebhookEndpoint.select().where(WebhookEndpoint.id == endpoint_id)
    endpoint = (shared(query) if hold else query).get_or_none()
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")
    return endpoint


def update_endpoint(endpoint_id, changes):
    """Change what is given; events already written keep the deliveries they have. Disabling
    holds its pending deliveries back, enabling it again resumes them."""
    if "url" in changes:
        check_target(changes["url"])  # before the transaction: it may wait on DNS
    with db.atomic():
        endpoint = get_endpoint(endpoint_id)
        columns = _columns(changes)
        enabled = columns.pop("enabled", None)
        if columns:
            WebhookEndpoint.update(**columns).where(WebhookEndpoint.id == endpoint.id).execute()
        if enabled is not None:
            set_enabled(endpoint.id, enabled)
    return get_endpoint(endpoint_id)


def rotate_secret(endpoint_id, overlap):
    """A new secret; the one it replaces signs every attempt too for `overlap` from now.

    Rotating again within the overlap drops the secret before that one: a consumer holds two
    at most, the newest and the one it may still be verifying with.
    """
    with db.atomic():
        # One UPDATE (its SET reads the row as it was): of two rotations at once, the later
        # keeps the earlier's secret as its previous one, never the secret both replaced.
        WebhookEndpoint.update(
            secret=new_secret(),
            previous_secret=WebhookEndpoint.secret,
            previous_secret_expires_at=utcnow() + overlap,
        ).where(WebhookEndpoint.id == endpoint_id).execute()
        return get_endpoint(endpoint_id)


def delete_endpoint(endpoint_id):
    """Remove the endpoint; its deliveries go with it (ON DELETE CASCADE)."""
    if WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint_id).execute() == 0:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")


def endpoints():
    return WebhookEndpoint.select()


def deliveries_of(endpoint_id, state=None):
    """The endpoint's deliveries (in `state` if given) with their event's id and type (one
    query a page)."""
    endpoint = get_endpoint(endpoint_id)
    query = (
        Delivery.select(Delivery, Event.uid, Event.type)
        .join(Event)
        .where(Delivery.endpoint == endpoint.id)
    )
    return query if state is None else query.where(Delivery.state == state)


def event_page(event_type, order_id, starting_after, limit):
    """Up to `limit` + 1 events, newest first, before the event `starting_after` names."""
    query = Event.select(Event.id, Event.uid, Event.body)
    if event_type is not None:
        query = query.where(Event.type == event_type)
    if order_id is not None:
        query = query.where(Event.order == order_id)
    cursor = None
    if starting_after is not None:
        cursor = Event.get_or_none(Event.uid == starting_after)
        if cursor is None:
            raise DomainError(
                f"starting_after: no event {starting_after}.",
                {"query": {"starting_after": ["Unknown event id."]}},
            )
    return list(keyset_query(query, Event.id, cursor and cursor.id, limit + 1))


def get_event(uid):
    event = Event.get_or_none(Event.uid == uid)
    if event is None:
        raise NotFound(f"Event {uid} not found.")
    return event
