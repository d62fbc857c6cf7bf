"""Orders: list, read, history, create (idempotently) and change status."""

from flask import current_app, url_for
from flask.views import MethodView

from ..auth import current_caller
from ..documents import response
from ..extensions import Blueprint
from ..idempotency import REPLAYED_HEADER_DOC, created
from ..ops.limits import RATE_LIMIT_HEADERS_DOC
from ..pagination import LINK_HEADER_DOC
from .queries import history_document, order_document, order_page_document
from .schemas import (
    CART_DOC_SCHEMA,
    FulfillmentRequestSchema,
    FulfillmentSchema,
    HistorySchema,
    IdempotencyHeaderSchema,
    OrderItemSchema,
    OrderQueryArgsSchema,
    OrderSchema,
    StatusUpdatedSchema,
    StatusUpdateSchema,
)
from .service import create_order, update_status
from .shipping import make_fulfillment

blp = Blueprint("orders", __name__, url_prefix="/orders", description="Orders and their life cycle")
order_schema = OrderSchema()

CREATED_HEADERS_DOC = {
    "Location": {
        "description": "The new order's URL (GET it to read the order again)",
        "schema": {"type": "string"},
        "required": True,
    },
    **REPLAYED_HEADER_DOC,
    **RATE_LIMIT_HEADERS_DOC,
}
DOC_ORDER = {
    "id": 1,
    "userId": 1,
    "date": "2023-01-01T00:00:00Z",
    "products": [{"id": 1, "name": "Product Name", "quantity": 2, "priceInCents": 1000}],
    "amountInCents": 2000,
    "amountRefundedInCents": 0,
    "currency": "usd",
    "clientSecret": "pi_3Pq_secret_4Rs",
    "status": "pending",
    "dispute": None,
    "paymentIntentId": "pi_3Pq",
    "nextStatuses": ["paid", "canceled"],
    "fulfillmentStatus": "unfulfilled",
    "fulfillments": [],
    "authorizationExpiresAt": None,
}
FULFILLMENT_REQUEST_FIELDS = ("lines", "carrier", "trackingNumber", "trackingUrl", "notifyCustomer")
DOC_FULFILLMENT = {
    "id": 1,
    "orderId": 1,
    "lines": [{"productId": 1, "quantity": 2}],
    "carrier": "UPS",
    "trackingNumber": "1Z999AA10123456784",
    "trackingUrl": "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    "notifyCustomer": True,
    "actor": "admin:1",
    "createdAt": "2023-01-02T00:00:00Z",
}


@blp.route("")
class Orders(MethodView):
    @blp.doc(operationId="listOrders")
    @blp.auth()
    @blp.arguments(OrderQueryArgsSchema, location="query")
    @blp.response(200, OrderSchema(many=True), headers=LINK_HEADER_DOC, example=[DOC_ORDER])
    @blp.errors(403)  # a customer filtering by another userId
    def get(self, args):
        """List the caller's orders (every order for an admin), newest first"""
        headers = {}
        body = order_page_document(current_caller(), args, headers)
        return response(body, headers)


@blp.route("/<id:order_id>")
class OrderById(MethodView):
    @blp.doc(operationId="getOrder")
    @blp.auth()
    @blp.response(200, OrderSchema, example=DOC_ORDER)
    @blp.errors(404)
    def get(self, order_id):
        """Get one order"""
        return response(order_document(current_caller(), order_id))


@blp.route("/<id:order_id>/history")
class OrderHistoryById(MethodView):
    @blp.doc(operationId="listOrderHistory")
    @blp.auth()
    @blp.response(200, HistorySchema(many=True))
    @blp.errors(404)
    def get(self, order_id):
        """List an order's status changes, oldest first"""
        return response(history_document(current_caller(), order_id))


@blp.route("/new")
class NewOrder(MethodView):
    @blp.doc(operationId="createOrder")
    @blp.auth()
    @blp.arguments(
        OrderItemSchema(many=True),
        doc_schema=CART_DOC_SCHEMA,
        example=["3", "3", "8"],
        description="Product ids as strings or integers (a repeat adds one), "
        'or {"id": 3, "quantity": 2} objects.',
    )
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, OrderSchema, example=DOC_ORDER, headers=CREATED_HEADERS_DOC)
    @blp.errors(409, 502, 503)
    @blp.limit("RATE_LIMIT_ORDERS", idempotent=True)
    def post(self, items, headers):
        """Create an order from product ids, priced by the catalog"""
        order = create_order(
            current_caller(),
            items,
            current_app.config["CURRENCY"],
            order_schema.dump,
            key=headers.get("key"),
        )
        response = created(order.body, order.replayed)
        response.headers["Location"] = url_for("orders.OrderById", order_id=order.body["id"])
        return response


@blp.route("/status-update")
class StatusUpdate(MethodView):
    @blp.doc(operationId="updateOrderStatus")
    @blp.auth()
    @blp.arguments(StatusUpdateSchema, example={"orderId": 123, "status": "Pending"})
    @blp.response(200, StatusUpdatedSchema, example={"id": 1, "status": "completed"})
    @blp.errors(403, 404, 409, 502, 503)
    def post(self, args):
        """Move an order along its life cycle (admins; owners may cancel a pending order)"""
        order = update_status(current_caller(), args["order_id"], args["status"])
        return {"id": order.id, "status": order.status}


@blp.route("/<id:order_id>/fulfillments")
class OrderFulfillments(MethodView):
    @blp.doc(operationId="createFulfillment")
    @blp.auth(admin=True)
    @blp.arguments(
        FulfillmentRequestSchema,
        example={k: v for k, v in DOC_FULFILLMENT.items() if k in FULFILLMENT_REQUEST_FIELDS},
        description="Every field is optional: without lines, everything not yet sent.",
    )
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, FulfillmentSchema, example=DOC_FULFILLMENT, headers=REPLAYED_HEADER_DOC)
    @blp.errors(404, 409, 502, 503)
    def post(self, request, headers, order_id):
        """Send lines of an authorized or paid order, with tracking (admins); an authorized
        order's payment is captured first, and the order is shipped once nothing is left"""
        made = make_fulfillment(current_caller(), order_id, request, key=headers.get("key"))
        return created(made.body, made.replayed)
