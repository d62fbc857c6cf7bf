"""An order's dispute: Stripe's statuses, the order they follow, and the hold on shipping."""

from ..errors import Conflict

# The statuses a chargeback takes (an inquiry escalated, or one opened as such).
_CHARGEBACK = frozenset({"needs_response", "under_review", "won", "lost"})
# Each of Stripe's dispute statuses (API 2026-10-28) and those that may come after it. An
# inquiry (warning_*) is closed, prevented or escalated; a chargeback is decided; a lost one
# may be appealed, or won after all when the cardholder withdraws it; an appeal is decided
# again. Nothing goes back a stage, so a late event of an earlier stage cannot undo a later one.
FOLLOWS = {
    "warning_needs_response": frozenset(
        {"warning_under_review", "warning_closed", "prevented", *_CHARGEBACK}
    ),
    "warning_under_review": frozenset({"warning_closed", "prevented", *_CHARGEBACK}),
    "warning_closed": _CHARGEBACK,
    "prevented": frozenset(),
    "needs_response": frozenset({"under_review", "won", "lost"}),
    "under_review": frozenset({"won", "lost"}),
    "won": frozenset(),
    "lost": frozenset({"won", "appeal_needs_response", "appeal_under_review"}),
    "appeal_needs_response": frozenset({"appeal_under_review", "won", "lost"}),
    "appeal_under_review": frozenset({"won", "lost"}),
}
STATUSES = tuple(FOLLOWS)
# While the payment's money is being taken back, the goods stay: no move to shipped.
OPEN = frozenset(
    {"warning_needs_response", "warning_under_review", "needs_response", "under_review"}
)


class DisputeOpen(Conflict):
    def __init__(self, order):
        super().__init__(
            f"Order {order.id} cannot be shipped while its payment is disputed (dispute "
            f"{order.dispute_id} is {order.dispute_status}); ship it once the dispute is closed."
        )


def holds(target, dispute_status):
    """The shipped hold: True if a dispute in `dispute_status` keeps an order from `target`."""
    return target == "shipped" and dispute_status in OPEN


def refuse_while_disputed(order, target):
    """DisputeOpen for a move the order's dispute holds."""
    if holds(target, order.dispute_status):
        raise DisputeOpen(order)


def stale(order, dispute_id, status, as_of):
    """Why a report of a dispute (`as_of`: when Stripe made it) must not replace the order's,
    or None if it may.

    Stripe's objects carry no version: a report older than the one applied is stale, and
    within one dispute a status only moves forward (FOLLOWS). Reports made in the same second
    are common (created, then funds withdrawn); FOLLOWS orders them. A payment is disputed
    once, so another dispute id is only ever a later report.
    """
    if status not in FOLLOWS:
        return f"unknown dispute status {status}"
    if order.dispute_id is None:
        return None
    if as_of < order.dispute_as_of:
        return "older than the dispute's last report"
    moves = dispute_id == order.dispute_id and status != order.dispute_status
    if moves and status not in FOLLOWS[order.dispute_status]:
        return f"a dispute that is {order.dispute_status} does not become {status}"
    return None
