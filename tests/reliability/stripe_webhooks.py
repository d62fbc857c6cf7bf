"""Stripe's webhooks around the live service, as unkind as Stripe may be: every event the fake
sends is delivered twice, in shuffled batches, each signed as Stripe signs them."""

import json
import random
import threading
import time

from tests.fakes.stripe_events import signature_header


class Redelivering:
    """Queues each event the fake sends (its `on_event`) and delivers it twice, the batch
    shuffled, every 50 ms; a delivery not answered 200 fails the check.

    A subclass names threads of its own in `workers()` (Stripe's bank, buyers at checkout):
    they run beside the deliverer, and `finish()` tells them to end (`self.finishing`). The
    deliverer stops once they have and nothing is left queued.
    """

    def __init__(self, fake, client, check, seed):
        self.fake, self.client, self.check = fake, client, check
        self.sent, self.answers = [], []
        self.rng = random.Random(seed)
        self.finishing = threading.Event()
        self._lock = threading.Lock()
        fake.on_event = self._queue
        self._workers = [threading.Thread(target=work) for work in self.workers()]
        self._deliverer = threading.Thread(target=self._deliver)

    def workers(self):
        return []

    def start(self):
        for thread in (*self._workers, self._deliverer):
            thread.start()
        return self

    def finish(self):
        """Let the workers end, deliver what is queued, and stop."""
        self.finishing.set()
        for thread in (*self._workers, self._deliverer):
            thread.join(300)

    def _queue(self, sent):
        with self._lock:
            self.sent.append(sent)

    def _take(self):
        with self._lock:
            batch, self.sent = self.sent, []
        return batch

    def _deliver(self):
        delivered = 0
        while True:
            quiet = self.finishing.is_set() and not any(t.is_alive() for t in self._workers)
            batch = self._take()
            if not batch and quiet:
                self.check.notes.append(f"{delivered} Stripe events, each delivered twice")
                return
            twice = batch * 2
            self.rng.shuffle(twice)
            for sent in twice:
                self._post(sent)
            delivered += len(batch)
            time.sleep(0.05)

    def _post(self, sent):
        payload = json.dumps(sent)
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(payload, "whsec_test"),
        }
        try:
            reply = self.client.post("/webhooks/stripe", data=payload, headers=headers)
        except OSError as error:  # no answer in the client's time: the next ones still go
            self.check.fail(f"{sent['type']} {sent['id']}: {error!r}")
            return
        self.answers.append(reply.status_code)
        if reply.status_code != 200:
            self.check.fail(f"{sent['type']} {sent['id']}: {reply.status_code} {reply.data!r}")
