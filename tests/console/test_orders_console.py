"""Orders in the console: filters and pages, an order's moves, a refund of a line with
restock, and values that are only ever text."""

import datetime

import pytest

from orders_service.orders.models import Order
from tests.console.conftest import PHONE, visit

HOSTILE = "<img src=x onerror=\"document.title='owned'\">"


def order_for(client, headers, items=("3",)):
    response = client.post("/orders/new", json=list(items), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(client, admin, order_id, status):
    answer = client.post(
        "/orders/status-update", json={"orderId": order_id, "status": status}, headers=admin
    )
    assert answer.status_code == 200, answer.get_json()


def shown_ids(page):
    page.locator("table.orders tbody tr").first.wait_for()
    return [
        int(text.lstrip("#")) for text in page.locator("table.orders tbody a").all_inner_texts()
    ]


@pytest.fixture
def many_orders(app, client, admin, customer, other_customer, catalog):
    """25 orders: 7's and 8's by turns, every third paid, the first five placed in 2024."""
    ids = []
    for n in range(25):
        order = order_for(client, customer if n % 2 else other_customer)
        if n % 3 == 0:
            move(client, admin, order["id"], "paid")
        ids.append(order["id"])
    with app.app_context():
        old = datetime.datetime(2024, 3, 15, 12, 0)
        Order.update(created_at=old).where(Order.id.in_(ids[:5])).execute()
    return ids


def test_orders_page_newest_first_and_the_next_page_by_keyset(console, admin, many_orders, shot):
    page = console(admin)

    first = shown_ids(page)
    assert first == sorted(many_orders, reverse=True)[:20]
    shot(page, "orders")
    page.get_by_role("button", name="Next page").click()
    page.wait_for_url("**/console#/orders?after=*")

    assert shown_ids(page) == sorted(many_orders, reverse=True)[20:]
    assert page.get_by_role("button", name="Next page").count() == 0
    page.go_back()
    assert shown_ids(page) == first


def test_filters_are_in_the_address_and_a_reload_keeps_them(console, admin, many_orders, client):
    page = console(admin)
    page.get_by_label("Status").select_option("paid")
    page.get_by_label("Customer id").fill("8")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/console#/orders?status=paid&userId=8")

    expected = [
        o["id"]
        for o in client.get("/orders?status=paid&userId=8&limit=100", headers=admin).get_json()
    ]
    assert expected and shown_ids(page) == expected
    page.reload()
    assert shown_ids(page) == expected
    assert page.get_by_label("Status").input_value() == "paid"


def test_a_date_range_shows_the_orders_of_those_days(console, admin, many_orders):
    page = console(admin)
    page.get_by_label("From").fill("2024-03-01")
    page.get_by_label("To (incl.)").fill("2024-03-31")
    page.get_by_role("button", name="Filter").click()

    assert shown_ids(page) == sorted(many_orders[:5], reverse=True)
    page.get_by_label("From").fill("2024-04-01")
    page.get_by_label("To (incl.)").fill("")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**from=2024-04-01")
    assert shown_ids(page) == sorted(many_orders[5:], reverse=True)[:20]


def test_an_order_id_jumps_to_it_and_an_unknown_one_says_so(console, admin, many_orders):
    page = console(admin)
    page.get_by_label("Order id").fill(str(many_orders[3]))
    page.get_by_role("button", name="Open").click()

    page.get_by_role("heading", name=f"Order #{many_orders[3]}").wait_for()
    assert page.url.endswith(f"#/orders/{many_orders[3]}")
    page.goto(page.url.replace(f"#/orders/{many_orders[3]}", "#/orders/999999"))
    page.get_by_role("alert").get_by_text("not found", exact=False).wait_for()


def test_ship_then_refund_one_line_with_restock(console, admin, client, customer, catalog, shot):
    order = order_for(client, customer, items=("9", "9", "10"))  # tracked stock: 10 and 100
    move(client, admin, order["id"], "paid")
    stock_before = client.get("/products/9", headers=admin).get_json()["stock"]
    page = console(admin, f"#/orders/{order['id']}")
    status = page.locator("#order-status")
    status.wait_for()
    assert page.locator("#history li").count() == 2  # placed, paid

    page.get_by_role("button", name="Mark shipped").click()

    page.locator("#order-status", has_text="shipped").wait_for()
    assert page.locator("#history li").count() == 3
    assert "paid → shipped" in page.locator("#history li").last.inner_text()
    assert client.get(f"/orders/{order['id']}", headers=admin).get_json()["status"] == "shipped"

    page.get_by_role("button", name="Refund…").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("radio", name="lines").check()
    dialog.get_by_label("Quantity of Limited Edition Hoodie (L) to refund").fill("1")
    assert dialog.get_by_label("Put the lines back in stock").is_checked()
    shot(page, "order-refund")
    dialog.get_by_role("button", name="Refund", exact=True).click()

    page.locator("#order-refunded", has_text="59.99").wait_for()
    shown = client.get(f"/orders/{order['id']}", headers=admin).get_json()
    assert shown["amountRefundedInCents"] == 5999
    left = (shown["amountInCents"] - 5999) / 100
    assert f"{left:,.2f}" in page.locator("#order-left").inner_text()
    assert page.locator(".refunds li").count() == 1
    assert "restocked" in page.locator(".refunds li").inner_text()
    assert client.get("/products/9", headers=admin).get_json()["stock"] == stock_before + 1
    page.get_by_text("order.refund", exact=False).first.wait_for()  # its event is listed
    shot(page, "order")


@pytest.mark.parametrize(
    ("path", "buttons"),
    [
        ([], ["Mark paid (by hand)", "Cancel order"]),
        (["paid"], ["Mark shipped", "Mark completed", "Refund the rest", "Fulfil…", "Refund…"]),
        (["paid", "shipped"], ["Mark completed", "Refund the rest", "Refund…"]),
        (["canceled"], []),
    ],
)
def test_the_only_move_buttons_are_the_allowed_ones(
    console, admin, client, customer, catalog, path, buttons
):
    order = order_for(client, customer)
    for status in path:
        move(client, admin, order["id"], status)
    page = console(admin, f"#/orders/{order['id']}")
    page.locator("#order-status").wait_for()

    offered = page.get_by_role("group", name="Moves").get_by_role("button").all_inner_texts()

    assert offered == buttons
    if not buttons:
        assert page.get_by_text("No move is possible from canceled.").is_visible()


def test_a_refused_move_shows_the_servers_reason_and_the_order_as_it_is(
    console, admin, client, customer, catalog
):
    order = order_for(client, customer)
    page = console(admin, f"#/orders/{order['id']}")
    page.get_by_role("button", name="Cancel order").wait_for()
    move(client, admin, order["id"], "paid")  # a colleague, meanwhile

    page.get_by_role("button", name="Cancel order").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel order").click()

    page.get_by_text("An order that is paid cannot become canceled.").wait_for()
    page.locator("#order-status", has_text="paid").wait_for()


def test_a_hostile_product_name_is_text_and_an_injected_script_is_blocked(
    console, admin, client, customer, catalog
):
    product = client.post(
        "/products", json={"sku": "X-1", "name": HOSTILE, "priceInCents": 100}, headers=admin
    ).get_json()
    order = order_for(client, customer, items=(str(product["id"]),))
    page = console(admin, f"#/orders/{order['id']}")

    page.get_by_text(HOSTILE).wait_for()  # the characters themselves
    assert page.locator("main img").count() == 0
    assert page.title() != "owned"
    blocked = page.evaluate(
        """() => new Promise((resolve) => {
            document.addEventListener('securitypolicyviolation',
                (event) => resolve(event.violatedDirective), {once: true});
            const script = document.createElement('script');
            script.textContent = "window.injected = true";
            document.body.append(script);
        })"""
    )
    assert blocked.startswith("script-src")
    assert page.evaluate("window.injected") is None
    assert [e for e in page.errors if "Content Security Policy" not in e] == []


def test_the_order_page_fits_a_phone(console, admin, client, customer, catalog, shot):
    order = order_for(client, customer, items=("3", "8", "9"))
    move(client, admin, order["id"], "paid")
    page = console(admin, f"#/orders/{order['id']}", viewport=PHONE)
    page.locator("#order-status").wait_for()

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing pushes the page sideways
    shot(page, "order-phone")


def test_the_orders_page_fits_a_phone_with_id_status_and_total(console, admin, many_orders, shot):
    page = console(admin, viewport=PHONE)
    page.locator("table.orders").wait_for()

    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    headers = page.locator("table.orders th:visible").all_inner_texts()
    assert headers == ["Order", "Placed", "Status", "Total"]
    shot(page, "orders-phone")


def focus_by_tab(page, name, most=60):
    """Press Tab until the focused element's text or label is `name`, as a keyboard user does."""
    for _ in range(most):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement.labels?.[0] || document.activeElement).innerText"
        )
        if focused and focused.strip() == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_by_keyboard_alone_filter_open_an_order_and_ship_it(
    console, admin, client, customer, catalog
):
    order = order_for(client, customer)
    move(client, admin, order["id"], "paid")
    order_for(client, customer)  # a pending one, filtered out below
    page = console(admin)
    page.locator("table.orders").wait_for()

    focus_by_tab(page, "Status")
    page.keyboard.press("ArrowDown")  # any -> pending
    page.keyboard.press("ArrowDown")  # pending -> authorized
    page.keyboard.press("ArrowDown")  # authorized -> paid
    focus_by_tab(page, "Filter")
    page.keyboard.press("Enter")
    page.wait_for_url("**status=paid")
    focus_by_tab(page, f"#{order['id']}")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=f"Order #{order['id']}").wait_for()
    focus_by_tab(page, "Mark shipped")
    page.keyboard.press("Enter")

    page.locator("#order-status", has_text="shipped").wait_for()
    assert client.get(f"/orders/{order['id']}", headers=admin).get_json()["status"] == "shipped"


def test_the_drawn_mark_comes_after_the_rows_are_painted(console, admin, many_orders):
    """The mark bench/console.py times (make bench-console, README: Staff console)."""
    page = console(admin)
    page.locator("table.orders").wait_for()
    page.wait_for_function("() => performance.getEntriesByName('orders:drawn').length > 0")

    answered, drawn, rows = page.evaluate(
        """() => {
            const [answered, drawn] = ['orders:answered', 'orders:drawn'].map(
                (name) => performance.getEntriesByName(name).at(-1));
            return [answered.startTime, drawn.startTime, drawn.detail.rows];
        }"""
    )

    assert answered <= drawn
    assert rows == page.locator("table.orders tbody tr").count() == 20


def test_a_hand_edited_date_is_no_filter_not_an_error(console, admin, many_orders):
    page = console(admin)
    visit(page, "#/orders?from=abc&to=2024-13-45")

    assert page.get_by_role("alert").count() == 0
    assert len(shown_ids(page)) == 20
    assert page.errors == []
