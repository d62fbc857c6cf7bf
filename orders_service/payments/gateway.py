"""The payment gateway interface every provider implements, and the app's current one."""

import abc
from dataclasses import dataclass

from flask import current_app


@dataclass(frozen=True)
class Intent:
    id: str
    status: str
    amount: int
    currency: str
    client_secret: str | None = None
    last_error: str | None = None


class PaymentError(Exception):
    """The provider failed or could not be reached: the caller gets `status` and `message`."""

    status = 502

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code  # the provider's own error code, when it gave one


class PaymentUnavailable(PaymentError):
    """The provider did not answer in time or refused the connection."""

    status = 503


class PaymentRefused(PaymentError):
    """The provider answered and will not do it (an intent that succeeded cannot be canceled)."""

    status = 409


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
    def refund(self, order):
        """Refund the order's payment in full."""

    @abc.abstractmethod
    def retrieve_intent(self, intent_id):
        """The provider's current view of an intent, or None where it keeps none."""


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
