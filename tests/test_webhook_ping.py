"""POST /webhook-endpoints/{id}/ping: a signed webhook.ping sent at once, answered with what the
attempt got (status, duration, error, the answer's first 1 KiB), stored nowhere."""

from orders_service.events.models import Delivery, Event
from tests.servers import free_port
from tests.subscriber import Subscriber
from tests.test_events_delivery import subscribe
from tests.test_webhook_secret_rotation import rotated_secret


def ping(client, headers, endpoint):
    return client.post(f"/webhook-endpoints/{endpoint['id']}/ping", headers=headers)


def pinged(client, admin, endpoint):
    response = ping(client, admin, endpoint)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_ping_reaches_the_subscriber_signed_as_a_webhook_ping_event(client, admin):
    with Subscriber() as subscriber, Subscriber() as other:
        endpoint = subscribe(client, admin, subscriber.url, events=["order.paid"])
        subscribe(client, admin, other.url)
        outcome = pinged(client, admin, endpoint)
        [received] = subscriber.received  # sent within the request, no deliverer running

    assert outcome == {
        "eventId": outcome["eventId"],
        "status": 204,
        "durationMs": outcome["durationMs"],
        "error": None,
        "responseBody": "",
    }
    assert isinstance(outcome["durationMs"], int) and outcome["durationMs"] >= 0
    event = received.verified(endpoint["secret"])
    assert event == {
        "id": outcome["eventId"],
        "type": "webhook.ping",
        "createdAt": event["createdAt"],
        "data": {"endpointId": endpoint["id"]},
    }
    assert event["id"].startswith("evt_") and event["createdAt"].endswith("Z")
    assert received.headers["webhook-id"] == event["id"]
    assert received.headers["Content-Type"] == "application/json"
    assert other.received == []
    assert Event.select().count() == 0 and Delivery.select().count() == 0


def test_a_ping_during_a_rotations_overlap_verifies_with_both_secrets(client, admin):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        new = rotated_secret(client, admin, endpoint)
        pinged(client, admin, endpoint)

    [received] = subscriber.received
    assert received.verified(new)["type"] == "webhook.ping"
    assert received.verified(endpoint["secret"])["type"] == "webhook.ping"


def test_a_disabled_endpoint_is_still_pinged(client, admin):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url, enabled=False)
        assert pinged(client, admin, endpoint)["status"] == 204

    assert len(subscriber.received) == 1


def test_a_refused_connection_is_a_200_whose_error_says_so(client, admin):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")

    outcome = pinged(client, admin, endpoint)

    assert outcome["status"] is None and outcome["responseBody"] is None
    assert "Connection" in outcome["error"]


def test_an_error_answer_gives_its_status_and_the_first_kib_of_its_body(client, admin):
    page = "<h1>Internal Server Error</h1>" + "x" * 4000
    with Subscriber(lambda n, body: (500, page.encode())) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        outcome = pinged(client, admin, endpoint)

    assert outcome["status"] == 500
    assert outcome["error"] == "HTTP 500"
    assert outcome["responseBody"] == page[:1024]


def test_an_answer_that_is_not_utf8_is_shown_without_failing(client, admin):
    with Subscriber(lambda n, body: (200, b"ok \xff\xfe")) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        outcome = pinged(client, admin, endpoint)

    assert (outcome["status"], outcome["error"]) == (200, None)
    assert outcome["responseBody"] == "ok \ufffd\ufffd"


def test_a_ping_gives_up_after_webhook_timeout_seconds(make_app, app, admin):
    client = make_app(WEBHOOK_TIMEOUT_SECONDS=1.0).test_client()
    with Subscriber(lambda n, body: ("hang", 4)) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        outcome = pinged(client, admin, endpoint)

    assert outcome["status"] is None
    assert outcome["error"] == "timed out after 1s"
    assert 1000 <= outcome["durationMs"] < 3000


def test_only_admins_may_ping(client, admin, customer):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        assert ping(client, customer, endpoint).status_code == 403
        assert ping(client, {}, endpoint).status_code == 401
        unknown = client.post("/webhook-endpoints/99/ping", headers=admin)

    assert unknown.status_code == 404 and unknown.get_json()["message"]
    assert subscriber.received == []


def test_rotate_and_ping_are_documented_for_admins_with_their_answers(client):
    spec = client.get("/openapi.json").get_json()

    for path, schema in (("rotate-secret", "WebhookEndpoint"), ("ping", "Ping")):
        operation = spec["paths"][f"/webhook-endpoints/{{endpoint_id}}/{path}"]["post"]
        assert operation["summary"]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"200", "401", "403", "404"} <= set(operation["responses"])
        answer = operation["responses"]["200"]
        assert answer["content"]["application/json"]["schema"]["$ref"].endswith(f"/{schema}")
        assert "WEBHOOK_" in answer["description"]
    ping_schema = spec["components"]["schemas"]["Ping"]
    assert set(ping_schema["required"]) == {
        "eventId",
        "status",
        "durationMs",
        "error",
        "responseBody",
    }
    nullable = {name for name, field in ping_schema["properties"].items() if field.get("nullable")}
    assert nullable == {"status", "error", "responseBody"}
