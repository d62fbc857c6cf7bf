"""Hostile input and access against the live service: 4xx JSON for every bad body, every forged
or misplaced token refused, another customer's orders hidden, client-sent prices refused."""

import datetime
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from orders_service.orders.models import Order
from tests.conftest import CUSTOMER_ID, JWT_SECRET
from tests.leads_board import add_lead
from tests.reliability.live import LiveClient
from tests.test_auth import hs256_by_hand, rsa_keys  # noqa: F401 (a fixture)

pytestmark = pytest.mark.reliability

NOW = datetime.datetime.now(datetime.UTC)
HOUR = datetime.timedelta(hours=1)
JSON = {"Content-Type": "application/json"}

# Raw bodies: broken, truncated, too deep, too large, not UTF-8, not JSON at all.
RAW_BODIES = [
    b"",
    b"{",
    b'{"orderId": 1, "status": ',
    b'["3", "8"',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    b"[" + b"9" * 10_000 + b"]",
    b"\xff\xfe\x00[",
    b"NaN",
    b"[Infinity]",
    b"x" * (1024 * 1024 + 10),
]
# JSON values that are valid JSON but wrong: types, ranges, nulls, strings that look like SQL.
LONG = "x" * 100_000
VALUES = [
    None,
    True,
    1.5,
    "3",
    [],
    {},
    [None],
    [1.5],
    [-1],
    [0],
    [2**63],
    [10**30],
    [-(10**30)],
    ["1e3"],
    ["3 OR 1=1"],
    ["3; DROP TABLE orders;--"],
    [{"id": 3, "quantity": 1.5}],
    [{"id": 3, "quantity": -2}],
    [{"id": 3, "quantity": 10**9}],
    {"orderId": "1 OR 1=1", "status": "paid"},
    {"orderId": 1.0, "status": "paid"},
    {"orderId": None, "status": None},
    {"orderId": 1, "status": "paid'; --"},
    {"orderId": 1, "status": "paid", "admin": True},
    [{"id": 1, "statusOrder": 1.5}],
    [{"id": 1, "statusOrder": 2**70}],
    [{"id": "1", "statusOrder": 1}],
    {"name": LONG},
    {"name": "Nul\u0000byte"},
    {"name": "lone \ud800 surrogate"},
    {"name": "\u202eunicode ☃ \U0001d518 \U0001f600 " + "ü" * 150},
    {"name": "x", "email": "a@b.c", "statusId": 2**64},
    {"name": "'; DROP TABLE lead_status;--", "email": "' OR 1=1 --@x.io"},
    {"sku": "S" * 5000, "name": "n", "priceInCents": -100},
    {"sku": "SKU-1", "name": "n", "priceInCents": 1e20},
    {"sku": "SKU-2", "name": None, "priceInCents": 100, "active": "yes"},
]
WRONG_TYPES = [
    ("text/plain", b'["3"]'),
    ("application/x-www-form-urlencoded", b"orderId=1&status=paid"),
    ("application/xml", b"<order><id>1</id></order>"),
    ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n1'),
    ("application/json; charset=utf-16", '["3"]'.encode("utf-16")),
]
BODY_ENDPOINTS = [
    ("POST", "/orders/new"),
    ("POST", "/orders/status-update"),
    ("PUT", "/leads/statuses/order"),
    ("POST", "/leads/statuses"),
    ("PATCH", "/leads/statuses/1"),
    ("POST", "/leads"),
    ("PATCH", "/leads/1"),
    ("POST", "/products"),
    ("PATCH", "/products/1"),
]


def refused_with_json(reply, check, what):
    """A 4xx in the API's error shape (or a 2xx for data that is merely unusual); never a 5xx."""
    status = reply.status_code
    if 200 <= status < 300:
        return
    try:
        body = json.loads(reply.data)
    except ValueError:
        body = None
    if not 400 <= status < 500 or not (
        isinstance(body, dict) and body.get("code") == status and body.get("message")
    ):
        # Not the API's error shape is a schema violation; a wrong status, another failure.
        kind = "other" if not 400 <= status < 500 else "schema violations"
        check.fail(f"{what}: {status} {reply.data[:200]!r}", kind=kind, status=status)


REFUSALS = (401, 403, 404)


def let_through(check, reply, what, refusals=REFUSALS):
    """A forged or misplaced request not answered as expected: accepted (a 2xx, or a 4xx that
    shows the guard let it through), unless it was refused all the same with another status
    (one of `refusals`: "other") or failed (a 5xx: only noted, saw() counted a server error)."""
    status = reply.status_code
    kind = "other" if status in refusals else "forged accepted"
    check.fail(f"{what}: {status}", kind=kind, status=status)


def send_body(client, method, path, raw, headers):
    """The reply, or None when a body over 1 MiB was cut short by the server's answer.

    The service answers 413 without reading such a body and closes the connection; a client
    still sending then gets EPIPE or a reset instead of the answer, depending on timing.
    """
    try:
        return client.open(method, path, data=raw, headers=headers)
    except (BrokenPipeError, ConnectionResetError):
        if len(raw) <= 1024 * 1024:
            raise
        return None


def seed_board(client, tokens):
    add_lead(client, tokens["admin"], "Ada Lovelace")


def test_hostile_bodies(live, database_url, tokens, check):
    _, client = live(database_url)
    seed_board(client, tokens)
    admin = tokens["admin"]
    for method, path in BODY_ENDPOINTS:
        for raw in RAW_BODIES:
            reply = send_body(client, method, path, raw, {**admin, **JSON})
            if reply is None:
                continue  # over 1 MiB, refused before it was all sent (the 413 is read below)
            no_change = method == "PATCH" and raw == b""  # an empty PATCH changes nothing
            if not 400 <= reply.status_code < 500 and not no_change:
                check.fail(
                    f"{method} {path} raw {raw[:30]!r}: {reply.status_code}",
                    status=reply.status_code,
                )
            refused_with_json(reply, check, f"{method} {path} raw {raw[:30]!r}")
        for value in VALUES:
            reply = client.open(method, path, json=value, headers=admin)
            refused_with_json(reply, check, f"{method} {path} {str(value)[:60]}")
        for content_type, raw in WRONG_TYPES:
            headers = {**admin, "Content-Type": content_type}
            reply = client.open(method, path, data=raw, headers=headers)
            if reply.status_code not in (400, 415):
                check.fail(
                    f"{method} {path} as {content_type}: {reply.status_code}",
                    status=reply.status_code,
                )
            refused_with_json(reply, check, f"{method} {path} as {content_type}")
    oversize_cart = b"[" + b'"3",' * 300_000 + b'"3"]'
    for _ in range(5):
        oversize = send_body(client, "POST", "/orders/new", oversize_cart, {**admin, **JSON})
        if oversize is not None:
            break
    status = oversize and oversize.status_code
    if status != 413:
        check.fail(f"a body over 1 MiB: {status or 'no answer in 5 tries'}", status=status)
    assert check.failures == 0, "\n".join(check.notes)


def test_client_sent_prices_are_refused(live, database_url, tokens, check):
    app, client = live(database_url)
    customer = tokens["customer"]
    forged = [
        [{"id": 3, "quantity": 1, "priceInCents": 1}],
        [{"id": 3, "quantity": 1, "amountInCents": 1}],
        [{"id": 3, "price": 1}],
    ]
    for cart in forged:
        reply = client.post("/orders/new", json=cart, headers=customer)
        if reply.status_code != 400:
            let_through(check, reply, f"a client price: {cart}", refusals=range(400, 500))
    honest = client.post("/orders/new", json=[{"id": 3, "quantity": 2}], headers=customer)
    assert honest.status_code == 201
    with app.app_context():
        orders = list(Order.select())
    if [order.amount_in_cents for order in orders] != [2 * 4999]:
        amounts = [order.amount_in_cents for order in orders]
        check.fail(f"stored amounts {amounts}, not [{2 * 4999}]", kind="forged accepted")
    assert check.failures == 0, "\n".join(check.notes)


# Open to customers, with a 403 for what a customer may not ask: another user's orders
# (?userId), a status change other than canceling their own pending order, a lead's column.
CUSTOMERS_403 = {("get", "/orders"), ("post", "/orders/status-update"), ("post", "/leads")}
WEBHOOK_IDS = ("endpoint_id", "event_id", "delivery_id")


def protected_operations(client):
    """(method, path with ids filled in, admin only?) for every operation that needs a token."""
    spec = client.get("/openapi.json").get_json()
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            security = operation.get("security") or []
            if not security or {} in security:
                continue
            concrete = path
            for parameter in ("order_id", "status_id", "lead_id", "product_id", *WEBHOOK_IDS):
                concrete = concrete.replace("{" + parameter + "}", "1")
            admin_only = "403" in operation["responses"] and (method, path) not in CUSTOMERS_403
            operations.append((method.upper(), concrete, admin_only))
    return operations


def call(client, method, path, headers):
    """The operation with an empty JSON body where it takes one: auth is checked before it."""
    if method in ("POST", "PUT", "PATCH"):
        return client.open(method, path, json=[], headers=headers)
    return client.open(method, path, headers=headers)


def bearer_header(token):
    return {"Authorization": f"Bearer {token}"}


def claims(**extra):
    return {"sub": str(CUSTOMER_ID), "exp": NOW + HOUR, **extra}


def alg_none(payload):
    return jwt.encode({**payload, "roles": ["admin"]}, key=None, algorithm="none")


def test_forged_tokens_and_misplaced_callers(live, database_url, tokens, check):
    _, client = live(database_url)
    secret = JWT_SECRET
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "none": None,
        "garbage": "Bearer not.a.jwt",
        "basic": "Basic dXNlcjpwYXNz",
        "expired": jwt.encode(claims(exp=NOW - HOUR, roles=["admin"]), secret, "HS256"),
        "alg none": alg_none(claims()),
        "wrong key": jwt.encode(claims(roles=["admin"]), "another-secret-" * 4, "HS256"),
        "no exp": jwt.encode({"sub": "1", "roles": ["admin"]}, secret, "HS256"),
        "RS256 to an HS256 service": jwt.encode(claims(roles=["admin"]), private, "RS256"),
        "sub of 5000 digits": jwt.encode(claims(sub="9" * 5000, roles=["admin"]), secret, "HS256"),
        "sub with a leading zero": jwt.encode(claims(sub="01", roles=["admin"]), secret, "HS256"),
    }
    operations = protected_operations(client)
    assert len(operations) >= 15
    for method, path, admin_only in operations:
        for name, token in forged.items():
            header = token if token is None or " " in token else f"Bearer {token}"
            headers = {"Authorization": header} if header else {}
            reply = call(client, method, path, headers)
            challenge = reply.headers.get("WWW-Authenticate", "")
            if reply.status_code != 401 or not challenge.startswith("Bearer"):
                let_through(check, reply, f"{name} token on {method} {path}", refusals=(401,))
        if admin_only:
            reply = call(client, method, path, tokens["customer"])
            if reply.status_code != 403:
                let_through(check, reply, f"customer on {method} {path}", refusals=(401,))
    assert check.failures == 0, "\n".join(check.notes)


def test_hs_rs_confusion_and_wrong_audience(
    prepare,
    servers,
    database_url,
    fake_stripe,
    rsa_keys,  # noqa: F811 (the fixture, imported from test_auth)
    check,
):
    prepare(database_url)
    private, public_pem = rsa_keys
    secret = JWT_SECRET
    # An RS256 issuer: its public key used as an HMAC secret is refused; RS256 itself passes.
    rs_env = {"JWT_SECRET": "", "JWT_PUBLIC_KEY": public_pem, "JWT_ALGORITHM": "RS256"}
    (rs_server,) = servers(database_url, fake_stripe, **rs_env)
    rs_client = LiveClient([rs_server], check)
    good = rs_client.get("/orders", headers=bearer_header(jwt.encode(claims(), private, "RS256")))
    confusion = hs256_by_hand(claims(roles=["admin"]), public_pem.encode())
    confused = rs_client.get("/orders", headers=bearer_header(confusion))
    assert good.status_code == 200
    if confused.status_code != 401:
        let_through(check, confused, "HS256 signed with the RS public key")

    # An audience: tokens for another audience, or none, are refused.
    (aud_server,) = servers(database_url, fake_stripe, JWT_AUDIENCE="orders")
    aud_client = LiveClient([aud_server], check)
    for name, aud in (("right", "orders"), ("wrong", "billing"), ("missing", None)):
        payload = claims(**({"aud": aud} if aud else {}))
        token = jwt.encode(payload, secret, "HS256")
        reply = aud_client.get("/orders", headers=bearer_header(token))
        expected = 200 if name == "right" else 401
        if reply.status_code != expected and name == "right":
            check.fail(f"{name} audience: {reply.status_code}", status=reply.status_code)
        elif reply.status_code != expected:
            let_through(check, reply, f"{name} audience")
    assert check.failures == 0, "\n".join(check.notes)


def test_another_customers_orders_are_hidden(live, database_url, tokens, check):
    app, client = live(database_url)
    mine = client.post("/orders/new", json=["3"], headers=tokens["customer"]).get_json()
    other = tokens["other"]
    attempts = [
        client.get(f"/orders/{mine['id']}", headers=other),
        client.get(f"/orders/{mine['id']}/history", headers=other),
        client.post(
            "/orders/status-update",
            json={"orderId": mine["id"], "status": "canceled"},
            headers=other,
        ),
    ]
    for reply in attempts:
        if reply.status_code != 404:
            let_through(check, reply, f"another customer's order ({reply.get_json()})")
    listed = client.get("/orders", headers=other)
    if listed.status_code != 200:
        check.fail(f"another customer's list: {listed.status_code}", status=listed.status_code)
    elif listed.get_json():
        check.fail(f"another customer's list: {listed.get_json()}", kind="forged accepted")
    filtered = client.get(f"/orders?userId={CUSTOMER_ID}", headers=other)
    if filtered.status_code != 403:
        let_through(check, filtered, "?userId of another customer")
    with app.app_context():
        if Order.get_by_id(mine["id"]).status != "pending":
            check.fail("another customer canceled the order", kind="forged accepted")
    assert check.failures == 0, "\n".join(check.notes)


def test_customers_cannot_probe_the_crm_or_steer_links(live, database_url, tokens, check):
    _, client = live(database_url)
    seed_board(client, tokens)
    before = client.get("/leads", headers=tokens["admin"]).get_json()
    known = {"name": "Mallory", "email": "ADA.lovelace@example.com", "source": "probe"}
    new = {"name": "Bob", "email": "bob@example.com"}
    answers = [
        client.post("/leads", json=body, headers=tokens["customer"]) for body in (known, new)
    ]
    if [a.status_code for a in answers] != [202, 202] or answers[0].data != answers[1].data:
        statuses = [a.status_code for a in answers]
        check.fail(f"known and new emails answered {statuses}", kind="forged accepted")
    after = client.get("/leads", headers=tokens["admin"]).get_json()
    if after[1:] != before or [lead["email"] for lead in after[:1]] != [new["email"]]:
        check.fail(f"leads before {before}, after {after}", kind="forged accepted")
    steered = client.post("/leads", json={**new, "statusId": 2}, headers=tokens["customer"])
    if steered.status_code != 403:
        let_through(check, steered, "a customer's statusId")
    for host in ("evil.example", "evil.example:443"):
        listing = client.get("/products?limit=2", headers={"Host": host})
        if not listing.headers.get("Link", "").startswith("</products?"):
            check.fail(f"Host {host}: Link {listing.headers.get('Link')}", kind="forged accepted")
    assert check.failures == 0, "\n".join(check.notes)
