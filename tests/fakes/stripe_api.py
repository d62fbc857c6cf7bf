"""A loopback fake of the part of Stripe's API the service uses."""

import itertools
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

# Stripe's API reference: these, "or, in rare cases, processing" (see `cancels_processing`).
CANCELABLE = {
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    form: dict = field(default_factory=dict)


# How long Stripe holds a card payment's authorization for online payments by default.
HOLD_SECONDS = 7 * 24 * 3600
# A refund's statuses that its charge's `amount_refunded` holds.
HOLDING = {"pending", "requires_action", "succeeded"}


class StripeRefusal(Exception):
    def __init__(self, status, message, code=None, kind="invalid_request_error"):
        super().__init__(message)
        self.body = {"error": {"type": kind, "code": code, "message": message}}
        self.status = status


def nested(pairs):
    """Stripe's form encoding (`metadata[order_id]=7`) back into dicts."""
    result = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


class _Server(ThreadingHTTPServer):
    # A thread per connection; the backlog lets a burst of clients connect at once.
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False


OUTAGE = {"error": {"type": "api_error", "message": "Fake outage."}}


class FakeStripe:
    """Payment intents, their charges, refunds and disputes in memory; `mode` makes it fail
    ("fail") or hang ("hang").

    As Stripe does, it saves the answer to a request with an `Idempotency-Key` once the
    endpoint began, a 500 included, and replays it (`Idempotent-Replayed: true`) to every
    request with that key; a request whose key is still in flight gets a 409. "fail" answers
    every request with a 500 before doing anything; `fail_when(method, path)` returning
    "before" or "after" makes one request answer a 500 before doing its work or after it.

    `delay_seconds` holds every answer that long, as a distant provider would. `on_request`,
    when set, is called with each request's (method, path) before it is answered, so a test
    can make something else happen while the service waits on Stripe.
    """

    def __init__(self, api_key="sk_test_x"):
        self.api_key = api_key
        self.intents = {}
        self.charges = {}
        self.refunds = []
        self.disputes = {}
        self.requests = []
        self.mode = None
        # A message to refuse every new intent with, as Stripe refuses one it will never make.
        self.refuse_creations = None
        # Stripe cancels a processing intent only in rare cases; a test may ask for one.
        self.cancels_processing = False
        self.hang_seconds = 5.0
        self.delay_seconds = 0.0
        self.on_request = None
        self.fail_when = None
        self.cancels = []  # ids of the intents each cancel that was carried out canceled
        self.captures = []  # ids of the intents each capture that was carried out captured
        # The status a new refund gets: Stripe's card refunds succeed at once in test mode.
        self.refund_status = "succeeded"
        # The events Stripe would send about refunds, as it would send them (see `_emit`).
        self.events = []
        self.on_event = None
        self._replies = {}  # Idempotency-Key -> (form, status, body)
        self._in_flight = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._released.set()  # wake handlers that are hanging
        self.server.shutdown()
        self.server.server_close()

    # Test controls

    def set_status(self, intent_id, status, error_message=None):
        with self._lock:
            intent = self.intents[intent_id]
            intent["status"] = status
            if error_message:
                intent["last_payment_error"] = {"message": error_message}
            if status == "succeeded":
                intent["amount_received"] = intent["amount"]
            if status == "succeeded" and intent["latest_charge"] is None:
                self._charge(intent)
        return dict(intent)

    def _charge(self, intent, captured=True):
        """The intent's charge (taken, or held for a manual capture until `capture_before`)."""
        charge_id = f"ch_fake{next(self._ids):06d}"
        intent["latest_charge"] = charge_id
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if captured else 0,
            "amount_refunded": 0,
            "captured": captured,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "payment_method_details": {
                "type": "card",
                "card": {"capture_before": None if captured else int(time.time()) + HOLD_SECONDS},
            },
            "refunded": False,
            "disputed": False,
            "status": "succeeded",
        }
        return self.charges[charge_id]

    def authorize(self, intent_id):
        """The buyer confirms a manual-capture intent: the card is held (requires_capture) and
        Stripe sends payment_intent.amount_capturable_updated. Returns the intent."""
        with self._lock:
            intent = self.intents[intent_id]
            assert intent["capture_method"] == "manual", "only a manual-capture intent is held"
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._charge(intent, captured=False)
            self._emit("payment_intent.amount_capturable_updated", intent)
            return dict(intent)

    def expire_authorization(self, intent_id):
        """The hold ran out uncaptured: Stripe cancels the intent itself (reason automatic)
        and sends payment_intent.canceled."""
        with self._lock:
            intent = self.intents[intent_id]
            intent.update(status="canceled", cancellation_reason="automatic", amount_capturable=0)
            self._emit("payment_intent.canceled", intent)
            return dict(intent)

    def open_dispute(self, intent_id, status="needs_response", reason="fraudulent", amount=None):
        """The cardholder's bank disputes the intent's charge (an inquiry if status is
        warning_*): the Dispute object as Stripe's events carry it."""
        with self._lock:
            intent = self.intents[intent_id]
            charge = self.charges[intent["latest_charge"]]
            charge["disputed"] = True
            dispute = {
                "id": f"dp_fake{next(self._ids):06d}",
                "object": "dispute",
                "amount": charge["amount"] if amount is None else amount,
                "balance_transactions": [],
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "evidence_details": {"due_by": int(time.time()) + 7 * 86400, "submission_count": 0},
                "is_charge_refundable": status.startswith("warning_"),
                "livemode": False,
                "metadata": {},
                "payment_intent": intent_id,
                "reason": reason,
                "status": status,
            }
            self.disputes[dispute["id"]] = dispute
            self._emit("charge.dispute.created", dispute)
            return dict(dispute)

    def update_dispute(self, dispute_id, **changes):
        """The dispute moves on (`status`, `reason`…), as evidence, the bank or an appeal
        would move it; closing it is a status of won, lost or warning_closed."""
        with self._lock:
            dispute = self.disputes[dispute_id]
            dispute.update(changes)
            closed = dispute["status"] in ("won", "lost", "warning_closed", "prevented")
            self._emit(f"charge.dispute.{'closed' if closed else 'updated'}", dispute)
            return dict(dispute)

    def refund_in_dashboard(self, intent_id, amount=None, reason=None):
        """A refund made outside the service (in full unless told); the intent still reads
        `succeeded`."""
        form = {"payment_intent": intent_id}
        if amount is not None:
            form["amount"] = str(amount)
        if reason is not None:
            form["reason"] = reason
        return self._refund(form)

    def set_refund_status(self, refund_id, status, failure_reason="expired_or_canceled_card"):
        """A refund moving on as Stripe's do: pending to succeeded, failed or canceled, or a
        succeeded one failing (the bank returned it); the charge's `amount_refunded` no longer
        holds a refund that failed. Sends charge.refund.updated."""
        with self._lock:
            refund = next(r for r in self.refunds if r["id"] == refund_id)
            refund["status"] = status
            if status == "failed":
                refund["failure_reason"] = failure_reason
            self._recount(refund["charge"])
            self._emit("charge.refund.updated", refund)
        return dict(refund)

    def _recount(self, charge_id):
        charge = self.charges[charge_id]
        charge["amount_refunded"] = sum(
            r["amount"] for r in self.refunds if r["charge"] == charge_id and r["status"] in HOLDING
        )
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]

    def _emit(self, event_type, obj):
        """Record (and hand to `on_event`) the event Stripe sends now, holding a copy of `obj`
        as it is at this moment. Called with the lock held."""
        sent = {
            "id": f"evt_fake{next(self._ids):06d}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(sent)
        if self.on_event:
            self.on_event(sent)

    def calls(self, method, path_pattern):
        return [
            r for r in self.requests if r.method == method and re.fullmatch(path_pattern, r.path)
        ]

    def created_intents(self):
        return list(self.intents.values())

    # The API

    def handle(self, method, path, headers, form):
        """(status, body, replayed) for one request, as Stripe would answer it."""
        if headers.get("authorization") != f"Bearer {self.api_key}":
            raise StripeRefusal(401, "Invalid API Key provided.")
        key = headers.get("idempotency-key") if method == "POST" else None
        if key:
            with self._lock:
                if key in self._in_flight:
                    raise StripeRefusal(
                        409,
                        "There is currently another in-progress request using this "
                        "idempotency key. Please try again later.",
                        kind="idempotency_error",
                    )
                if key in self._replies:
                    first_form, status, body = self._replies[key]
                    if first_form != form:
                        raise StripeRefusal(
                            400,
                            "Keys for idempotent requests can only be used with the "
                            "same parameters they were first used with.",
                            kind="idempotency_error",
                        )
                    return status, body, True
                self._in_flight.add(key)
        try:
            status, body = self._execute(method, path, form)
            if key:
                with self._lock:
                    self._replies[key] = (form, status, body)
        finally:
            if key:
                with self._lock:
                    self._in_flight.discard(key)
        return status, body, False

    def _execute(self, method, path, form):
        failure = "before" if self.mode == "fail" else None
        if self.fail_when and not failure:
            failure = self.fail_when(method, path)
        if failure == "before":
            return 500, OUTAGE
        try:
            status, body = 200, self._route(method, path, form)
        except StripeRefusal as refusal:
            status, body = refusal.status, refusal.body
        return (500, OUTAGE) if failure == "after" else (status, body)

    def _route(self, method, path, form):
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_intent(form)
        if method == "POST" and path == "/v1/refunds":
            return self._refund(form)
        if method == "GET" and path == "/v1/refunds":
            return self._list_refunds(form)
        if method == "GET" and path == "/v1/payment_intents/search":
            return self._search(form.get("query", ""))
        if method == "GET" and path == "/v1/disputes":
            return self._list_disputes(form)
        match = re.fullmatch(r"/v1/payment_intents/([^/]+)(/cancel|/capture)?", path)
        if match:
            intent = self.intents.get(match[1])
            if intent is None:
                raise StripeRefusal(
                    404, f"No such payment_intent: '{match[1]}'", "resource_missing"
                )
            if method == "GET" and not match[2]:
                return self._expanded(intent, form.get("expand", {}).values())
            if method == "POST" and match[2] == "/cancel":
                return self._cancel(intent)
            if method == "POST" and match[2] == "/capture":
                return self._capture(intent, form)
        raise StripeRefusal(404, f"Unrecognized request URL ({method}: {path}).")

    def _create_intent(self, form):
        if self.refuse_creations:
            raise StripeRefusal(400, self.refuse_creations, "amount_too_small")
        intent_id = f"pi_fake{next(self._ids):06d}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "amount_received": 0,
            "currency": form["currency"],
            "status": "requires_payment_method",
            "client_secret": f"{intent_id}_secret_fake",
            "metadata": form.get("metadata", {}),
            "automatic_payment_methods": {
                "enabled": form.get("automatic_payment_methods", {}).get("enabled") == "true"
            },
            "last_payment_error": None,
            "latest_charge": None,
            "capture_method": form.get("capture_method", "automatic"),
            "amount_capturable": 0,
            "cancellation_reason": None,
            "created": int(time.time()),
        }
        with self._lock:
            self.intents[intent_id] = intent
        return intent

    def _search(self, query):
        """Stripe's search query language, as far as `metadata['k']:'v'` clauses joined by AND.

        Stripe's index lags its writes (under a minute, Stripe says); this one does not.
        """
        clauses = re.findall(r"metadata\['([^']+)'\]:'([^']*)'", query)
        if not clauses or len(clauses) != query.count(":"):
            raise StripeRefusal(400, f"Invalid search query: {query}", "parameter_invalid")
        with self._lock:
            found = [
                dict(intent)
                for intent in self.intents.values()
                if all(intent["metadata"].get(k) == v for k, v in clauses)
            ]
        found.sort(key=lambda intent: intent["id"], reverse=True)
        return {
            "object": "search_result",
            "data": found,
            "has_more": False,
            "next_page": None,
            "url": "/v1/payment_intents/search",
        }

    def _list_disputes(self, form):
        """Stripe's list of disputes, newest first, filtered by `payment_intent` or `charge`."""
        wanted = {k: form[k] for k in ("payment_intent", "charge") if k in form}
        limit = int(form.get("limit", 10))
        with self._lock:
            found = [
                dict(dispute)
                for dispute in self.disputes.values()
                if all(dispute[k] == v for k, v in wanted.items())
            ]
        found.sort(key=lambda dispute: (dispute["created"], dispute["id"]), reverse=True)
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/disputes",
        }

    def _expanded(self, intent, fields):
        """The intent with `latest_charge` as the charge object when asked, as Stripe does."""
        with self._lock:
            intent = dict(intent)
            if "latest_charge" in fields and intent["latest_charge"]:
                intent["latest_charge"] = dict(self.charges[intent["latest_charge"]])
        return intent

    def _cancel(self, intent):
        with self._lock:
            rare = intent["status"] == "processing" and self.cancels_processing
            if intent["status"] not in CANCELABLE and not rare:
                raise StripeRefusal(
                    400,
                    "You cannot cancel this PaymentIntent because it has a status of "
                    f"{intent['status']}.",
                    "payment_intent_unexpected_state",
                )
            intent["status"] = "canceled"
            self.cancels.append(intent["id"])
            return intent

    def _capture(self, intent, form):
        """Stripe's capture: `amount_to_capture` (all that is capturable unless given) of a
        held intent, which succeeds; Stripe then sends payment_intent.succeeded."""
        with self._lock:
            if intent["status"] != "requires_capture":
                raise StripeRefusal(
                    400,
                    "This PaymentIntent could not be captured because it has a status of "
                    f"{intent['status']}.",
                    "payment_intent_unexpected_state",
                )
            amount = int(form.get("amount_to_capture", intent["amount_capturable"]))
            if amount > intent["amount_capturable"]:
                raise StripeRefusal(
                    400,
                    "The amount_to_capture must be less than or equal to the amount_capturable.",
                    "amount_too_large",
                )
            charge = self.charges[intent["latest_charge"]]
            charge.update(captured=True, amount_captured=amount)
            intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
            self.captures.append(intent["id"])
            self._emit("payment_intent.succeeded", intent)
            return dict(intent)

    def _refund(self, form):
        """Stripe's create refund: `amount` (the rest unless given) of the intent's charge."""
        intent = self.intents.get(form.get("payment_intent"))
        if intent is None:
            raise StripeRefusal(404, "No such payment_intent.", "resource_missing")
        with self._lock:
            if intent["status"] != "succeeded":
                raise StripeRefusal(
                    400, "This PaymentIntent does not have a successful charge to refund."
                )
            charge = self.charges[intent["latest_charge"]]
            left = charge["amount"] - charge["amount_refunded"]
            if left == 0:
                raise StripeRefusal(
                    400,
                    f"Charge {charge['id']} has already been refunded.",
                    "charge_already_refunded",
                )
            amount = int(form.get("amount", left))
            if amount > left:
                raise StripeRefusal(
                    400,
                    f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                    f"({left})",
                    "amount_too_large",
                )
            refund = {
                "id": f"re_fake{next(self._ids):06d}",
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": intent["currency"],
                "metadata": form.get("metadata", {}),
                "payment_intent": intent["id"],
                "reason": form.get("reason"),
                "status": self.refund_status,
            }
            self.refunds.append(refund)
            self._recount(charge["id"])
            # The pinned API version sends a charge without its refunds (not expanded).
            self._emit("charge.refunded", charge)
            return dict(refund)

    def _list_refunds(self, form):
        """Stripe's list refunds of one payment intent, newest first (one page of `limit`)."""
        limit = int(form.get("limit", 10))
        with self._lock:
            found = [dict(r) for r in reversed(self.refunds)]
        found = [r for r in found if r["payment_intent"] == form.get("payment_intent")]
        return {
            "object": "list",
            "data": found[:limit],
            "has_more": len(found) > limit,
            "url": "/v1/refunds",
        }

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def _serve(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                path, _, query = self.path.partition("?")
                form = nested(parse_qsl(raw or query, keep_blank_values=True))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Recorded(method, path, headers, form))
                if fake.on_request:
                    fake.on_request(method, path)
                replayed = False
                try:
                    status, body, replayed = fake.handle(method, path, headers, form)
                except StripeRefusal as refusal:
                    status, body = refusal.status, refusal.body
                if fake.mode == "hang":
                    # The work is done but the answer is lost: a retry must not do it twice.
                    fake._released.wait(fake.hang_seconds)
                if fake.delay_seconds:
                    time.sleep(fake.delay_seconds)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Request-Id", f"req_fake{next(fake._ids)}")
                if replayed:
                    self.send_header("Idempotent-Replayed", "true")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):
                pass  # keep test output quiet

        return Handler


def closed_port_url():
    """A loopback URL nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
