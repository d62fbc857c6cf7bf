"""Orders: list, read, history, create (idempotently) and change status."""

from flask import current_app, jsonify, request, url_for
from flask.views import MethodView
from flask_smorest import abort

from ..auth import current_caller
from ..extensions import LINK_HEADER_DOC, Blueprint, finish_page
from ..payments.gateway import PaymentError
from .lifecycle import TransitionRefused
from .models import Order, OrderHistory
from .schemas import (
    CART_DOC_SCHEMA,
    HistorySchema,
    OrderItemSchema,
    OrderQueryArgsSchema,
    OrderSchema,
    StatusUpdatedSchema,
    StatusUpdateSchema,
)
from .service import (
    IdempotencyConflict,
    OrderInvalid,
    attach_lines,
    change_status,
    create_order,
    order_page,
    visible_order,
)

blp = Blueprint("orders", __name__, url_prefix="/orders", description="Orders and their life cycle")
order_schema = OrderSchema()

DOC_ORDER = {
    "id": 1,
    "userId": 1,
    "date": "2023-01-01T00:00:00Z",
    "products": [{"id": 1, "name": "Product Name", "quantity": 2, "priceInCents": 1000}],
    "amountInCents": 2000,
    "currency": "usd",
    "clientSecret": "client_secret",
    "status": "pending",
}


def get_visible_order(order_id):
    """The caller's order (any order for an admin); 404 otherwise, so others' ids stay hidden."""
    caller = current_caller()
    order = visible_order(order_id)
    if order is None or not (caller.is_admin or order.user_id == caller.user_id):
        abort(404, message=f"Order {order_id} not found.")
    return order


@blp.route("")
class Orders(MethodView):
    @blp.auth()
    @blp.arguments(OrderQueryArgsSchema, location="query")
    @blp.response(200, OrderSchema(many=True), headers=LINK_HEADER_DOC, example=[DOC_ORDER])
    def get(self, args):
        """List the caller's orders (every order for an admin), newest first"""
        caller = current_caller()
        user_id = args.get("user_id")
        if not caller.is_admin:
            if user_id not in (None, caller.user_id):
                abort(403, message="Only admins may list other users' orders.")
            user_id = caller.user_id
        rows = order_page(user_id, args.get("status"), args.get("starting_after"), args["limit"])
        headers = {}
        return attach_lines(finish_page(rows, Order.id, args, headers)), headers


@blp.route("/<id:order_id>")
class OrderById(MethodView):
    @blp.auth()
    @blp.response(200, OrderSchema, example=DOC_ORDER)
    @blp.errors(404)
    def get(self, order_id):
        """Get one order"""
        return attach_lines([get_visible_order(order_id)])[0]


@blp.route("/<id:order_id>/history")
class OrderHistoryById(MethodView):
    @blp.auth()
    @blp.response(200, HistorySchema(many=True))
    @blp.errors(404)
    def get(self, order_id):
        """List an order's status changes, oldest first"""
        order = get_visible_order(order_id)
        return OrderHistory.select().where(OrderHistory.order == order.id).order_by(OrderHistory.id)


@blp.route("/new")
class NewOrder(MethodView):
    @blp.auth()
    @blp.arguments(
        OrderItemSchema(many=True),
        doc_schema=CART_DOC_SCHEMA,
        example=["3", "3", "8"],
        description="Product ids as strings or integers (a repeat adds one), "
        'or {"id": 3, "quantity": 2} objects.',
    )
    @blp.response(201, OrderSchema, example=DOC_ORDER)
    @blp.errors(409, 502, 503)
    @blp.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "Repeat a request safely: the same key and body answer the "
                "first response again.",
            }
        ]
    )
    def post(self, items):
        """Create an order from product ids, priced by the catalog"""
        caller = current_caller()
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 1 <= len(key) <= 255:
            abort(400, message="Idempotency-Key must be 1 to 255 characters.")
        try:
            created = create_order(
                caller, items, current_app.config["CURRENCY"], order_schema.dump, key=key
            )
        except OrderInvalid as error:
            abort(400, message=error.message, errors={"json": error.errors or [error.message]})
        except IdempotencyConflict as error:
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
            abort(409, message=error.message, headers=headers)
        except PaymentError as error:
            abort(error.status, message=f"The payment provider failed: {error.message}")
        # Already serialized (a replay answers the stored body), so it goes out as it is.
        response = jsonify(created.body)
        response.status_code = 201
        response.headers["Location"] = url_for("orders.OrderById", order_id=created.body["id"])
        if created.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


@blp.route("/status-update")
class StatusUpdate(MethodView):
    @blp.auth()
    @blp.arguments(StatusUpdateSchema, example={"orderId": 123, "status": "Pending"})
    @blp.response(200, StatusUpdatedSchema, example={"id": 1, "status": "completed"})
    @blp.errors(403, 404, 409, 502, 503)
    def post(self, args):
        """Move an order along its life cycle (admins; owners may cancel a pending order)"""
        caller = current_caller()
        order = get_visible_order(args["order_id"])
        target = args["status"]
        if not caller.is_admin and target != "canceled":
            abort(403, message="Customers may only cancel their own pending orders.")
        try:
            order, _ = change_status(order, target, caller.actor)
        except TransitionRefused as error:
            abort(409, message=str(error))
        except PaymentError as error:
            abort(error.status, message=f"The payment provider refused: {error.message}")
        return {"id": order.id, "status": order.status}
