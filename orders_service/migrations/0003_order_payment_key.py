"""Orders get a random payment key, so Stripe idempotency keys never repeat across databases."""

from peewee import CharField


def up(migrator, db):
    # Older orders keep a null key, and with it the idempotency keys they already used.
    migrator.migrate(
        migrator.add_column("orders", "payment_key", CharField(max_length=32, null=True))
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("orders", "payment_key"))
