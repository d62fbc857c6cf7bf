"""Fulfilment in the console: parcels sent from the fulfil dialog with their tracking, an
authorized order's hold captured by fulfilling it, refusals shown in the dialog, and all of
it by keyboard."""

from tests.console.conftest import PHONE, visit
from tests.console.test_orders_console import focus_by_tab, move, order_for

HOODIE, SOCKS = "Grey Hoodie (M)", "Striped Socks"  # products 3 and 8 of the demo catalog
TIMES = "\u00d7"  # the multiplication sign of "2 \u00d7 Grey Hoodie (M)" on the page


def fulfillments(client, admin, order_id):
    return client.get(f"/orders/{order_id}", headers=admin).get_json()["fulfillments"]


def history(client, admin, order_id):
    answer = client.get(f"/orders/{order_id}/history", headers=admin).get_json()
    return [(change["from"], change["to"]) for change in answer]


def authorize(runner, order_id):
    """The card's hold, as Stripe reports it for manual capture (pending -> authorized)."""
    result = runner.invoke(args=["payments", "simulate", str(order_id), "authorized"])
    assert result.exit_code == 0 and result.output.endswith(": authorized\n"), result.output


def open_fulfil_dialog(page):
    page.get_by_role("button", name="Fulfil…").click()
    return page.get_by_role("dialog", name="Fulfil order")


def test_a_paid_order_sent_in_two_parcels_the_first_with_tracking(
    console, admin, client, customer, catalog, live, shot
):
    order = order_for(client, customer, items=("3", "3", "8"))
    move(client, admin, order["id"], "paid")
    # A tracking page on the live server, so that following the link leaves no machine.
    tracking = f"{live.url}/healthz?tracknum=1Z999AA10123456784"
    page = console(admin, f"#/orders/{order['id']}")
    assert page.locator("#order-fulfillment").inner_text() == "unfulfilled"

    dialog = open_fulfil_dialog(page)
    assert dialog.get_by_label(f"Quantity of {HOODIE} to send").input_value() == "2"  # all left
    dialog.get_by_label(f"Quantity of {HOODIE} to send").fill("1")
    dialog.get_by_label(f"Quantity of {SOCKS} to send").fill("0")
    dialog.get_by_label("Carrier").fill("UPS")
    dialog.get_by_label("Tracking number").fill("1Z999AA10123456784")
    dialog.get_by_label("Tracking link").fill(tracking)
    shot(page, "order-fulfil")
    dialog.get_by_role("button", name="Fulfil", exact=True).click()

    page.locator("#order-fulfillment", has_text="partial").wait_for()
    assert page.locator("#order-status").inner_text() == "paid"
    assert "2 left to send" in page.locator("#order-fulfillment").inner_text()
    parcel = page.locator("#fulfillments li")
    assert parcel.count() == 1
    assert f"1 {TIMES} {HOODIE}, UPS 1Z999AA10123456784" in parcel.inner_text()
    assert "customer notified" in parcel.inner_text()
    link = parcel.get_by_role("link", name="track the parcel")
    assert link.get_attribute("href") == tracking
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert link.get_attribute("target") == "_blank"
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    tab.wait_for_load_state()
    assert tab.url == tracking
    assert tab.evaluate("[window.opener, document.referrer]") == [None, ""]
    tab.close()
    (recorded,) = fulfillments(client, admin, order["id"])
    assert recorded["lines"] == [{"productId": 3, "quantity": 1}]
    assert (recorded["carrier"], recorded["trackingUrl"]) == ("UPS", tracking)
    assert recorded["notifyCustomer"] is True

    dialog = open_fulfil_dialog(page)  # the rest: what is left, as offered
    assert dialog.get_by_label(f"Quantity of {HOODIE} to send").input_value() == "1"
    assert dialog.get_by_label(f"Quantity of {SOCKS} to send").input_value() == "1"
    dialog.get_by_label("Notify the customer").uncheck()
    dialog.get_by_role("button", name="Fulfil", exact=True).click()

    page.locator("#order-status", has_text="shipped").wait_for()
    assert page.locator("#order-fulfillment").inner_text() == "fulfilled"
    assert page.locator("#fulfillments li").count() == 2
    assert page.get_by_role("button", name="Fulfil…").count() == 0  # nothing left to send
    rows = page.locator("#history li").all_inner_texts()
    assert sum("paid → shipped" in row for row in rows) == 1
    assert history(client, admin, order["id"]) == [
        (None, "pending"),
        ("pending", "paid"),
        ("paid", "shipped"),
    ]
    shown = client.get(f"/orders/{order['id']}", headers=admin).get_json()
    assert (shown["status"], shown["fulfillmentStatus"]) == ("shipped", "fulfilled")
    assert shown["fulfillments"][1]["lines"] == [
        {"productId": 3, "quantity": 1},
        {"productId": 8, "quantity": 1},
    ]
    assert page.errors == []
    shot(page, "order-fulfilled")


def test_an_authorized_order_shows_its_hold_and_fulfilling_captures_it(
    console, admin, client, customer, catalog, runner, shot
):
    order = order_for(client, customer, items=("3", "3", "8"))
    authorize(runner, order["id"])
    expires = client.get(f"/orders/{order['id']}", headers=admin).get_json()[
        "authorizationExpiresAt"
    ]
    assert expires
    page = console(admin, f"#/orders/{order['id']}")

    assert page.locator("#order-status").inner_text() == "authorized"
    # In the staff's own time zone, as every other time on the page.
    local = page.evaluate("(iso) => new Date(iso).toLocaleString()", expires)
    assert page.locator("#order-hold-ends").inner_text() == local
    note = page.locator("main #capture-note")
    assert "fulfilling this order captures the payment (" in note.inner_text()
    assert "108.97" in note.inner_text()  # the whole order: 2 hoodies and the socks
    assert local in note.inner_text()
    moves = page.get_by_role("group", name="Moves").get_by_role("button").all_inner_texts()
    assert moves == ["Capture the payment", "Cancel order", "Fulfil…"]  # no refund of a hold
    shot(page, "order-authorized")

    dialog = open_fulfil_dialog(page)
    assert "captures the payment" in dialog.locator(".note").inner_text()
    dialog.get_by_label(f"Quantity of {SOCKS} to send").fill("0")
    dialog.get_by_role("button", name="Capture and fulfil").click()

    page.locator("#order-status", has_text="paid").wait_for()  # captured, then one parcel
    assert "partial" in page.locator("#order-fulfillment").inner_text()
    assert page.locator("#capture-note").count() == 0
    assert page.locator("#order-hold-ends").count() == 0
    assert page.get_by_role("button", name="Refund…").count() == 1  # money taken: refundable

    dialog = open_fulfil_dialog(page)
    dialog.get_by_role("button", name="Fulfil", exact=True).click()

    page.locator("#order-status", has_text="shipped").wait_for()
    assert page.locator("#order-fulfillment").inner_text() == "fulfilled"
    assert history(client, admin, order["id"])[1:] == [
        ("pending", "authorized"),
        ("authorized", "paid"),
        ("paid", "shipped"),
    ]
    assert page.errors == []


def test_an_authorized_order_captured_without_a_parcel(
    console, admin, client, customer, catalog, runner
):
    order = order_for(client, customer)
    authorize(runner, order["id"])
    page = console(admin, f"#/orders/{order['id']}")

    page.get_by_role("button", name="Capture the payment").click()

    page.locator("#order-status", has_text="paid").wait_for()
    assert page.locator("#capture-note").count() == 0
    assert page.locator("#order-fulfillment").inner_text() == "unfulfilled"
    assert history(client, admin, order["id"])[-1] == ("authorized", "paid")


def test_an_authorized_orders_page_on_a_phone(console, admin, client, customer, catalog, runner):
    order = order_for(client, customer, items=("3", "8", "9"))
    authorize(runner, order["id"])
    page = console(admin, f"#/orders/{order['id']}", viewport=PHONE)
    page.locator("#capture-note").wait_for()

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    open_fulfil_dialog(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_refused_fulfilments_show_why_in_the_dialog_and_record_nothing(
    console, admin, client, customer, catalog
):
    order = order_for(client, customer, items=("3", "3", "8"))
    move(client, admin, order["id"], "paid")
    page = console(admin, f"#/orders/{order['id']}")
    dialog = open_fulfil_dialog(page)
    hoodies = dialog.get_by_label(f"Quantity of {HOODIE} to send")
    send = dialog.get_by_role("button", name="Fulfil", exact=True)

    hoodies.fill("3")  # one more than was bought: the browser holds the form back
    send.click()
    assert hoodies.evaluate("(input) => input.validity.rangeOverflow")
    assert dialog.is_visible()
    hoodies.fill("2")
    dialog.get_by_label("Tracking link").fill("javascript:alert(document.domain)")
    send.click()  # a well-formed URL to the browser, refused by the service

    dialog.get_by_role("alert").get_by_text("trackingUrl: Not a valid URL.").wait_for()
    assert fulfillments(client, admin, order["id"]) == []

    colleague = {"lines": [{"productId": 3, "quantity": 1}]}  # meanwhile, one hoodie leaves
    sent = client.post(f"/orders/{order['id']}/fulfillments", json=colleague, headers=admin)
    assert sent.status_code == 201, sent.get_json()
    dialog.get_by_label("Tracking link").fill("")
    send.click()  # still the two hoodies shown: not "whatever is left"

    dialog.get_by_role("alert").get_by_text(
        "More units than are left to send: product 3: 2 asked, 1 left."
    ).wait_for()
    assert len(fulfillments(client, admin, order["id"])) == 1  # the colleague's alone
    assert history(client, admin, order["id"])[-1] == ("pending", "paid")
    dialog.get_by_role("button", name="Close").click()
    assert page.get_by_role("dialog").count() == 0


def test_what_was_refunded_by_line_is_not_offered_to_send(
    console, admin, client, customer, catalog
):
    order = order_for(client, customer, items=("3", "3", "8"))
    move(client, admin, order["id"], "paid")
    socks = {"lines": [{"productId": 8, "quantity": 1}]}
    refunded = client.post(f"/orders/{order['id']}/refunds", json=socks, headers=admin)
    assert refunded.status_code == 201, refunded.get_json()
    page = console(admin, f"#/orders/{order['id']}")
    dialog = open_fulfil_dialog(page)

    assert dialog.get_by_label(f"Quantity of {HOODIE} to send").input_value() == "2"
    assert dialog.get_by_label(f"Quantity of {SOCKS} to send").is_disabled()
    assert "0 left to send" in dialog.get_by_role("row", name=SOCKS).inner_text()
    dialog.get_by_role("button", name="Fulfil", exact=True).click()

    page.locator("#order-status", has_text="shipped").wait_for()  # all sent or refunded
    (recorded,) = fulfillments(client, admin, order["id"])
    assert recorded["lines"] == [{"productId": 3, "quantity": 2}]


def test_nothing_chosen_is_not_sent(console, admin, client, customer, catalog):
    order = order_for(client, customer, items=("3",))
    move(client, admin, order["id"], "paid")
    page = console(admin, f"#/orders/{order['id']}")
    dialog = open_fulfil_dialog(page)

    dialog.get_by_label(f"Quantity of {HOODIE} to send").fill("0")
    dialog.get_by_role("button", name="Fulfil", exact=True).click()

    dialog.get_by_text("Send at least one unit.").wait_for()
    assert fulfillments(client, admin, order["id"]) == []


def test_a_tracking_link_that_is_not_http_is_text(console, admin, client, customer, catalog, app):
    """The service takes only http(s) links; one written by other means is still no link."""
    from orders_service.orders.models import Fulfillment

    order = order_for(client, customer, items=("3",))
    move(client, admin, order["id"], "paid")
    sent = client.post(
        f"/orders/{order['id']}/fulfillments",
        json={"trackingUrl": "https://carrier.example/t/1"},
        headers=admin,
    )
    assert sent.status_code == 201
    with app.app_context():
        Fulfillment.update(tracking_url="javascript:document.title='owned'").execute()
    page = console(admin, f"#/orders/{order['id']}")

    parcel = page.locator("#fulfillments li")
    assert "javascript:document.title='owned'" in parcel.inner_text()
    assert parcel.get_by_role("link").count() == 0


def test_the_orders_list_shows_what_was_sent(console, admin, client, customer, catalog):
    partial, untouched = (order_for(client, customer, items=("3", "8")) for _ in range(2))
    for order in (partial, untouched):
        move(client, admin, order["id"], "paid")
    one = {"lines": [{"productId": 8, "quantity": 1}]}
    sent = client.post(f"/orders/{partial['id']}/fulfillments", json=one, headers=admin)
    assert sent.status_code == 201
    page = console(admin)

    rows = page.locator("table.orders tbody tr")
    rows.first.wait_for()
    column = page.locator("table.orders th").all_inner_texts().index("Fulfilment")
    shown = [row.locator("td").nth(column).inner_text() for row in rows.all()]
    assert shown == ["unfulfilled", "partial"]  # newest first


def test_by_keyboard_alone_open_fill_and_send_a_parcel(console, admin, client, customer, catalog):
    order = order_for(client, customer, items=("3", "8"))
    move(client, admin, order["id"], "paid")
    page = console(admin)
    visit(page, f"#/orders/{order['id']}")

    focus_by_tab(page, "Fulfil…")
    page.keyboard.press("Enter")
    page.get_by_role("dialog", name="Fulfil order").wait_for()
    focus_by_tab(page, "Carrier")
    page.keyboard.type("DHL")
    page.keyboard.press("Tab")  # Tracking number
    page.keyboard.type("JD0146")
    page.keyboard.press("Tab")  # Tracking link
    page.keyboard.type("https://carrier.example/track/JD0146")
    page.keyboard.press("Tab")  # Notify the customer
    page.keyboard.press("Space")  # unchecked
    focus_by_tab(page, "Fulfil")
    page.keyboard.press("Enter")

    page.locator("#order-status", has_text="shipped").wait_for()
    (recorded,) = fulfillments(client, admin, order["id"])
    assert (recorded["carrier"], recorded["trackingNumber"]) == ("DHL", "JD0146")
    assert recorded["trackingUrl"] == "https://carrier.example/track/JD0146"
    assert recorded["notifyCustomer"] is False
    assert len(recorded["lines"]) == 2
