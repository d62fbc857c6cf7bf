"""The database proxy, the model base class and the per-request connection."""

import datetime
import os

import peewee
from playhouse.db_url import connect
from playhouse.migrations import Runner

db = peewee.DatabaseProxy()
MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")

SQLITE_PRAGMAS = (
    ("journal_mode", "wal"),
    ("foreign_keys", 1),
    ("busy_timeout", 10_000),
    ("synchronous", "normal"),
)


def utcnow():
    """Naive UTC, as every timestamp is stored."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class BaseModel(peewee.Model):
    class Meta:
        database = db
        legacy_table_names = False


def make_database(url):
    """A peewee database for `url`; SQLite gets WAL, foreign keys and write locks up front."""
    if url.startswith("sqlite"):
        # IMMEDIATE: a write transaction takes the lock when it starts, so two
        # read-then-write transactions never deadlock on the upgrade.
        return connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    return connect(url)


def init_app(app):
    db.initialize(make_database(app.config["DATABASE_URL"]))

    @app.teardown_request
    def close_connection(exc):
        if not db.is_closed():
            db.close()


def is_sqlite():
    return isinstance(db.obj, peewee.SqliteDatabase)


def locked(query):
    """SELECT … FOR UPDATE where the database has it (SQLite locks the whole file instead)."""
    return query if is_sqlite() else query.for_update()


def migration_runner():
    return Runner(db.obj, MIGRATIONS)
