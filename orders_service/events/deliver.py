"""The deliverer: claim due deliveries, sign them with Standard Webhooks, send, record, retry."""

import concurrent.futures
import contextlib
import datetime
import http.client
import logging
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import peewee
import psycopg
from standardwebhooks.webhooks import Webhook

from ..config import parse_duration
from ..database import db, is_missing_schema, pending_migrations, unmigrated_message, utcnow
from ..ops.metrics import record_delivery, set_delivery_backlog
from .answers import as_text, first_bytes
from .claims import NOTIFY_CHANNEL, Outcome, backlog, claim, record_result
from .liveness import disable_dead_endpoints
from .targets import Refused, checked_addresses

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
UNMIGRATED_WAIT_SECONDS = 10.0
BACKLOG_EVERY_SECONDS = 5.0
DEAD_ENDPOINTS_EVERY_SECONDS = 60.0
USER_AGENT = "orders-service-webhooks/1"


@dataclass(frozen=True)
class Settings:
    timeout: float
    schedule: tuple  # timedeltas: the wait before each retry
    concurrency: int = 8
    allow_private_targets: bool = False  # WEBHOOK_ALLOW_PRIVATE_TARGETS
    disable_after: datetime.timedelta | None = None  # None: endpoints are never disabled

    @property
    def lease(self):
        """Longer than any attempt can take, so a live deliverer's claim never lapses."""
        return datetime.timedelta(seconds=2 * self.timeout + 10)


def parse_schedule(text):
    """'5s,5m,30m' as timedeltas; ValueError for anything else."""
    waits = tuple(parse_duration(part) for part in text.split(",") if part.strip())
    if not waits:
        raise ValueError("WEBHOOK_RETRY_SCHEDULE needs at least one wait, like 5s,5m,30m")
    return waits


def send(delivery, settings):
    """One signed POST of the event; (HTTP status or None, None if delivered else why not, the
    answer's first KiB as text or None if no answer came)."""
    endpoint, event = delivery.endpoint, delivery.event
    attempt = Attempt(endpoint.url, settings.timeout, settings.allow_private_targets)
    status, error = post_signed(endpoint, event.uid, event.body, attempt)
    return status, error, as_text(attempt.answer)


def post_signed(endpoint, uid, body, attempt):
    """POST an event's body, signed with each secret the endpoint signs with now (two while a
    rotation's overlap lasts); (HTTP status or None, None if a 2xx came else why not)."""
    now = datetime.datetime.now(datetime.UTC)
    signatures = [
        Webhook(secret).sign(uid, now, body)
        for secret in endpoint.signing_secrets(now.replace(tzinfo=None))
    ]
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": uid,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
    try:
        status = attempt.post(body.encode(), headers)
    except Refused as refused:
        return None, f"refused: {refused}"
    except (OSError, http.client.HTTPException) as error:
        if attempt.timed_out or isinstance(error, TimeoutError):
            return None, f"timed out after {attempt.timeout:g}s"
        return None, f"{type(error).__name__}: {error}"
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}" + (" (redirects are not followed)" if status < 400 else "")


class PinnedConnection(http.client.HTTPConnection):
    """Connects to the addresses of the one lookup its policy checked: http.client would look
    the name up again, and an answer changed meanwhile (DNS rebinding) would go unchecked."""

    allow_private_targets = False

    def connect(self):
        error = OSError(f"{self.host} has no address")
        # In the resolver's order, each in turn, as socket.create_connection tries them.
        for address in checked_addresses(self.host, self.allow_private_targets):
            try:
                self.sock = socket.create_connection((str(address), self.port), self.timeout)
            except OSError as failed:
                error = failed
                continue
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        raise error


class PinnedHTTPSConnection(http.client.HTTPSConnection, PinnedConnection):
    """TLS over the pinned socket: SNI and the certificate check still use the host's name."""


class Attempt:
    """One POST that ends within `timeout` seconds, whatever the other end does.

    A socket timeout bounds each read, not the exchange: a subscriber dripping its answer a
    byte at a time would hold the attempt past its lease, and another deliverer would send the
    same delivery meanwhile. A watchdog shuts the socket down at the deadline instead. Only
    the status counts; of the body, the first KiB is read (into `answer`, for the attempts log
    and a ping's outcome; None if no answer came) within the same deadline, and redirects are
    not followed.
    """

    def __init__(self, url, timeout, allow_private_targets=False):
        parts = urlsplit(url)
        kind = PinnedHTTPSConnection if parts.scheme == "https" else PinnedConnection
        self.connection = kind(parts.hostname, parts.port, timeout=timeout)
        self.connection.allow_private_targets = allow_private_targets
        self.target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.answer = self.sock = None
        self.timed_out = False
        self.done = threading.Event()

    def post(self, body, headers):
        watchdog = threading.Thread(target=self._watch, daemon=True)
        watchdog.start()
        try:
            self.connection.request("POST", self.target, body=body, headers=headers)
            # The connection lets go of the socket of an answer that ends it (Connection: close)
            # and leaves it to the answer: the watchdog must still find it while the body comes.
            self.sock = self.connection.sock
            with contextlib.closing(self.connection.getresponse()) as response:
                self.answer = first_bytes(response)
                return response.status
        finally:
            self.done.set()
            self.connection.close()

    def _watch(self):
        while not self.done.wait(max(0.0, self.deadline - time.monotonic())):
            sock = self.connection.sock or self.sock
            if sock is None:  # still resolving or connecting: the socket's own timeout holds
                self.done.wait(0.05)
                continue
            self.timed_out = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return


class Deliverer:
    """Keeps up to `concurrency` attempts in flight; never holds a connection while sending."""

    def __init__(self, settings, database_url=None):
        self.settings = settings
        self.database_url = database_url
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.backlog_at = 0.0
        self.swept_at = float("-inf")

    def stop(self, *_):
        """Claim nothing more; the attempts in flight finish and are recorded."""
        self.stopping.set()
        self.wake.set()

    def run(self, once=False):
        """Deliver until stopped (or, with `once`, until nothing is due); the attempts made."""
        if not once and (self.database_url or "").startswith("postgres"):
            threading.Thread(target=self._listen, daemon=True).start()
        attempts = 0
        in_flight = set()
        limit = self.settings.concurrency
        with concurrent.futures.ThreadPoolExecutor(limit, "deliver") as pool:
            while True:
                in_flight = {future for future in in_flight if not future.done()}
                claimed = []
                self.wake.clear()  # before claiming: a commit from now on wakes the wait below
                # Claiming costs a query: made once half the slots are free, not for each one.
                if not self.stopping.is_set() and len(in_flight) <= limit // 2:
                    claimed = self._claim(limit - len(in_flight))
                in_flight |= {pool.submit(self.attempt, delivery) for delivery in claimed}
                attempts += len(claimed)
                if not in_flight and (once or self.stopping.is_set()):
                    return attempts
                if len(in_flight) > limit // 2:
                    concurrent.futures.wait(in_flight, POLL_SECONDS, FIRST_COMPLETED)
                elif not claimed:
                    # Nothing due: until a commit (NOTIFY), an attempt's end (which may free
                    # its order's next version) or the next poll.
                    self.wake.wait(POLL_SECONDS)

    def _claim(self, limit):
        """Due deliveries, or none while the database is unreachable (the loop tries again)."""
        try:
            self._disable_dead_endpoints()  # first: their deliveries are then not claimed
            claimed = claim(limit, self.settings.lease)
            self._report_backlog()
            return claimed
        except (peewee.DatabaseError, peewee.InterfaceError) as error:
            if is_missing_schema(error) and (pending := pending_migrations()) != []:
                # Not a passing outage: said as the API says it, and less often.
                log.error("cannot claim deliveries: %s", unmigrated_message(pending))
                self.stopping.wait(UNMIGRATED_WAIT_SECONDS)
                return []
            if not isinstance(error, peewee.OperationalError | peewee.InterfaceError):
                raise
            log.warning("cannot claim deliveries (trying again shortly): %s", error)
            self.stopping.wait(1)
            return []
        finally:
            db.close()

    def attempt(self, delivery):
        try:
            at, started = utcnow(), time.monotonic()
            try:
                status, error, answer = send(delivery, self.settings)
            except Exception as unexpected:
                # Counted as a failed attempt, so the delivery follows the schedule to `failed`
                # instead of being claimed again forever, holding back its order's later events.
                log.exception("delivery %s: the attempt failed unexpectedly", delivery.id)
                status, error, answer = None, f"{type(unexpected).__name__}: {unexpected}", None
            took = round((time.monotonic() - started) * 1000)
            outcome = Outcome(at, took, status, error, answer)
            result = record_result(delivery, outcome, self.settings.schedule)
            if result is not None:
                record_delivery(result)
            if error:
                log.info(
                    "delivery %s of %s to %s: %s",
                    delivery.id,
                    delivery.event.uid,
                    delivery.endpoint.url,
                    error,
                )
        except Exception:
            log.exception("delivery %s: the attempt could not be recorded", delivery.id)
        finally:
            db.close()
            self.wake.set()

    def _disable_dead_endpoints(self):
        silence = self.settings.disable_after
        if silence is None or time.monotonic() - self.swept_at < DEAD_ENDPOINTS_EVERY_SECONDS:
            return
        self.swept_at = time.monotonic()
        for endpoint in disable_dead_endpoints(silence):
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason)

    def _report_backlog(self):
        if time.monotonic() - self.backlog_at >= BACKLOG_EVERY_SECONDS:
            self.backlog_at = time.monotonic()
            set_delivery_backlog(backlog())

    def _listen(self):
        """Wake the loop on each NOTIFY (a commit with deliveries); polling still covers a gap."""
        while not self.stopping.is_set():
            try:
                url = self.database_url.replace("+pool", "", 1)
                with psycopg.connect(url, autocommit=True) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not self.stopping.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self.wake.set()
            except psycopg.Error as error:
                log.warning("LISTEN %s failed (polling meanwhile): %s", NOTIFY_CHANNEL, error)
                self.stopping.wait(5)
