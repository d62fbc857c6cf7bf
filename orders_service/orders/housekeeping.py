"""Order housekeeping for cron: cancel orders left unpaid too long."""

import datetime
import re

from ..database import utcnow
from ..payments.gateway import PaymentError
from .changes import ChangeInProgress, change_status
from .lifecycle import TransitionRefused
from .models import Order

DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text):
    """'30m', '24h', '7d' as a timedelta; ValueError for anything else."""
    match = DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 7d")
    return datetime.timedelta(**{UNITS[match[2]]: int(match[1])})


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
