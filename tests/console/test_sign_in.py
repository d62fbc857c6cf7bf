"""Signing in: a staff token opens the console, any other is told why, an expired one ends
the session; the page is served with the strict policy and calls only the API."""

from orders_service.auth import issue_token
from tests.conftest import ADMIN_ID


def test_the_link_make_run_prints_signs_in_and_drops_the_token_from_the_address(
    console, admin, shot
):
    page = console(admin)

    assert page.url.endswith("/console#/orders")
    assert page.get_by_role("heading", name="Orders").is_visible()
    assert page.evaluate("sessionStorage.length") == 1
    assert page.errors == []
    shot(page, "sign-in-orders-empty")


def test_a_pasted_token_signs_in(chromium, live, admin, shot):
    page = chromium.new_page()
    page.goto(f"{live.url}/console")
    page.get_by_label("Staff token").fill(admin["Authorization"].removeprefix("Bearer "))
    shot(page, "sign-in")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Orders").wait_for()
    assert page.get_by_role("link", name="Leads").is_visible()
    page.close()


def test_a_customer_token_sees_staff_only(customer, live, chromium):
    page = chromium.new_page()
    page.goto(f"{live.url}/console#token={customer['Authorization'].removeprefix('Bearer ')}")

    page.get_by_role("heading", name="Staff only").wait_for()
    assert page.locator("#nav").is_hidden()
    page.get_by_role("button", name="Use another token").click()
    page.get_by_label("Staff token").wait_for()
    page.close()


def test_an_expired_token_goes_back_to_sign_in(console, app, client, catalog, customer, admin):
    client.post("/orders/new", json=["3"], headers=customer)
    page = console(admin)
    page.get_by_role("link", name="#1").wait_for()
    expired = issue_token(app.config, ADMIN_ID, admin=True, ttl=-60)  # as the tab's ran out
    page.evaluate("(token) => sessionStorage.setItem('orders-service.token', token)", expired)

    page.get_by_role("link", name="#1").click()

    page.get_by_text("Your token was refused").wait_for()
    assert page.get_by_label("Staff token").is_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_a_link_whose_token_cannot_be_read_asks_for_it(chromium, live):
    page = chromium.new_page()
    page.goto(f"{live.url}/console#token=%E0%A4%A")

    page.get_by_text("The link's token is not readable").wait_for()
    assert "token" not in page.url
    page.close()


def test_a_bad_token_is_refused_with_the_reason(chromium, live):
    page = chromium.new_page()
    page.goto(f"{live.url}/console#token=not-a-token")

    page.get_by_text("Your token was refused").wait_for()
    page.close()


def test_the_page_has_the_strict_policy_and_loads_nothing_from_elsewhere(console, admin, live):
    page = console(admin)
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    reply = page.reload()
    page.get_by_role("heading", name="Orders").wait_for()

    policy = reply.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy
    assert asked and all(url.startswith(live.url + "/") for url in asked)


def test_a_page_answered_after_staff_went_elsewhere_does_not_draw_over_it(console, admin):
    page = console(admin)
    page.locator("main table.orders, main .empty").wait_for()  # its first answer is drawn
    held = []
    page.route("**/orders?*", lambda route: held.append(route))  # the answer, held back
    page.get_by_label("Status").select_option("paid")
    page.get_by_role("button", name="Filter").click()  # the orders page asks again…
    page.wait_for_function(
        "() => document.querySelector('main .muted')?.textContent === 'Loading…'"
    )

    page.get_by_role("link", name="Leads").click()  # …and staff go on before it answers
    page.locator("main h1", has_text="Leads").wait_for()
    with page.expect_request_finished(lambda request: "/orders?" in request.url):
        held[0].continue_()
    # The answer is in; two frames later a page drawing it would have drawn it.
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )

    assert page.locator("main h1").all_inner_texts() == ["Leads"]
