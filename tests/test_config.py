"""Production refuses to start with unsafe settings; development relaxes the checks."""

import pytest

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
