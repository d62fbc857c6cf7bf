"""Dead endpoints: one that owes deliveries and has answered no 2xx for WEBHOOK_DISABLE_AFTER is
disabled with a reason, a webhook_endpoint.disabled event and a count; while disabled it is
sent nothing, and enabling it again resumes what is pending."""

import datetime
import json

import pytest
from prometheus_client import REGISTRY

from orders_service.config import ConfigError
from orders_service.database import utcnow
from orders_service.events.claims import claim
from orders_service.events.models import Delivery, WebhookEndpoint
from tests.servers import free_port
from tests.subscriber import Subscriber
from tests.webhooks import deliverer, deliveries, settle, subscribe

SILENCE = datetime.timedelta(days=5)


def disabled_count():
    return REGISTRY.get_sample_value("webhook_endpoints_disabled_total") or 0


def silent_for(endpoint, days, answered=False):
    """As if the endpoint had been made `days` ago (and, if `answered`, last 2xx'd then)."""
    then = utcnow() - datetime.timedelta(days=days)
    changes = {"created_at": then, "alive_at": then if answered else None}
    WebhookEndpoint.update(**changes).where(WebhookEndpoint.id == endpoint["id"]).execute()


def endpoint_now(client, admin, endpoint):
    return client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin).get_json()


def test_an_endpoint_failing_past_disable_after_is_disabled_with_a_reason_event_and_count(
    client, admin, place_order
):
    with Subscriber() as monitor:
        dead = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")
        watching = subscribe(client, admin, monitor.url, events=["webhook_endpoint.disabled"])
        place_order()
        settle(deliverer())
        silent_for(dead, days=6)
        counted = disabled_count()

        deliverer(disable_after=SILENCE).run(once=True)
        settle(deliverer(disable_after=SILENCE))

    shown = endpoint_now(client, admin, dead)
    assert shown["enabled"] is False
    assert shown["disabledReason"].startswith("No 2xx answer since ")
    assert "WEBHOOK_DISABLE_AFTER (5 days)" in shown["disabledReason"]
    [event] = client.get("/events?type=webhook_endpoint.disabled", headers=admin).get_json()
    assert event["data"] == {"endpoint": {k: v for k, v in shown.items() if k != "secret"}}
    assert event["id"].startswith("evt_") and event["createdAt"].endswith("Z")
    [received] = monitor.received
    assert received.verified(watching["secret"]) == event
    assert disabled_count() == counted + 1
    assert len(client.get("/events", headers=admin).get_json()) == 2  # and order.created


@pytest.mark.parametrize(
    "days, answered, owes, disabled",
    [
        (6, False, True, True),  # made 6 days ago, never a 2xx
        (6, True, True, True),  # its last 2xx 6 days ago
        (4, False, True, False),  # not silent long enough
        (6, False, False, False),  # silent, but owing nothing
    ],
)
def test_an_endpoint_is_disabled_only_when_it_owes_deliveries_and_has_been_silent_too_long(
    client, admin, place_order, days, answered, owes, disabled
):
    endpoint = subscribe(client, admin, f"http://127.0.0.1:{free_port()}/hook")
    place_order()
    settle(deliverer())
    if not owes:
        Delivery.update(state="delivered").execute()
    silent_for(endpoint, days, answered)

    deliverer(disable_after=SILENCE).run(once=True)

    assert endpoint_now(client, admin, endpoint)["enabled"] is not disabled


def test_a_2xx_ends_an_endpoints_silence(client, admin, place_order):
    answers = iter([204, 500, 500, 500])
    with Subscriber(lambda n, body: next(answers)) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        silent_for(endpoint, days=6)
        place_order()
        settle(deliverer())
        place_order()
        settle(deliverer())

        deliverer(disable_after=SILENCE).run(once=True)

    assert [d["state"] for d in deliveries(client, admin, endpoint)] == ["failed", "delivered"]
    assert endpoint_now(client, admin, endpoint)["enabled"] is True


def test_a_disabled_endpoint_is_sent_nothing_and_enabling_it_resumes_what_is_pending(
    client, admin, place_order
):
    fixed = {"yet": False}
    with Subscriber(lambda n, body: 204 if fixed["yet"] else 503) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        first = place_order()
        hourly = deliverer(schedule=(datetime.timedelta(hours=1),), disable_after=SILENCE)
        hourly.run(once=True)  # one failed attempt; the next in an hour
        silent_for(endpoint, days=6)
        deliverer(disable_after=SILENCE).run(once=True)
        assert endpoint_now(client, admin, endpoint)["enabled"] is False
        [held] = deliveries(client, admin, endpoint)
        assert (held["state"], held["nextAttemptAt"]) == ("pending", None)
        place_order()  # written while disabled: not for this endpoint
        settle(deliverer())
        assert len(subscriber.received) == 1
        fixed["yet"] = True

        response = client.patch(
            f"/webhook-endpoints/{endpoint['id']}", json={"enabled": True}, headers=admin
        )

        assert response.status_code == 200
        assert (response.get_json()["enabled"], response.get_json()["disabledReason"]) == (
            True,
            None,
        )
        [resumed] = deliveries(client, admin, endpoint)
        assert resumed["nextAttemptAt"] <= utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        hourly.run(once=True)  # its silence counts from the enabling: not disabled again

    assert [json.loads(r.body)["data"]["order"]["id"] for r in subscriber.received] == [
        first["id"],
        first["id"],
    ]
    assert deliveries(client, admin, endpoint)[0]["state"] == "delivered"
    assert endpoint_now(client, admin, endpoint)["enabled"] is True


def test_an_endpoint_an_admin_disables_keeps_what_is_pending_until_enabled(
    client, admin, place_order
):
    with Subscriber() as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        url = f"/webhook-endpoints/{endpoint['id']}"
        client.patch(url, json={"enabled": False}, headers=admin)
        settle(deliverer())
        assert subscriber.received == []
        assert endpoint_now(client, admin, endpoint)["disabledReason"] is None

        client.patch(url, json={"enabled": True}, headers=admin)
        settle(deliverer())

    assert len(subscriber.received) == 1


def test_a_disabled_endpoints_delivery_that_comes_due_is_not_claimed(client, admin, place_order):
    endpoint = subscribe(client, admin, "http://127.0.0.1:9/hook")
    place_order()
    client.patch(f"/webhook-endpoints/{endpoint['id']}", json={"enabled": False}, headers=admin)
    # As an attempt in flight when it was disabled leaves it: due again on its schedule.
    Delivery.update(next_attempt_at=utcnow()).execute()

    assert claim(10, datetime.timedelta(minutes=1)) == []


def test_a_bad_disable_after_stops_every_process_at_start_with_a_message(make_app):
    with pytest.raises(ConfigError, match="WEBHOOK_DISABLE_AFTER: 'a week' is not a duration"):
        make_app(WEBHOOK_DISABLE_AFTER="a week")


def test_disable_after_defaults_to_five_days(monkeypatch, tmp_path):
    from orders_service.config import Config

    monkeypatch.delenv("WEBHOOK_DISABLE_AFTER", raising=False)

    assert Config(str(tmp_path)).WEBHOOK_DISABLE_AFTER == "5d"
