"""What webhook tests do as an admin: subscribe, change an order, read deliveries and attempts,
and run the deliverer until nothing is pending."""

import datetime
import time

from orders_service.events.deliver import Deliverer, Settings
from orders_service.events.models import Delivery
from tests.subscriber import Subscriber

SCHEDULE = (datetime.timedelta(seconds=1), datetime.timedelta(seconds=1))


def deliverer(timeout=1.0, schedule=SCHEDULE, **settings):
    """A deliverer fast to retry, for subscribers on loopback."""
    return Deliverer(Settings(timeout, schedule, allow_private_targets=True, **settings))


def settle(worker, deadline=60):
    """Run the deliverer until nothing is due (retries come due after SCHEDULE's waits)."""
    end = time.monotonic() + deadline
    due = Delivery.state == "pending", Delivery.next_attempt_at.is_null(False)
    while Delivery.select().where(*due).exists():
        assert time.monotonic() < end, "deliveries still pending"
        worker.run(once=True)
        time.sleep(0.1)


def subscribe(client, admin, url, **body):
    response = client.post("/webhook-endpoints", json={"url": url, **body}, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def change(client, admin, order_id, status):
    body = {"orderId": order_id, "status": status}
    assert client.post("/orders/status-update", json=body, headers=admin).status_code == 200


def deliveries(client, admin, endpoint, query=""):
    response = client.get(f"/webhook-endpoints/{endpoint['id']}/deliveries{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def attempts(client, admin, endpoint, delivery, query=""):
    url = f"/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/attempts{query}"
    response = client.get(url, headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def deliver_once(client, admin, place_order, answer, timeout):
    """One order's event to a subscriber answering `answer`, and one run of the deliverer:
    (the endpoint, its delivery, the seconds the run took, the subscriber)."""
    with Subscriber(lambda n, body: answer) as subscriber:
        endpoint = subscribe(client, admin, subscriber.url)
        place_order()
        started = time.monotonic()
        deliverer(timeout=timeout).run(once=True)
        took = time.monotonic() - started
    [delivery] = deliveries(client, admin, endpoint)
    return endpoint, delivery, took, subscriber
