"""What an integrator's admin does with deliveries: retry one, replay since a time, read the
attempts of one."""

import peewee

from ..database import db, utcnow
from ..errors import NotFound
from .claims import notify_deliverers, requeue
from .models import NO_ORDER, Delivery, DeliveryAttempt, Event
from .service import deliveries_of, get_endpoint


def get_delivery(endpoint_id, delivery_id):
    """The endpoint's delivery `delivery_id` (404 for an unknown endpoint, or another's)."""
    endpoint = get_endpoint(endpoint_id)
    delivery = Delivery.get_or_none(Delivery.id == delivery_id, Delivery.endpoint == endpoint.id)
    if delivery is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} has no delivery {delivery_id}.")
    return delivery


def retry_delivery(endpoint_id, delivery_id):
    """Queue the delivery again, due now, failed, delivered or pending alike (one in flight is
    left to its attempt); after an earlier pending version of its order, as ever."""
    with db.atomic():
        due = _due(get_endpoint(endpoint_id, hold=True))
        delivery = get_delivery(endpoint_id, delivery_id)
        if requeue(Delivery.id == delivery.id, due):
            notify_deliverers()
    return deliveries_of(endpoint_id).where(Delivery.id == delivery.id).get()


def replay(endpoint_id, since):
    """Queue again every event written since `since` of the types the endpoint subscribes to
    now, delivered before or not: how many. Two statements whatever their number; the claim
    sends each order's in version order."""
    with db.atomic():
        endpoint = get_endpoint(endpoint_id, hold=True)
        due = _due(endpoint)
        since_then = [Event.created_at >= since]
        if "*" not in endpoint.events:
            since_then.append(Event.type.in_(endpoint.events))
        events = Event.select(Event.id).where(*since_then)
        queued = requeue((Delivery.endpoint == endpoint.id) & Delivery.event.in_(events), due)
        delivered_before = Delivery.select(Delivery.id).where(
            Delivery.event == Event.id, Delivery.endpoint == endpoint.id
        )
        columns = {
            Delivery.event: Event.id,
            Delivery.endpoint: peewee.Value(endpoint.id),
            Delivery.order_id: peewee.fn.COALESCE(Event.order, NO_ORDER),
            Delivery.version: Event.version,
            Delivery.state: peewee.Value("pending"),
            Delivery.attempts: peewee.Value(0),
            Delivery.next_attempt_at: peewee.Value(due, Delivery.next_attempt_at.db_value),
        }
        new = Event.select(*columns.values()).where(
            *since_then, ~peewee.fn.EXISTS(delivered_before)
        )
        insert = Delivery.insert_from(new, list(columns)).on_conflict_ignore()
        added = insert.as_rowcount().execute()
        if queued or added:
            notify_deliverers()
    return queued + added


def attempts_of(endpoint_id, delivery_id):
    """The delivery's attempts (to page newest first)."""
    delivery = get_delivery(endpoint_id, delivery_id)
    return DeliveryAttempt.select().where(DeliveryAttempt.delivery == delivery.id)


def _due(endpoint):
    """When a delivery queued now is due: now, or not at all while its endpoint is disabled
    (enabling it makes them due)."""
    return utcnow() if endpoint.enabled else None
