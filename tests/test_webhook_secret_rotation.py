"""POST /webhook-endpoints/{id}/rotate-secret: a new secret, and the old one co-signing every
attempt for WEBHOOK_SECRET_OVERLAP, as the standardwebhooks package verifies."""

import base64
import datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from orders_service.config import Config, ConfigError
from orders_service.database import utcnow
from orders_service.events.models import WebhookEndpoint
from tests.subscriber import Subscriber
from tests.test_events_delivery import deliverer, settle, subscribe


def rotate(client, headers, endpoint):
    return client.post(f"/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=headers)


def rotated_secret(client, admin, endpoint):
    response = rotate(client, admin, endpoint)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["secret"]


def end_the_overlap(endpoint):
    past = utcnow() - datetime.timedelta(seconds=1)
    WebhookEndpoint.update(previous_secret_expires_at=past).where(
        WebhookEndpoint.id == endpoint["id"]
    ).execute()


def test_rotating_answers_the_endpoint_with_a_new_standard_webhooks_secret(client, admin):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders", description="erp")

    response = rotate(client, admin, endpoint)

    assert response.status_code == 200
    body = response.get_json()
    assert body == {**endpoint, "secret": body["secret"]}
    assert body["secret"] != endpoint["secret"]
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) == 32
    shown = client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).get_json()
    assert shown["secret"] == body["secret"]


def test_during_the_overlap_a_delivery_verifies_with_the_old_secret_and_with_the_new(
    client, admin, place_order
):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()  # pending before the rotation: signed with the secrets of its attempt
        new = rotated_secret(client, admin, endpoint)
        settle(deliverer())

    [received] = subscriber.received
    assert received.verified(endpoint["secret"])["type"] == "order.created"
    assert received.verified(new)["type"] == "order.created"
    new_signature, old_signature = received.headers["webhook-signature"].split(" ")
    assert verifies_alone(received, new_signature, new)
    assert verifies_alone(received, old_signature, endpoint["secret"])


def verifies_alone(received, signature, secret):
    """Whether `received` verifies with `secret` when it carries `signature` alone."""
    try:
        Webhook(secret).verify(received.body, {**received.headers, "webhook-signature": signature})
    except WebhookVerificationError:
        return False
    return True


def test_after_the_overlap_only_the_new_secret_verifies(client, admin, place_order):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        new = rotated_secret(client, admin, endpoint)
        end_the_overlap(endpoint)
        place_order()
        settle(deliverer())

    [received] = subscriber.received
    assert received.verified(new)["type"] == "order.created"
    assert received.headers["webhook-signature"].count("v1,") == 1
    with pytest.raises(WebhookVerificationError):
        received.verified(endpoint["secret"])


def test_rotating_again_within_the_overlap_drops_the_oldest_secret(client, admin, place_order):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        second = rotated_secret(client, admin, endpoint)
        third = rotated_secret(client, admin, endpoint)
        place_order()
        settle(deliverer())

    [received] = subscriber.received
    assert received.verified(third) and received.verified(second)
    with pytest.raises(WebhookVerificationError):
        received.verified(endpoint["secret"])


def test_the_overlap_lasts_as_long_as_webhook_secret_overlap_says(make_app, app, admin):
    client = make_app(WEBHOOK_SECRET_OVERLAP="90m").test_client()
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")

    before = utcnow()
    rotated_secret(client, admin, endpoint)
    after = utcnow()

    stored = WebhookEndpoint.get_by_id(endpoint["id"])
    overlap = datetime.timedelta(minutes=90)
    assert stored.previous_secret == endpoint["secret"]
    assert before + overlap <= stored.previous_secret_expires_at <= after + overlap


def test_the_overlap_is_24_hours_unless_set(monkeypatch):
    monkeypatch.delenv("WEBHOOK_SECRET_OVERLAP", raising=False)
    assert Config("/nonexistent").WEBHOOK_SECRET_OVERLAP == "24h"


@pytest.mark.parametrize("overlap", ["0s", "1 day", "24", "-1h", "soon"])
def test_an_overlap_that_is_not_a_duration_refuses_to_start(make_app, overlap):
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_OVERLAP"):
        make_app(WEBHOOK_SECRET_OVERLAP=overlap)


def test_only_admins_may_rotate_a_secret(client, admin, customer):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")

    assert rotate(client, customer, endpoint).status_code == 403
    assert rotate(client, {}, endpoint).status_code == 401
    unknown = client.post("/webhook-endpoints/99/rotate-secret", headers=admin)
    assert unknown.status_code == 404 and unknown.get_json()["message"]
    shown = client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).get_json()
    assert shown["secret"] == endpoint["secret"]
