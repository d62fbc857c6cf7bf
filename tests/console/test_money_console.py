"""Amounts in the console are in the shop's currency: the API counts in its smallest unit,
which for the yen is the yen itself."""

import pytest

from tests.conftest import empty_tables


@pytest.fixture
def app(migrated, make_app):
    """A shop that sells in yen (a currency without minor units)."""
    app = make_app(CURRENCY="jpy")
    yield app
    with app.app_context():
        empty_tables()


def test_a_shop_in_yen_shows_and_refunds_whole_yen(console, admin, client, customer, catalog):
    order = client.post("/orders/new", json=["3"], headers=customer).get_json()  # 4999
    assert order["currency"] == "jpy"
    paid = {"orderId": order["id"], "status": "paid"}
    assert client.post("/orders/status-update", json=paid, headers=admin).status_code == 200
    page = console(admin, f"#/orders/{order['id']}")
    assert page.locator("#order-total").inner_text() in ("¥4,999", "JP¥4,999")

    page.get_by_role("button", name="Refund…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("radio", name="an amount").check()
    dialog.get_by_role("textbox", name="Amount").fill("500.5")  # the yen has no decimals
    dialog.get_by_role("button", name="Refund", exact=True).click()
    dialog.get_by_text("Type an amount of JPY").wait_for()
    dialog.get_by_role("textbox", name="Amount").fill("500")
    dialog.get_by_role("button", name="Refund", exact=True).click()

    page.locator("#order-refunded", has_text="500").wait_for()
    shown = client.get(f"/orders/{order['id']}", headers=admin).get_json()
    assert shown["amountRefundedInCents"] == 500
    assert page.locator("#order-left").inner_text().endswith("4,499")
