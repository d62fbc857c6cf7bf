"""The fencing token of an Idempotency-Key's lease, and the generation of an order's Stripe keys."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("idempotency_key", "lease", CharField(max_length=32, null=True)),
        migrator.add_column("orders", "payment_key_generation", IntegerField(default=0)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("orders", "payment_key_generation"),
        migrator.drop_column("idempotency_key", "lease"),
    )
