"""The refund ledger, each order's refunded total and each line's refunded units."""

from peewee import *


def up(migrator, db):
    class Order(Model):
        class Meta:
            database = db
            table_name = "orders"

    class IdempotencyKey(Model):
        class Meta:
            database = db
            table_name = "idempotency_key"

    class Refund(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        amount_in_cents = BigIntegerField()
        lines_json = TextField(column_name="lines", default="[]")
        reason = CharField(max_length=500, null=True)
        restock = BooleanField(default=False)
        status = CharField(max_length=16, default="pending")
        origin = CharField(max_length=16)
        actor = CharField(max_length=255)
        created_at = DateTimeField()
        provider_refund_id = CharField(max_length=255, null=True, unique=True)
        key = CharField(max_length=32, null=True, unique=True)
        idempotency_key = ForeignKeyField(
            IdempotencyKey, null=True, unique=True, on_delete="SET NULL"
        )
        status_before_refunded = CharField(max_length=16, null=True)

        class Meta:
            database = db
            table_name = "refund"
            indexes = ((("order", "id"), False),)

    migrator.migrate(
        migrator.add_column("orders", "amount_refunded_in_cents", BigIntegerField(default=0)),
        migrator.add_column("order_line", "quantity_refunded", IntegerField(default=0)),
    )
    db.create_tables([Refund])


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("refund"),
        migrator.drop_column("order_line", "quantity_refunded"),
        migrator.drop_column("orders", "amount_refunded_in_cents"),
    )
