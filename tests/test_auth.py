"""Bearer tokens: every way a token can be wrong is a 401 with WWW-Authenticate."""

import base64
import datetime
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import JWT_SECRET

NOW = datetime.datetime.now(datetime.UTC)


def token_for(claims, key=JWT_SECRET, algorithm="HS256", headers=None):
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def get_orders(client, token):
    return client.get("/orders", headers={"Authorization": f"Bearer {token}"})


def assert_unauthorized(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.get_json()
    assert body["code"] == 401 and body["message"]


def test_no_token_is_401(client):
    assert_unauthorized(client.get("/orders"))


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer not.a.jwt", "token abc"]
)
def test_malformed_authorization_is_401(client, header):
    assert_unauthorized(client.get("/orders", headers={"Authorization": header}))


def test_expired_token_is_401(client):
    token = token_for({"sub": "7", "exp": NOW - datetime.timedelta(seconds=5)})
    response = get_orders(client, token)
    assert_unauthorized(response)
    assert "expired" in response.get_json()["message"]


def test_token_signed_with_another_key_is_401(client):
    token = token_for({"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}, key="x" * 40)
    assert_unauthorized(get_orders(client, token))


def test_alg_none_is_401(client):
    token = jwt.encode(
        {"sub": "7", "exp": NOW + datetime.timedelta(hours=1), "roles": ["admin"]},
        None,
        algorithm="none",
    )
    assert_unauthorized(get_orders(client, token))


@pytest.mark.parametrize("missing", ["sub", "exp"])
def test_a_required_claim_missing_is_401(client, missing):
    claims = {"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}
    del claims[missing]
    assert_unauthorized(get_orders(client, token_for(claims)))


@pytest.mark.parametrize("sub", ["abc", "7.5", "-3", "0", True, 7.5, ["7"]])
def test_a_sub_that_is_not_a_user_id_is_401(client, sub):
    assert_unauthorized(
        get_orders(client, token_for({"sub": sub, "exp": NOW + datetime.timedelta(hours=1)}))
    )


@pytest.mark.parametrize(
    "sub",
    ["9" * 5000, "007", "+7", " 7", "7 ", "7\n", "\u0667", "", 7.0, 2**63, str(2**63), -7, 0],
)
def test_a_sub_with_leading_zeros_too_many_digits_or_out_of_range_is_401(client, sub):
    assert_unauthorized(
        get_orders(client, token_for({"sub": sub, "exp": NOW + datetime.timedelta(hours=1)}))
    )


def test_a_sub_that_is_a_json_number_with_5000_digits_is_401(client):
    claims = {"sub": "SUB", "exp": NOW + datetime.timedelta(hours=1)}
    # PyJWT cannot write such a number (nor can json.dumps), so the payload is made by hand.
    token = hs256_by_hand(claims, JWT_SECRET.encode(), raw={'"SUB"': "9" * 5000})
    assert_unauthorized(get_orders(client, token))


@pytest.mark.parametrize("sub", [7, "7", 2**63 - 1, str(2**63 - 1)])
def test_sub_may_be_an_integer_or_a_string_of_digits(client, sub):
    token = token_for({"sub": sub, "exp": NOW + datetime.timedelta(hours=1)})
    assert get_orders(client, token).status_code == 200


def test_the_admin_role_makes_an_admin(client, customer):
    claims = {"sub": "1", "exp": NOW + datetime.timedelta(hours=1)}
    assert client.get("/leads/statuses", headers=customer).status_code == 403
    admin = token_for({**claims, "roles": ["admin"]})
    response = client.get("/leads/statuses", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200


def test_audience_and_issuer_are_checked_when_configured(make_app):
    app = make_app(JWT_AUDIENCE="orders", JWT_ISSUER="https://id.example")
    client = app.test_client()
    base = {"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}
    good = token_for({**base, "aud": "orders", "iss": "https://id.example"})
    assert get_orders(client, good).status_code == 200
    wrong_aud = token_for({**base, "aud": "billing", "iss": "https://id.example"})
    assert_unauthorized(get_orders(client, wrong_aud))
    wrong_iss = token_for({**base, "aud": "orders", "iss": "https://evil.example"})
    assert_unauthorized(get_orders(client, wrong_iss))


@pytest.fixture(scope="module")
def rsa_keys():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public_pem.decode()


def test_rs256_issuer_keys_verify_and_hs_confusion_is_refused(make_app, rsa_keys):
    private, public_pem = rsa_keys
    app = make_app(JWT_SECRET=None, JWT_PUBLIC_KEY=public_pem, JWT_ALGORITHM="RS256")
    client = app.test_client()
    claims = {"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}
    assert get_orders(client, token_for(claims, private, "RS256")).status_code == 200
    # An attacker signs HS256 with the public key as the HMAC secret (PyJWT won't, so by hand).
    assert_unauthorized(get_orders(client, hs256_by_hand(claims, public_pem.encode())))


def test_hs256_verifies_with_jwt_secret_when_a_public_key_is_also_set(make_app, rsa_keys):
    _, public_pem = rsa_keys
    app = make_app(JWT_PUBLIC_KEY=public_pem, JWT_ALGORITHM="HS256")
    claims = {"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}
    assert get_orders(app.test_client(), token_for(claims)).status_code == 200


def test_rs256_verifies_with_the_public_key_when_jwt_secret_is_also_set(make_app, rsa_keys):
    private, public_pem = rsa_keys
    app = make_app(JWT_PUBLIC_KEY=public_pem, JWT_ALGORITHM="RS256")
    client = app.test_client()
    claims = {"sub": "7", "exp": NOW + datetime.timedelta(hours=1)}
    assert get_orders(client, token_for(claims, private, "RS256")).status_code == 200
    assert_unauthorized(get_orders(client, token_for(claims)))


def hs256_by_hand(claims, secret, raw=None):
    """An HS256 token signed without PyJWT; `raw` replaces text in the JSON payload."""

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    payload = json.dumps({**claims, "exp": int(claims["exp"].timestamp())})
    for old, new in (raw or {}).items():
        payload = payload.replace(old, new)
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(payload.encode())
    )
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def test_token_command_prints_a_token_the_api_accepts(app, runner, client):
    result = runner.invoke(args=["token", "--user-id", "42", "--admin", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], options={"verify_sub": False})
    assert claims["sub"] == "42" and claims["roles"] == ["admin"]
    assert claims["exp"] - claims["iat"] == 60
    response = client.get("/leads/statuses", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_the_token_command_signs_with_the_configured_hs_algorithm(make_app):
    app = make_app(JWT_ALGORITHM="HS512", JWT_SECRET="k" * 64)
    result = app.test_cli_runner().invoke(args=["token", "--user-id", "7"])
    token = result.output.strip()
    assert jwt.get_unverified_header(token)["alg"] == "HS512"
    response = app.test_client().get("/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_a_valid_token_is_verified_once_across_requests(client, monkeypatch):
    from orders_service import auth

    calls = []
    monkeypatch.setattr(auth, "decode_token", lambda *a: calls.append(a) or jwt.decode(
        a[0], JWT_SECRET, algorithms=["HS256"]
    ))  # fmt: skip
    token = token_for({"sub": "41", "exp": NOW + datetime.timedelta(hours=1)})
    assert [get_orders(client, token).status_code for _ in range(3)] == [200, 200, 200]
    assert len(calls) == 1


def test_a_remembered_token_is_refused_once_it_expires(client):
    token = token_for({"sub": "42", "exp": int(time.time()) + 2})
    assert get_orders(client, token).status_code == 200
    time.sleep(
        max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.05
    )
    response = get_orders(client, token)
    assert_unauthorized(response)
    assert response.get_json()["message"] == "The token has expired."


@pytest.mark.parametrize(
    "spell",
    [str, lambda t: f" {t}", lambda t: "".join(chr(0x0660 + int(d)) for d in str(t))],
    ids=["digits", "leading-space", "arabic-indic-digits"],
)
def test_an_exp_written_as_a_string_is_401_on_every_use(client, spell):
    # PyJWT checks int(exp), which takes each of these; a NumericDate is a JSON number.
    token = token_for({"sub": "44", "exp": spell(int(time.time()) + 3600)})

    answers = [get_orders(client, token) for _ in range(3)]

    for response in answers:
        assert_unauthorized(response)
        assert response.get_json()["message"] == "The token is invalid."


def test_an_exp_with_a_fraction_of_a_second_is_accepted_on_every_use(client):
    token = token_for({"sub": "45", "exp": time.time() + 3600.5})
    assert [get_orders(client, token).status_code for _ in range(3)] == [200, 200, 200]


def test_a_token_remembered_under_one_key_is_checked_again_under_another(make_app):
    token = token_for({"sub": "43", "exp": NOW + datetime.timedelta(hours=1)})
    assert get_orders(make_app().test_client(), token).status_code == 200
    rotated = make_app(JWT_SECRET="another-secret-0123456789abcdef0123456789abcdef")
    assert_unauthorized(get_orders(rotated.test_client(), token))
