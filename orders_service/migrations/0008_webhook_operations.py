"""Webhook operations: the secret a rotation replaced, and until when it still signs."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column(
            "webhook_endpoint", "previous_secret", CharField(max_length=64, null=True)
        ),
        migrator.add_column(
            "webhook_endpoint", "previous_secret_expires_at", DateTimeField(null=True)
        ),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("webhook_endpoint", "previous_secret_expires_at"),
        migrator.drop_column("webhook_endpoint", "previous_secret"),
    )
