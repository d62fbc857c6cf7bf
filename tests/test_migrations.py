"""The schema comes only from migrations, and what they make is what the models describe."""

import contextlib
import datetime
import itertools

import pytest
from playhouse.db_url import parse
from playhouse.schema_diff import diff_models

from orders_service.database import db, is_sqlite, migration_runner
from orders_service.events.models import Delivery, Event, WebhookEndpoint
from orders_service.models import MODELS
from orders_service.orders.models import Order, OrderHistory, OrderLine
from tests.migrating import fresh_postgres, migration_problems, upgrade_at_once


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


def test_migration_0008_keeps_deliveries_and_counts_silence_from_an_endpoints_last_delivery(app):
    rows = [
        "INSERT INTO orders (id, user_id, created_at, status, amount_in_cents, currency, "
        "payment_key_generation) VALUES (1, 7, '2026-01-01 00:00:00', 'pending', 899, 'usd', 0)",
        "INSERT INTO event (id, uid, type, order_id, version, created_at, body) "
        "VALUES (1, 'evt_1', 'order.created', 1, 1, '2026-01-01 00:00:00', '{}')",
        *(
            "INSERT INTO webhook_endpoint (id, url, events, description, enabled, secret, "
            f"created_at) VALUES ({n}, 'https://hooks.example/{n}', '[\"*\"]', '', '1', "
            "'whsec_x', '2026-01-01 00:00:00')"
            for n in (1, 2)
        ),
        "INSERT INTO delivery (id, event_id, endpoint_id, order_id, version, state, attempts, "
        "next_attempt_at, delivered_at) VALUES (1, 1, 1, 1, 1, 'delivered', 1, "
        "'2026-01-02 00:00:00', '2026-01-02 00:00:00'), (2, 1, 2, 1, 1, 'failed', 8, "
        "'2026-01-03 00:00:00', NULL)",
    ]
    with app.app_context():
        runner = migration_runner()
        try:
            assert runner.down("0008_webhook_operations")[-1] == "0008_webhook_operations"
            for row in rows:
                db.execute_sql(row)
        finally:
            runner.up()  # whatever came of it: the other tests need the whole schema
        endpoints = {e.id: e.alive_at for e in WebhookEndpoint.select()}
        kept = [(d.id, d.state, d.schedule_start, d.next_attempt_at) for d in Delivery.select()]
        [event] = Event.select()
        db.close()
    assert endpoints == {1: datetime.datetime(2026, 1, 2), 2: None}
    assert kept == [
        (1, "delivered", 0, datetime.datetime(2026, 1, 2)),
        (2, "failed", 0, datetime.datetime(2026, 1, 3)),
    ]
    assert (event.order_id, event.uid) == (1, "evt_1")


@pytest.fixture
def fresh_database(database_url, tmp_path):
    """fresh_database() → the URL of a new, empty database of the suite's kind (dropped after)."""
    numbers = itertools.count()
    with contextlib.ExitStack() as made:

        def fresh():
            name = f"fresh{next(numbers)}"
            if database_url.startswith("sqlite"):
                (tmp_path / name).mkdir()
                return f"sqlite:///{tmp_path / name / 'orders.db'}"
            name = f"{parse(database_url)['database']}_{name}"
            return made.enter_context(fresh_postgres(database_url, name))

        yield fresh


@pytest.mark.slow
def test_two_db_upgrades_at_once_on_a_fresh_database_both_succeed_and_migrate_it_once(
    fresh_database,
):
    for _ in range(2):
        url = fresh_database()

        results = upgrade_at_once(url)

        for code, output in results:
            assert code == 0, output
        # One migrated; the other waited for it and found nothing left.
        said = sorted("applied: 0001_initial" in output for _, output in results)
        assert said == [False, True], results
        assert any("nothing to apply" in output for _, output in results), results
        assert migration_problems(url) == []


def test_migration_0009_counts_each_visible_orders_events_from_its_history(
    app, client, customer, admin, place_order
):
    visible = place_order()
    client.post(
        "/orders/status-update", json={"orderId": visible["id"], "status": "paid"}, headers=admin
    )
    with app.app_context():
        hidden = Order.create(user_id=7, amount_in_cents=899, currency="usd")
        OrderHistory.create(order=hidden.id, to_status="pending", actor="user:7")
        runner = migration_runner()
        assert runner.down("0009_event_versions")[-1] == "0009_event_versions"
        runner.up()
        versions = {o.id: o.event_version for o in Order.select()}
        db.close()
    assert versions == {visible["id"]: 2, hidden.id: 0}


UPGRADE_COMMAND = "flask --app wsgi db upgrade"


@pytest.fixture
def unmigrated_app(fresh_database, make_app, admin):
    """unmigrated_app(target=None) → an app on a new database migrated up to `target` only."""
    made = []

    def make(target=None):
        app = make_app(DATABASE_URL=fresh_database())
        if target is not None:
            with app.app_context():
                migration_runner().up(target)
                db.close()
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            getattr(db.obj, "close_all", db.obj.close)()
    make_app()  # the database proxy is the process's: back to the session's database


def test_an_unmigrated_database_answers_503_naming_the_command_that_migrates_it(
    unmigrated_app, admin, customer
):
    client = unmigrated_app().test_client()

    answers = [
        client.get("/products"),
        client.get("/orders", headers=admin),
        client.post("/orders/new", json=["3"], headers=customer),
        client.post("/leads/statuses", json={"name": "New"}, headers=admin),
        client.get("/webhook-endpoints", headers=admin),
    ]
    ready = client.get("/readyz")

    for response in answers:
        body = response.get_json()
        assert response.status_code == 503, body
        assert UPGRADE_COMMAND in body["message"], body
        assert "not migrated" in body["message"]
        assert "0001_initial" in body["message"]
    assert client.get("/healthz").status_code == 200
    assert ready.status_code == 503
    assert "0001_initial" in ready.get_json()["message"]
    assert UPGRADE_COMMAND in ready.get_json()["message"]


def test_a_database_missing_the_last_migrations_answers_503_naming_them(unmigrated_app, admin):
    client = unmigrated_app(target="0010_refunds").test_client()

    response = client.get("/orders", headers=admin)

    assert response.status_code == 503
    message = response.get_json()["message"]
    assert "0011_disputes" in message and UPGRADE_COMMAND in message
    assert "0010_refunds" not in message


def test_a_missing_table_on_a_migrated_database_is_not_blamed_on_migrations(make_app, migrated):
    app = make_app()

    @app.route("/wrong-query")
    def wrong_query():
        db.execute_sql("SELECT * FROM no_such_table")

    response = app.test_client().get("/wrong-query")

    assert response.status_code in (500, 503)  # SQLite's OperationalError: the database's 503
    assert "migrat" not in response.get_json()["message"]


# An id, once given, is never given again: not after its row is deleted (SQLite's AUTOINCREMENT,
# PostgreSQL's sequences), on a new database or on one migrated from before 0012.

DELETABLE = ("webhook_endpoint", "lead", "lead_status", "refund", "idempotency_key", "event")
DELETABLE += ("delivery", "delivery_attempt")


def make_and_delete(client, admin, kind, count=1):
    """Make `count` rows of `kind` through the API; their ids."""
    ids = []
    for _ in range(count):
        n = next(NUMBERS)
        body = {
            "webhook-endpoints": {"url": f"https://hooks.example/{n}"},
            "leads/statuses": {"name": f"Column {n}"},
            "leads": {"name": f"Lead {n}", "email": f"lead{n}@example.com"},
        }[kind]
        response = client.post(f"/{kind}", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


NUMBERS = itertools.count()
KINDS = ("webhook-endpoints", "leads/statuses", "leads")


def delete(client, admin, kind, row_id):
    assert client.delete(f"/{kind}/{row_id}", headers=admin).status_code == 204


def assert_newest_deleted_is_not_given_again(client, admin, kind):
    *_, newest = make_and_delete(client, admin, kind, 2)
    delete(client, admin, kind, newest)

    [made] = make_and_delete(client, admin, kind)

    assert made > newest
    assert client.get(f"/{kind}/{newest}", headers=admin).status_code in (404, 405)


@pytest.mark.parametrize("kind", KINDS)
def test_a_deleted_rows_id_is_not_given_again(client, admin, kind):
    if kind == "leads":
        make_and_delete(client, admin, "leads/statuses")  # a column for the leads
    assert_newest_deleted_is_not_given_again(client, admin, kind)


def test_every_table_whose_rows_are_deleted_never_gives_an_id_twice_on_sqlite(app):
    with app.app_context():
        if not is_sqlite():
            pytest.skip("PostgreSQL's sequences never go back")
        made = dict(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
        db.close()
    for table in DELETABLE:
        assert '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT' in made[table], table


def test_migration_0012_keeps_rows_and_ids_and_gives_no_deleted_id_again(unmigrated_app, admin):
    app = unmigrated_app(target="0011_disputes")
    client = app.test_client()
    before = {}
    for kind in KINDS:
        ids = make_and_delete(client, admin, kind, 4)
        delete(client, admin, kind, ids[1])  # deleted before the migration
        before[kind] = [row_id for row_id in ids if row_id != ids[1]]

    with app.app_context():
        assert migration_runner().up("0012_ids_never_reused") == ["0012_ids_never_reused"]
        if is_sqlite():
            assert not db.execute_sql("PRAGMA foreign_key_check").fetchall()
        db.close()

    listed = {
        "webhook-endpoints": [
            e["id"] for e in client.get("/webhook-endpoints", headers=admin).json
        ],
        "leads/statuses": [s["id"] for s in client.get("/leads/statuses", headers=admin).json],
        "leads": [lead["id"] for lead in client.get("/leads", headers=admin).json],
    }
    for kind in ("webhook-endpoints", "leads", "leads/statuses"):
        assert sorted(listed[kind]) == sorted(before[kind]), kind
        # The newest deleted after the migration: its id is not given again either.
        newest = max(before[kind])
        if kind == "leads/statuses":
            for lead in client.get("/leads", headers=admin).json:
                delete(client, admin, "leads", lead["id"])  # a column with leads stays
        delete(client, admin, kind, newest)
        [made] = make_and_delete(client, admin, kind)
        assert made > newest, kind
    with app.app_context():
        migration_runner().up()
        assert migration_problems_here() == []
        db.close()


def test_migration_0013_gives_each_order_shipped_before_it_one_fulfilment_of_everything(
    app, client, admin, place_order
):
    def status_update(order_id, *statuses):
        for status in statuses:
            body = {"orderId": order_id, "status": status}
            assert client.post("/orders/status-update", json=body, headers=admin).status_code == 200

    shipped, completed, paid = (place_order()["id"] for _ in range(3))
    status_update(shipped, "paid", "shipped")
    status_update(completed, "paid", "shipped", "completed")
    status_update(paid, "paid")
    with app.app_context():
        runner = migration_runner()
        assert runner.down("0013_fulfillments") == ["0013_fulfillments"]
        shipped_at = OrderHistory.get(order=shipped, to_status="shipped").at
        assert runner.up() == ["0013_fulfillments"]
        db.close()

    orders = {
        i: client.get(f"/orders/{i}", headers=admin).get_json() for i in (shipped, completed, paid)
    }
    for order_id in (shipped, completed):
        [fulfillment] = orders[order_id]["fulfillments"]
        assert orders[order_id]["fulfillmentStatus"] == "fulfilled"
        assert fulfillment["lines"] == [
            {"productId": 3, "quantity": 2},
            {"productId": 8, "quantity": 1},
        ]
        assert (fulfillment["actor"], fulfillment["trackingNumber"]) == ("system", None)
    assert orders[shipped]["fulfillments"][0]["createdAt"] == shipped_at.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert (orders[paid]["fulfillmentStatus"], orders[paid]["fulfillments"]) == ("unfulfilled", [])
    assert (
        b'"lines":[{"productId":3,"quantity":2}'
        in client.get(f"/orders/{shipped}", headers=admin).data
    )  # compact, as the service writes
    # Nothing is left to send of an order the migration fulfilled.
    response = client.post(f"/orders/{shipped}/fulfillments", json={}, headers=admin)
    assert response.status_code == 409
    assert response.get_json()["message"] == f"Order {shipped} has nothing left to send."


def migration_problems_here():
    diff = diff_models(db.obj, list(MODELS))
    return [str(diff)] if diff else []


def test_the_deliverer_on_an_unmigrated_database_names_the_upgrade_command(
    unmigrated_app, caplog, monkeypatch
):
    from orders_service.events import deliver

    app = unmigrated_app()
    monkeypatch.setattr(deliver, "UNMIGRATED_WAIT_SECONDS", 0)
    worker = deliver.Deliverer(deliver.Settings(1.0, (datetime.timedelta(seconds=1),)))

    with app.app_context():
        assert worker.run(once=True) == 0

    [said] = [r.getMessage() for r in caplog.records if "cannot claim" in r.getMessage()]
    assert UPGRADE_COMMAND in said and "0001_initial" in said


def test_migration_0013_lets_the_previous_release_write_orders_during_a_rolling_deploy(
    app, catalog
):
    # What an instance without the new columns writes: they take the schema's defaults.
    with app.app_context():
        db.execute_sql(
            "INSERT INTO orders (user_id, created_at, status, amount_in_cents, currency, "
            "payment_key_generation, event_version, amount_refunded_in_cents) "
            "VALUES (7, '2026-01-01 00:00:00', 'pending', 899, 'usd', 0, 0, 0)"
        )
        order = Order.get()
        db.execute_sql(
            "INSERT INTO order_line (order_id, product_id, name, quantity, price_in_cents, "
            f"stock_taken, quantity_refunded) VALUES ({order.id}, 3, 'Hoodie', 1, 899, 0, 0)"
        )
        sent = db.execute_sql("SELECT quantity_fulfilled FROM order_line").fetchone()[0]
        db.close()
    assert (order.fulfillment_status, sent) == ("unfulfilled", 0)


def test_migration_0013_sends_what_line_refunds_left_of_an_order_shipped_before_it(
    app, client, admin, place_order
):
    order_id = place_order()["id"]  # two hoodies (3) and socks (8)
    for status in ("paid",):
        client.post(
            "/orders/status-update", json={"orderId": order_id, "status": status}, headers=admin
        )
    refund = {"lines": [{"productId": 3, "quantity": 1}, {"productId": 8, "quantity": 1}]}
    assert client.post(f"/orders/{order_id}/refunds", json=refund, headers=admin).status_code == 201
    body = {"orderId": order_id, "status": "shipped"}
    assert client.post("/orders/status-update", json=body, headers=admin).status_code == 200
    with app.app_context():
        runner = migration_runner()
        runner.down("0013_fulfillments")
        runner.up()
        lines = OrderLine.select().where(OrderLine.order == order_id).order_by(OrderLine.id)
        sent = [(line.product_id, line.quantity_fulfilled) for line in lines]
        db.close()

    order = client.get(f"/orders/{order_id}", headers=admin).get_json()
    [fulfillment] = order["fulfillments"]
    assert fulfillment["lines"] == [{"productId": 3, "quantity": 1}]
    assert sent == [(3, 1), (8, 0)]
    assert order["fulfillmentStatus"] == "fulfilled"
