"""Every error is JSON with a message; bad input is never a 5xx; the API describes itself."""

import json
import re

import pytest


def post_raw_json(client, url, body, headers):
    """POST `body` exactly as given (text or bytes), declared as JSON."""
    return client.post(url, data=body, headers={**headers, "Content-Type": "application/json"})


def assert_error(response, code):
    assert response.status_code == code
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code and body["status"] and body["message"]
    return body


def test_unknown_url_is_json_404(client):
    assert_error(client.get("/no/such/thing"), 404)


def test_wrong_method_is_json_405_with_allow(client):
    response = client.delete("/orders/new")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]


def test_an_unexpected_failure_is_json_500_without_details(make_app, migrated):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals")

    body = assert_error(app.test_client().get("/boom"), 500)
    assert "secret" not in body["message"]


def test_malformed_json_is_400(client, customer):
    response = post_raw_json(client, "/orders/new", '["3",', customer)
    assert "not valid JSON" in assert_error(response, 400)["message"]


def test_invalid_utf8_is_400(client, customer):
    response = post_raw_json(client, "/orders/new", b'["\xff"]', customer)
    assert_error(response, 400)


@pytest.mark.parametrize("text", ["nul\u0000byte", "half \ud800 a pair"])
def test_text_no_database_can_store_is_400_not_500(client, admin, text):
    body = json.dumps({"name": text})  # escaped as \u0000 and \ud800, as a client would
    response = post_raw_json(client, "/leads/statuses", body, admin)
    assert "NUL" in assert_error(response, 400)["message"]
    search = client.get("/leads", query_string={"q": "a\u0000b"}, headers=admin)
    assert_error(search, 400)


def test_an_unknown_query_argument_is_400_not_ignored(client, admin):
    body = assert_error(client.get("/orders?userid=7", headers=admin), 400)
    assert "userid" in body["message"]


def test_a_body_that_is_not_json_is_415(client, customer):
    response = client.post(
        "/orders/new", data="3,3,8", headers={**customer, "Content-Type": "text/csv"}
    )
    assert_error(response, 415)


def test_a_missing_body_is_400(client, customer):
    assert_error(client.post("/orders/new", headers=customer), 400)


def test_a_body_over_1_mib_is_413(client, customer):
    body = '["3"' + ',"3"' * 300_000 + "]"
    response = post_raw_json(client, "/orders/new", body, customer)
    assert_error(response, 413)


@pytest.mark.parametrize(
    "body",
    [
        '{"orderId": 1e400, "status": "paid"}',
        '{"orderId": 99999999999999999999999, "status": "x"}',
        '{"orderId": null, "status": null}',
        "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
        '"\\u0000"',
    ],
)
def test_odd_json_is_400_not_500(client, admin, body):
    response = post_raw_json(client, "/orders/status-update", body, admin)
    assert_error(response, 400)


def test_validation_errors_name_the_fields(client, admin):
    body = assert_error(
        client.post("/orders/status-update", json={"orderId": "x"}, headers=admin), 400
    )
    assert set(body["errors"]["json"]) == {"orderId", "status"}
    assert "orderId" in body["message"]


def test_openapi_describes_every_endpoint_with_the_documented_examples(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert {
        "/orders",
        "/orders/{order_id}",
        "/orders/{order_id}/history",
        "/orders/new",
        "/orders/status-update",
        "/products",
        "/products/{product_id}",
        "/leads/statuses",
        "/leads/statuses/order",
        "/healthz",
        "/readyz",
    } <= set(spec["paths"])
    new = spec["paths"]["/orders/new"]["post"]
    assert new["requestBody"]["content"]["application/json"]["example"] == ["3", "3", "8"]
    assert {"201", "400", "401", "409"} <= set(new["responses"])
    update = spec["paths"]["/orders/status-update"]["post"]
    assert update["requestBody"]["content"]["application/json"]["example"] == {
        "orderId": 123,
        "status": "Pending",
    }
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def test_every_operation_documents_its_statuses_and_none_is_a_catch_all(client):
    spec = client.get("/openapi.json").get_json()
    documented = {label: set(op["responses"]) for label, op in operations(spec)}
    assert len(documented) >= 20
    # No `default`: a status an operation does not document is a finding for schemathesis.
    assert not [label for label, statuses in documented.items() if "default" in statuses]
    # The database may be down for any operation; a 500 is a bug, never documented.
    assert not [label for label, statuses in documented.items() if "503" not in statuses]
    assert not [label for label, statuses in documented.items() if "500" in statuses]
    # A JSON body may be too large or not JSON (the webhook reads any body, raw, as Stripe sends).
    for label, operation in operations(spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content and label != "POST /webhooks/stripe":
            assert {"400", "413", "415"} <= documented[label], label
    assert {"201", "400", "401", "409", "413", "415", "429", "502", "503"} == documented[
        "POST /orders/new"
    ]
    assert {"200", "400", "401", "403", "404", "409", "413", "415", "502", "503"} == documented[
        "POST /orders/status-update"
    ]
    assert {"403"} <= documented["GET /orders"]
    assert {"200", "503"} == documented["GET /readyz"]
    assert {"200", "400", "413", "503"} <= documented["POST /webhooks/stripe"]
    assert {"401", "403", "404", "409"} <= documented["DELETE /leads/statuses/{status_id}"]


def test_docs_page_is_served(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger" in response.data.lower()


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "[" + "9" * 5000 + "]",
        "[1e999999]",
        '["\\ud800"]',
    ],
)
def test_pathological_json_is_400_not_500(client, customer, body):
    response = post_raw_json(client, "/orders/new", body, customer)
    assert_error(response, 400)


@pytest.mark.parametrize(
    "url", ["/orders/" + "9" * 30, "/orders/0", "/orders/-1", "/products/" + "9" * 20]
)
def test_ids_out_of_range_are_404(client, customer, url):
    assert_error(client.get(url, headers=customer), 404)


@pytest.mark.parametrize("query", ["starting_after=" + "9" * 30, "userId=" + "9" * 30])
def test_cursors_out_of_range_are_400(client, admin, query):
    assert_error(client.get(f"/orders?{query}", headers=admin), 400)


def integer_query_arguments(client):
    """(URL path, name) of every integer a GET reads from its query string, per the API document;
    a path's own parameters are filled with 1."""
    paths = client.get("/openapi.json").get_json()["paths"]
    return [
        (re.sub(r"\{[^}]*\}", "1", path), parameter["name"])
        for path, operations in paths.items()
        for parameter in operations.get("get", {}).get("parameters", [])
        if parameter["in"] == "query" and parameter["schema"].get("type") == "integer"
    ]


@pytest.mark.parametrize("value", ["7%0B", "%207", "7_0", "%D9%A7", "+7", "%2B7"])
def test_every_query_integer_is_ascii_digits_only(client, admin, value):
    arguments = integer_query_arguments(client)

    answers = {
        (path, name): client.get(f"{path}?{name}={value}", headers=admin)
        for path, name in arguments
    }

    assert {("/orders", "userId"), ("/leads", "statusId"), ("/events", "orderId")} <= set(answers)
    assert {where: r.status_code for where, r in answers.items() if r.status_code != 400} == {}
    for response in answers.values():
        assert_error(response, 400)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/products", {"sku": "A\u0000", "name": "x", "priceInCents": 100}),
        ("post", "/leads", {"name": "a\u0000b", "email": "nul@example.com"}),
        ("post", "/leads/statuses", {"name": "x\u0000"}),
        ("get", "/leads?q=%00", None),
        ("get", "/orders?status=paid%00", None),
    ],
)
def test_nul_characters_are_400_on_every_database(client, admin, method, url, body):
    response = getattr(client, method)(url, json=body, headers=admin)
    assert_error(response, 400)


LOCATIONS = {"json", "query", "headers", "view_args", "path"}


def assert_errors_are_objects(body, what):
    """`errors`, when given, is an object, and so is each location in it (json, query…)."""
    if "errors" not in body:
        return
    errors = body["errors"]
    assert isinstance(errors, dict), (what, errors)
    for location in LOCATIONS & set(errors):
        assert isinstance(errors[location], dict), (what, errors)
        for messages in errors[location].values():
            assert isinstance(messages, list | dict), (what, errors)


def test_errors_is_always_an_object_and_each_location_in_it_too(
    make_app, migrated, admin, customer
):
    app = make_app(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)  # the refusal of a private target
    client = app.test_client()
    assert app.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    status = client.post("/leads/statuses", json={"name": "Busy"}, headers=admin).get_json()
    client.post(
        "/leads", json={"name": "A", "email": "a@x.test", "statusId": status["id"]}, headers=admin
    )
    as_json = {**admin, "Content-Type": "application/json"}
    answers = {
        "not JSON": client.post("/orders/new", data='["3",', headers=as_json),
        "cart not an array": client.post("/orders/new", json={"a": 1}, headers=customer),
        "empty cart": client.post("/orders/new", json=[], headers=customer),
        "bad items": client.post("/orders/new", json=["x", {"id": "y"}], headers=customer),
        "array for an object": client.post("/orders/status-update", json=[], headers=admin),
        "fields": client.post("/orders/status-update", json={"orderId": "x"}, headers=admin),
        "no positions": client.put("/leads/statuses/order", json=[], headers=admin),
        "repeated positions": client.put(
            "/leads/statuses/order",
            json=[{"id": 1, "statusOrder": 1}, {"id": 1, "statusOrder": 2}],
            headers=admin,
        ),
        "positions not objects": client.put("/leads/statuses/order", json=[1], headers=admin),
        "query dates": client.get(
            "/orders?createdAfter=2026-01-02T00:00:00Z&createdBefore=2026-01-01T00:00:00Z",
            headers=admin,
        ),
        "query field": client.get("/orders?limit=x", headers=admin),
        "unknown query": client.get("/orders?userid=7", headers=admin),
        "domain error": client.post(
            "/webhook-endpoints", json={"url": "http://localhost:1/x"}, headers=admin
        ),
        "refund rule": client.post(
            "/orders/1/refunds", json={"restock": True, "amountInCents": 3}, headers=admin
        ),
        "duplicate lead": client.post(
            "/leads",
            json={"name": "B", "email": "A@x.test", "statusId": status["id"]},
            headers=admin,
        ),
        "column in use": client.delete(f"/leads/statuses/{status['id']}", headers=admin),
    }

    for what, response in answers.items():
        body = response.get_json()
        assert 400 <= response.status_code < 500, (what, body)
        assert "errors" in body, (what, body)
        assert_errors_are_objects(body, what)
    assert answers["not JSON"].get_json()["errors"] == {"json": {"_schema": ["Invalid JSON body."]}}


def test_a_refusal_given_its_errors_as_a_list_still_answers_an_object(make_app, migrated):
    from orders_service.errors import Conflict

    app = make_app()

    @app.route("/refused")
    def refused():
        raise Conflict("Refused.", errors=["one", "two"])

    body = app.test_client().get("/refused").get_json()

    assert body["errors"] == {"_schema": ["one", "two"]}


@pytest.mark.parametrize(
    ("method", "path", "parameter"),
    [
        ("GET", "/orders/abc", "order_id"),
        ("GET", "/orders/abc/history", "order_id"),
        ("POST", "/orders/x/refunds", "order_id"),
        ("GET", "/products/1.5", "product_id"),
        ("GET", "/leads/x", "lead_id"),
        ("PATCH", "/leads/statuses/abc", "status_id"),
        ("GET", "/webhook-endpoints/abc", "endpoint_id"),
        ("GET", "/webhook-endpoints/1/deliveries/x/attempts", "delivery_id"),
        ("GET", "/orders/0", "order_id"),
        ("GET", "/orders/-3", "order_id"),
        ("GET", "/orders/99999999999999999999", "order_id"),
        ("GET", "/orders/%D9%A1", "order_id"),  # an Arabic-Indic 1 is not order 1
    ],
)
def test_an_id_that_is_not_one_is_a_json_404_naming_the_parameter(
    client, admin, method, path, parameter
):
    response = client.open(path, method=method, headers=admin)

    body = assert_error(response, 404)
    assert parameter in body["message"] and "whole number" in body["message"]
    assert "manually" not in body["message"]


def test_an_unknown_url_is_a_json_404_pointing_at_the_docs(client):
    body = assert_error(client.get("/no/such/thing"), 404)

    assert "/docs" in body["message"] and "manually" not in body["message"]


def test_a_known_path_with_another_method_is_still_405(client, admin):
    assert_error(client.get("/orders/new", headers=admin), 405)
