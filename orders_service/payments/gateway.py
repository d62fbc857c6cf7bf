"""The payment gateway interface every provider implements, and the app's current one."""

import abc
from dataclasses import dataclass

from flask import current_app

from ..errors import DomainError


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None = None
    # What the provider took: the amount once a payment succeeds (less, captured in part).
    amount_received: int = 0
    # Refunds leave a succeeded intent succeeded: they show on its charge.
    amount_refunded: int = 0
    # So does a dispute: its charge says it was disputed (list_disputes tells how it stands).
    disputed: bool = False
    # A manual-capture hold's deadline (Unix seconds: the charge's capture_before), if known.
    capture_before: int | None = None


@dataclass(frozen=True)
class Dispute:
    """A payment's dispute as the provider has it now (Stripe's status, reason and amount)."""

    id: str
    status: str
    reason: str
    amount: int


@dataclass(frozen=True)
class ProviderRefund:
    """A refund as the provider keeps it (Stripe's Refund object)."""

    id: str
    amount: int
    status: str  # pending, requires_action, succeeded, failed or canceled
    # The `key` of the ledger's refund that asked for it; None for one made elsewhere.
    refund_key: str | None = None
    reason: str | None = None

    @classmethod
    def from_stripe(cls, obj):
        """From a Refund object, as the API answers it or an event carries it."""
        return cls(
            id=obj["id"],
            amount=obj["amount"],
            status=obj.get("status") or "pending",
            refund_key=(obj.get("metadata") or {}).get("refund_key"),
            reason=obj.get("reason"),
        )


def capture_before(charge):
    """A Stripe charge's hold deadline (Unix seconds), if it is an object that has one."""
    if not isinstance(charge, dict):
        return None
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    return card.get("capture_before")


class PaymentError(DomainError):
    """The provider failed: the caller gets a 502 with the provider's reason."""

    code = 502
    summary = "The payment provider failed"

    def __init__(self, reason, provider_code=None):
        super().__init__(f"{self.summary}: {reason}")
        self.reason = reason
        self.provider_code = provider_code  # the provider's own error code, when it gave one


class PaymentUnavailable(PaymentError):
    """The provider did not answer in time or refused the connection."""

    code = 503
    summary = "The payment provider is unavailable"


class PaymentRefused(PaymentError):
    """The provider answered and will not do it (an intent that succeeded cannot be canceled)."""

    code = 409
    summary = "The payment provider refused"


class PaymentGateway(abc.ABC):
    """One provider. Every call is safe to repeat: keys derive from the order."""

    name = "abstract"

    @abc.abstractmethod
    def create_intent(self, order):
        """An Intent for the order's amount and currency, the same one however often asked."""

    @abc.abstractmethod
    def cancel_intent(self, order):
        """Cancel the order's intent."""

    @abc.abstractmethod
    def capture(self, order):
        """Capture the order's authorized intent: its amount less what was refunded, once
        however often asked. PaymentRefused when the hold can no longer be captured."""

    @abc.abstractmethod
    def cancel_lost_intent(self, order):
        """Cancel the intent the order's creation may have made though its answer was lost."""

    @abc.abstractmethod
    def refund(self, order, refund):
        """A ProviderRefund of the ledger's `refund` (its amount), made once however often asked."""

    @abc.abstractmethod
    def list_refunds(self, intent_id):
        """[ProviderRefund] of the intent's payment, or None where the provider keeps none."""

    @abc.abstractmethod
    def retrieve_intent(self, intent_id):
        """The provider's current view of an intent, or None where it keeps none."""

    @abc.abstractmethod
    def list_disputes(self, intent_id):
        """The intent's disputes as the provider has them now, oldest first."""


def build_gateway(config):
    from ..config import resolve_payment_provider

    if resolve_payment_provider(config) == "stripe":
        from .stripe import StripeGateway

        return StripeGateway(config)
    from .local import LocalGateway

    return LocalGateway()


def init_app(app):
    app.extensions["payments"] = build_gateway(app.config)


def current_gateway():
    return current_app.extensions["payments"]
