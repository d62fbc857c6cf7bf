"""Admins' webhook endpoints (with their deliveries) and the order event feed."""

from flask import Response, current_app, url_for
from flask.views import MethodView

from ..config import parse_duration
from ..extensions import Blueprint
from ..pagination import LINK_HEADER_DOC, KeysetArgsSchema, finish_page, keyset_page
from .models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from .operations import attempts_of, replay, retry_delivery
from .ping import ping
from .schemas import (
    DeliveryAttemptSchema,
    DeliveryQueryArgsSchema,
    DeliverySchema,
    EventQueryArgsSchema,
    EventSchema,
    PingSchema,
    ReplayedSchema,
    ReplaySchema,
    WebhookEndpointCreateSchema,
    WebhookEndpointPatchSchema,
    WebhookEndpointSchema,
)
from .service import (
    create_endpoint,
    delete_endpoint,
    deliveries_of,
    endpoints,
    event_page,
    get_endpoint,
    get_event,
    rotate_secret,
    update_endpoint,
)

endpoints_blp = Blueprint(
    "webhook_endpoints",
    __name__,
    url_prefix="/webhook-endpoints",
    description="Subscribers to order events, sent as signed webhooks (Standard Webhooks)",
)
events_blp = Blueprint(
    "events", __name__, url_prefix="/events", description="Order events, newest first"
)
LOCATION_DOC = {
    "Location": {
        "description": "The endpoint's URL",
        "schema": {"type": "string"},
        "required": True,
    }
}
ROTATED_DOC = (
    "The endpoint with its new secret. Until WEBHOOK_SECRET_OVERLAP (24h by default) has "
    "passed, every attempt is signed with the new and the old secret "
    "(`webhook-signature: v1,<new> v1,<old>`); a second rotation within it drops the oldest."
)
PINGED_DOC = (
    "What the attempt got, within WEBHOOK_TIMEOUT_SECONDS: a refused connection, a timeout or "
    "a non-2xx answer is still a 200 (the ping was made), its `error` saying what went wrong."
)


def json_response(text, headers=None):
    """Events go out as stored: the same bytes every delivery of them carries."""
    return Response(text, mimetype="application/json", headers=headers)


@endpoints_blp.route("")
class WebhookEndpoints(MethodView):
    @endpoints_blp.doc(operationId="listWebhookEndpoints")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(KeysetArgsSchema, location="query")
    @endpoints_blp.response(200, WebhookEndpointSchema(many=True), headers=LINK_HEADER_DOC)
    def get(self, args):
        """List webhook endpoints, newest first"""
        headers = {}
        return keyset_page(endpoints(), WebhookEndpoint.id, args, headers), headers

    @endpoints_blp.doc(operationId="createWebhookEndpoint")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(WebhookEndpointCreateSchema)
    @endpoints_blp.response(201, WebhookEndpointSchema, headers=LOCATION_DOC)
    def post(self, data):
        """Subscribe a URL to order events; the answer holds its signing secret"""
        endpoint = create_endpoint(data)
        location = url_for("webhook_endpoints.WebhookEndpointById", endpoint_id=endpoint.id)
        return endpoint, {"Location": location}


@endpoints_blp.route("/<id:endpoint_id>")
class WebhookEndpointById(MethodView):
    @endpoints_blp.doc(operationId="getWebhookEndpoint")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.response(200, WebhookEndpointSchema)
    @endpoints_blp.errors(404)
    def get(self, endpoint_id):
        """Get one webhook endpoint"""
        return get_endpoint(endpoint_id)

    @endpoints_blp.doc(operationId="updateWebhookEndpoint")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(WebhookEndpointPatchSchema)
    @endpoints_blp.response(200, WebhookEndpointSchema)
    @endpoints_blp.errors(404)
    def patch(self, changes, endpoint_id):
        """Change url, events, description or enabled (for events written from now on)"""
        return update_endpoint(endpoint_id, changes)

    @endpoints_blp.doc(operationId="deleteWebhookEndpoint")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.response(204)
    @endpoints_blp.errors(404)
    def delete(self, endpoint_id):
        """Remove a webhook endpoint and its deliveries"""
        delete_endpoint(endpoint_id)


@endpoints_blp.route("/<id:endpoint_id>/rotate-secret")
class WebhookEndpointSecretRotation(MethodView):
    @endpoints_blp.doc(operationId="rotateWebhookEndpointSecret")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.response(200, WebhookEndpointSchema, description=ROTATED_DOC)
    @endpoints_blp.errors(404)
    def post(self, endpoint_id):
        """Replace the signing secret; the old one co-signs for WEBHOOK_SECRET_OVERLAP"""
        overlap = parse_duration(current_app.config["WEBHOOK_SECRET_OVERLAP"])
        return rotate_secret(endpoint_id, overlap)


@endpoints_blp.route("/<id:endpoint_id>/ping")
class WebhookEndpointPing(MethodView):
    @endpoints_blp.doc(operationId="pingWebhookEndpoint")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.response(200, PingSchema, description=PINGED_DOC)
    @endpoints_blp.errors(404)
    def post(self, endpoint_id):
        """Send a signed webhook.ping now; the answer is the attempt's outcome, failed or not"""
        config = current_app.config
        return ping(
            endpoint_id, config["WEBHOOK_TIMEOUT_SECONDS"], config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]
        )


@endpoints_blp.route("/<id:endpoint_id>/deliveries")
class WebhookEndpointDeliveries(MethodView):
    @endpoints_blp.doc(operationId="listWebhookDeliveries")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(DeliveryQueryArgsSchema, location="query")
    @endpoints_blp.response(200, DeliverySchema(many=True), headers=LINK_HEADER_DOC)
    @endpoints_blp.errors(404)
    def get(self, args, endpoint_id):
        """List an endpoint's deliveries, newest first: pending, delivered or failed"""
        headers = {}
        deliveries = deliveries_of(endpoint_id, args.get("state"))
        return keyset_page(deliveries, Delivery.id, args, headers), headers


@endpoints_blp.route("/<id:endpoint_id>/deliveries/<id:delivery_id>/retry")
class WebhookDeliveryRetry(MethodView):
    @endpoints_blp.doc(operationId="retryWebhookDelivery")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.response(202, DeliverySchema)
    @endpoints_blp.errors(404)
    def post(self, endpoint_id, delivery_id):
        """Send a delivery again now, whatever became of it (same webhook-id)"""
        return retry_delivery(endpoint_id, delivery_id)


@endpoints_blp.route("/<id:endpoint_id>/deliveries/<id:delivery_id>/attempts")
class WebhookDeliveryAttempts(MethodView):
    @endpoints_blp.doc(operationId="listWebhookDeliveryAttempts")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(KeysetArgsSchema, location="query")
    @endpoints_blp.response(200, DeliveryAttemptSchema(many=True), headers=LINK_HEADER_DOC)
    @endpoints_blp.errors(404)
    def get(self, args, endpoint_id, delivery_id):
        """List a delivery's attempts, newest first, with what the endpoint answered"""
        headers = {}
        attempts = attempts_of(endpoint_id, delivery_id)
        return keyset_page(attempts, DeliveryAttempt.id, args, headers), headers


@endpoints_blp.route("/<id:endpoint_id>/replay")
class WebhookEndpointReplay(MethodView):
    @endpoints_blp.doc(operationId="replayWebhookEvents")
    @endpoints_blp.auth(admin=True)
    @endpoints_blp.arguments(ReplaySchema)
    @endpoints_blp.response(202, ReplayedSchema)
    @endpoints_blp.errors(404)
    def post(self, data, endpoint_id):
        """Send again every event since a time of the types the endpoint subscribes to"""
        return {"count": replay(endpoint_id, data["since"])}


@events_blp.route("")
class Events(MethodView):
    @events_blp.doc(operationId="listEvents")
    @events_blp.auth(admin=True)
    @events_blp.arguments(EventQueryArgsSchema, location="query")
    @events_blp.response(200, EventSchema(many=True), headers=LINK_HEADER_DOC)
    def get(self, args):
        """List order events, newest first, by type and by order"""
        rows = event_page(
            args.get("type"), args.get("order_id"), args.get("starting_after"), args["limit"]
        )
        headers = {}
        page = finish_page(rows, Event.uid, args, headers)
        return json_response(f"[{','.join(event.body for event in page)}]", headers)


@events_blp.route("/<string(maxlength=40):event_id>")
class EventById(MethodView):
    @events_blp.doc(operationId="getEvent")
    @events_blp.auth(admin=True)
    @events_blp.response(200, EventSchema)
    @events_blp.errors(404)
    def get(self, event_id):
        """Get one event, as its webhooks carry it"""
        return json_response(get_event(event_id).body)
