"""POST /webhooks/stripe: signed Stripe events, each applied once to its order."""

import json

import marshmallow as ma
import stripe
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.exceptions import HTTPException

from ..extensions import Blueprint
from ..fields import Schema
from ..ops.metrics import record_webhook_event
from .events import NotApplicableYet, apply_event

blp = Blueprint("webhooks", __name__, url_prefix="/webhooks", description="Payment provider events")
SIGNATURE_TOLERANCE_SECONDS = 300


class WebhookReceivedSchema(Schema):
    received = ma.fields.Boolean(required=True)
    outcome = ma.fields.String(
        required=True, metadata={"description": "What the event did to its order, if anything."}
    )


def verified_event(payload, signature, secret):
    """The event as a dict, or a 400: unsigned, forged, stale and malformed ones alike."""
    if not secret:
        abort(400, message="Stripe webhooks are not configured: STRIPE_WEBHOOK_SECRET is not set.")
    if not signature:
        abort(400, message="The Stripe-Signature header is missing: unsigned events are refused.")
    # The SDK's check (what Webhook.construct_event does first); the JSON is parsed here
    # because construct_event fails with an AttributeError on a signed body that is not
    # an object.
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature, secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as error:
        abort(400, message=f"The Stripe-Signature does not verify: {error.user_message}")
    except ValueError:
        abort(400, message="The body is not a Stripe event (invalid JSON).")
    if not isinstance(event, dict):
        abort(400, message="The body is not a Stripe event (not a JSON object).")
    obj = (event.get("data") or {}).get("object")
    if not (isinstance(event.get("id"), str) and isinstance(event.get("type"), str)):
        abort(400, message="The body is not a Stripe event (no id or type).")
    if not isinstance(obj, dict):
        abort(400, message="The body is not a Stripe event (no data.object).")
    return event


@blp.route("/stripe")
class StripeWebhook(MethodView):
    @blp.response(200, WebhookReceivedSchema, example={"received": True, "outcome": "paid"})
    @blp.errors(400, 409, 413)  # a raw body (no blp.arguments): its size limit documented here
    @blp.doc(
        operationId="receiveStripeEvent",
        parameters=[
            {
                "in": "header",
                "name": "Stripe-Signature",
                "required": True,
                "schema": {"type": "string"},
                "description": "Stripe's signature of the raw body (t=…,v1=…).",
            }
        ],
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A Stripe event, exactly as Stripe sent it.",
        },
    )
    def post(self):
        """Receive a Stripe event (the signature is the authentication)"""
        try:
            event = verified_event(
                request.get_data(cache=True),
                request.headers.get("Stripe-Signature"),
                current_app.config.get("STRIPE_WEBHOOK_SECRET"),
            )
        except HTTPException:
            record_webhook_event("unverified", "rejected")
            raise
        try:
            outcome = apply_event(event, source="stripe")
        except NotApplicableYet:
            record_webhook_event(event["type"], "not applicable yet")
            raise
        # The label is the outcome's kind ("paid", "duplicate", "ignored", …), not its details.
        record_webhook_event(event["type"], outcome.split(":")[0])
        return {"received": True, "outcome": outcome}
