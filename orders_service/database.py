"""The database proxy, the model base class and the per-request connection."""

import contextlib
import datetime
import fcntl
import os
import time
import zlib

import peewee
from playhouse.db_url import connect, parse
from playhouse.migrations import Runner
from playhouse.pool import PooledPostgresqlDatabase

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


class PooledPostgres(PooledPostgresqlDatabase):
    """Peewee's PostgreSQL pool, without a round trip on every checkout.

    Peewee pings each pooled connection (`SELECT 1`) as it hands it out, holding the pool's
    lock, so under load every request paid a third query and the threads queued behind each
    other's ping. A connection handed back less than PING_AFTER_IDLE seconds ago is taken as
    it is; one that sat idle longer (the server may have dropped it) is still pinged.
    """

    PING_AFTER_IDLE = 1.0

    def __init__(self, *args, **kwargs):
        self._returned_at = {}
        super().__init__(*args, **kwargs)

    def _is_closed(self, conn):
        if time.monotonic() - self._returned_at.pop(id(conn), 0) < self.PING_AFTER_IDLE:
            return bool(conn.closed)
        return super()._is_closed(conn)

    def _close(self, conn, close_conn=False):
        super()._close(conn, close_conn)
        if not close_conn and not conn.closed:
            self._returned_at[id(conn)] = time.monotonic()


def make_database(url, pool_size=20, prepared_statements=True):
    """A peewee database for `url`.

    SQLite gets WAL, foreign keys and write locks taken up front; PostgreSQL a pool per
    process (a new server connection per request would cost more than the request).
    Without `prepared_statements`, psycopg never prepares: a transaction pooler (PgBouncer)
    hands each transaction another server connection, where a statement prepared on the last
    one is missing or, under the same name, already there.
    """
    if url.startswith("sqlite"):
        # IMMEDIATE: a write transaction takes the lock when it starts, so two
        # read-then-write transactions never deadlock on the upgrade.
        return connect(url, pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE")
    scheme, rest = url.split("://", 1)
    if scheme not in {"postgres", "postgresql", "postgresql+pool"}:
        return connect(url)
    return PooledPostgres(
        **parse(f"postgresql://{rest}"),
        prefer_psycopg3=True,
        max_connections=pool_size,
        stale_timeout=300,
        timeout=10,
        connect_timeout=5,
        **({} if prepared_statements else {"prepare_threshold": None}),
    )


def init_app(app):
    config = app.config
    db.initialize(
        make_database(
            config["DATABASE_URL"],
            config["DB_POOL_SIZE"],
            config["DB_PREPARED_STATEMENTS"],
        )
    )

    @app.teardown_request
    def close_connection(exc):
        if not db.is_closed():
            db.close()


def release_connection():
    """Give the connection back (to the pool) before a slow call elsewhere, e.g. the provider.

    Peewee reconnects on the next query, so a request holds a connection only while it
    talks to the database, not while it waits on Stripe.
    """
    if not db.is_closed() and not db.in_transaction():
        db.close()


def is_sqlite():
    return isinstance(db.obj, peewee.SqliteDatabase)


def locked(query):
    """SELECT … FOR UPDATE where the database has it (SQLite locks the whole file instead)."""
    return query if is_sqlite() else query.for_update()


def shared(query):
    """SELECT … FOR SHARE where the database has it: the rows cannot change until the
    transaction ends, yet rows pointing at them may still be written."""
    return query if is_sqlite() else query.for_update("FOR SHARE")


def transaction_lock(name):
    """Wait for the lock called `name`, then hold it until the transaction ends.

    PostgreSQL takes an advisory lock, which needs no row to exist. SQLite needs nothing: its
    write transactions begin IMMEDIATE, so they already run one at a time.
    """
    if not db.in_transaction():
        raise RuntimeError("a transaction lock outside a transaction would be let go at once")
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(name.encode()),))


def migration_runner():
    return Runner(db.obj, MIGRATIONS)


# What applies the migrations, named wherever their absence is found.
MIGRATE_COMMAND = "flask --app wsgi db upgrade"
# PostgreSQL's undefined_table and undefined_column.
MISSING_SCHEMA_STATES = {"42P01", "42703"}


def is_missing_schema(error):
    """True when `error` (peewee's) is a table or column the database does not have: what an
    unmigrated (or partly migrated) database answers, on SQLite or PostgreSQL."""
    if getattr(getattr(error, "orig", None), "sqlstate", None) in MISSING_SCHEMA_STATES:
        return True
    text = str(error)
    return text.startswith(("no such table", "no such column")) or "has no column named" in text


def pending_migrations():
    """The names of the migrations not applied; None when the database cannot tell."""
    try:
        if db.in_transaction():
            return None  # a failed statement may have aborted it: ask on another connection
        return [m.name for m in migration_runner().status() if not m.applied and m.path]
    except peewee.PeeweeException:
        return None
    finally:
        if not db.in_transaction() and not db.is_closed():
            db.close()


def unmigrated_message(pending):
    """What to tell a caller (and the log) about a database missing its migrations."""
    if pending:
        shown = ", ".join(pending) if len(pending) <= 3 else f"{pending[0]} to {pending[-1]}"
        count = f"{len(pending)} migration{'s' if len(pending) > 1 else ''}"
        missing = f"{count} not applied: {shown}"
    else:
        missing = "its tables are missing"
    return (
        f"The database is not migrated ({missing}); waiting will not help. "
        f"Apply the migrations with `{MIGRATE_COMMAND}`."
    )


def apply_migrations():
    """Apply every pending migration; the names applied (none when another run did them)."""
    with migration_lock():
        # The runner reads what is applied only now, after any other run has finished.
        return migration_runner().up()


# Any constant: advisory locks belong to one database, and the service takes no other.
MIGRATION_LOCK_KEY = 7_212_468_912_044_530_001


@contextlib.contextmanager
def migration_lock():
    """Held while migrating: another host's `db upgrade` waits for it, so replicas may all
    migrate as they start."""
    database = db.obj
    if isinstance(database, peewee.PostgresqlDatabase):
        with _advisory_lock(database):
            yield
    elif isinstance(database, peewee.SqliteDatabase) and database.database not in ("", ":memory:"):
        # Beside the database, not on it: closing another descriptor of the database file
        # would drop the POSIX locks SQLite holds on it.
        with open(f"{database.database}-migrations.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield
    else:
        yield


@contextlib.contextmanager
def _advisory_lock(database):
    """A transaction-level advisory lock, in a transaction left open on a connection of its own.

    The runner commits each migration as it goes, so the lock cannot live in its transactions.
    A session-level lock would outlast them, but behind PgBouncer in transaction mode it stays
    on whichever server connection took it, and the unlock may reach another. An open
    transaction keeps its server connection, and the lock ends with it (or with the process).
    """
    holder = peewee.PostgresqlDatabase(
        database.database, prefer_psycopg3=True, **database.connect_params
    )
    with holder.connection_context(), holder.atomic():
        # A role's time limits would end the wait, or the session (and the lock) mid-migration.
        for setting in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
            holder.execute_sql("SELECT set_config(%s, '0', true)", (setting,))
        holder.execute_sql("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
        yield


class CompiledQuery:
    """A SELECT that peewee compiles once per database and shape; each call binds new values.

    Peewee compiles a query's SQL at every execution, and for the small SELECTs a request
    makes that costs more than PostgreSQL takes to answer them. `build(*values)` makes the
    query: it runs once per shape (which values are None, how long each list is) with a
    marker in place of each value (integer or string), to learn where each value goes among
    the query's parameters.
    """

    def __init__(self, model, build):
        self.model = model
        self.build = build
        self._compiled = {}

    def __call__(self, *values):
        """The model instances the query built with `values` selects (a list fills an IN)."""
        sql, params = self.bind(*values)
        return list(self.model.raw(sql, *params))

    def bind(self, *values):
        """(SQL, parameters) of the query built with `values`."""
        shape = (type(db.obj), *(_shape(value) for value in values))
        compiled = self._compiled.get(shape)
        if compiled is None:
            compiled = self._compiled[shape] = self._compile(values)
        sql, slots = compiled
        flat = [item for value in values if value is not None for item in _items(value)]
        return sql, [flat[slot] if marked else slot for marked, slot in slots]

    def execute(self, *values):
        """Run the statement (an INSERT or UPDATE too) built with `values`: its cursor."""
        return db.execute_sql(*self.bind(*values))

    def _compile(self, values):
        markers, positions = [], {}
        for value in values:
            if value is None:
                markers.append(None)
                continue
            items = [_marker(item, len(positions) + i) for i, item in enumerate(_items(value))]
            positions.update((item, len(positions)) for item in items)
            markers.append(items if isinstance(value, list | tuple) else items[0])
        sql, params = self.build(*markers).sql()
        for p in params:
            if p not in positions and (isinstance(p, int) and abs(p - MARKER) < 2**32):
                raise ValueError(f"{self.build!r} computes with a value: pass the result instead")
        return sql, [(True, positions[p]) if p in positions else (False, p) for p in params]


MARKER = -(2**62)


def _marker(value, position):
    """A stand-in no real value equals: ids and limits are positive, text has no NULs."""
    return f"\0{position}\0" if isinstance(value, str) else MARKER - position


def _items(value):
    return list(value) if isinstance(value, list | tuple) else [value]


def _shape(value):
    if value is None:
        return None
    return ("list", len(value)) if isinstance(value, list | tuple) else "value"
