"""Stripe idempotency keys: the same for every retry of an order, shared with no other order."""

import pytest

from orders_service.database import apply_migrations, db
from orders_service.orders.models import IdempotencyKey, Order


def create(client, headers, cart, key=None):
    headers = {**headers, **({"Idempotency-Key": key} if key else {})}
    return client.post("/orders/new", json=cart, headers=headers)


def intent_keys(stripe_fake):
    return [
        call.headers["idempotency-key"] for call in stripe_fake.calls("POST", "/v1/payment_intents")
    ]


@pytest.fixture
def second_shop(stripe_app, make_app, stripe_config, tmp_path):
    """open() → the app of another deployment on the same Stripe account, on its own database.

    Apps share the process's database proxy, so the second shop takes it over when opened
    (the first shop's requests come before) and gives it back to the session's database after.
    """

    def open_shop():
        shop = make_app(**stripe_config, DATABASE_URL=f"sqlite:///{tmp_path / 'second.db'}")
        with shop.app_context():
            apply_migrations()
            db.close()
        assert shop.test_cli_runner().invoke(args=["seed"]).exit_code == 0
        return shop

    yield open_shop
    make_app()


def test_two_shops_on_one_stripe_account_get_their_own_intents_for_the_same_order_ids(
    stripe_client, stripe_fake, customer, catalog, second_shop
):
    first = [create(stripe_client, customer, cart) for cart in (["3"], ["4"])]
    shop = second_shop().test_client()
    second = [create(shop, customer, cart) for cart in (["3"], ["5"])]

    assert [r.status_code for r in first + second] == [201] * 4, [r.get_json() for r in second]
    assert [r.get_json()["id"] for r in second] == [r.get_json()["id"] for r in first]
    assert len({r.get_json()["clientSecret"] for r in first + second}) == 4
    assert len(stripe_fake.created_intents()) == 4
    assert len(set(intent_keys(stripe_fake))) == 4


def test_every_retry_of_one_order_after_a_lost_answer_sends_its_one_key(
    stripe_client, stripe_fake, customer, catalog
):
    stripe_fake.mode = "hang"  # Stripe makes the intent, and its answer never arrives
    stripe_fake.hang_seconds = 2
    assert create(stripe_client, customer, ["3"], key="cart").status_code == 503
    stripe_fake.mode = None

    retried = create(stripe_client, customer, ["3"], key="cart")

    assert retried.status_code == 201
    order = Order.get_by_id(IdempotencyKey.get().order_id)
    keys = intent_keys(stripe_fake)
    assert len(keys) >= 3  # the SDK's own retry, then the client's
    assert set(keys) == {f"order-{order.id}-{order.payment_key}-intent"}
    assert len(stripe_fake.created_intents()) == 1


def test_an_order_made_before_payment_keys_keeps_its_old_keys(
    stripe_client, stripe_fake, customer, catalog
):
    order = create(stripe_client, customer, ["3"]).get_json()
    Order.update(payment_key=None).where(Order.id == order["id"]).execute()  # as 0003 left it

    canceled = stripe_client.post(
        "/orders/status-update",
        json={"orderId": order["id"], "status": "canceled"},
        headers=customer,
    )

    assert canceled.status_code == 200, canceled.get_json()
    [call] = stripe_fake.calls("POST", r"/v1/payment_intents/\w+/cancel")
    assert call.headers["idempotency-key"] == f"order-{order['id']}-cancel"
