"""Order events (the outbox), webhook endpoints and their deliveries."""

from peewee import *


def up(migrator, db):
    class Order(Model):
        class Meta:
            database = db
            table_name = "orders"

    class Event(Model):
        id = BigAutoField()
        uid = CharField(max_length=40, unique=True)
        type = CharField(max_length=32)
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        version = IntegerField()
        created_at = DateTimeField()
        body = TextField()

        class Meta:
            database = db
            table_name = "event"
            indexes = ((("order", "id"), False), (("type", "id"), False), (("created_at",), False))

    class WebhookEndpoint(Model):
        url = CharField(max_length=2048)
        events_json = TextField(column_name="events")
        description = CharField(max_length=500, default="")
        enabled = BooleanField(default=True)
        secret = CharField(max_length=64)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "webhook_endpoint"

    class Delivery(Model):
        id = BigAutoField()
        event = ForeignKeyField(Event, on_delete="CASCADE", index=False)
        endpoint = ForeignKeyField(WebhookEndpoint, on_delete="CASCADE", index=False)
        order_id = BigIntegerField()
        version = IntegerField()
        state = CharField(max_length=16, default="pending")
        attempts = IntegerField(default=0)
        last_status = IntegerField(null=True)
        last_error = CharField(max_length=255, null=True)
        next_attempt_at = DateTimeField()
        delivered_at = DateTimeField(null=True)
        claim = CharField(max_length=32, null=True)

        class Meta:
            database = db
            table_name = "delivery"
            indexes = (
                (("endpoint", "id"), False),
                (("event",), False),
                (("state", "next_attempt_at"), False),
            )

    Delivery.add_index(
        Delivery.index(
            Delivery.endpoint,
            Delivery.order_id,
            Delivery.version,
            where=(Delivery.state == "pending"),
            name="delivery_pending_versions",
        )
    )
    db.create_tables([Event, WebhookEndpoint, Delivery])


def down(migrator, db):
    for table in ("delivery", "webhook_endpoint", "event"):
        migrator.migrate(migrator.drop_table(table))
