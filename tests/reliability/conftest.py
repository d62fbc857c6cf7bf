"""Fixtures for the reliability suite: live gunicorn on a prepared database, a Stripe fake, a
check per test whose counts go into the table `make reliability` prints."""

import os
from types import SimpleNamespace

import pytest

from orders_service.database import apply_migrations, db
from tests.conftest import ADMIN_ID, CUSTOMER_ID, JWT_SECRET, OTHER_ID, bearer, empty_tables
from tests.fakes.stripe_api import FakeStripe
from tests.reliability import report
from tests.reliability.bouncer import PgBouncer
from tests.reliability.live import LiveClient
from tests.reliability.pg import PrivatePostgres
from tests.servers import Gunicorn, server_env

ROWS = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    setattr(item, f"rep_{outcome.when}", outcome)
    return outcome


def pytest_report_header(config):
    return f"schemathesis seed: {report.FUZZ_SEED} (replay: SCHEMATHESIS_SEED={report.FUZZ_SEED})"


def pytest_terminal_summary(terminalreporter):
    if not ROWS:
        return
    report.save(ROWS)
    terminalreporter.section("reliability")
    terminalreporter.write_line(report.table(ROWS))
    terminalreporter.write_line(f"(rows also in {report.RESULTS_FILE})")
    terminalreporter.write_line(f"schemathesis seed: {report.FUZZ_SEED}")


@pytest.fixture
def check(request):
    """This test's row in the table: named after the test, failed if the test failed."""
    name = request.node.name.removeprefix("test_")
    row = report.Check(name)
    yield row
    call = getattr(request.node, "rep_call", None)
    row.passed = bool(call and call.passed)
    ROWS.append(row.as_row())


@pytest.fixture(scope="session")
def pg_url():
    """PostgreSQL: TEST_DATABASE_URL when it is one, else a private cluster for the session."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if url.startswith("postgres"):
        yield url
        return
    with PrivatePostgres() as cluster:
        yield cluster.url


@pytest.fixture(scope="session")
def bouncer_url(pg_url):
    """PgBouncer in transaction pooling mode in front of pg_url's database, for the session."""
    with PgBouncer(pg_url) as bouncer:
        yield bouncer.url


@pytest.fixture
def prepare(make_app):
    """prepare(url) → an app bound to `url`, migrated, emptied and seeded with the demo catalog.

    The app gives the test the models to look at what the servers stored.
    """
    prepared = []

    def prepare_database(url):
        app = make_app(DATABASE_URL=url)
        with app.app_context():
            apply_migrations()
            empty_tables()
        result = app.test_cli_runner().invoke(args=["seed"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            db.close()  # back to the pool, which checks it before handing it out again
        prepared.append(app)
        return app

    yield prepare_database
    for app in prepared:
        with app.app_context():
            if hasattr(db.obj, "close_all"):
                db.close_all()  # the pool's connections, before a private cluster goes away


@pytest.fixture
def fake_stripe():
    fake = FakeStripe(api_key="sk_test_x").start()
    yield fake
    fake.stop()


def stripe_env(fake, **overrides):
    """A production environment on the Stripe provider, pointed at the loopback fake."""
    return {
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": fake.api_key,
        "STRIPE_WEBHOOK_SECRET": "whsec_test",
        "STRIPE_API_BASE": fake.url,
        "PAYMENT_TIMEOUT_SECONDS": "2",
        "PAYMENT_MAX_RETRIES": "1",
        **overrides,
    }


@pytest.fixture
def servers(tmp_path):
    """start(url, fake, count=1, **env) → started Gunicorns on `url`; all stopped afterwards."""
    started = []

    def start(url, fake, count=1, **env):
        batch = [
            Gunicorn(
                server_env(url, **stripe_env(fake, **env)),
                tmp_path / f"gunicorn-{len(started) + i}.log",
            )
            for i in range(count)
        ]
        started.extend(batch)
        for server in batch:
            server.start()
        return batch

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live(prepare, servers, fake_stripe, check):
    """live(url, count=1, through=None, **env) → (app, LiveClient) for fresh servers on a seeded
    database; the servers reach it `through` another URL when given (PgBouncer), the app directly.
    """

    def start(url, count=1, through=None, **env):
        app = prepare(url)
        return app, LiveClient(servers(through or url, fake_stripe, count=count, **env), check)

    return start


@pytest.fixture(scope="session")
def tokens():
    """Authorization headers signed with the servers' JWT_SECRET (as in tests/conftest.py)."""
    app = SimpleNamespace(config={"JWT_SECRET": JWT_SECRET})
    return {
        "admin": bearer(app, ADMIN_ID, admin=True),
        "customer": bearer(app, CUSTOMER_ID),
        "other": bearer(app, OTHER_ID),
    }
