"""On SQLite, an id once given is never given again: AUTOINCREMENT on every table with rows
that can be deleted.

SQLite gives an `INTEGER PRIMARY KEY` row the largest id in the table plus one, so deleting the
newest webhook endpoint, lead or lead column handed its id to the next one, and a script still
holding /webhook-endpoints/5 reached another subscriber. AUTOINCREMENT keeps the largest id
ever given in sqlite_sequence and never goes back. SQLite cannot add it to a table, so each
table is rebuilt: made anew with it, its rows copied with their ids, the old one dropped, the
new one renamed, its indexes made again. The runner has turned foreign keys off (see
playhouse's SqliteMigrator.migration_context), so dropping the old table deletes nothing that
refers to it, and the references (by name) find the new one.

sqlite_sequence starts at each table's largest id: ids above it deleted before this migration
are recorded nowhere (SQLite would already have given them again) and can still come back,
once; any deleted from now on cannot.

PostgreSQL's sequences never give an id twice: nothing to do there.
"""

import re

import peewee

# Every table whose rows can be deleted: by the API (webhook endpoints, leads, lead columns), by
# a refusal (a refund the provider refused), or by `db prune` (idempotency keys, events, with
# their deliveries and attempts).
TABLES = (
    "webhook_endpoint",
    "lead",
    "lead_status",
    "refund",
    "idempotency_key",
    "event",
    "delivery",
    "delivery_attempt",
)
PRIMARY_KEY = re.compile(r'"id" INTEGER NOT NULL PRIMARY KEY(?! AUTOINCREMENT)')


def up(migrator, db):
    if not isinstance(db, peewee.SqliteDatabase):
        return
    for table in TABLES:
        add_autoincrement(db, table)


def down(migrator, db):
    pass  # AUTOINCREMENT stays: without it, deleted ids would be given again


def add_autoincrement(db, table):
    """Rebuild `table` with AUTOINCREMENT on its id, keeping its rows, ids and indexes."""
    [create] = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    if "AUTOINCREMENT" in create.upper():
        return
    create, found = PRIMARY_KEY.subn('"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT', create)
    if found != 1:
        raise RuntimeError(f"{table}: no INTEGER PRIMARY KEY id in {create}")
    rebuilt = f"{table}__autoincrement"
    create, named = re.subn(
        rf'^CREATE TABLE "{re.escape(table)}"', f'CREATE TABLE "{rebuilt}"', create
    )
    if named != 1:
        raise RuntimeError(f"{table}: unexpected CREATE TABLE: {create}")
    indexes = [
        sql
        for (sql,) in db.execute_sql(
            "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND tbl_name = ? AND sql IS NOT NULL ORDER BY type, name",
            (table,),
        )
    ]
    columns = ", ".join(f'"{column.name}"' for column in db.get_columns(table))

    db.execute_sql(create)
    db.execute_sql(f'INSERT INTO "{rebuilt}" ({columns}) SELECT {columns} FROM "{table}"')
    db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql(f'ALTER TABLE "{rebuilt}" RENAME TO "{table}"')
    for sql in indexes:
        db.execute_sql(sql)
    # The copy set the sequence to the largest id copied (the rename carried it over); set it
    # again, explicitly, from the table: the largest id known to have been given.
    db.execute_sql("DELETE FROM sqlite_sequence WHERE name = ?", (table,))
    db.execute_sql(
        f'INSERT INTO sqlite_sequence (name, seq) SELECT ?, COALESCE(MAX(id), 0) FROM "{table}"',
        (table,),
    )
