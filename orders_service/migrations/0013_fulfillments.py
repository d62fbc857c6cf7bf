"""Fulfilments (the parcels an order leaves in), the units each line has sent, and the hold of
a manual-capture payment.

Orders shipped before fulfilments existed sent everything when they were shipped: each gets
one fulfilment of its lines (less the units line refunds held), without tracking, at the time
it was shipped, and shows
`fulfilled`.
"""

from peewee import *

# What each line of an order sent when it was shipped: what was bought less what line refunds
# held then (a line refunded in full sent nothing), in each database's JSON.
SENT = "l.quantity - l.quantity_refunded"
LINES = {
    "sqlite": "(SELECT json_group_array(json_object('productId', l.product_id, 'quantity',"
    f" {SENT})) FROM (SELECT * FROM order_line AS l WHERE l.order_id = o.id AND {SENT} > 0"
    " ORDER BY l.id) AS l)",
    # Written out, so the text is as compact, and its keys in the order, the service writes.
    "postgres": "(SELECT '[' || string_agg('{\"productId\":' || l.product_id || ',\"quantity\":'"
    f" || ({SENT}) || '}}', ',' ORDER BY l.id) || ']' FROM order_line AS l"
    f" WHERE l.order_id = o.id AND {SENT} > 0)",
}
SHIPPED_AT = (
    "(SELECT min(h.at) FROM order_history AS h WHERE h.order_id = o.id AND h.to_status = 'shipped')"
)
# Shipped once, and something was left to send then.
BACKFILLED = (
    f"{SHIPPED_AT} IS NOT NULL AND EXISTS"
    f" (SELECT 1 FROM order_line AS l WHERE l.order_id = o.id AND {SENT} > 0)"
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
    db.execute_sql(
        "INSERT INTO fulfillment (order_id, lines, notify_customer, actor, created_at)"
        f" SELECT o.id, {LINES[dialect]}, {'0' if dialect == 'sqlite' else 'false'}, 'system',"
        f" {SHIPPED_AT} FROM orders AS o WHERE {BACKFILLED} ORDER BY o.id"
    )
    db.execute_sql(f"UPDATE orders AS o SET fulfillment_status = 'fulfilled' WHERE {BACKFILLED}")
    db.execute_sql(
        "UPDATE order_line SET quantity_fulfilled = quantity - quantity_refunded WHERE order_id IN"
        " (SELECT order_id FROM fulfillment) AND quantity > quantity_refunded"
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_table("fulfillment"),
        migrator.drop_column("order_line", "quantity_fulfilled"),
        migrator.drop_column("orders", "authorization_expires_at"),
        migrator.drop_column("orders", "fulfillment_status"),
    )
