"""flask commands: db, seed, token, payments, orders, events."""

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from .auth import issue_token
from .config import parse_duration
from .database import apply_migrations, db, migration_runner
from .events.cli import events_cli
from .leads.models import LeadStatus
from .leads.service import lock_the_board
from .orders.disputes import STATUSES as DISPUTE_STATUSES
from .payments.simulate import EVENT_TYPES as SIMULATED_EVENTS
from .products.models import Product

DEMO_CATALOG = (
    ("TSHIRT-BLK-M", "Black T-shirt (M)", 1999),
    ("TSHIRT-WHT-L", "White T-shirt (L)", 1999),
    ("HOODIE-GRY-M", "Grey Hoodie (M)", 4999),
    ("MUG-LOGO", "Logo Mug", 1299),
    ("CAP-NAVY", "Navy Cap", 2499),
    ("STICKERS-5", "Sticker Pack (5)", 499),
    ("TOTE-CANVAS", "Canvas Tote Bag", 1599),
    ("SOCKS-STRIPE", "Striped Socks", 899),
)
# A limited run whose stock is tracked, so that `make run` shows it (the products above are not).
DEMO_STOCKED = (
    ("HOODIE-LTD-L", "Limited Edition Hoodie (L)", 5999, 10),
    ("PIN-ENAMEL", "Enamel Pin", 799, 100),
    ("POSTER-RETRO", "Retro Poster", 1299, 25),
)
DEFAULT_LEAD_STATUSES = ("New", "Contacted", "Qualified", "Won", "Lost")

db_cli = AppGroup("db", help="Database schema (migrations) and pruning.")
payments_cli = AppGroup("payments", help="Payment events and reconciliation.")
orders_cli = AppGroup("orders", help="Order housekeeping.")


@db_cli.command("upgrade")
def db_upgrade():
    """Apply every pending migration (one host at a time: the others wait, then find none)."""
    applied = apply_migrations()
    for name in applied:
        click.echo(f"applied: {name}")
    if not applied:
        click.echo("nothing to apply: the schema is up to date.")


@db_cli.command("status")
def db_status():
    """List migrations; exit 1 while some are pending."""
    rows = migration_runner().status()
    for row in rows:
        click.echo(f"[{'x' if row.applied else ' '}] {row.name}")
    if any(not row.applied for row in rows):
        raise SystemExit(1)


@db_cli.command("prune")
@click.option("--batch-size", type=click.IntRange(min=1), default=1000, show_default=True)
def db_prune(batch_size):
    """Delete what has served its time, in batches (safe on several hosts at once)."""
    from .retention import prune

    for name, deleted in prune(current_app.config, batch_size):
        click.echo(f"{name}: {deleted} deleted.")


@click.command("seed")
@with_appcontext
def seed():
    """Load the demo catalog (products already there are left alone) and, on an empty board,
    the default lead status columns."""
    catalog = [(*product, None) for product in DEMO_CATALOG] + list(DEMO_STOCKED)
    rows = [
        {"sku": sku, "name": name, "price_in_cents": price, "stock": stock}
        for sku, name, price, stock in catalog
    ]
    with db.atomic():
        before = Product.select().count()
        Product.insert_many(rows).on_conflict_ignore().execute()
        added = Product.select().count() - before
    click.echo(f"demo catalog: {added} products added, {len(rows) - added} already there.")
    with db.atomic():
        lock_the_board()  # a column the API adds meanwhile goes after these
        if not LeadStatus.select().exists():
            columns = [{"name": n, "status_order": i} for i, n in enumerate(DEFAULT_LEAD_STATUSES)]
            # Two seeds at once: the unique name index keeps one of each.
            LeadStatus.insert_many(columns).on_conflict_ignore().execute()
            click.echo(f"lead statuses: {', '.join(DEFAULT_LEAD_STATUSES)} added.")
        else:
            click.echo("lead statuses: the board has columns already, left alone.")


@click.command("token")
@with_appcontext
@click.option("--user-id", type=click.IntRange(min=1), required=True)
@click.option("--admin", is_flag=True, help="Add the admin role.")
@click.option("--ttl", type=click.IntRange(min=1), default=3600, show_default=True)
def token(user_id, admin, ttl):
    """Print a bearer token signed with the configured key."""
    try:
        click.echo(issue_token(current_app.config, user_id, admin=admin, ttl=ttl))
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None


@payments_cli.command("simulate")
@click.argument("order_id", type=int)
@click.argument("outcome", type=click.Choice(list(SIMULATED_EVENTS)))
def simulate(order_id, outcome):
    """Feed a payment event for ORDER_ID through the webhook's handling."""
    from .payments.events import apply_event
    from .payments.simulate import simulated_event

    event = simulated_event(order_id, outcome)
    click.echo(f"{event['id']} {event['type']}: {apply_event(event, source='local')}")


@payments_cli.command("dispute")
@click.argument("order_id", type=int)
@click.argument("status", type=click.Choice(DISPUTE_STATUSES))
@click.option("--reason", default="fraudulent", show_default=True)
def dispute(order_id, status, reason):
    """Feed a dispute of ORDER_ID's payment, now STATUS, through the webhook's handling."""
    from .payments.events import apply_event
    from .payments.simulate import simulated_dispute

    event = simulated_dispute(order_id, status, reason)
    click.echo(f"{event['id']} {event['type']}: {apply_event(event, source='local')}")


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value, param, ctx):
        try:
            return parse_duration(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


@payments_cli.command("reconcile")
@click.option(
    "--refunds-within",
    type=Duration(),
    default="30d",
    show_default=True,
    help="Paid orders placed within this are re-read for refunds and disputes (pending ones, "
    "and those with an open dispute, always).",
)
def reconcile(refunds_within):
    """Re-read the intents of unfinished orders and apply what the webhooks missed."""
    from .payments.reconcile import reconcile_orders

    changed = set()
    for order_id, outcome in reconcile_orders(refunds_within):
        click.echo(f"order {order_id}: {outcome}")
        kind = outcome.split(":")[0]
        if kind in {"paid", "canceled", "refunded", "refunds recorded", "dispute updated"}:
            changed.add(order_id)
    click.echo(f"reconcile: {len(changed)} orders changed.")


@orders_cli.command("expire")
@click.option("--older-than", type=Duration(), required=True, help="Like 30m, 24h or 7d.")
def expire(older_than):
    """Cancel pending orders older than --older-than, and their payment intents."""
    from .orders.housekeeping import expire_unpaid

    changed = 0
    for order_id, outcome in expire_unpaid(older_than):
        click.echo(f"order {order_id}: {outcome}")
        changed += outcome == "canceled"
    click.echo(f"expire: {changed} orders canceled.")


def register(app):
    for command in (db_cli, payments_cli, orders_cli, seed, token, events_cli):
        app.cli.add_command(command)
