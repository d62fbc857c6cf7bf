"""Commands on several hosts at once: `db prune` run by two processes on one PostgreSQL, and
`db upgrade` by two replicas starting together through PgBouncer."""

import datetime
import re
import subprocess
import sys

import pytest
from playhouse.db_url import parse

from orders_service.database import db, utcnow
from orders_service.orders.models import IdempotencyKey
from orders_service.payments.models import PaymentEvent
from tests.migrating import fresh_postgres, migration_problems, upgrade_at_once
from tests.reliability.bouncer import PgBouncer
from tests.servers import ROOT, server_env

pytestmark = pytest.mark.reliability

EXPIRED = 20_000


def fill(old, fresh):
    """`old` rows of each kind past their retention and `fresh` ones within it."""
    stamps = [utcnow() - datetime.timedelta(days=40)] * old + [utcnow()] * fresh
    keys = [
        {"user_id": 7, "key": f"k{i}", "request_hash": "0" * 64, "created_at": s, "locked_at": s}
        for i, s in enumerate(stamps)
    ]
    events = [
        {"id": f"evt_{i}", "type": "charge.refunded", "outcome": "x", "received_at": s}
        for i, s in enumerate(stamps)
    ]
    with db.atomic():
        for start in range(0, len(stamps), 1000):
            IdempotencyKey.insert_many(keys[start : start + 1000]).execute()
            PaymentEvent.insert_many(events[start : start + 1000]).execute()


def deleted_counts(output):
    return {name: int(n) for name, n in re.findall(r"^(.+): (\d+) deleted\.$", output, re.M)}


def test_db_prune_on_two_hosts_at_once(prepare, pg_url, check):
    app = prepare(pg_url)
    with app.app_context():
        fill(EXPIRED, 10)
        db.close()
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "prune", "--batch-size", "200"]

    runs = [
        subprocess.Popen(
            command, cwd=ROOT, env=server_env(pg_url), stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]

    for run, output in zip(runs, outputs, strict=True):
        check.saw(200 if run.returncode == 0 else 500)
        check.notes.append(output.strip().replace("\n", "; "))
    totals = [deleted_counts(output) for output in outputs]
    for name in ("idempotency keys", "processed Stripe events"):
        deleted = sum(counts.get(name, 0) for counts in totals)
        if deleted != EXPIRED:
            check.fail(f"{name}: {deleted} deleted, not {EXPIRED}")
    with app.app_context():
        left = (IdempotencyKey.select().count(), PaymentEvent.select().count())
        db.close()
    if left != (10, 10):
        check.fail(f"left {left}, not the 10 fresh rows of each")
    assert check.failures == 0, check.notes


def test_db_upgrade_on_two_replicas_at_once_through_pgbouncer(pg_url, check):
    name = f"{parse(pg_url)['database']}_upgrade"
    with fresh_postgres(pg_url, name) as url, PgBouncer(url) as bouncer:
        # Two replicas starting together, then a third later: the lock is not left behind.
        runs = upgrade_at_once(bouncer.url, DB_PREPARED_STATEMENTS="false")
        runs += upgrade_at_once(bouncer.url, runs=1, DB_PREPARED_STATEMENTS="false")
        for code, output in runs:
            check.saw(200 if code == 0 else 500)
            if code != 0:
                check.notes.append(output.strip().splitlines()[-1])
        if sum("applied: 0001_initial" in output for _, output in runs) != 1:
            check.fail("not exactly one run applied the migrations")
        for problem in migration_problems(url):
            check.fail(problem)
    assert check.failures == 0, check.notes
