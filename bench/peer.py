"""The peer: the two hot order reads as anyone would write them with the same stack.

A Flask view, peewee models, a marshmallow dump and PyJWT; no cache, nothing compiled
ahead. `gunicorn --config gunicorn.conf.py bench.peer:app` with DATABASE_URL and JWT_SECRET.
"""

import os

import jwt
import marshmallow as ma
import peewee
from flask import Flask, abort, jsonify, request
from playhouse.db_url import connect

db = connect(
    os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+pool://", 1),
    max_connections=int(os.environ.get("DB_POOL_SIZE", "16")),
    timeout=0,  # a thread waits for a pooled connection rather than failing (as the service's)
)


class Order(peewee.Model):
    user_id = peewee.BigIntegerField()
    created_at = peewee.DateTimeField()
    status = peewee.CharField()
    amount_in_cents = peewee.BigIntegerField()
    currency = peewee.CharField()
    client_secret = peewee.CharField(null=True)

    class Meta:
        database = db
        table_name = "orders"


class OrderLine(peewee.Model):
    order = peewee.ForeignKeyField(Order, backref="lines")
    product_id = peewee.BigIntegerField()
    name = peewee.CharField()
    quantity = peewee.IntegerField()
    price_in_cents = peewee.BigIntegerField()

    class Meta:
        database = db
        table_name = "order_line"


class LineSchema(ma.Schema):
    id = ma.fields.Integer(attribute="product_id")
    name = ma.fields.String()
    quantity = ma.fields.Integer()
    priceInCents = ma.fields.Integer(attribute="price_in_cents")


class OrderSchema(ma.Schema):
    id = ma.fields.Integer()
    userId = ma.fields.Integer(attribute="user_id")
    date = ma.fields.DateTime(attribute="created_at", format="%Y-%m-%dT%H:%M:%SZ")
    products = ma.fields.List(ma.fields.Nested(LineSchema), attribute="lines")
    amountInCents = ma.fields.Integer(attribute="amount_in_cents")
    currency = ma.fields.String()
    clientSecret = ma.fields.String(attribute="client_secret")
    status = ma.fields.String()


order_schema = OrderSchema()
orders_schema = OrderSchema(many=True)
app = Flask(__name__)


@app.before_request
def open_connection():
    db.connect(reuse_if_open=True)


@app.teardown_request
def close_connection(exc):
    if not db.is_closed():
        db.close()


def user_id():
    token = request.headers.get("Authorization", "").partition(" ")[2]
    try:
        claims = jwt.decode(token, os.environ["JWT_SECRET"], algorithms=["HS256"])
    except jwt.InvalidTokenError:
        abort(401)
    return int(claims["sub"])


def visible():
    return Order.select().where(Order.client_secret.is_null(False))


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/orders/<int:order_id>")
def get_order(order_id):
    owner = user_id()
    order = visible().where(Order.id == order_id).first()
    if order is None or order.user_id != owner:
        abort(404)
    order.lines = list(order.lines.order_by(OrderLine.id))
    return jsonify(order_schema.dump(order))


@app.get("/orders")
def list_orders():
    owner = user_id()
    limit = request.args.get("limit", 20, type=int)
    query = visible().where(Order.user_id == owner)
    after = request.args.get("starting_after", type=int)
    if after is not None:
        query = query.where(Order.id < after)
    page = query.order_by(Order.id.desc()).limit(limit)
    orders = peewee.prefetch(page, OrderLine.select().order_by(OrderLine.id))
    return jsonify(orders_schema.dump(orders))
