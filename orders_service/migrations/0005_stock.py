"""Stock: what a product has left (null: not tracked), and what each order line took."""

from peewee import *


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("product", "stock", IntegerField(null=True)),
        migrator.add_column("order_line", "stock_taken", IntegerField(default=0)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_column("order_line", "stock_taken"),
        migrator.drop_column("product", "stock"),
    )
