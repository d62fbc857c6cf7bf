"""An order's refunds: list them, and make one (admins)."""

from flask.views import MethodView

from ..auth import current_caller
from ..extensions import Blueprint
from ..idempotency import REPLAYED_HEADER_DOC, created
from ..orders.schemas import IdempotencyHeaderSchema
from .refunding import make_refund, refunds_for
from .schemas import REFUND_REQUEST_DOC, RefundRequestSchema, RefundSchema

blp = Blueprint("refunds", __name__, url_prefix="/orders", description="Refunds of orders")

DOC_REFUND = {
    "id": 1,
    "orderId": 1,
    "amountInCents": 4999,
    "lines": [{"productId": 3, "quantity": 1}],
    "reason": "Arrived damaged",
    "restock": True,
    "status": "succeeded",
    "origin": "staff",
    "actor": "admin:1",
    "createdAt": "2023-01-02T00:00:00Z",
}


@blp.route("/<id:order_id>/refunds")
class OrderRefunds(MethodView):
    @blp.doc(operationId="listOrderRefunds")
    @blp.auth()
    @blp.response(200, RefundSchema(many=True), example=[DOC_REFUND])
    @blp.errors(404)
    def get(self, order_id):
        """List an order's refunds, oldest first (its owner and admins)"""
        return refunds_for(current_caller(), order_id)

    @blp.doc(operationId="createRefund")
    @blp.auth(admin=True)
    @blp.arguments(
        RefundRequestSchema,
        doc_schema=REFUND_REQUEST_DOC,
        example={"lines": [{"productId": 3, "quantity": 1}], "restock": True, "reason": "Damaged"},
        description="Exactly one of amountInCents and lines; restock with lines only.",
    )
    @blp.arguments(IdempotencyHeaderSchema, location="headers")
    @blp.response(201, RefundSchema, example=DOC_REFUND, headers=REPLAYED_HEADER_DOC)
    @blp.errors(404, 409, 502, 503)
    def post(self, request, headers, order_id):
        """Refund an amount, or lines, of a paid, shipped or completed order (admins)"""
        made = make_refund(current_caller(), order_id, request, key=headers.get("key"))
        return created(made.body, made.replayed)
