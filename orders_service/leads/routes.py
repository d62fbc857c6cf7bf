"""The CRM board: its columns (lead statuses) and its leads. Admins only, but adding a lead."""

from flask import make_response, url_for
from flask.views import MethodView

from ..auth import current_caller
from ..extensions import Blueprint
from ..ops.limits import RATE_LIMIT_HEADERS_DOC
from ..pagination import LINK_HEADER_DOC, keyset_page
from .models import Lead
from .schemas import (
    LeadCreateSchema,
    LeadPatchSchema,
    LeadQueryArgsSchema,
    LeadReceivedSchema,
    LeadSchema,
    LeadStatusCountedSchema,
    LeadStatusCreateSchema,
    LeadStatusListArgsSchema,
    LeadStatusPatchSchema,
    LeadStatusSchema,
    StatusPositionSchema,
)
from .service import (
    add_lead,
    create_status,
    delete_lead,
    delete_status,
    get_lead,
    ordered_statuses,
    reorder,
    search_leads,
    update_lead,
    update_status,
)

blp = Blueprint("leads", __name__, url_prefix="/leads", description="CRM leads and their board")

LOCATION_DOC = {
    "Location": {
        "description": "The new lead's URL",
        "schema": {"type": "string"},
        "required": True,
    }
}
RECEIVED_DOC = {
    "schema": LeadReceivedSchema,
    "headers": RATE_LIMIT_HEADERS_DOC,
    "description": (
        "A non-admin's lead was received: added if its email was new, nothing changed if it "
        "was known. The answer is the same either way and says nothing about any lead."
    ),
}
RECEIVED = "Thank you: the lead has been received."
FORBIDDEN_DOC = {
    "schema": "Error",
    "description": "A non-admin sent `statusId`: only admins choose a lead's column.",
}
DUPLICATE_EMAIL_DOC = {
    "schema": "Error",
    "description": (
        "Admins only: a lead has this email already (ignoring case); `errors.leadId` is its id."
    ),
    "example": {
        "code": 409,
        "status": "Conflict",
        "message": "A lead with this email already exists: lead 5.",
        "errors": {"json": {"email": ["Already taken."]}, "leadId": 5},
    },
}
STATUS_IN_USE_DOC = {
    "schema": "Error",
    "description": "The column still holds leads; `errors.leadCount` says how many.",
}


@blp.route("/statuses")
class LeadStatuses(MethodView):
    @blp.doc(operationId="listLeadStatuses")
    @blp.auth(admin=True)
    @blp.arguments(LeadStatusListArgsSchema, location="query")
    @blp.response(200, LeadStatusCountedSchema(many=True))
    def get(self, args):
        """List the board's columns in order (with their lead counts if asked)"""
        return ordered_statuses(with_counts=args["with_counts"])

    @blp.doc(operationId="createLeadStatus")
    @blp.auth(admin=True)
    @blp.arguments(LeadStatusCreateSchema)
    @blp.response(201, LeadStatusSchema)
    @blp.errors(409)
    def post(self, data):
        """Add a column (at the end unless statusOrder is given)"""
        return create_status(data["name"], data.get("status_order"))


@blp.route("/statuses/<id:status_id>")
class LeadStatusById(MethodView):
    @blp.doc(operationId="updateLeadStatus")
    @blp.auth(admin=True)
    @blp.arguments(LeadStatusPatchSchema)
    @blp.response(200, LeadStatusSchema)
    @blp.errors(404, 409)
    def patch(self, changes, status_id):
        """Rename a column and/or give it another statusOrder"""
        return update_status(status_id, changes)

    @blp.doc(operationId="deleteLeadStatus")
    @blp.auth(admin=True)
    @blp.response(204)
    @blp.errors(404)
    @blp.alt_response(409, **STATUS_IN_USE_DOC)
    def delete(self, status_id):
        """Remove a column that holds no leads"""
        delete_status(status_id)


@blp.route("/statuses/order")
class LeadStatusOrder(MethodView):
    @blp.doc(operationId="reorderLeadStatuses")
    @blp.auth(admin=True)
    @blp.arguments(StatusPositionSchema(many=True), example=[{"id": 1, "statusOrder": 1}])
    @blp.response(
        200, LeadStatusSchema(many=True), example=[{"id": 1, "name": "New", "statusOrder": 1}]
    )
    @blp.errors(404)
    def put(self, positions):
        """Reorder the columns, all at once or not at all"""
        return reorder(positions)


@blp.route("")
class Leads(MethodView):
    @blp.doc(operationId="listLeads")
    @blp.auth(admin=True)
    @blp.arguments(LeadQueryArgsSchema, location="query")
    @blp.response(200, LeadSchema(many=True), headers=LINK_HEADER_DOC)
    def get(self, args):
        """List leads, newest first, by column and by a search of name and email"""
        headers = {}
        query = search_leads(status_id=args.get("status_id"), q=args.get("q"))
        return keyset_page(query, Lead.id, args, headers), headers

    @blp.doc(operationId="createLead")
    @blp.auth()
    @blp.arguments(LeadCreateSchema)
    @blp.response(201, LeadSchema, headers=LOCATION_DOC, description="An admin's new lead")
    @blp.alt_response(202, **RECEIVED_DOC)
    @blp.alt_response(403, **FORBIDDEN_DOC)
    @blp.alt_response(409, **DUPLICATE_EMAIL_DOC)
    @blp.limit("RATE_LIMIT_LEADS")
    def post(self, data):
        """Add a lead: admins get it back, anyone else (a contact form) only a receipt"""
        lead = add_lead(current_caller(), data)
        if lead is None:
            return make_response({"message": RECEIVED}, 202)
        return lead, {"Location": url_for("leads.LeadById", lead_id=lead.id)}


@blp.route("/<id:lead_id>")
class LeadById(MethodView):
    @blp.doc(operationId="getLead")
    @blp.auth(admin=True)
    @blp.response(200, LeadSchema)
    @blp.errors(404)
    def get(self, lead_id):
        """Get one lead"""
        return get_lead(lead_id)

    @blp.doc(operationId="updateLead")
    @blp.auth(admin=True)
    @blp.arguments(LeadPatchSchema)
    @blp.response(200, LeadSchema)
    @blp.errors(404)
    @blp.alt_response(409, **DUPLICATE_EMAIL_DOC)
    def patch(self, changes, lead_id):
        """Change a lead; moving it to another column is a new statusId"""
        return update_lead(lead_id, changes)

    @blp.doc(operationId="deleteLead")
    @blp.auth(admin=True)
    @blp.response(204)
    @blp.errors(404)
    def delete(self, lead_id):
        """Remove a lead"""
        delete_lead(lead_id)
