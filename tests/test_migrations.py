"""The schema comes only from migrations, and what they make is what the models describe."""

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import peewee
import pytest
from playhouse.db_url import parse
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models

from orders_service.database import MIGRATIONS, db, make_database, migration_runner
from orders_service.models import MODELS
from orders_service.orders.models import Order
from tests.servers import ROOT, server_env

UPGRADE = (sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade")


def test_migrated_schema_matches_the_models(app):
    with app.app_context():
        diff = diff_models(db.obj, list(MODELS))
        db.close()
    assert not diff, str(diff)


def test_db_upgrade_is_idempotent_and_status_lists_what_is_applied(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "nothing to apply" in result.output
    status = runner.invoke(args=["db", "status"])
    assert status.exit_code == 0
    assert "[x] 0001_initial" in status.output


def test_readyz_says_ready_once_migrations_are_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}


def test_migration_0003_leaves_older_orders_without_a_payment_key(app):
    with app.app_context():
        runner = migration_runner()
        assert runner.down("0003_order_payment_key")[-1] == "0003_order_payment_key"
        db.execute_sql(
            "INSERT INTO orders (user_id, created_at, status, amount_in_cents, currency) "
            "VALUES (7, '2026-01-01 00:00:00', 'pending', 899, 'usd')"
        )
        runner.up()
        older = Order.get()
        newer = Order.create(user_id=7, amount_in_cents=899, currency="usd")
        db.close()
    assert older.payment_key is None
    assert len(newer.payment_key) == 32 and newer.payment_key != Order.payment_key.default()


@pytest.fixture
def fresh_database(database_url, tmp_path):
    """fresh_database() → the URL of a new, empty database of the suite's kind (dropped after)."""
    made = []

    def fresh():
        name = f"fresh{len(made)}"
        made.append(f"{parse(database_url)['database']}_{name}")
        if database_url.startswith("sqlite"):
            (tmp_path / name).mkdir()
            return f"sqlite:///{tmp_path / name / 'orders.db'}"
        on_server(database_url, f'DROP DATABASE IF EXISTS "{made[-1]}"')
        on_server(database_url, f'CREATE DATABASE "{made[-1]}"')
        return urlsplit(database_url)._replace(path=f"/{made[-1]}").geturl()

    yield fresh
    if not database_url.startswith("sqlite"):
        for name in made:
            on_server(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def on_server(url, sql):
    server = peewee.PostgresqlDatabase(**parse(url), prefer_psycopg3=True)
    with server.connection_context():
        server.execute_sql(sql)


@contextlib.contextmanager
def writes_held(url):
    """On SQLite, the new database's write lock, held until `release(runs)`: each run has then
    read what is applied and waits to write, as two hosts migrating at the same instant do.
    (Left alone, the two runs often miss each other; PostgreSQL's migrations take long enough.)"""
    if not url.startswith("sqlite"):
        yield lambda runs: None
        return
    path = Path(url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=wal")
    holder.execute("BEGIN IMMEDIATE")

    def release(runs):
        deadline = time.monotonic() + 30
        while not all(opened_in(run.pid, path.parent) for run in runs):
            assert time.monotonic() < deadline, "the runs never opened the database"
            time.sleep(0.05)
        time.sleep(0.3)
        holder.execute("ROLLBACK")

    try:
        yield release
    finally:
        holder.close()


def opened_in(pid, directory):
    """Whether process `pid` has a file of `directory` open (or has exited)."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except FileNotFoundError:
        return True
    targets = []
    for fd in fds:
        with contextlib.suppress(OSError):
            targets.append(os.readlink(fd))
    return any(target.startswith(f"{directory}/") for target in targets)


def upgrade_twice_at_once(url):
    """Two `flask db upgrade` processes started together; each one's (exit code, output)."""
    with writes_held(url) as release:
        runs = [
            subprocess.Popen(
                UPGRADE,
                cwd=ROOT,
                env=server_env(url),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        release(runs)
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    return [(run.returncode, output) for run, output in zip(runs, outputs, strict=True)]


@pytest.mark.slow
def test_two_db_upgrades_at_once_on_a_fresh_database_both_succeed_and_migrate_it_once(
    fresh_database,
):
    for _ in range(2):
        url = fresh_database()

        results = upgrade_twice_at_once(url)

        for code, output in results:
            assert code == 0, output
        # One migrated; the other waited for it and found nothing left.
        said = sorted("applied: 0001_initial" in output for _, output in results)
        assert said == [False, True], results
        assert any("nothing to apply" in output for _, output in results), results
        database = make_database(url)
        runner = Runner(database, MIGRATIONS)
        try:
            assert not diff_models(database, list(MODELS))
            recorded = [row.name for row in runner.History.select().order_by(runner.History.id)]
            assert recorded == [migration.name for migration in runner.migrations()]
        finally:
            getattr(database, "close_all", database.close)()
