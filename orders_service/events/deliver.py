"""The deliverer: claim due deliveries, sign them with Standard Webhooks, send, record, retry."""

import concurrent.futures
import datetime
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED
from dataclasses import dataclass

import peewee
import psycopg
import requests
from standardwebhooks.webhooks import Webhook

from ..database import db
from ..ops.metrics import record_delivery, set_delivery_backlog
from ..orders.housekeeping import parse_duration
from .claims import NOTIFY_CHANNEL, backlog, claim, record_result

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
BACKLOG_EVERY_SECONDS = 5.0
USER_AGENT = "orders-service-webhooks/1"


@dataclass(frozen=True)
class Settings:
    timeout: float
    schedule: tuple  # timedeltas: the wait before each retry
    concurrency: int = 8

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


_sessions = threading.local()


def send(delivery, timeout):
    """One signed POST of the event; (HTTP status or None, None if delivered else why not)."""
    event = delivery.event
    now = datetime.datetime.now(datetime.UTC)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.uid,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(delivery.endpoint.secret).sign(event.uid, now, event.body),
    }
    if not hasattr(_sessions, "session"):
        _sessions.session = requests.Session()
    try:
        with _sessions.session.post(
            delivery.endpoint.url,
            data=event.body.encode(),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,  # the answer's body is never read: only its status counts
        ) as response:
            status = response.status_code
    except requests.Timeout:
        return None, f"timed out after {timeout:g}s"
    except requests.RequestException as error:
        return None, f"{type(error).__name__}: {error}"
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}" + (" (redirects are not followed)" if status < 400 else "")


class Deliverer:
    """Keeps up to `concurrency` attempts in flight; never holds a connection while sending."""

    def __init__(self, settings, database_url=None):
        self.settings = settings
        self.database_url = database_url
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.backlog_at = 0.0

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
            claimed = claim(limit, self.settings.lease)
            self._report_backlog()
            return claimed
        except (peewee.OperationalError, peewee.InterfaceError) as error:
            log.warning("cannot claim deliveries (trying again shortly): %s", error)
            self.stopping.wait(1)
            return []
        finally:
            db.close()

    def attempt(self, delivery):
        try:
            status, error = send(delivery, self.settings.timeout)
            result = record_result(delivery, status, error, self.settings.schedule)
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
