"""Products, orders (lines, history, idempotency keys), payment events, lead statuses."""

from peewee import *


def up(migrator, db):
    class Order(Model):
        user_id = BigIntegerField()
        created_at = DateTimeField()
        status = CharField(max_length=16, default="pending")
        amount_in_cents = BigIntegerField()
        currency = CharField(max_length=3)
        payment_intent_id = CharField(unique=True, null=True)
        client_secret = CharField(null=True)
        payment_error = TextField(null=True)

        class Meta:
            database = db
            table_name = "orders"
            indexes = ((("user_id", "id"), False), (("status", "id"), False))

    db.create_tables([Order])

    class IdempotencyKey(Model):
        user_id = BigIntegerField()
        key = CharField()
        request_hash = CharField(max_length=64)
        order = ForeignKeyField(Order, null=True, on_delete="CASCADE")
        response_code = IntegerField(null=True)
        response_body = TextField(null=True)
        created_at = DateTimeField()
        locked_at = DateTimeField()

        class Meta:
            database = db
            table_name = "idempotency_key"
            indexes = ((("user_id", "key"), True),)

    db.create_tables([IdempotencyKey])

    class LeadStatus(Model):
        name = CharField(max_length=100)
        status_order = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "lead_status"
            indexes = ((("status_order", "id"), False),)

    db.create_tables([LeadStatus])

    class OrderHistory(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        from_status = CharField(null=True, max_length=16)
        to_status = CharField(max_length=16)
        actor = CharField()
        at = DateTimeField()

        class Meta:
            database = db
            table_name = "order_history"

    db.create_tables([OrderHistory])

    class Product(Model):
        sku = CharField(unique=True, max_length=64)
        name = CharField(max_length=200)
        price_in_cents = BigIntegerField()
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "product"

    db.create_tables([Product])

    class OrderLine(Model):
        order = ForeignKeyField(Order, on_delete="CASCADE")
        product = ForeignKeyField(Product, on_delete="RESTRICT")
        name = CharField(max_length=200)
        quantity = IntegerField()
        price_in_cents = BigIntegerField()

        class Meta:
            database = db
            table_name = "order_line"

    db.create_tables([OrderLine])

    class PaymentEvent(Model):
        id = CharField(primary_key=True)
        type = CharField(max_length=100)
        order = ForeignKeyField(Order, null=True, on_delete="CASCADE")
        outcome = CharField()
        received_at = DateTimeField()

        class Meta:
            database = db
            table_name = "payment_event"

    db.create_tables([PaymentEvent])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("payment_event"))
    migrator.migrate(migrator.drop_table("order_line"))
    migrator.migrate(migrator.drop_table("product"))
    migrator.migrate(migrator.drop_table("order_history"))
    migrator.migrate(migrator.drop_table("lead_status"))
    migrator.migrate(migrator.drop_table("idempotency_key"))
    migrator.migrate(migrator.drop_table("orders"))
