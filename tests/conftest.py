"""Fixtures: one migrated database per session (SQLite file, or TEST_DATABASE_URL), emptied
between tests; the app, its client and CLI runner; tokens for a customer, another customer
and an admin."""

import os
import socket
from types import SimpleNamespace

import pytest

from orders_service import create_app
from orders_service.auth import issue_token
from orders_service.database import apply_migrations, db, is_sqlite
from orders_service.models import MODELS

JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
# Rate limits out of the way of tests of other things (tests/test_rate_limits.py sets its own).
UNLIMITED = {"RATE_LIMIT_ORDERS": "1000000/minute", "RATE_LIMIT_LEADS": "1000000/minute"}
CUSTOMER_ID, OTHER_ID, ADMIN_ID = 7, 8, 1


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'orders.db'}"


@pytest.fixture(scope="session")
def base_config(database_url):
    return {
        "APP_ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET": JWT_SECRET,
        "JWT_PUBLIC_KEY": None,
        "JWT_ALGORITHM": "HS256",
        "JWT_AUDIENCE": None,
        "JWT_ISSUER": None,
        "PAYMENT_PROVIDER": "local",
        "STRIPE_SECRET_KEY": None,
        "STRIPE_WEBHOOK_SECRET": None,
        "CURRENCY": "usd",
        "CORS_ORIGINS": [],
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,  # the subscribers of the tests are on loopback
        **UNLIMITED,
    }


@pytest.fixture(scope="session")
def make_app(base_config):
    """An app with the test config plus `overrides` (the database stays the session's)."""

    def make(**overrides):
        return create_app({**base_config, **overrides})

    return make


@pytest.fixture(scope="session")
def migrated(make_app):
    app = make_app()
    with app.app_context():
        if not is_sqlite():
            db.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        apply_migrations()
        db.close()
    return app


@pytest.fixture
def app(migrated, make_app):
    app = make_app()
    yield app
    with app.app_context():
        empty_tables()


def empty_tables():
    tables = [model._meta.table_name for model in MODELS]
    if is_sqlite():
        with db.atomic():
            for table in reversed(tables):
                db.execute_sql(f'DELETE FROM "{table}"')
            # Ids start again at 1, as RESTART IDENTITY makes them on PostgreSQL (AUTOINCREMENT
            # tables keep their largest id here).
            db.execute_sql("DELETE FROM sqlite_sequence")
    else:
        quoted = ", ".join(f'"{table}"' for table in tables)
        db.execute_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def bearer(app, user_id, admin=False, **kwargs):
    return {"Authorization": f"Bearer {issue_token(app.config, user_id, admin=admin, **kwargs)}"}


@pytest.fixture
def customer(app):
    return bearer(app, CUSTOMER_ID)


@pytest.fixture
def other_customer(app):
    return bearer(app, OTHER_ID)


@pytest.fixture
def admin(app):
    return bearer(app, ADMIN_ID, admin=True)


@pytest.fixture
def catalog(runner):
    """The demo catalog: ids 1 to 8 untracked, 9 to 11 with stock (see orders_service.cli)."""
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def place_order(client, customer, catalog):
    """POST /orders/new as the customer (or `headers`); asserts the 201."""

    def place(items=("3", "3", "8"), headers=None):
        response = client.post("/orders/new", json=list(items), headers=headers or customer)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return place


@pytest.fixture
def network(monkeypatch):
    """Made-up names (network.dns.answer) and connections that reach 127.0.0.1 only."""
    from tests.fakes.network import FakeDNS, LoopbackOnly

    dns = FakeDNS(socket.getaddrinfo)
    wire = LoopbackOnly(socket.create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    monkeypatch.setattr(socket, "create_connection", wire)
    return SimpleNamespace(dns=dns, wire=wire)


@pytest.fixture
def strict_client(app, make_app):
    """A client of an app as production runs it: webhooks to public addresses only."""
    return make_app(WEBHOOK_ALLOW_PRIVATE_TARGETS=False).test_client()


# The Stripe provider against a loopback fake of Stripe's API (tests/fakes/stripe_api.py).
WEBHOOK_SECRET = "whsec_test"


@pytest.fixture
def stripe_fake():
    from tests.fakes.stripe_api import FakeStripe

    fake = FakeStripe(api_key="sk_test_x").start()
    yield fake
    fake.stop()


@pytest.fixture
def stripe_config(stripe_fake):
    """The settings of an app on the stripe provider, fast to give up in tests."""
    return {
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": stripe_fake.url,
        "PAYMENT_TIMEOUT_SECONDS": 1,
        "PAYMENT_MAX_RETRIES": 1,
    }


@pytest.fixture
def stripe_app(app, make_app, stripe_config):
    """An app on the stripe provider (same database as `app`, emptied after the test)."""
    return make_app(**stripe_config)


@pytest.fixture
def stripe_client(stripe_app):
    return stripe_app.test_client()


@pytest.fixture
def paid(stripe_client, stripe_fake, customer, catalog):
    """paid(items) → the customer's order of `items`, charged by Stripe as its webhook said;
    `intent` is the charged intent as the fake keeps it."""
    from tests.fakes.stripe_events import deliver, event

    def pay(items=("3", "3", "8")):
        response = stripe_client.post("/orders/new", json=list(items), headers=customer)
        assert response.status_code == 201, response.get_json()
        order = response.get_json()
        intent = stripe_fake.set_status(order["clientSecret"].split("_secret")[0], "succeeded")
        assert deliver(stripe_client, event("payment_intent.succeeded", intent)).status_code == 200
        return {**order, "intent": intent}

    return pay


@pytest.fixture
def lost_creation(stripe_client, stripe_fake, customer, catalog):
    """A hidden order whose intent Stripe made, though the service never heard the answer."""
    from orders_service.orders.models import Order

    stripe_fake.mode, stripe_fake.hang_seconds = "hang", 2.0
    assert stripe_client.post("/orders/new", json=["3"], headers=customer).status_code == 503
    stripe_fake.mode = None
    [lost] = Order.select()
    return lost
