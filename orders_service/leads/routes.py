"""The CRM board's columns: list, add, reorder (admins only)."""

from flask.views import MethodView
from flask_smorest import abort

from ..extensions import Blueprint
from .schemas import LeadStatusSchema, StatusPositionSchema
from .service import UnknownStatuses, create_status, ordered_statuses, reorder

blp = Blueprint("leads", __name__, url_prefix="/leads", description="CRM leads and their board")


@blp.route("/statuses")
class LeadStatuses(MethodView):
    @blp.auth(admin=True)
    @blp.response(200, LeadStatusSchema(many=True))
    def get(self):
        """List the board's columns in order"""
        return ordered_statuses()

    @blp.auth(admin=True)
    @blp.arguments(LeadStatusSchema)
    @blp.response(201, LeadStatusSchema)
    def post(self, data):
        """Add a column (at the end unless statusOrder is given)"""
        return create_status(data["name"], data.get("status_order"))


@blp.route("/statuses/order")
class LeadStatusOrder(MethodView):
    @blp.auth(admin=True)
    @blp.arguments(StatusPositionSchema(many=True), example=[{"id": 1, "statusOrder": 1}])
    @blp.response(200, LeadStatusSchema(many=True), example=[{"id": 1, "statusOrder": 1}])
    @blp.errors(404)
    def put(self, positions):
        """Reorder the columns, all at once or not at all"""
        try:
            return reorder(positions)
        except UnknownStatuses as error:
            abort(404, message=str(error), errors={"json": {"id": error.ids}})
