"""The Stripe provider: one PaymentIntent per order through the SDK's StripeClient."""

import logging
import textwrap
import urllib.request

import stripe
import urllib3

from ..database import CompiledQuery, release_connection
from ..orders.models import Order
from .gateway import (
    Dispute,
    Intent,
    PaymentError,
    PaymentGateway,
    PaymentRefused,
    PaymentUnavailable,
    ProviderRefund,
    capture_before,
)

log = logging.getLogger(__name__)

# Pinned, so that upgrading the SDK within its range never changes what Stripe sends us.
STRIPE_API_VERSION = "2026-10-28.endive"
# Every provider call, retries and the SDK's back-off between them included, ends within this;
# an answer comes within 30 s (the README, Stripe: timeouts and retries).
CALL_BUDGET_SECONDS = 24.0
CONNECT_TIMEOUT_SECONDS = 2.0
UNEXPECTED_STATE = "payment_intent_unexpected_state"
# Stripe's API reference: an intent in these states can be canceled (and, rarely, processing).
CANCELABLE = frozenset(
    {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}
)


def attempt_timeout(config):
    """(connect, read) seconds for one attempt, cut so that all attempts fit the budget.

    urllib3 applies each to its own phase, so an attempt lasts at most their sum.
    """
    attempts = config["PAYMENT_MAX_RETRIES"] + 1
    per_attempt = min(float(config["PAYMENT_TIMEOUT_SECONDS"]), CALL_BUDGET_SECONDS / attempts)
    connect = min(CONNECT_TIMEOUT_SECONDS, per_attempt / 2)
    return connect, per_attempt - connect


class PooledClient(stripe.HTTPClient):
    """The SDK's HTTP client on one urllib3 pool shared by the process's threads.

    The SDK's default (`RequestsClient`) pays for requests' sessions at every call (reading
    the proxy variables from the environment, merging settings, its adapters and hooks): a
    third of a created order's CPU went there. urllib3 is what requests sends with anyway;
    the errors are the SDK's as RequestsClient raises them (timeouts and refused or broken
    connections are retried, a certificate refused is not), and redirects are not followed.
    The environment's proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`, as requests reads them)
    is honoured, read once per host rather than at every call.
    """

    name = "urllib3"

    def __init__(self, timeout):
        super().__init__()
        connect, read = timeout
        self._options = {
            "timeout": urllib3.Timeout(connect=connect, read=read),
            "retries": False,
            "maxsize": 32,
            "block": False,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": stripe.ca_bundle_path,
        }
        self._pools = {}  # (scheme, host): a PoolManager, or a ProxyManager through the proxy

    def _pool(self, url):
        parsed = urllib3.util.parse_url(url)
        origin = (parsed.scheme, parsed.host)
        pool = self._pools.get(origin)
        if pool is None:
            proxy = None
            if not urllib.request.proxy_bypass(parsed.host or ""):
                proxy = urllib.request.getproxies().get(parsed.scheme)
            made = urllib3.ProxyManager(proxy, **self._options) if proxy else None
            pool = self._pools.setdefault(origin, made or urllib3.PoolManager(**self._options))
        return pool

    def request(self, method, url, headers, post_data=None):
        try:
            response = self._pool(url).request(
                method,
                url,
                headers=headers,
                body=post_data,
                redirect=False,
                preload_content=True,
            )
        except Exception as error:  # every error becomes the SDK's own, as RequestsClient
            _connection_error(error)
        return response.data, response.status, response.headers

    def request_stream(self, method, url, headers, post_data=None):
        raise NotImplementedError("the service streams nothing from Stripe")

    def close(self):
        for pool in self._pools.values():
            pool.clear()


def _connection_error(error):
    if isinstance(error, urllib3.exceptions.SSLError):
        retry = False  # as the SDK: a certificate that does not verify is not retried
    else:
        retry = isinstance(
            error,
            urllib3.exceptions.TimeoutError
            | urllib3.exceptions.NewConnectionError
            | urllib3.exceptions.ProtocolError
            | urllib3.exceptions.ProxyError
            | ConnectionError
            | TimeoutError,
        )
    message = textwrap.fill(
        "Unexpected error communicating with Stripe.  If this problem persists, let us know "
        "at support@stripe.com."
    )
    raise stripe.APIConnectionError(
        f"{message}\n\n(Network error: {type(error).__name__}: {error})", should_retry=retry
    ) from error


def build_client(config):
    """One StripeClient for the app, from its config."""
    base = config.get("STRIPE_API_BASE")
    return stripe.StripeClient(
        config["STRIPE_SECRET_KEY"],
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=config["PAYMENT_MAX_RETRIES"],
        http_client=PooledClient(timeout=attempt_timeout(config)),
        base_addresses={"api": base.rstrip("/")} if base else None,
    )


def translated(error):
    """The gateway's error for an SDK error: 503 unreachable, 409 Stripe says no, else 502."""
    message = error.user_message or str(error) or type(error).__name__
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return PaymentUnavailable(f"Stripe could not be reached: {message}")
    status = error.http_status or 0
    if isinstance(error, stripe.CardError | stripe.InvalidRequestError) and status < 500:
        return PaymentRefused(message, error.code)
    return PaymentError(message, error.code)


def idempotency_key(order, action, generation=0):
    """The same key for the same action on the same order, so no retry does it twice.

    The order's random payment key makes it unique to this order in every database that
    shares the Stripe account; orders made before it existed keep the keys they had. A key
    Stripe has spent on a 500 is followed by the next generation's (see `StripeGateway._keyed`).
    """
    base = f"order-{order.id}"
    if order.payment_key is not None:
        base = f"{base}-{order.payment_key}"
    return f"{base}-{action}" if not generation else f"{base}-{action}-{generation}"


def spends_key(error):
    """True if Stripe keeps this answer for the key: it replays it for 24 h, so the key is spent.

    A 500 once the endpoint began is saved and replayed, and a key used with other parameters
    (an order created before its request changed shape) is refused for as long; a 409 for a
    request with the same key still running is not kept.
    """
    status = error.http_status or 0
    return status >= 500 or (isinstance(error, stripe.IdempotencyError) and status == 400)


def as_intent(payment_intent):
    obj = payment_intent if isinstance(payment_intent, dict) else payment_intent.to_dict()
    charge = obj.get("latest_charge")
    return Intent(
        id=obj["id"],
        status=obj["status"],
        amount=obj["amount"],
        currency=obj["currency"],
        client_secret=obj.get("client_secret"),
        amount_received=obj.get("amount_received") or 0,
        # Only when asked to expand it is the charge an object rather than its id.
        amount_refunded=charge.get("amount_refunded", 0) if isinstance(charge, dict) else 0,
        disputed=bool(charge.get("disputed")) if isinstance(charge, dict) else False,
        capture_before=capture_before(charge),
    )


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self, config):
        self.client = build_client(config)
        self.capture_method = config.get("PAYMENT_CAPTURE") or "automatic"

    def create_intent(self, order):
        params = {
            "amount": order.amount_in_cents,
            "currency": order.currency,
            "metadata": intent_metadata(order),
            "automatic_payment_methods": {"enabled": True},
        }
        if self.capture_method == "manual":
            params["capture_method"] = "manual"  # a hold, captured when the goods leave
        return self._keyed(
            order,
            "intent",
            # The SDK's raw request: the same request, retries and errors as
            # `payment_intents.create`, without turning the answer into StripeObjects (a
            # fifth of the call's CPU) only for as_intent to read a few fields of it.
            lambda options: as_intent(
                self.client.raw_request("post", "/v1/payment_intents", **params, **options).data
            ),
            made=lambda: self._find_intent(order),
        )

    def cancel_intent(self, order, intent_id=None, replayed=False):
        intent_id = intent_id or order.payment_intent_id
        intent, refused = self._move(
            order, "cancel", intent_id, self.client.v1.payment_intents.cancel, "canceled"
        )
        if refused and intent.status in CANCELABLE and not replayed:
            # A refusal Stripe kept under the key from when the intent could not be canceled
            # (it was processing a payment that failed since): that key is spent too.
            spend_key(order, key_generation(order))
            return self.cancel_intent(order, intent_id, replayed=True)
        if refused:
            raise refused
        return intent

    def capture(self, order):
        params = {"amount_to_capture": order.amount_in_cents - order.amount_refunded_in_cents}

        def capture(intent_id, options):
            return self.client.v1.payment_intents.capture(intent_id, params=params, options=options)

        # Refused in any other state (canceled: the hold expired) is Stripe's refusal, as said.
        intent, refused = self._move(
            order, "capture", order.payment_intent_id, capture, "succeeded"
        )
        if refused:
            raise refused
        return intent

    def _move(self, order, action, intent_id, call, done):
        """(intent, None) once `call(intent_id, options)` has moved the intent to `done` under
        the order's key for `action` (see _keyed); (intent as it is, the refusal) when Stripe
        refused because the intent is in another state. An intent found in `done` already was
        moved in the dashboard, or by a request that lost its answer: that is done too."""
        try:
            intent = self._keyed(
                order,
                action,
                lambda options: as_intent(call(intent_id, options=options)),
                made=lambda: self._in_status(intent_id, done),
            )
            return intent, None
        except PaymentRefused as refused:
            if refused.provider_code != UNEXPECTED_STATE:
                raise
            intent = self.retrieve_intent(intent_id)
            return intent, (None if intent.status == done else refused)

    def cancel_lost_intent(self, order):
        # The same request under the creation's own key: Stripe answers with the intent it made
        # then (while it keeps the key, at least 24 h), or makes one, canceled just after.
        try:
            intent = self.create_intent(order)
        except PaymentRefused:
            # Stripe refuses the creation again (it replays a refusal under its key): no intent
            # was ever made, so there is nothing to cancel and the order may be.
            return None
        return self.cancel_intent(order, intent.id)

    def refund(self, order, refund):
        params = {
            "payment_intent": order.payment_intent_id,
            "amount": refund.amount_in_cents,
            "metadata": refund_metadata(order, refund),
        }
        return self._keyed(
            order,
            f"refund-{refund.key}",
            lambda options: ProviderRefund.from_stripe(
                self.client.v1.refunds.create(params=params, options=options).to_dict()
            ),
            made=lambda: self._find_refund(order, refund.key),
        )

    def list_refunds(self, intent_id):
        params = {"payment_intent": intent_id, "limit": 100}
        try:
            page = self.client.v1.refunds.list(params=params)
            return [
                ProviderRefund.from_stripe(found.to_dict()) for found in page.auto_paging_iter()
            ]
        except stripe.StripeError as error:
            raise translated(error) from error

    def retrieve_intent(self, intent_id):
        try:
            return as_intent(
                self.client.v1.payment_intents.retrieve(
                    intent_id, params={"expand": ["latest_charge"]}
                )
            )
        except stripe.StripeError as error:
            raise translated(error) from error

    def list_disputes(self, intent_id):
        # A charge is disputed once; a page of 100 holds every dispute an intent can have.
        try:
            page = self.client.v1.disputes.list(params={"payment_intent": intent_id, "limit": 100})
        except stripe.StripeError as error:
            raise translated(error) from error
        # Stripe lists newest first.
        return [
            Dispute(id=d.id, status=d.status, reason=d.reason, amount=d.amount)
            for d in reversed(page.data)
        ]

    def _keyed(self, order, action, call, made):
        """`call(options)` under the order's key for `action`, done at most once at Stripe.

        Stripe keeps a 500 under its key and replays it for 24 h, so after one the order moves
        to the next generation of keys. A key of a later generation is used only once `made()`
        has read from Stripe that the action is still to do (NOT_DONE); otherwise its result
        stands, and nothing is done twice whatever the 500 had left done.
        """
        generation = key_generation(order)
        # That read took a pooled connection again: give it back before waiting on Stripe (a
        # no-op inside a transaction), or under a slow provider every worker's pool is held by
        # threads waiting on Stripe and the rest queue for a connection.
        release_connection()
        if generation:
            result = made()
            if result is not NOT_DONE:
                return result
        try:
            return call({"idempotency_key": idempotency_key(order, action, generation)})
        except stripe.StripeError as error:
            log.warning("stripe %s for order %s failed: %r", action, order.id, error)
            if spends_key(error):
                spend_key(order, generation)
            raise translated(error) from error

    def _find_intent(self, order):
        """The order's intent that a spent key's request may have made, or NOT_DONE.

        Stripe's search lags its writes by up to a minute: an intent it does not show yet is
        made again, and the first stays unused (its client secret never left Stripe's answer
        that failed).
        """
        query = " AND ".join(f"metadata['{k}']:'{v}'" for k, v in intent_metadata(order).items())
        try:
            candidates = self.client.v1.payment_intents.search(params={"query": query}).data
        except stripe.StripeError as error:
            raise translated(error) from error
        for found in candidates:
            intent = as_intent(found)
            if intent.status != "canceled" and (intent.amount, intent.currency) == (
                order.amount_in_cents,
                order.currency,
            ):
                return intent
        return NOT_DONE

    def _in_status(self, intent_id, status):
        intent = self.retrieve_intent(intent_id)
        return intent if intent.status == status else NOT_DONE

    def _find_refund(self, order, key):
        """The refund a spent key's request may have made (its metadata names it), or NOT_DONE."""
        for found in self.list_refunds(order.payment_intent_id):
            if found.refund_key == key:
                return found
        return NOT_DONE


NOT_DONE = object()


def intent_metadata(order):
    """What the order's intents carry, and what finds them again: its id and payment key."""
    metadata = {"order_id": str(order.id), "user_id": str(order.user_id)}
    if order.payment_key is not None:
        metadata["payment_key"] = order.payment_key
    return metadata


def refund_metadata(order, refund):
    """What a staff refund carries to Stripe: its key finds it again, and the reason (Stripe's
    own `reason` takes three words only; metadata values take 500 characters, as ours)."""
    metadata = {"order_id": str(order.id), "refund_id": str(refund.id), "refund_key": refund.key}
    if refund.reason:
        metadata["reason"] = refund.reason
    return metadata


def spend_key(order, generation):
    """Move the order on from the keys of `generation` (once, however many callers saw it)."""
    Order.update(payment_key_generation=generation + 1).where(
        Order.id == order.id, Order.payment_key_generation == generation
    ).execute()


def key_generation(order):
    """The order's current generation of keys, read now: `order` may be older than a 500."""
    found = _generation_of(order.id)
    return (found[0].payment_key_generation or 0) if found else 0


# Compiled once per process (see CompiledQuery): every provider call on an order reads it.
_generation_of = CompiledQuery(
    Order,
    lambda order_id: Order.select(Order.id, Order.payment_key_generation).where(
        Order.id == order_id
    ),
)
