"""The order's dispute (as Stripe reports it), and the indexes of the admin date filters."""

from peewee import *

DISPUTE_COLUMNS = {
    "dispute_id": CharField(max_length=255, null=True),
    "dispute_status": CharField(max_length=32, null=True),
    "dispute_reason": CharField(max_length=64, null=True),
    "dispute_amount_in_cents": BigIntegerField(null=True),
    "dispute_as_of": DateTimeField(null=True),
}
DATE_INDEXES = (
    ("created_at", "id"),
    ("user_id", "created_at", "id"),
    ("status", "created_at", "id"),
)


def up(migrator, db):
    migrator.migrate(
        *(migrator.add_column("orders", name, field) for name, field in DISPUTE_COLUMNS.items()),
        *(migrator.add_index("orders", columns, False) for columns in DATE_INDEXES),
    )


def down(migrator, db):
    migrator.migrate(
        *(migrator.drop_index("orders", "orders_" + "_".join(c)) for c in DATE_INDEXES),
        *(migrator.drop_column("orders", name) for name in reversed(DISPUTE_COLUMNS)),
    )
