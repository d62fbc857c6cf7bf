"""Dead endpoints: disabled after WEBHOOK_DISABLE_AFTER without a 2xx, resumed when enabled."""

import peewee

from ..database import db, utcnow
from ..fields import UTCDateTime
from ..ops import metrics
from .claims import requeue
from .models import Delivery, WebhookEndpoint
from .outbox import record_endpoint_disabled

_timestamp = UTCDateTime()


def set_enabled(endpoint_id, enabled, reason=None, still=None):
    """Enable or disable the endpoint unless it already is (or the condition `still` no longer
    holds); whether it changed. Disabled, its pending deliveries are not due; enabled again,
    they are due now, each with the whole retry schedule, and its silence counts from now."""
    now = utcnow()
    columns = {"enabled": enabled, "disabled_reason": reason}
    if enabled:
        columns["alive_at"] = now
    where = [WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled != enabled]
    if still is not None:
        where.append(still)
    changed = WebhookEndpoint.update(**columns).where(*where).execute()
    if changed:
        pending = (Delivery.endpoint == endpoint_id) & (Delivery.state == "pending")
        requeue(pending, now if enabled else None)
    return bool(changed)


def disable_dead_endpoints(silence):
    """Disable every enabled endpoint owing a delivery (pending or failed) that has answered no
    2xx for `silence`, each with its reason and a `webhook_endpoint.disabled` event; those it
    disabled. Several deliverers may run it at once: each endpoint is disabled once."""
    cutoff = utcnow() - silence
    # Since when it has not answered a 2xx: its last one, or its enabling, else its creation.
    silent_since = peewee.fn.COALESCE(WebhookEndpoint.alive_at, WebhookEndpoint.created_at)
    owing = Delivery.select(Delivery.id).where(
        Delivery.endpoint == WebhookEndpoint.id, Delivery.state.in_(("pending", "failed"))
    )
    dead = WebhookEndpoint.select(WebhookEndpoint.id, silent_since.alias("silent_since")).where(
        WebhookEndpoint.enabled == True,  # noqa: E712
        silent_since < cutoff,
        peewee.fn.EXISTS(owing),
    )
    disabled = []
    for endpoint_id, since in list(dead.tuples()):
        reason = (
            f"No 2xx answer since {_timestamp.serialize('at', {'at': since})}, "
            f"longer than WEBHOOK_DISABLE_AFTER ({_describe(silence)})."
        )
        with db.atomic():
            if set_enabled(endpoint_id, False, reason, still=silent_since < cutoff):
                endpoint = WebhookEndpoint.get_by_id(endpoint_id)
                record_endpoint_disabled(endpoint)
                disabled.append(endpoint)
    for _ in disabled:  # once committed
        metrics.record_endpoint_disabled()
    return disabled


def _describe(duration):
    """'5 days', '36 hours', '90 seconds': the largest unit that says it exactly."""
    seconds = int(duration.total_seconds())
    unit, size = next(
        (unit, size)
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
        if seconds % size == 0
    )
    count = seconds // size
    return f"{count} {unit}{'' if count == 1 else 's'}"
