"""Board rules: columns (unique names, kept while leads use them, reordered at once) and leads."""

import contextlib

import peewee

from ..database import db, locked, transaction_lock
from ..errors import Conflict, DomainError, Forbidden, NotFound
from .models import MAX_STATUS_ORDER, Lead, LeadStatus


class UnknownStatuses(NotFound):
    def __init__(self, ids):
        super().__init__(
            f"Unknown lead statuses: {', '.join(map(str, ids))}.", {"json": {"id": ids}}
        )
        self.ids = ids


@contextlib.contextmanager
def atomic_or(conflict):
    """A transaction; if it breaks a unique or foreign key, raise `conflict()` after the rollback.

    The constraint is what decides, so two requests racing each other cannot both get through.
    """
    try:
        with db.atomic():
            yield
    except peewee.IntegrityError:
        raise conflict() from None


def name_taken(name):
    return Conflict(
        f"A lead status named {name!r} already exists (names are compared ignoring case).",
        {"json": {"name": ["Already taken."]}},
    )


def in_use(status_id, count):
    leads = "1 lead" if count == 1 else f"{count} leads"
    return Conflict(
        f"Lead status {status_id} still holds {leads}; move or delete them first.",
        {"leadCount": count},
    )


def leads_in(status_id):
    return Lead.select().where(Lead.status == status_id).count()


def ordered_statuses(with_counts=False):
    """Every column by statusOrder, then id; with `lead_count` counted in the same query."""
    query = LeadStatus.select()
    if with_counts:
        query = (
            LeadStatus.select(LeadStatus, peewee.fn.COUNT(Lead.id).alias("lead_count"))
            .join(Lead, peewee.JOIN.LEFT_OUTER)
            .group_by(LeadStatus.id)
        )
    return query.order_by(LeadStatus.status_order, LeadStatus.id)


def get_status(status_id, lock=False):
    query = LeadStatus.select().where(LeadStatus.id == status_id)
    status = (locked(query) if lock else query).first()
    if status is None:
        raise NotFound(f"Lead status {status_id} not found.")
    return status


def create_status(name, status_order=None):
    with atomic_or(lambda: name_taken(name)):
        if status_order is None:
            status_order = _place_after_the_last()
        return LeadStatus.create(name=name, status_order=status_order)


def lock_the_board():
    """Hold the board's column places until the transaction ends.

    Columns added at once would each read the same last one; they queue here, each until the
    one before it commits. Row locks would not do: an empty board has no row to lock.
    """
    transaction_lock("lead_status_order")


def _place_after_the_last():
    """The statusOrder after the last column; the columns are renumbered 0, 1, … if none fits."""
    lock_the_board()
    highest = LeadStatus.select(peewee.fn.MAX(LeadStatus.status_order)).scalar()
    if highest is None:
        return 0
    if highest < MAX_STATUS_ORDER:
        return highest + 1
    # The board keeps its order; only the numbers close up (under the same locks as a reorder).
    list(locked(LeadStatus.select(LeadStatus.id).order_by(LeadStatus.id)))
    by_place = [s.id for s in ordered_statuses()]
    case = peewee.Case(LeadStatus.id, [(id_, place) for place, id_ in enumerate(by_place)])
    LeadStatus.update(status_order=case).where(LeadStatus.id.in_(by_place)).execute()
    return len(by_place)


def update_status(status_id, changes):
    """Rename a column and/or give it another statusOrder."""
    with atomic_or(lambda: name_taken(changes.get("name"))):
        get_status(status_id)
        if changes:
            LeadStatus.update(**changes).where(LeadStatus.id == status_id).execute()
    return get_status(status_id)


def delete_status(status_id):
    """Remove an empty column; one that still holds leads is a Conflict naming how many."""
    with atomic_or(lambda: in_use(status_id, leads_in(status_id))):
        # The lock makes a lead being added to this column wait for the count and the delete.
        get_status(status_id, lock=True)
        count = leads_in(status_id)
        if count:
            raise in_use(status_id, count)
        LeadStatus.delete().where(LeadStatus.id == status_id).execute()


def reorder(positions):
    """Apply every {id, status_order} or none: rows locked in id order, one UPDATE."""
    new_order = {item["id"]: item["status_order"] for item in positions}
    with db.atomic():
        # Locking every column in one order makes concurrent reorders queue, not interleave.
        known = {
            status.id for status in locked(LeadStatus.select(LeadStatus.id).order_by(LeadStatus.id))
        }
        unknown = sorted(set(new_order) - known)
        if unknown:
            raise UnknownStatuses(unknown)
        case = peewee.Case(LeadStatus.id, list(new_order.items()))
        LeadStatus.update(status_order=case).where(LeadStatus.id.in_(list(new_order))).execute()
    return list(ordered_statuses())


def unknown_status(status_id):
    message = f"Unknown lead status {status_id}."
    return DomainError(message, {"json": {"statusId": [message]}})


def column_for(status_id=None):
    """The id of the column a lead goes to: the one asked for, or else the first one."""
    if status_id is None:
        first = ordered_statuses().first()
        if first is None:
            raise DomainError(
                "There is no lead status yet: add a column (POST /leads/statuses) first.",
                {"json": {"statusId": ["No lead status exists."]}},
            )
        return first.id
    if not LeadStatus.select().where(LeadStatus.id == status_id).exists():
        raise unknown_status(status_id)
    return status_id


def lead_conflict(data, lead_id=None):
    """Why a lead write broke a constraint: its email is taken, or its column has just gone."""
    email = data.get("email")
    if email is not None:
        others = Lead.select(Lead.id).where(peewee.fn.LOWER(Lead.email) == peewee.fn.LOWER(email))
        if lead_id is not None:
            others = others.where(Lead.id != lead_id)
        other = others.first()
        if other is not None:
            return Conflict(
                f"A lead with this email already exists: lead {other.id}.",
                {"json": {"email": ["Already taken."]}, "leadId": other.id},
            )
    return unknown_status(data.get("status_id"))


def get_lead(lead_id):
    lead = Lead.get_or_none(Lead.id == lead_id)
    if lead is None:
        raise NotFound(f"Lead {lead_id} not found.")
    return lead


def search_leads(status_id=None, q=None):
    """Leads in a column and/or whose name or email holds `q`, ignoring case.

    peewee's contains() escapes % and _ and is ILIKE on PostgreSQL, LIKE on SQLite.
    """
    query = Lead.select()
    if status_id is not None:
        query = query.where(Lead.status == status_id)
    if q:
        query = query.where(Lead.name.contains(q) | Lead.email.contains(q))
    return query


def create_lead(data):
    with atomic_or(lambda: lead_conflict(data)):
        data["status_id"] = column_for(data.get("status_id"))
        return Lead.create(**data)


def add_lead(caller, data):
    """An admin's lead: created and returned (a taken email is a Conflict naming the lead).

    Anyone else's (a storefront's contact form) goes to the first column if its email is new;
    a known email changes nothing. None comes back either way, so the CRM cannot be probed.
    """
    if caller.is_admin:
        return create_lead(data)
    if "status_id" in data:
        raise Forbidden(
            "Only admins choose a lead's column: leave statusId out.",
            {"json": {"statusId": ["Admins only."]}},
        )
    with contextlib.suppress(Conflict):
        create_lead(data)
    return None


def update_lead(lead_id, changes):
    """Change a lead's fields; a new status_id moves it to another column."""
    with atomic_or(lambda: lead_conflict(changes, lead_id)):
        get_lead(lead_id)
        if "status_id" in changes:
            column_for(changes["status_id"])
        if changes:
            Lead.update(**changes).where(Lead.id == lead_id).execute()
    return get_lead(lead_id)


def delete_lead(lead_id):
    if not Lead.delete().where(Lead.id == lead_id).execute():
        raise NotFound(f"Lead {lead_id} not found.")
