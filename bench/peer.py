"""The peer: the hot order reads and the create as anyone would write them with the same stack.

A Flask view, peewee models, a marshmallow load and dump, PyJWT and the Stripe SDK as it comes
(its default HTTP client); no cache, nothing compiled ahead. `gunicorn --config
gunicorn.conf.py bench.peer:app` with DATABASE_URL and JWT_SECRET, and for the create
STRIPE_SECRET_KEY and STRIPE_API_BASE (the bench's Stripe fake).
"""

import datetime
import os

import jwt
import marshmallow as ma
import peewee
import stripe
from flask import Flask, abort, jsonify, request
from playhouse.db_url import connect

db = connect(
    os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+pool://", 1),
    max_connections=int(os.environ.get("DB_POOL_SIZE", "16")),
    timeout=0,  # a thread waits for a pooled connection rather than failing (as the service's)
)


stripe.api_key = os.environ.get("STRIPE_SECRET_KEY", "sk_test_peer")
if os.environ.get("STRIPE_API_BASE"):
    stripe.api_base = os.environ["STRIPE_API_BASE"].rstrip("/")


class Product(peewee.Model):
    name = peewee.CharField()
    price_in_cents = peewee.BigIntegerField()
    active = peewee.BooleanField()

    class Meta:
        database = db
        table_name = "product"


class Order(peewee.Model):
    user_id = peewee.BigIntegerField()
    created_at = peewee.DateTimeField()
    status = peewee.CharField(default="pending")
    amount_in_cents = peewee.BigIntegerField()
    currency = peewee.CharField()
    payment_intent_id = peewee.CharField(null=True)
    client_secret = peewee.CharField(null=True)
    # The service's columns that have no default in the database.
    payment_key_generation = peewee.IntegerField(default=0)
    event_version = peewee.IntegerField(default=0)
    amount_refunded_in_cents = peewee.BigIntegerField(default=0)
    fulfillment_status = peewee.CharField(default="unfulfilled")

    class Meta:
        database = db
        table_name = "orders"


class OrderLine(peewee.Model):
    order = peewee.ForeignKeyField(Order, backref="lines")
    product_id = peewee.BigIntegerField()
    name = peewee.CharField()
    quantity = peewee.IntegerField()
    price_in_cents = peewee.BigIntegerField()
    stock_taken = peewee.IntegerField(default=0)
    quantity_refunded = peewee.IntegerField(default=0)
    quantity_fulfilled = peewee.IntegerField(default=0)

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


class CartSchema(ma.Schema):
    """The create's body: product ids (a repeat adds one), as strings or integers."""

    products = ma.fields.List(ma.fields.Integer(strict=False), required=True)


order_schema = OrderSchema()
orders_schema = OrderSchema(many=True)
cart_schema = CartSchema()
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


@app.post("/orders/new")
def create_order():
    owner = user_id()
    try:
        ids = cart_schema.load({"products": request.get_json()})["products"]
    except ma.ValidationError as error:
        return jsonify(error.messages), 400
    quantities = {}
    for product_id in ids:
        quantities[product_id] = quantities.get(product_id, 0) + 1
    with db.atomic():
        products = {
            p.id: p
            for p in Product.select().where(Product.id.in_(list(quantities)), Product.active)
        }
        if len(products) != len(quantities):
            abort(400)
        order = Order.create(
            user_id=owner,
            created_at=datetime.datetime.now(datetime.UTC).replace(tzinfo=None),
            amount_in_cents=sum(products[p].price_in_cents * q for p, q in quantities.items()),
            currency="usd",
        )
        order.lines = [
            OrderLine.create(
                order=order,
                product_id=product_id,
                name=products[product_id].name,
                quantity=quantity,
                price_in_cents=products[product_id].price_in_cents,
            )
            for product_id, quantity in quantities.items()
        ]
    db.close()  # not held while Stripe answers
    intent = stripe.PaymentIntent.create(
        amount=order.amount_in_cents,
        currency=order.currency,
        metadata={"order_id": str(order.id)},
        automatic_payment_methods={"enabled": True},
        idempotency_key=f"peer-order-{order.id}-{os.getpid()}",
    )
    order.payment_intent_id = intent.id
    order.client_secret = intent.client_secret
    order.save()
    return jsonify(order_schema.dump(order)), 201
