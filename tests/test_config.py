"""Production refuses to start with unsafe settings; development relaxes the checks."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from orders_service.config import DEV_JWT_SECRET, Config, ConfigError


def test_production_refuses_to_start_without_a_jwt_key(make_app):
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        make_app(JWT_SECRET=None)


def test_production_refuses_the_local_provider_unless_asked_for(make_app):
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER=local"):
        make_app(PAYMENT_PROVIDER=None)


def test_production_refuses_stripe_without_a_secret_key(make_app):
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY"):
        make_app(PAYMENT_PROVIDER="stripe")


def test_an_unknown_payment_provider_is_refused(make_app):
    with pytest.raises(ConfigError, match="PAYMENT_PROVIDER"):
        make_app(PAYMENT_PROVIDER="paypal")


def test_development_gets_a_dev_key_and_the_local_provider(monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "development")
    for name in ("JWT_SECRET", "JWT_PUBLIC_KEY", "PAYMENT_PROVIDER", "STRIPE_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = Config(str(tmp_path)).as_dict()
    assert config["JWT_SECRET"] == DEV_JWT_SECRET
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'orders.db'}"


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CURRENCY", "EUR")
    monkeypatch.setenv("CORS_ORIGINS", "https://shop.example, https://admin.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    config = Config(str(tmp_path)).as_dict()
    assert config["CURRENCY"] == "eur"
    assert config["CORS_ORIGINS"] == ["https://shop.example", "https://admin.example"]
    assert config["DATABASE_URL"] == "postgresql://u@h/db"


@pytest.mark.parametrize(
    ("app_env", "setting", "allowed"),
    [
        ("production", None, False),
        ("development", None, True),
        ("production", "true", True),
        ("development", "false", False),
    ],
)
def test_webhooks_to_private_targets_are_allowed_in_development_only_unless_set(
    monkeypatch, tmp_path, app_env, setting, allowed
):
    monkeypatch.setenv("APP_ENV", app_env)
    monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", raising=False)
    if setting is not None:
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE_TARGETS", setting)

    assert Config(str(tmp_path)).WEBHOOK_ALLOW_PRIVATE_TARGETS is allowed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM must be one of"),
        ({"JWT_ALGORITHM": "RS256"}, "needs JWT_PUBLIC_KEY"),
        (
            {"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n"},
            "cannot be used",
        ),
        ({"JWT_ALGORITHM": "HS512", "JWT_SECRET": None, "JWT_PUBLIC_KEY": "x"}, "JWT_SECRET"),
    ],
)
def test_token_settings_that_cannot_verify_a_token_refuse_to_start(make_app, overrides, message):
    with pytest.raises(ConfigError, match=message):
        make_app(**overrides)


@pytest.mark.parametrize(
    ("algorithm", "secret"),
    [
        ("HS256", "secret"),
        ("HS256", "a"),
        ("HS256", "s" * 31),
        ("HS256", "é" * 15 + "s"),  # 31 bytes in UTF-8
        ("HS384", "s" * 47),
        ("HS512", "s" * 63),
        ("HS256", DEV_JWT_SECRET),
    ],
)
def test_production_refuses_a_jwt_secret_shorter_than_its_hash_or_the_dev_default(
    make_app, algorithm, secret
):
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        make_app(JWT_ALGORITHM=algorithm, JWT_SECRET=secret)


@pytest.mark.parametrize(
    ("algorithm", "secret"),
    [("HS256", "s" * 32), ("HS256", "é" * 16), ("HS384", "s" * 48), ("HS512", "s" * 64)],
)
def test_production_takes_a_jwt_secret_as_long_as_its_hash(make_app, algorithm, secret):
    assert make_app(JWT_ALGORITHM=algorithm, JWT_SECRET=secret).config["JWT_SECRET"] == secret


def test_development_takes_a_short_jwt_secret(make_app):
    assert make_app(APP_ENV="development", JWT_SECRET="secret").config["JWT_SECRET"] == "secret"


def test_a_private_key_given_as_jwt_public_key_refuses_to_start(make_app):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY holds a private key"):
        make_app(JWT_ALGORITHM="RS256", JWT_PUBLIC_KEY=pem)


@pytest.mark.parametrize("secret", [" ", "\t", "whsec_test\n", " whsec_test"])
def test_production_refuses_a_blank_or_padded_webhook_secret(make_app, secret):
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        make_app(STRIPE_WEBHOOK_SECRET=secret)


@pytest.mark.parametrize("currency", ["euro", "eu", "e1r", "ëur", " usd", "us d"])
def test_production_refuses_a_currency_that_is_not_three_ascii_letters(
    make_app, monkeypatch, currency
):
    monkeypatch.setenv("CURRENCY", currency)
    with pytest.raises(ConfigError, match="CURRENCY"):
        make_app(CURRENCY=Config("/nonexistent").CURRENCY)


def test_a_currency_in_capitals_is_lower_cased_and_accepted(make_app, monkeypatch):
    monkeypatch.setenv("CURRENCY", "EUR")
    assert make_app(CURRENCY=Config("/nonexistent").CURRENCY).config["CURRENCY"] == "eur"


@pytest.mark.parametrize(
    "name",
    [
        "WEBHOOK_TIMEOUT_SECONDS",
        "EVENT_RETENTION_DAYS",
        "MAX_PENDING_ORDERS",
        "PAYMENT_TIMEOUT_SECONDS",
        "DB_POOL_SIZE",
    ],
)
@pytest.mark.parametrize("value", [0, -1])
def test_a_setting_that_must_be_positive_refuses_to_start_at_zero_or_less(make_app, name, value):
    with pytest.raises(ConfigError, match=f"{name} must be greater than 0"):
        make_app(**{name: value})


def stopped_by_config(command, **env):
    """(exit status, stdout, stderr) of `command` run from the project with a bad config."""
    import subprocess
    import sys

    from tests.servers import ROOT, server_env

    environ = server_env("sqlite:///unused.db", **env)
    environ.pop("JWT_SECRET", None)  # production without a key to verify tokens
    run = subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return run.returncode, run.stdout, run.stderr


@pytest.mark.parametrize(
    "args",
    [("routes",), ("db", "upgrade"), ("events", "deliver"), ("token", "--user-id", "1")],
)
def test_a_flask_command_with_a_configuration_error_says_one_line_and_exits_2(args):
    status, out, err = stopped_by_config(("flask", "--app", "wsgi", *args))

    assert status == 2
    assert err.splitlines() == [err.strip()], err
    assert err.startswith("orders-service cannot start: set JWT_SECRET")
    assert "Traceback" not in out + err


def test_a_setting_that_is_not_a_number_says_one_line_and_exits_2():
    status, _, err = stopped_by_config(("flask", "--app", "wsgi", "routes"), DB_POOL_SIZE="many")

    assert status == 2
    assert (
        err.strip()
        == "orders-service cannot start: DB_POOL_SIZE must be a whole number, not 'many'"
    )


@pytest.mark.slow
def test_gunicorn_with_a_configuration_error_stops_with_one_line_and_status_2():
    status, out, err = stopped_by_config(("gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"))

    assert status == 2
    lines = (out + err).splitlines()
    assert [line for line in lines if "cannot start" in line] == [
        line for line in lines if line.startswith("orders-service cannot start: set JWT_SECRET")
    ]
    assert len([line for line in lines if "cannot start" in line]) == 1
    assert "Traceback" not in out + err
    assert "Booting worker" not in out + err  # stopped in the master, before any worker
