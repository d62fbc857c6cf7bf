"""Webhook operations: attempts, retry and replay, dead endpoints, events without an order, and
the secret a rotation replaced."""

import datetime

from peewee import *


def up(migrator, db):
    class Delivery(Model):
        id = BigAutoField()

        class Meta:
            database = db
            table_name = "delivery"

    class DeliveryAttempt(Model):
        id = BigAutoField()
        delivery = ForeignKeyField(Delivery, on_delete="CASCADE", index=False)
        at = DateTimeField()
        status = IntegerField(null=True)
        duration_ms = IntegerField()
        error = CharField(max_length=255, null=True)
        response_body = TextField(null=True)

        class Meta:
            database = db
            table_name = "delivery_attempt"
            legacy_table_names = False
            indexes = ((("delivery", "id"), False),)

    endpoint_columns = {
        "disabled_reason": CharField(max_length=255, null=True),
        "alive_at": DateTimeField(null=True),
        "previous_secret": CharField(max_length=64, null=True),
        "previous_secret_expires_at": DateTimeField(null=True),
    }
    migrator.migrate(
        *(
            migrator.add_column("webhook_endpoint", name, field)
            for name, field in endpoint_columns.items()
        ),
        migrator.drop_not_null("event", "order_id"),
        migrator.drop_not_null("delivery", "next_attempt_at"),
        # NOT NULL with a default the database fills in: no pass over every delivery.
        migrator.add_column(
            "delivery",
            "schedule_start",
            IntegerField(default=0, constraints=[SQL("DEFAULT 0")]),
            allow_not_null=True,
        ),
        migrator.drop_index("delivery", "delivery_event_id"),
        migrator.add_index("delivery", ("event_id", "endpoint_id"), True),
        migrator.add_index("delivery", ("endpoint_id", "state", "id"), False),
    )
    db.create_tables([DeliveryAttempt])
    # An endpoint's silence counts from its last delivery, so one dead before this release is
    # disabled, not given WEBHOOK_DISABLE_AFTER more.
    db.execute_sql(
        "UPDATE webhook_endpoint SET alive_at = (SELECT MAX(delivered_at) FROM delivery "
        "WHERE delivery.endpoint_id = webhook_endpoint.id)"
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_table("delivery_attempt"))
    db.execute_sql("DELETE FROM event WHERE order_id IS NULL")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    db.execute_sql(
        f"UPDATE delivery SET next_attempt_at = {db.param} WHERE next_attempt_at IS NULL", (now,)
    )
    migrator.migrate(
        migrator.drop_index("delivery", "delivery_endpoint_id_state_id"),
        migrator.drop_index("delivery", "delivery_event_id_endpoint_id"),
        migrator.add_index("delivery", ("event_id",), False),
        migrator.drop_column("delivery", "schedule_start"),
        migrator.add_not_null("delivery", "next_attempt_at"),
        migrator.add_not_null("event", "order_id"),
        *(
            migrator.drop_column("webhook_endpoint", name)
            for name in (
                "previous_secret_expires_at",
                "previous_secret",
                "alive_at",
                "disabled_reason",
            )
        ),
    )
