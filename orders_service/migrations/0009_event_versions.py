"""Each order counts its events' versions itself, so events pruned since never make one repeat."""

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("orders", "event_version", IntegerField(default=0)))
    # Until now a version was the count of the order's history rows (visible orders only).
    db.execute_sql(
        "UPDATE orders SET event_version = (SELECT COUNT(*) FROM order_history"
        " WHERE order_history.order_id = orders.id) WHERE client_secret IS NOT NULL"
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("orders", "event_version"))
