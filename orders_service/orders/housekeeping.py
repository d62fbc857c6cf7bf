"""Order housekeeping for cron: cancel orders left unpaid too long."""

from ..database import utcnow
from ..payments.gateway import PaymentError
from .changes import ChangeInProgress, change_status
from .lifecycle import TransitionRefused
from .models import Order


def expire_unpaid(older_than):
    """Cancel pending orders (set up or not) older than `older_than`, their intents first.

    Yields (order id, what happened). A move another host or a webhook made first is skipped.
    """
    cutoff = utcnow() - older_than
    stale = Order.select().where(Order.status == "pending", Order.created_at < cutoff)
    for order in list(stale.order_by(Order.id)):
        try:
            _, changed = change_status(order, "canceled", "system")
        except TransitionRefused as refused:
            yield order.id, f"skipped: it is {refused.current} now"
            continue
        except (PaymentError, ChangeInProgress) as error:
            yield order.id, f"skipped: {error.message}"
            continue
        if changed:
            yield order.id, "canceled"
