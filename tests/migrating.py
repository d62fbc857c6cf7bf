"""`flask db upgrade` run by several hosts at once on a fresh database, and what it leaves."""

import contextlib
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import peewee
from playhouse.db_url import parse
from playhouse.migrations import Runner
from playhouse.schema_diff import diff_models

from orders_service.database import MIGRATIONS, make_database
from orders_service.models import MODELS
from tests.servers import ROOT, server_env

UPGRADE = (sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade")


@contextlib.contextmanager
def fresh_postgres(url, name):
    """The URL of a new, empty database `name` on the server of `url`; dropped afterwards."""
    on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    on_server(url, f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def on_server(url, sql):
    server = peewee.PostgresqlDatabase(**parse(url), prefer_psycopg3=True)
    with server.connection_context():
        server.execute_sql(sql)


def upgrade_at_once(url, runs=2, **env):
    """`runs` upgrade processes started together on `url`; each one's (exit code, output)."""
    with writes_held(url) as release:
        processes = [
            subprocess.Popen(
                UPGRADE,
                cwd=ROOT,
                env=server_env(url, **env),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(runs)
        ]
        release(processes)
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    return [(process.returncode, out) for process, out in zip(processes, outputs, strict=True)]


@contextlib.contextmanager
def writes_held(url):
    """On SQLite, the new database's write lock, held until `release(processes)`: each has then
    read what is applied and waits to write, as hosts migrating at the same instant do. (Left
    alone, two runs on SQLite often miss each other; PostgreSQL's migrations take long enough.)"""
    if not url.startswith("sqlite"):
        yield lambda processes: None
        return
    path = Path(url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=wal")
    holder.execute("BEGIN IMMEDIATE")

    def release(processes):
        deadline = time.monotonic() + 30
        while not all(opened_in(process.pid, path.parent) for process in processes):
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


def migration_problems(url):
    """What is wrong with the schema at `url`: tables, columns or indexes the models miss, and
    a history that is not each migration once, in order (empty when it is all there)."""
    database = make_database(url)
    runner = Runner(database, MIGRATIONS)
    try:
        problems = [str(diff)] if (diff := diff_models(database, list(MODELS))) else []
        recorded = [row.name for row in runner.History.select().order_by(runner.History.id)]
        expected = [migration.name for migration in runner.migrations()]
        if recorded != expected:
            problems.append(f"history {recorded}, not {expected}")
        return problems
    finally:
        getattr(database, "close_all", database.close)()
