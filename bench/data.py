"""The bench database: emptied, migrated, and seeded in bulk with SQL (no ORM round trips)."""

import os
import subprocess
import sys

import psycopg
from psycopg import sql

from tests.servers import ROOT

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/orders_bench"
BENCH_USER = 1
USER_ORDERS = 100
PRODUCTS = 20
LINES_PER_ORDER = 3
# Everyone else's orders go to this many other users, so the bench user's share is thin.
OTHER_USERS = 9973

# Order g (1…n) belongs to the bench user when g is a multiple of n / 100, so its 100 orders
# are spread evenly through the table; the rest go to other users. Each order has three lines
# whose products and quantities follow from g, and its amount is their sum.
LINE_OF = f"""
    SELECT k, 1 + mod(g + 7 * k, {PRODUCTS}) AS product_id, 1 + mod(g, 3) AS quantity
    FROM generate_series(0, {LINES_PER_ORDER - 1}) AS k
"""
PRICE = "(500 + product_id * 100)"

SEED_PRODUCTS = f"""
INSERT INTO product (id, sku, name, price_in_cents, active, created_at)
SELECT p, 'BENCH-' || p, 'Bench product ' || p, 500 + p * 100, true, now()
FROM generate_series(1, {PRODUCTS}) AS p;
SELECT setval(pg_get_serial_sequence('product', 'id'), {PRODUCTS});
"""


def seed_statements(count, step):
    """The SQL that writes `count` orders and their lines (integers only are interpolated)."""
    count, step = int(count), int(step)
    return [
        f"""
        INSERT INTO orders (id, user_id, created_at, status, amount_in_cents, currency,
                            payment_intent_id, client_secret, payment_key_generation,
                            event_version, amount_refunded_in_cents, fulfillment_status)
        SELECT g,
               CASE WHEN mod(g, {step}) = 0 THEN {BENCH_USER} ELSE 2 + mod(g, {OTHER_USERS}) END,
               now() - ({count} - g) * interval '1 minute',
               'pending',
               (SELECT sum(quantity * {PRICE}) FROM ({LINE_OF}) AS line),
               'usd',
               'pi_bench' || g,
               'pi_bench' || g || '_secret_bench',
               0,
               1,
               0,
               'unfulfilled'
        FROM generate_series(1, {count}) AS g
        """,
        f"""
        INSERT INTO order_line (order_id, product_id, name, quantity, price_in_cents,
                                stock_taken, quantity_refunded, quantity_fulfilled)
        SELECT g, line.product_id, 'Bench product ' || line.product_id, line.quantity, {PRICE}, 0,
               0, 0
        FROM generate_series(1, {count}) AS g, LATERAL ({LINE_OF}) AS line
        ORDER BY g, line.k
        """,
        f"SELECT setval(pg_get_serial_sequence('orders', 'id'), {count})",
    ]


ORDER_TABLES = ("orders", "order_line", "order_history", "idempotency_key", "payment_event")


def connect(url):
    return psycopg.connect(url, autocommit=True)


def create_if_missing(url):
    """CREATE DATABASE for `url` unless it exists (asked of the server's `postgres` database)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    try:
        connect(url).close()
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
        admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with connect(admin) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(info["dbname"])))


def in_schema(url, schema):
    """`url` with its tables in `schema` (the server's search_path), for a second data set."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def reset(url, schema="public"):
    """Empty `schema` of the bench database and apply the migrations, as production would.

    Returns the URL whose tables are in that schema.
    """
    create_if_missing(url)
    with connect(url) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = in_schema(url, schema)
    env = dict(os.environ, DATABASE_URL=url, APP_ENV="development", PAYMENT_PROVIDER="local")
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with connect(url) as conn:
        conn.execute(SEED_PRODUCTS)
    return url


def seed_orders(url, count):
    """Replace every order with `count` orders (three lines each), 100 of them the bench user's.

    Returns the bench user's order ids, oldest first.
    """
    step = count // USER_ORDERS
    with connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(ORDER_TABLES)} RESTART IDENTITY CASCADE")
        with conn.transaction():
            # The rows are consistent by construction: skip the per-row foreign-key triggers.
            conn.execute("SET LOCAL session_replication_role = replica")
            for statement in seed_statements(count, step):
                conn.execute(statement)
        conn.execute("VACUUM ANALYZE orders")
        conn.execute("VACUUM ANALYZE order_line")
        conn.execute("VACUUM ANALYZE product")
    return bench_order_ids(count)


def bench_order_ids(count):
    """The bench user's order ids among `count` seeded orders, oldest first."""
    step = count // USER_ORDERS
    return [step * i for i in range(1, USER_ORDERS + 1)]


def created_at(url, order_ids):
    """The creation times of `order_ids`, in their order, as the API reads them (UTC, Z)."""
    with connect(url) as conn:
        rows = dict(
            conn.execute(
                'SELECT id, to_char(created_at, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') FROM orders'
                " WHERE id = ANY(%s)",
                (list(order_ids),),
            ).fetchall()
        )
    return [rows[order_id] for order_id in order_ids]


def table_size_or_none(url):
    """table_size, or None when the database or its orders table is not there yet."""
    try:
        return table_size(url)
    except psycopg.Error:
        return None


def table_size(url):
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]
