"""A staff status change's claim on its order, and indexes for `db prune`'s age cut-offs."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("orders", "change_claimed_until", DateTimeField(null=True)),
        migrator.add_index("idempotency_key", ("created_at",), False),
        migrator.add_index("payment_event", ("received_at",), False),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("payment_event", "payment_event_received_at"),
        migrator.drop_index("idempotency_key", "idempotency_key_created_at"),
        migrator.drop_column("orders", "change_claimed_until"),
    )
