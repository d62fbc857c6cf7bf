"""/openapi.json is the contract: what the service always sends is `required`, null only where
it may come, PATCH bodies without defaults, an SDK method name on every operation, public
operations marked so, examples valid; redocly lint finds nothing; and the example storefront
client (clients/typescript) generated from it type-checks with tsc --strict and runs."""

import copy
import json
import os
import re
import subprocess

import jsonschema_rs
import pytest

from orders_service.events.models import Event
from orders_service.events.schemas import ORDER_FIELDS_ADDED_SINCE
from tests.servers import ROOT, Gunicorn, server_env

CLIENT = ROOT / "clients" / "typescript"
NODE_BIN = CLIENT / "node_modules" / ".bin"

# The name a generated SDK gives each operation.
OPERATION_IDS = {
    "GET /products": "listProducts",
    "POST /products": "createProduct",
    "GET /products/{product_id}": "getProduct",
    "PATCH /products/{product_id}": "updateProduct",
    "GET /orders": "listOrders",
    "GET /orders/{order_id}": "getOrder",
    "GET /orders/{order_id}/history": "listOrderHistory",
    "POST /orders/new": "createOrder",
    "POST /orders/status-update": "updateOrderStatus",
    "GET /orders/{order_id}/refunds": "listOrderRefunds",
    "POST /orders/{order_id}/refunds": "createRefund",
    "POST /orders/{order_id}/fulfillments": "createFulfillment",
    "POST /webhooks/stripe": "receiveStripeEvent",
    "GET /leads/statuses": "listLeadStatuses",
    "POST /leads/statuses": "createLeadStatus",
    "PATCH /leads/statuses/{status_id}": "updateLeadStatus",
    "DELETE /leads/statuses/{status_id}": "deleteLeadStatus",
    "PUT /leads/statuses/order": "reorderLeadStatuses",
    "GET /leads": "listLeads",
    "POST /leads": "createLead",
    "GET /leads/{lead_id}": "getLead",
    "PATCH /leads/{lead_id}": "updateLead",
    "DELETE /leads/{lead_id}": "deleteLead",
    "GET /healthz": "checkLiveness",
    "GET /readyz": "checkReadiness",
    "GET /webhook-endpoints": "listWebhookEndpoints",
    "POST /webhook-endpoints": "createWebhookEndpoint",
    "GET /webhook-endpoints/{endpoint_id}": "getWebhookEndpoint",
    "PATCH /webhook-endpoints/{endpoint_id}": "updateWebhookEndpoint",
    "DELETE /webhook-endpoints/{endpoint_id}": "deleteWebhookEndpoint",
    "POST /webhook-endpoints/{endpoint_id}/rotate-secret": "rotateWebhookEndpointSecret",
    "POST /webhook-endpoints/{endpoint_id}/ping": "pingWebhookEndpoint",
    "GET /webhook-endpoints/{endpoint_id}/deliveries": "listWebhookDeliveries",
    "POST /webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry": "retryWebhookDelivery",
    "GET /webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/attempts": (
        "listWebhookDeliveryAttempts"
    ),
    "POST /webhook-endpoints/{endpoint_id}/replay": "replayWebhookEvents",
    "GET /events": "listEvents",
    "GET /events/{event_id}": "getEvent",
}
# No credentials at all; the catalog's reads take one optionally (admins see inactive products).
PUBLIC = {"GET /healthz", "GET /readyz", "POST /webhooks/stripe"}
OPTIONAL = {"GET /products", "GET /products/{product_id}"}
# Fields a response has only sometimes, by schema: not `required`.
SOMETIMES = {
    "LeadStatusCounted": {"leadCount"},  # with withCounts=true
    "Error": {"errors"},  # validation errors and a few conflicts
    # Which of these an event carries depends on its type.
    "EventData": {"endpoint", "order", "previousStatus", "refund", "dispute", "version", "actor"},
    # Events keep their bodies: those written before the order body gained these lack them.
    "EventOrder": set(ORDER_FIELDS_ADDED_SINCE),
}


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").get_json()


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def resolve(spec, schema):
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def as_json_schema(schema):
    """OpenAPI 3.0's schema dialect as JSON Schema: `nullable` becomes a null type."""
    if isinstance(schema, list):
        return [as_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: as_json_schema(value) for key, value in schema.items() if key != "nullable"}
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def validator(spec, schema):
    root = {**as_json_schema(schema), "components": as_json_schema(spec["components"])}
    return jsonschema_rs.Draft4Validator(root)


def test_redocly_lint_finds_no_problem(spec, tmp_path):
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(spec))
    lint = subprocess.run(
        [
            NODE_BIN / "redocly",
            "lint",
            document,
            "--config",
            ROOT / "redocly.yaml",
            "--format=json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )
    report = json.loads(lint.stdout)
    assert report["problems"] == [], json.dumps(report["problems"], indent=1)[:4000]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}
    assert lint.returncode == 0


def test_every_operation_has_its_sdk_method_name(spec):
    assert {label: op.get("operationId") for label, op in operations(spec)} == OPERATION_IDS


def test_public_operations_say_so_and_the_rest_need_a_token(spec):
    for label, operation in operations(spec):
        if label in PUBLIC:
            assert operation["security"] == [], label
        elif label in OPTIONAL:
            assert operation["security"] == [{"bearerAuth": []}, {}], label
        else:
            assert operation["security"] == [{"bearerAuth": []}], label
            assert "401" in operation["responses"], label


def test_patch_bodies_have_no_defaults(spec):
    patches = [op for label, op in operations(spec) if label.startswith("PATCH ")]
    assert len(patches) == 4
    for operation in patches:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        properties = resolve(spec, body)["properties"]
        assert properties
        assert {name for name, field in properties.items() if "default" in field} == set()
        assert "required" not in resolve(spec, body)


def examples(spec):
    """(where, schema, example) of every example of a body, a parameter or a property."""
    for label, operation in operations(spec):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, r) for status, r in operation["responses"].items()]
        for where, body in bodies:
            for media in body.get("content", {}).values():
                if "example" in media:
                    yield f"{label} {where}", media["schema"], media["example"]
        for parameter in operation.get("parameters", []):
            if "example" in parameter.get("schema", {}):
                schema = parameter["schema"]
                yield f"{label} {parameter['name']}", schema, schema["example"]
    for name, schema in spec["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if "example" in prop:
                yield f"{name}.{field}", prop, prop["example"]


def test_every_example_is_valid_against_its_schema(spec):
    found = list(examples(spec))
    assert len(found) >= 15
    invalid = {
        where: [error.message for error in validator(spec, schema).iter_errors(example)]
        for where, schema, example in found
    }
    assert {where: errors for where, errors in invalid.items() if errors} == {}


def test_order_statuses_are_documented_as_the_server_reads_them(spec, client, admin, place_order):
    schema = resolve(spec, {"$ref": "#/components/schemas/StatusUpdate"})["properties"]["status"]
    check = validator(spec, schema)
    order = place_order()
    for status in ("Canceled", "CANCELLED", " canceled "):
        assert check.is_valid(status)
    for status in ("cancel", "void", ""):
        assert not check.is_valid(status)
        answer = client.post(
            "/orders/status-update", json={"orderId": order["id"], "status": status}, headers=admin
        )
        assert answer.status_code == 400


class Observed:
    """The keys each named schema's objects had in real answers, and what did not validate."""

    def __init__(self, spec):
        self.spec = spec
        self.keys = {}  # schema name -> [set of keys of each object answered]
        self.invalid = []
        self.answers = 0

    def answer(self, response, path, method):
        operation = self.spec["paths"][path][method]
        documented = operation["responses"][str(response.status_code)]
        if "$ref" in documented:
            documented = self.spec["components"]["responses"][documented["$ref"].rsplit("/")[-1]]
        body = response.get_json() if response.data else None
        self.answers += 1
        if "content" not in documented:
            assert response.status_code == 204 and not response.data
            return body
        schema = documented["content"]["application/json"]["schema"]
        errors = [e.message for e in validator(self.spec, schema).iter_errors(body)]
        if errors:
            self.invalid.append((method, path, response.status_code, errors[:3]))
        self.walk(schema, body)
        return body

    def walk(self, schema, value):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if isinstance(value, dict):
                self.keys.setdefault(name, []).append(set(value))
            schema = resolve(self.spec, schema)
        for branch in schema.get("anyOf", []) + schema.get("allOf", []):
            self.walk(branch, value)
        if isinstance(value, list) and "items" in schema:
            for item in value:
                self.walk(schema["items"], item)
        if isinstance(value, dict):
            for key, prop in schema.get("properties", {}).items():
                if key in value:
                    self.walk(prop, value[key])


def test_what_the_service_always_sends_is_required(spec, client, admin, customer, catalog):
    """Real answers of every kind: each valid against its documented schema, and each field a
    schema's every object had is `required` there (but for the few sent only sometimes)."""
    seen = Observed(spec)

    def call(method, url, path, headers=admin, **kwargs):
        response = getattr(client, method)(url, headers=headers, **kwargs)
        return seen.answer(response, path, method)

    call("get", "/healthz", "/healthz")
    call("get", "/readyz", "/readyz")
    call("get", "/products?limit=2", "/products", headers={})
    call("get", "/products/3", "/products/{product_id}", headers={})
    product = call(
        "post", "/products", "/products", json={"sku": "C-1", "name": "Mug", "priceInCents": 900}
    )
    call("patch", f"/products/{product['id']}", "/products/{product_id}", json={"stock": 5})
    call("post", "/products", "/products", json={"sku": "C-1", "name": "x", "priceInCents": 1})
    order = call("post", "/orders/new", "/orders/new", headers=customer, json=["3", "8"])
    call("post", "/orders/new", "/orders/new", headers=customer, json=["999"])
    call("get", f"/orders/{order['id']}", "/orders/{order_id}", headers=customer)
    call("get", "/orders?limit=1", "/orders", headers=customer)
    call("get", "/orders", "/orders", headers={})
    call("get", "/orders/424242", "/orders/{order_id}", headers=customer)
    update = {"orderId": order["id"], "status": "Paid"}
    call("post", "/orders/status-update", "/orders/status-update", json=update)
    call("post", "/orders/status-update", "/orders/status-update", json={"orderId": "x"})
    refund = {"lines": [{"productId": 3, "quantity": 1}], "restock": True}
    call("post", f"/orders/{order['id']}/refunds", "/orders/{order_id}/refunds", json=refund)
    call("get", f"/orders/{order['id']}/refunds", "/orders/{order_id}/refunds")
    call("get", f"/orders/{order['id']}/history", "/orders/{order_id}/history")

    column = call("post", "/leads/statuses", "/leads/statuses", json={"name": "Dormant"})
    call("post", "/leads/statuses", "/leads/statuses", json={"name": "Dormant"})
    call("get", "/leads/statuses?withCounts=true", "/leads/statuses")
    call("get", "/leads/statuses", "/leads/statuses")
    by_id = "/leads/statuses/{status_id}"
    call("patch", f"/leads/statuses/{column['id']}", by_id, json={"name": "Fresh"})
    positions = [{"id": column["id"], "statusOrder": 9}]
    call("put", "/leads/statuses/order", "/leads/statuses/order", json=positions)
    lead = call("post", "/leads", "/leads", json={"name": "Ada", "email": "ada@example.com"})
    call("post", "/leads", "/leads", headers=customer, json={"name": "B", "email": "b@example.com"})
    call("post", "/leads", "/leads", json={"name": "Ada", "email": "ADA@example.com"})
    call("get", "/leads", "/leads")
    call("patch", f"/leads/{lead['id']}", "/leads/{lead_id}", json={"phone": "+1 555"})
    call("get", f"/leads/{lead['id']}", "/leads/{lead_id}")
    call("delete", f"/leads/statuses/{column['id']}", by_id)
    call("delete", f"/leads/{lead['id']}", "/leads/{lead_id}")

    hook = {"url": "https://example.com/hook"}
    endpoint = call("post", "/webhook-endpoints", "/webhook-endpoints", json=hook)
    one = "/webhook-endpoints/{endpoint_id}"
    call("get", "/webhook-endpoints", "/webhook-endpoints")
    call("patch", f"/webhook-endpoints/{endpoint['id']}", one, json={"description": "shop"})
    call("post", f"/webhook-endpoints/{endpoint['id']}/rotate-secret", one + "/rotate-secret")
    call("post", f"/webhook-endpoints/{endpoint['id']}/replay", one + "/replay", json={})
    since = {"since": "2000-01-01T00:00:00Z"}
    call("post", f"/webhook-endpoints/{endpoint['id']}/replay", one + "/replay", json=since)
    deliveries = call("get", f"/webhook-endpoints/{endpoint['id']}/deliveries", one + "/deliveries")
    delivery = f"/webhook-endpoints/{endpoint['id']}/deliveries/{deliveries[0]['id']}"
    call("post", delivery + "/retry", one + "/deliveries/{delivery_id}/retry")
    call("get", delivery + "/attempts", one + "/deliveries/{delivery_id}/attempts")
    events = call("get", "/events", "/events")
    call("get", f"/events/{events[0]['id']}", "/events/{event_id}")

    assert seen.invalid == []
    assert seen.answers >= 40
    not_required = {}
    for name, objects in seen.keys.items():
        always = set.intersection(*objects)
        missing = always - set(
            resolve(spec, {"$ref": f"#/components/schemas/{name}"}).get("required", [])
        )
        if missing - SOMETIMES.get(name, set()):
            not_required[name] = sorted(missing)
    assert not_required == {}
    # Every response schema was seen, with each of its fields.
    answered = {"Order", "OrderLine", "History", "StatusUpdated", "Product", "Refund", "Lead"}
    answered |= {"LeadStatus", "LeadStatusCounted", "LeadReceived", "WebhookEndpoint", "Error"}
    answered |= {"Delivery", "Replayed", "Event", "EventOrder", "Health"}  # no attempt yet
    assert answered - set(seen.keys) == set()


def test_a_nullable_field_is_sent_as_null_and_documented_so(spec):
    schemas = spec["components"]["schemas"]
    nullable = {
        (name, field)
        for name, schema in schemas.items()
        if name in {"Order", "Product", "History", "Lead", "WebhookEndpoint"}
        for field, prop in schema["properties"].items()
        if prop.get("nullable")
        or {"type": "object", "nullable": True, "enum": [None]} in prop.get("anyOf", [])
    }
    assert nullable == {
        ("Order", "dispute"),
        ("Order", "authorizationExpiresAt"),
        ("Product", "stock"),
        ("History", "from"),
        ("Lead", "phone"),
        ("Lead", "source"),
        ("WebhookEndpoint", "disabledReason"),
    }
    order = schemas["Order"]
    assert (
        order["properties"]["nextStatuses"]["items"]["enum"]
        == order["properties"]["status"]["enum"]
    )


def test_created_answers_document_their_headers(spec):
    created = spec["paths"]["/orders/new"]["post"]["responses"]["201"]["headers"]
    assert created["Location"]["required"] is True
    assert "Idempotent-Replayed" in created
    for path in ("/products", "/orders", "/leads", "/events"):
        assert "Link" in spec["paths"][path]["get"]["responses"]["200"]["headers"], path
    responses = spec["components"]["responses"]
    assert "Retry-After" in responses["SERVICE_UNAVAILABLE"]["headers"]
    assert "Retry-After" in responses["CONFLICT"]["headers"]
    assert responses["UNAUTHORIZED"]["headers"]["WWW-Authenticate"]["required"] is True


@pytest.mark.slow
def test_the_storefront_client_type_checks_and_runs(spec, app, database_url, customer, catalog):
    """openapi-typescript's types of the live document, tsc --strict, then the storefront
    (clients/typescript/src/storefront.ts) against gunicorn on the seeded catalog."""
    if not (NODE_BIN / "tsc").exists():
        pytest.fail("clients/typescript/node_modules is missing: run make install (npm ci)")
    document = CLIENT / "build" / "openapi.json"
    document.parent.mkdir(exist_ok=True)
    document.write_text(json.dumps(spec))

    def node(*command):
        done = subprocess.run(command, cwd=CLIENT, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    node(NODE_BIN / "openapi-typescript", document, "-o", "src/generated/api.d.ts")
    node(NODE_BIN / "tsc", "-p", ".", "--strict")
    code = re.sub(r"//.*", "", (CLIENT / "src" / "storefront.ts").read_text())
    assert not re.search(r"\bas\s+(?!const\b)[\w{\[(]", code), "a cast"
    assert not re.search(r"[\w)\]]!(?!=)", code), "a non-null assertion"

    env = server_env(database_url)
    with Gunicorn(env, CLIENT / "build" / "gunicorn.log") as server:
        run = subprocess.run(
            ["node", "build/storefront.js"],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "BASE_URL": f"http://127.0.0.1:{server.port}",
                "TOKEN": customer["Authorization"].removeprefix("Bearer "),
            },
        )
    assert run.returncode == 0, run.stdout + run.stderr + server.log()[-3000:]
    steps = {line["step"]: line["detail"] for line in map(json.loads, run.stdout.splitlines())}
    assert steps["browse"] == {"products": 11, "pages": 6}
    created = steps["create"]
    assert created["status"] == "pending" and created["clientSecret"] is True
    assert created["location"] == f"/orders/{created['id']}"
    assert created["nextStatuses"] == ["paid", "canceled"]
    assert steps["replay"] == {"sameOrder": True, "replayed": "true"}
    assert steps["read"]["id"] == created["id"]
    assert steps["list"]["orders"] == [created["id"] + 1, created["id"]]
    assert steps["conflict"]["status"] == steps["conflict"]["code"] == 409
    assert "different body" in steps["conflict"]["message"]
    assert steps["cancel"] == {"status": "canceled", "history": ["pending", "canceled"]}
    assert steps["unauthorized"]["status"] == steps["unauthorized"]["code"] == 401
    assert steps["unauthorized"]["challenge"] == 'Bearer realm="orders"'
    assert steps["done"] == "ok"


def test_the_client_would_not_type_check_against_an_optional_field(tmp_path, spec):
    """The test above proves something: the same client against a document whose Order has
    no `required` (as before) fails tsc --strict."""
    if not (NODE_BIN / "tsc").exists():
        pytest.fail("clients/typescript/node_modules is missing: run make install (npm ci)")
    loose = copy.deepcopy(spec)
    del loose["components"]["schemas"]["Order"]["required"]
    project = tmp_path / "client"
    (project / "src" / "generated").mkdir(parents=True)
    (project / "src" / "storefront.ts").write_text((CLIENT / "src" / "storefront.ts").read_text())
    tsconfig = json.loads((CLIENT / "tsconfig.json").read_text())
    tsconfig["compilerOptions"]["typeRoots"] = [str(CLIENT / "node_modules" / "@types")]
    tsconfig["compilerOptions"]["noEmit"] = True
    (project / "tsconfig.json").write_text(json.dumps(tsconfig))
    (project / "package.json").write_text('{"type": "module"}')
    (project / "node_modules").symlink_to(CLIENT / "node_modules")
    (project / "openapi.json").write_text(json.dumps(loose))
    generate = [NODE_BIN / "openapi-typescript", "openapi.json", "-o", "src/generated/api.d.ts"]
    subprocess.run(generate, cwd=project, check=True, capture_output=True, timeout=120)
    check = subprocess.run(
        [NODE_BIN / "tsc", "-p", "."], cwd=project, capture_output=True, text=True, timeout=180
    )
    assert check.returncode != 0
    assert "possibly 'undefined'" in check.stdout


def test_an_event_written_before_the_order_body_grew_is_valid_as_served(
    spec, client, admin, place_order
):
    """Events keep their bodies: one stored before the order gained its newer fields is served
    as written, and the document promises only what every stored event has."""
    order = place_order()
    event = Event.select().where(Event.order == order["id"]).get()
    body = json.loads(event.body)
    for name in ORDER_FIELDS_ADDED_SINCE:
        del body["data"]["order"][name]  # as the first events were written
    Event.update(body=json.dumps(body)).where(Event.id == event.id).execute()

    served = client.get(f"/events/{body['id']}", headers=admin).get_json()
    schema = spec["paths"]["/events/{event_id}"]["get"]["responses"]["200"]["content"]
    errors = validator(spec, schema["application/json"]["schema"]).iter_errors(served)

    assert served == body
    assert [error.message for error in errors] == []
