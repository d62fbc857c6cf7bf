"""A provider for local runs with no keys: it makes Stripe-like ids itself and charges nothing."""

import secrets
import string

from .gateway import Intent, PaymentGateway, ProviderRefund

ALPHABET = string.ascii_letters + string.digits


def stripe_like_id(prefix, length=24):
    return f"{prefix}_{''.join(secrets.choice(ALPHABET) for _ in range(length))}"


class LocalGateway(PaymentGateway):
    name = "local"

    def create_intent(self, order):
        intent_id = stripe_like_id("pi")
        return Intent(
            id=intent_id,
            status="requires_payment_method",
            amount=order.amount_in_cents,
            currency=order.currency,
            client_secret=f"{intent_id}{stripe_like_id('_secret')}",
        )

    def cancel_intent(self, order):
        return Intent(order.payment_intent_id, "canceled", order.amount_in_cents, order.currency)

    def capture(self, order):
        amount = order.amount_in_cents - order.amount_refunded_in_cents
        return Intent(
            order.payment_intent_id,
            "succeeded",
            order.amount_in_cents,
            order.currency,
            amount_received=amount,
        )

    def cancel_lost_intent(self, order):
        return None  # its intents exist only in the answers it gave: none is left open

    def refund(self, order, refund):
        # Card refunds at Stripe's test mode succeed at once; so do these.
        return ProviderRefund(stripe_like_id("re"), refund.amount_in_cents, "succeeded", refund.key)

    def list_refunds(self, intent_id):
        return None  # its refunds exist only in the answers it gave, all recorded

    def retrieve_intent(self, intent_id):
        return None

    def list_disputes(self, intent_id):
        return []  # nobody disputes a payment that was never taken
