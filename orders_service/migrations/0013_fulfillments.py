"""Fulfilments (the parcels an order leaves in), the units each line has sent, and the hold of
a manual-capture payment.

Orders shipped before fulfilments existed sent everything when they were shipped: each gets
one fulfilment of all its lines, without tracking, at the time it was shipped, and shows
`fulfilled`.
"""

from peewee import *

# The lines of an order, as a fulfilment keeps them, in each database's JSON.
LINES = {
    "sqlite": "(SELECT json_group_array(json_object('productId', l.product_id, 'quantity',"
    " l.quantity)) FROM (SELECT * FROM order_line AS l WHERE l.order_id = o.id ORDER BY l.id)"
    " AS l)",
    "postgres": "(SELECT json_agg(json_build_object('productId', l.product_id, 'quantity',"
    " l.quantity) ORDER BY l.id)::text FROM order_line AS l WHERE l.order_id = o.id)",
}
SHIPPED_AT = (
    "(SELECT min(h.at) FROM order_history AS h WHERE h.order_id = o.id AND h.to_status = 'shipped')"
)


def up(migrator, db):
    class Order(Model):
        class Meta:
            database = db
            table_name = "orders"

    class IdempotencyKey(Model):
        class Meta:
            database = db
            table_name = "idempotency_key"

    class Fulfillment(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE", index=False)
        lines_json = TextField(column_name="lines")
        carrier = CharField(max_length=100, null=True)
        tracking_number = CharField(max_length=100, null=True)
        tracking_url = CharField(max_length=2048, null=True)
        notify_customer = BooleanField(default=False)
        actor = CharField(max_length=255)
        created_at = DateTimeField()
        idempotency_key = ForeignKeyField(
            IdempotencyKey, null=True, unique=True, on_delete="SET NULL"
        )

        class Meta:
            database = db
            table_name = "fulfillment"
            indexes = ((("order", "id"), False),)

    # Defaults in the schema too: an instance still running the previous release during a
    # rolling deploy writes orders and lines without these columns.
    unfulfilled = CharField(
        max_length=16, default="unfulfilled", constraints=[SQL("DEFAULT 'unfulfilled'")]
    )
    none_sent = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    migrator.migrate(
        migrator.add_column("orders", "fulfillment_status", unfulfilled, allow_not_null=True),
        migrator.add_column("orders", "authorization_expires_at", DateTimeField(null=True)),
        migrator.add_column("order_line", "quantity_fulfilled", none_sent, allow_not_null=True),
    )
    db.create_tables([Fulfillment])
    dialect = "sqlite" if isinstance(db, SqliteDatabase) else "postgres"
    shipped = f"{SHIPPED_AT} IS NOT NULL"
    db.execute_sql(
        "INSERT INTO fulfillment (order_id, lines, notify_customer, actor, created_at)"
        f" SELECT o.id, {LINES[dialect]}, {'0' if dialect == 'sqlite' else 'false'}, 'system',"
        f" {SHIPPED_AT} FROM orders AS o WHERE {shipped} ORDER BY o.id"
    )
    db.execute_sql(f"UPDATE orders AS o SET fulfillment_status = 'fulfilled' WHERE {shipped}")
    db.execute_sql(
        "UPDATE order_line SET quantity_fulfilled = quantity WHERE order_id IN"
        " (SELECT order_id FROM fulfillment)"
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("fulfillment"),
        migrator.drop_column("order_line", "quantity_fulfilled"),
        migrator.drop_column("orders", "authorization_expires_at"),
        migrator.drop_column("orders", "fulfillment_status"),
    )
