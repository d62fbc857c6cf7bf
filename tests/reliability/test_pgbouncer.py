"""Behind PgBouncer in transaction pooling mode: prepared statements break it, and with them
off the service takes a load of mixed requests without a 5xx."""

import itertools
import random
from concurrent.futures import ThreadPoolExecutor

import peewee
import pytest

from orders_service.database import make_database
from tests.reliability.bouncer import PgBouncer
from tests.reliability.stored import missing_or_incomplete

pytestmark = pytest.mark.reliability

LOAD_REQUESTS = 2100
CARTS = (["3"], ["3", "3", "8"], [{"id": 2, "quantity": 3}], ["1", "5"])


def run_six_times_on_each(url, prepared_statements):
    """The same query six times on each of two pooled connections (psycopg prepares a query
    from its sixth run), both served by PgBouncer's one server connection."""
    databases = [make_database(url, 1, prepared_statements) for _ in range(2)]
    try:
        for database in databases:
            for i in range(6):
                database.execute_sql("SELECT %s::integer", (i,))
    finally:
        for database in databases:
            database.close_all()


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "unprepared"])
def test_prepared_statements_behind_pgbouncer_in_transaction_mode(pg_url, check, prepared):
    with PgBouncer(pg_url, pool_size=1) as bouncer:
        if prepared:
            with pytest.raises(peewee.ProgrammingError, match=r"prepared statement .* exists"):
                run_six_times_on_each(bouncer.url, prepared_statements=True)
        else:
            run_six_times_on_each(bouncer.url, prepared_statements=False)
    check.notes.append("DuplicatePreparedStatement" if prepared else "no error")


def test_mixed_load_through_pgbouncer(live, pg_url, bouncer_url, tokens, check):
    app, client = live(
        pg_url, count=2, through=bouncer_url, WEB_CONCURRENCY=3, DB_PREPARED_STATEMENTS=0
    )
    customers = itertools.cycle([tokens["customer"], tokens["other"]])
    created = []
    chooser = random.Random(10)

    def one(i):
        kind = chooser.choice(["create", "create", "read", "read", "list", "list", "catalog"])
        headers = next(customers)
        if kind == "create":
            reply = client.post("/orders/new", json=chooser.choice(CARTS), headers=headers)
            if reply.status_code == 201:
                created.append(reply.get_json())
        elif kind == "read" and created:
            reply = client.get(f"/orders/{chooser.choice(created)['id']}", headers=tokens["admin"])
        elif kind == "list":
            reply = client.get("/orders?limit=20", headers=headers)
        else:
            reply = client.get("/products")
        if reply.status_code >= 400:
            check.fail(f"{kind}: {reply.status_code} {reply.get_json()}", status=reply.status_code)

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(LOAD_REQUESTS)))

    with app.app_context():
        check.lost = len(missing_or_incomplete(created))
    check.notes.append(f"{len(created)} orders created")
    assert check.sent >= 2000
    assert (check.failures, check.lost) == (0, 0), check.notes[:20]
