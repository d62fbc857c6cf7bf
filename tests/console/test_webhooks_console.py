"""The webhooks page, by what staff click: endpoints with their state, adding one (its secret
shown once), one endpoint's deliveries by state, a delivery's attempts, and the retry, replay,
ping, rotate-secret, disable/enable and delete actions, each checked through the API. The
deliverer runs in the test's own thread (one pass at a time) while the page watches."""

import datetime
import json
import re

import pytest

from orders_service.events.models import Event
from tests.console.conftest import DESKTOP, PHONE
from tests.subscriber import Subscriber
from tests.webhooks import attempts, deliverer, deliveries, settle, subscribe

HOSTILE = "<img src=x onerror=alert(1)>"


def send_due():
    """What the deliverer process does: send every due delivery, once each (no retry waits,
    so a refused one is failed at once)."""
    settle(deliverer(schedule=()))


def endpoint_of(client, admin, endpoint_id):
    response = client.get(f"/webhook-endpoints/{endpoint_id}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


class ByEvent:
    """A subscriber's answers: what `answers` says for the event, else 204."""

    def __init__(self):
        self.answers = {}

    def __call__(self, n, body):
        return self.answers.get(json.loads(body)["id"], 204)


@pytest.fixture
def hooked(client, admin, place_order):
    """An endpoint on a live subscriber with one delivered and one failed delivery (its
    subscriber answered 503 with a body): (subscriber, endpoint, delivered, failed, answers)."""
    answers = ByEvent()
    with Subscriber(answers) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url, description="Warehouse")
        delivered_order, failed_order = place_order(), place_order()
        failing = Event.get(Event.order == failed_order["id"]).uid
        answers.answers[failing] = (503, b"busy, try later")
        send_due()
        by_event = {d["eventId"]: d for d in deliveries(client, admin, endpoint)}
        failed = by_event[failing]
        [delivered] = [d for uid, d in by_event.items() if uid != failing]
        assert (failed["state"], delivered["state"]) == ("failed", "delivered")
        assert Event.get(Event.order == delivered_order["id"]).uid == delivered["eventId"]
        yield subscriber, endpoint, delivered, failed, answers


@pytest.fixture
def at(console):
    """at(token, path) -> console(token) showing `path`, once its first page (the orders) is
    drawn: the console does not drop a page's late answer, which would be drawn over ours."""

    def open_at(token, path, viewport=DESKTOP):
        page = console(token, viewport=viewport)
        page.locator("main table.orders, main p.empty").first.wait_for()
        page.goto(page.url.split("#")[0] + path)
        return page

    return open_at


def item(page, delivery):
    return page.locator(f"#delivery-{delivery['id']}")


def notice(page, text):
    return page.locator("#notice .notice", has_text=text)


def test_the_list_shows_endpoints_with_their_state_and_an_endpoint_is_added_there(
    at, admin, client, hooked
):
    _, warehouse, *_ = hooked
    paused = subscribe(client, admin, "https://paused.example.com/hook", description="Paused")
    client.patch(f"/webhook-endpoints/{paused['id']}", json={"enabled": False}, headers=admin)

    page = at(admin, "#/webhooks")

    rows = page.locator("table.endpoints tbody tr")
    rows.first.wait_for()
    assert rows.count() == 2
    warehouse_row = page.locator(f"tr[data-endpoint='{warehouse['id']}']")
    paused_row = page.locator(f"tr[data-endpoint='{paused['id']}']")
    assert warehouse_row.locator(".status").inner_text() == "enabled"
    assert "Warehouse" in warehouse_row.inner_text()
    warehouse_row.get_by_role("link", name="1 failed").wait_for()
    assert paused_row.locator(".status").inner_text() == "disabled"
    paused_row.get_by_text("none").wait_for()
    assert warehouse["secret"] not in page.content()  # a secret is shown when made, only

    page.get_by_label("URL").fill("https://billing.example.com/hooks/orders")
    page.get_by_label("Description").fill("Billing")
    page.get_by_label("All events").uncheck()
    page.get_by_label("order.paid").check()
    page.get_by_label("order.refunded", exact=True).check()
    page.get_by_role("button", name="Add endpoint").click()

    page.wait_for_url(re.compile(r"#/webhooks/\d+$"))
    shown = page.locator("#wh-secret").inner_text()
    added_id = int(page.url.rsplit("/", 1)[1])
    added = endpoint_of(client, admin, added_id)
    assert (added["url"], added["description"], added["events"], added["enabled"]) == (
        "https://billing.example.com/hooks/orders",
        "Billing",
        ["order.paid", "order.refunded"],
        True,
    )
    assert shown == added["secret"] and shown.startswith("whsec_")
    assert page.get_by_role("heading", name=f"Endpoint #{added_id}").is_visible()

    page.reload()  # shown once: not again
    page.get_by_role("heading", name=f"Endpoint #{added_id}").wait_for()
    assert page.locator("#wh-secret").count() == 0
    assert added["secret"] not in page.content()
    page.get_by_role("link", name="← Webhooks").click()
    page.locator(f"tr[data-endpoint='{added_id}']").wait_for()
    assert page.locator("table.endpoints tbody tr").count() == 3
    assert page.errors == []


def test_a_refused_endpoint_shows_the_services_reason(at, admin, client):
    page = at(admin, "#/webhooks")
    page.get_by_text("No webhook endpoints yet").wait_for()

    page.get_by_label("URL").fill("ftp://example.com/hook")
    page.get_by_role("button", name="Add endpoint").click()

    notice(page, "Must be an absolute http:// or https:// URL.").wait_for()
    assert client.get("/webhook-endpoints", headers=admin).get_json() == []
    assert "#/webhooks" in page.url and not re.search(r"#/webhooks/\d", page.url)


def test_no_event_chosen_is_refused_not_widened_to_all(at, admin, client):
    page = at(admin, "#/webhooks")
    page.get_by_text("No webhook endpoints yet").wait_for()

    page.get_by_label("URL").fill("https://billing.example.com/hooks/orders")
    page.get_by_label("All events").uncheck()  # and none of the types ticked
    page.get_by_role("button", name="Add endpoint").click()

    notice(page, "Choose the events to send, or All events.").wait_for()
    assert client.get("/webhook-endpoints", headers=admin).get_json() == []


def test_deliveries_are_filtered_by_state_and_the_address_keeps_the_filter(at, admin, hooked):
    _, endpoint, delivered, failed, _ = hooked
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    item(page, failed).wait_for()
    assert page.locator("li.delivery").count() == 2

    page.locator("nav.states").get_by_role("link", name="Failed").click()

    page.wait_for_url(re.compile(rf"#/webhooks/{endpoint['id']}\?state=failed$"))
    page.get_by_role("heading", name="Deliveries: failed").wait_for()
    item(page, failed).wait_for()
    assert page.locator("li.delivery").count() == 1
    assert item(page, failed).get_attribute("data-state") == "failed"
    assert failed["eventId"] in item(page, failed).inner_text()
    assert item(page, delivered).count() == 0
    assert page.get_by_role("link", name="Failed").get_attribute("aria-current") == "true"

    page.reload()

    item(page, failed).wait_for()
    assert page.locator("li.delivery").count() == 1
    assert page.get_by_role("link", name="Failed").get_attribute("aria-current") == "true"

    page.locator("nav.states").get_by_role("link", name="Delivered").click()
    item(page, delivered).wait_for()
    assert page.locator("li.delivery").count() == 1
    page.locator("nav.states").get_by_role("link", name="Pending").click()
    page.get_by_text("No pending deliveries.").wait_for()
    assert page.errors == []


def test_deliveries_page_by_the_link_cursor(at, admin, client, place_order):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    for _ in range(22):
        place_order(items=("3",))
    listed = deliveries(client, admin, endpoint, "?limit=100")
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    item(page, listed[0]).wait_for()
    assert page.locator("li.delivery").count() == 20

    page.get_by_role("button", name="Next page").click()

    item(page, listed[20]).wait_for()
    assert page.locator("li.delivery").count() == 2
    assert f"after={listed[19]['id']}" in page.url
    page.get_by_role("link", name="First page").click()
    item(page, listed[0]).wait_for()


def test_a_failed_delivery_is_retried_from_the_page_and_shows_delivered(at, admin, client, hooked):
    subscriber, endpoint, _, failed, answers = hooked
    answers.answers.clear()  # the integrator fixed their side: 204 from now on
    page = at(admin, f"#/webhooks/{endpoint['id']}?state=failed")
    card = item(page, failed)
    card.get_by_role("button", name="Show attempts").click()
    card.locator("table.attempt-list tbody tr").first.wait_for()
    assert card.locator("table.attempt-list tbody tr").count() == 1

    card.get_by_role("button", name="Retry").click()

    notice(page, f"Delivery #{failed['id']} is queued").wait_for()
    page.wait_for_selector(f"#delivery-{failed['id']}[data-state='pending']")
    assert deliveries(client, admin, endpoint, "?state=pending")[0]["id"] == failed["id"]
    send_due()  # the deliverer's next pass

    page.wait_for_selector(f"#delivery-{failed['id']}[data-state='delivered']")
    rows = card.locator("table.attempt-list tbody tr")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    newest = rows.first.inner_text()
    assert "204" in newest and "none" in newest
    assert "delivered" in card.locator(".delivery-head").inner_text()
    [now] = [d for d in deliveries(client, admin, endpoint) if d["id"] == failed["id"]]
    assert (now["state"], now["attempts"], now["lastStatus"]) == ("delivered", 2, 204)
    assert subscriber.ids().count(failed["eventId"]) == 2
    assert page.errors == []


def test_a_deliverys_attempts_are_listed_with_what_the_endpoint_answered(at, admin, client, hooked):
    _, endpoint, _, failed, _ = hooked
    [attempt] = attempts(client, admin, endpoint, failed)
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    card = item(page, failed)
    toggle = card.get_by_role("button", name="Show attempts")
    assert "503" in card.locator(".delivery-facts").inner_text()

    toggle.focus()  # by keyboard
    page.keyboard.press("Enter")

    row = card.locator(f"tr[data-attempt='{attempt['id']}']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == "503"
    assert cells[2] == attempt["error"] == "HTTP 503"
    assert cells[3] == f"{attempt['durationMs']} ms"
    assert cells[4] == attempt["responseBody"] == "busy, try later"
    hide = card.get_by_role("button", name="Hide attempts")
    assert hide.get_attribute("aria-expanded") == "true"
    hide.press("Enter")
    card.locator(".attempts").wait_for(state="hidden")
    assert page.errors == []


def test_ping_shows_what_the_endpoint_answered(at, admin, client):
    with Subscriber(lambda n, body: (202, b"pong")) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        page = at(admin, f"#/webhooks/{endpoint['id']}")

        page.get_by_role("button", name="Ping").click()

        page.locator("#wh-ping-result").wait_for()
        assert page.locator("#wh-ping-status").inner_text() == "202"
        assert "pong" in page.locator("#wh-ping-result").inner_text()
        [received] = subscriber.received
        event = received.verified(endpoint["secret"])
        assert event["type"] == "webhook.ping"
        assert event["id"] in page.locator("#wh-ping-result").inner_text()

    page.get_by_role("button", name="Ping").click()  # the subscriber is gone now
    page.locator("#wh-ping-result .status.failed").wait_for()
    assert page.locator("#wh-ping-status").inner_text() == "no answer"
    notice(page, "The ping failed").wait_for()


def test_rotate_secret_shows_the_new_secret_once(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}")

    page.get_by_role("button", name="Rotate secret…").click()
    page.get_by_role("dialog").get_by_role("button", name="Rotate").click()

    shown = page.locator("#wh-secret").inner_text()
    rotated = endpoint_of(client, admin, endpoint["id"])
    assert shown == rotated["secret"] != endpoint["secret"]
    assert page.get_by_role("heading", name="New signing secret").is_visible()


def test_rotate_secret_can_be_called_off(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}")

    page.get_by_role("button", name="Rotate secret…").click()
    page.get_by_role("dialog").get_by_role("button", name="Keep it").click()

    assert page.get_by_role("dialog").count() == 0
    assert endpoint_of(client, admin, endpoint["id"])["secret"] == endpoint["secret"]


def test_disable_and_enable(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    heading = page.get_by_role("heading", name=f"Endpoint #{endpoint['id']}")
    assert heading.locator(".status").inner_text() == "enabled"

    page.get_by_role("button", name="Disable").click()

    page.get_by_role("button", name="Enable").wait_for()
    assert heading.locator(".status").inner_text() == "disabled"
    assert endpoint_of(client, admin, endpoint["id"])["enabled"] is False
    assert page.evaluate("document.activeElement.id") == "wh-toggle"

    page.get_by_role("button", name="Enable").click()

    page.get_by_role("button", name="Disable").wait_for()
    assert heading.locator(".status").inner_text() == "enabled"
    assert endpoint_of(client, admin, endpoint["id"])["enabled"] is True


def test_replay_since_a_time_queues_the_events_again(at, admin, client, hooked):
    _, endpoint, delivered, failed, _ = hooked
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    item(page, failed).wait_for()
    an_hour_ago = datetime.datetime.now() - datetime.timedelta(hours=1)  # the browser's zone

    page.get_by_role("button", name="Replay…").click()
    page.get_by_label("Since (your time)").fill(an_hour_ago.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("dialog").get_by_role("button", name="Replay").click()

    notice(page, "2 deliveries queued.").wait_for()
    page.wait_for_selector(f"#delivery-{failed['id']}[data-state='pending']")
    page.wait_for_selector(f"#delivery-{delivered['id']}[data-state='pending']")
    pending = deliveries(client, admin, endpoint, "?state=pending")
    assert {d["id"] for d in pending} == {delivered["id"], failed["id"]}


def test_replay_since_a_time_to_come_queues_nothing(at, admin, client, hooked):
    _, endpoint, _, failed, _ = hooked
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    item(page, failed).wait_for()
    tomorrow = datetime.datetime.now() + datetime.timedelta(days=1)

    page.get_by_role("button", name="Replay…").click()
    page.get_by_label("Since (your time)").fill(tomorrow.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("dialog").get_by_role("button", name="Replay").click()

    notice(page, "0 deliveries queued.").wait_for()
    assert deliveries(client, admin, endpoint, "?state=pending") == []


def test_delete_asks_first_then_the_endpoint_is_gone(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}")

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Keep it").click()
    assert endpoint_of(client, admin, endpoint["id"])["id"] == endpoint["id"]

    page.get_by_role("button", name="Delete…").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()

    page.wait_for_url(re.compile(r"#/webhooks$"))
    page.get_by_text("No webhook endpoints yet").wait_for()
    gone = client.get(f"/webhook-endpoints/{endpoint['id']}", headers=admin)
    assert gone.status_code == 404


def test_an_action_refused_shows_the_services_message(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}")
    page.get_by_text("No deliveries yet.").wait_for()
    client.delete(f"/webhook-endpoints/{endpoint['id']}", headers=admin)  # meanwhile

    page.get_by_role("button", name="Ping").click()
    notice(page, f"Webhook endpoint {endpoint['id']} not found.").wait_for()
    page.get_by_role("button", name="Disable").click()
    notice(page, f"Webhook endpoint {endpoint['id']} not found.").nth(1).wait_for()


def test_an_unknown_state_in_the_address_shows_the_services_message(at, admin, client):
    endpoint = subscribe(client, admin, "https://hooks.example.com/orders")
    page = at(admin, f"#/webhooks/{endpoint['id']}?state=lost")

    page.locator("section.deliveries [role=alert]").wait_for()
    assert "state" in page.locator("section.deliveries [role=alert]").inner_text()
    page.locator("nav.states").get_by_role("link", name="All").wait_for()


def test_hostile_text_renders_as_text(at, admin, client, place_order):
    with Subscriber(lambda n, body: (500, HOSTILE.encode())) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url, description=HOSTILE)
        place_order()
        send_due()
    page = at(admin, "#/webhooks")
    row = page.locator(f"tr[data-endpoint='{endpoint['id']}']")
    row.wait_for()

    assert HOSTILE in row.inner_text()
    assert page.locator("main img").count() == 0

    row.get_by_role("link", name=endpoint["url"]).click()
    page.locator("#wh-description-shown").wait_for()
    assert page.locator("#wh-description-shown").inner_text() == HOSTILE
    page.get_by_role("button", name="Show attempts").click()
    page.locator("table.attempt-list pre.answer").wait_for()
    assert page.locator("table.attempt-list pre.answer").inner_text() == HOSTILE
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)  # an injected onerror would have run by now
    assert page.errors == []


def test_screenshots_of_the_list_and_of_an_endpoints_failed_delivery(
    at, admin, client, hooked, shot
):
    _, endpoint, _, failed, _ = hooked
    subscribe(client, admin, "https://billing.example.com/hooks/orders", events=["order.paid"])
    paused = subscribe(client, admin, "https://crm.example.com/h", description="CRM, paused")
    client.patch(f"/webhook-endpoints/{paused['id']}", json={"enabled": False}, headers=admin)

    page = at(admin, "#/webhooks")
    page.get_by_role("link", name="1 failed").wait_for()
    shot(page, "webhooks")

    page.goto(page.url.split("#")[0] + f"#/webhooks/{endpoint['id']}")
    card = item(page, failed)
    card.get_by_role("button", name="Show attempts").click()
    card.locator("table.attempt-list tbody tr").first.wait_for()
    shot(page, "webhook-deliveries")
    assert page.errors == []


@pytest.mark.parametrize("address", ["#/webhooks", "#/webhooks/{id}"])
def test_the_pages_fit_a_phone(at, admin, hooked, shot, address):
    _, endpoint, _, failed, _ = hooked
    page = at(admin, address.format(id=endpoint["id"]), viewport=PHONE)
    if "{id}" in address:
        item(page, failed).get_by_role("button", name="Show attempts").click()
        item(page, failed).locator("table.attempt-list tbody tr").first.wait_for()
        shot(page, "webhook-deliveries-phone")
    else:
        page.get_by_role("link", name="1 failed").wait_for()
        shot(page, "webhooks-phone")

    # Nothing wider than the screen but the tables, which scroll inside their own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.errors == []
