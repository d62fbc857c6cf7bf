"""Write an event, and its deliveries, in the transaction that makes the change it tells of."""

import functools
import json
import secrets

from ..database import CompiledQuery, utcnow
from ..fields import UTCDateTime
from ..orders.models import Order, OrderHistory
from .claims import notify_deliverers
from .models import ENDPOINT_DISABLED, NO_ORDER, Delivery, Event, WebhookEndpoint

_timestamp = UTCDateTime()


def record_created(order, actor=None):
    """`order.created`, version 1, by the order's first history actor (`actor`, when the caller
    has just written it): it just became visible.

    The UPDATE that made it visible set its `event_version` to 1.
    """
    if actor is None:
        first = OrderHistory.select().where(OrderHistory.order == order.id)
        actor = first.order_by(OrderHistory.id).get().actor
    _write(order, "order.created", 1, actor, previousStatus=None)


def record_transition(order, previous, actor):
    """The event of the status change whose history row was just written (none if invisible)."""
    record_order_event(order, f"order.{order.status}", actor, previousStatus=previous)


def record_order_event(order, event_type, actor, **data):
    """The order's next event (none while it is invisible): `data` beside the order's body.

    A status change gives previousStatus; a change that is not one (a dispute, a refund)
    gives what changed: record_order_event(order, "order.dispute.updated", actor, dispute=…).
    The caller holds the order's row lock (see next_version).
    """
    if order.client_secret is None:
        return
    _write(order, event_type, next_version(order), actor, **data)


def record_refund(order, outcome, refund, actor):
    """`order.refund.<outcome>` (succeeded or failed) with the refund's body, in the
    transaction that records the outcome; the caller holds the order's row, read under it."""
    record_order_event(order, f"order.refund.{outcome}", actor, refund=refund)


def next_version(order):
    """The version of the order's next event, counted on the order itself.

    The caller holds the order's row (locked, as apply_transition does) and `order` was read
    under that lock, so two events of one order never share a version.
    """
    version = order.event_version + 1
    Order.update(event_version=version).where(Order.id == order.id).execute()
    order.event_version = version
    return version


def _order_body(order):
    # Imported here: the order reads and schemas import the life cycle, which imports this.
    from ..orders.queries import attach_lines
    from .schemas import EventOrderSchema

    if not hasattr(order, "products"):
        attach_lines([order])
    return _event_order_schema(EventOrderSchema).dump(order)


@functools.cache
def _event_order_schema(schema):
    """One instance, made once: making one costs more than a dump."""
    return schema()


def envelope(event_type, data, now):
    """(id, JSON body) of a new event as consumers get it: a fresh evt_ id, type, time, data."""
    uid = f"evt_{secrets.token_hex(12)}"
    body = {
        "id": uid,
        "type": event_type,
        "createdAt": _timestamp.serialize("at", {"at": now}),
        "data": data,
    }
    return uid, json.dumps(body, separators=(",", ":"))


def _write(order, event_type, version, actor, **detail):
    """The event, `detail` (previousStatus, refund or dispute) after the order in its data."""
    now = utcnow()
    data = {"order": _order_body(order), **detail, "version": version, "actor": actor}
    uid, body = envelope(event_type, data, now)
    return _store(uid, event_type, body, now, order.id, version)


def record_endpoint_disabled(endpoint):
    """`webhook_endpoint.disabled`, about no order: the endpoint as it is now, without secret."""
    from .schemas import EventEndpointSchema

    now = utcnow()
    data = {"endpoint": EventEndpointSchema().dump(endpoint)}
    uid, body = envelope(ENDPOINT_DISABLED, data, now)
    return _store(uid, ENDPOINT_DISABLED, body, now, None, 0)


def _store(uid, event_type, body, now, order_id, version):
    """The event, and a delivery of it to every enabled endpoint subscribed to its type."""
    event_id = _insert_event.execute(uid, event_type, order_id, version, now, body).fetchone()[0]
    event = Event(id=event_id, uid=uid, type=event_type, order=order_id, version=version)
    event.created_at, event.body = now, body
    endpoints = _enabled_endpoints()
    rows = [
        {
            "event": event.id,
            "endpoint": endpoint.id,
            "order_id": NO_ORDER if order_id is None else order_id,
            "version": version,
            "next_attempt_at": now,
        }
        for endpoint in endpoints
        if endpoint.subscribes_to(event_type)
    ]
    if rows:
        Delivery.insert_many(rows).execute()
        notify_deliverers()
    return event


# Compiled once per process (see CompiledQuery): every created order writes an event.
_insert_event = CompiledQuery(
    Event,
    lambda uid, event_type, order_id, version, created_at, body: Event.insert(
        uid=uid,
        type=event_type,
        order=order_id,
        version=version,
        created_at=created_at,
        body=body,
    ).returning(Event.id),
)

_enabled_endpoints = CompiledQuery(
    WebhookEndpoint,
    lambda: WebhookEndpoint.select().where(WebhookEndpoint.enabled == True),  # noqa: E712
)
