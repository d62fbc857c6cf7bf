"""The leads board in a real browser: columns in statusOrder, leads as cards, moved by mouse
and by keyboard; every change shows at once and is put back, with the service's message,
when the service refuses it."""

import pytest

from tests.console.conftest import PHONE
from tests.leads_board import add_columns, add_lead

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def board(client, admin):
    """Three columns; Ada and Grace in New, Alan in Contacted, Won empty."""
    new, contacted, won = add_columns(client, admin, "New", "Contacted", "Won")
    leads = {
        "Ada": add_lead(client, admin, "Ada Lovelace", statusId=new["id"]),
        "Grace": add_lead(client, admin, "Grace Hopper", statusId=new["id"], source="fair"),
        "Alan": add_lead(client, admin, "Alan Turing", statusId=contacted["id"]),
    }
    return {"New": new, "Contacted": contacted, "Won": won, "leads": leads}


def open_board(console, admin, viewport=None):
    """Sign in (on the orders page), wait for it, then click Leads, as a person would."""
    page = console(admin, **({"viewport": viewport} if viewport else {}))
    page.locator("main table.orders, main .empty").wait_for()
    page.locator("#nav").get_by_role("link", name="Leads").click()
    page.locator("#board:not([aria-busy])").wait_for()  # every column's first page is in
    return page


def column_names(page):
    return page.locator(".column h2").all_text_contents()


def api_names(client, admin):
    return [s["name"] for s in client.get("/leads/statuses", headers=admin).get_json()]


def column(page, name):
    return page.locator(".column").filter(has=page.get_by_role("heading", name=name, exact=True))


def card(page, name):
    return page.locator(".lead").filter(has_text=name)


def status_of(client, admin, lead):
    return client.get(f"/leads/{lead['id']}", headers=admin).get_json()["statusId"]


def drag(page, source, target):
    """A person's drag: press on `source`, move there in small steps, let go on `target`."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 5, start["y"] + start["height"] / 2, steps=3)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=20)
    page.wait_for_timeout(200)  # a hand rests a moment over the place before letting go
    page.mouse.move(end["x"] + end["width"] / 2 + 2, end["y"] + end["height"] / 2, steps=2)
    page.mouse.up()


def focused(page):
    return page.evaluate("document.activeElement.getAttribute('aria-label')") or ""


def tab_to(page, label):
    """Press Tab until the focused element's name starts with `label`."""
    for _ in range(40):
        page.keyboard.press("Tab")
        if focused(page).startswith(label):
            return
    raise AssertionError(f"Tab never reaches {label!r}")


def saved(page, method, path):
    """Wait for the page's `method` request to a URL ending in `path`."""
    return page.expect_response(
        lambda response: response.request.method == method and response.url.endswith(path)
    )


def error_notice(page, text):
    page.locator(".notice.error").filter(has_text=text).wait_for()


def test_the_board_shows_columns_in_order_and_cards_and_dragging_a_column_saves_the_order(
    console, admin, client, board
):
    page = open_board(console, admin)
    assert column_names(page) == ["New", "Contacted", "Won"]
    assert column(page, "New").locator(".lead-name").all_text_contents() == [
        "Grace Hopper",
        "Ada Lovelace",
    ]  # newest first, as the API lists them

    with saved(page, "PUT", "/leads/statuses/order") as answer:
        drag(page, column(page, "New").locator(".column-title"), column(page, "Won"))
    assert answer.value.status == 200

    assert column_names(page) == ["Contacted", "Won", "New"]
    assert api_names(client, admin) == ["Contacted", "Won", "New"]
    page.reload()
    page.locator("#board:not([aria-busy])").wait_for()
    assert column_names(page) == ["Contacted", "Won", "New"]
    assert page.errors == []


def test_dragging_a_card_to_another_column_changes_its_status(console, admin, client, board):
    page = open_board(console, admin)

    with saved(page, "PATCH", f"/leads/{board['leads']['Ada']['id']}") as answer:
        drag(page, card(page, "Ada Lovelace"), column(page, "Won").locator(".cards"))
    assert answer.value.status == 200

    assert status_of(client, admin, board["leads"]["Ada"]) == board["Won"]["id"]
    assert column(page, "Won").locator(".count").text_content() == "1"
    assert column(page, "New").locator(".count").text_content() == "1"
    page.reload()
    page.locator("#board:not([aria-busy])").wait_for()
    assert column(page, "Won").locator(".lead-name").all_text_contents() == ["Ada Lovelace"]
    assert page.errors == []


def test_removing_a_column_that_holds_leads_is_refused_and_it_comes_back(
    console, admin, client, board
):
    page = open_board(console, admin)

    with saved(page, "DELETE", f"/leads/statuses/{board['New']['id']}") as answer:
        page.get_by_role("button", name="Remove column New").click()
    assert answer.value.status == 409

    error_notice(page, f"Lead status {board['New']['id']} still holds 2 leads")
    assert column_names(page) == ["New", "Contacted", "Won"]
    assert column(page, "New").locator(".lead").count() == 2
    assert api_names(client, admin) == ["New", "Contacted", "Won"]


def test_a_card_dragged_to_a_column_removed_behind_the_pages_back_goes_back(
    console, admin, client, board
):
    page = open_board(console, admin)
    assert client.delete(f"/leads/statuses/{board['Won']['id']}", headers=admin).status_code == 204

    with saved(page, "PATCH", f"/leads/{board['leads']['Ada']['id']}") as answer:
        drag(page, card(page, "Ada Lovelace"), column(page, "Won").locator(".cards"))
    assert answer.value.status == 400

    error_notice(page, f"Unknown lead status {board['Won']['id']}.")
    assert column(page, "New").locator(".lead-name").all_text_contents() == [
        "Grace Hopper",
        "Ada Lovelace",
    ]
    assert column(page, "Won").locator(".lead").count() == 0
    assert column(page, "New").locator(".count").text_content() == "2"
    assert status_of(client, admin, board["leads"]["Ada"]) == board["New"]["id"]


def test_a_column_order_the_service_refuses_is_put_back(console, admin, client, board):
    page = open_board(console, admin)
    assert client.delete(f"/leads/statuses/{board['Won']['id']}", headers=admin).status_code == 204

    with saved(page, "PUT", "/leads/statuses/order") as answer:
        drag(page, column(page, "Contacted").locator(".column-title"), column(page, "New"))
    assert answer.value.status == 404

    error_notice(page, f"Unknown lead statuses: {board['Won']['id']}.")
    assert column_names(page) == ["New", "Contacted", "Won"]
    assert api_names(client, admin) == ["New", "Contacted"]


def test_add_rename_and_remove_a_column(console, admin, client, board):
    page = open_board(console, admin)

    page.get_by_label("New column").fill("Lost")
    with saved(page, "POST", "/leads/statuses") as answer:
        page.get_by_role("button", name="Add column").click()
    assert answer.value.status == 201
    assert column_names(page) == ["New", "Contacted", "Won", "Lost"]
    assert api_names(client, admin) == ["New", "Contacted", "Won", "Lost"]

    page.get_by_role("button", name="Rename column Lost").click()
    page.get_by_role("dialog").get_by_label("Name").fill("Lost for good")
    with saved(page, "PATCH", f"/leads/statuses/{answer.value.json()['id']}") as renamed:
        page.get_by_role("dialog").get_by_role("button", name="Save").click()
    assert renamed.value.status == 200
    assert column_names(page) == ["New", "Contacted", "Won", "Lost for good"]
    assert api_names(client, admin) == ["New", "Contacted", "Won", "Lost for good"]

    with saved(page, "DELETE", f"/leads/statuses/{board['Won']['id']}") as removed:
        page.get_by_role("button", name="Remove column Won").click()
    assert removed.value.status == 204
    assert column_names(page) == ["New", "Contacted", "Lost for good"]
    assert api_names(client, admin) == ["New", "Contacted", "Lost for good"]
    assert page.errors == []


def test_a_taken_name_is_refused_and_the_old_name_comes_back(console, admin, client, board):
    page = open_board(console, admin)

    page.get_by_role("button", name="Rename column Won").click()
    page.get_by_role("dialog").get_by_label("Name").fill("new")
    page.get_by_role("dialog").get_by_role("button", name="Save").click()

    error_notice(page, "A lead status named 'new' already exists")
    assert column_names(page) == ["New", "Contacted", "Won"]

    page.get_by_label("New column").fill("CONTACTED")
    page.get_by_role("button", name="Add column").click()
    error_notice(page, "A lead status named 'CONTACTED' already exists")
    assert column_names(page) == ["New", "Contacted", "Won"]
    assert api_names(client, admin) == ["New", "Contacted", "Won"]


def test_the_keyboard_alone_moves_a_column_and_a_card(console, admin, client, board):
    page = open_board(console, admin)

    tab_to(page, "Column New")  # past the menu and the new column's form
    with saved(page, "PUT", "/leads/statuses/order"):
        page.keyboard.press("ArrowRight")
    assert column_names(page) == ["Contacted", "New", "Won"]
    assert api_names(client, admin) == ["Contacted", "New", "Won"]
    assert focused(page).startswith("Column New, 2 leads, place 2 of 3")

    tab_to(page, "Grace Hopper")  # into the column: its buttons, then its cards
    with saved(page, "PATCH", f"/leads/{board['leads']['Grace']['id']}"):
        page.keyboard.press("ArrowRight")
    assert column(page, "Won").locator(".lead-name").all_text_contents() == ["Grace Hopper"]
    assert status_of(client, admin, board["leads"]["Grace"]) == board["Won"]["id"]
    assert focused(page) == "Grace Hopper, in Won"

    # The same moves are buttons with names, for whoever cannot guess the keys.
    tab_to(page, "Move Grace Hopper to New")
    with saved(page, "PATCH", f"/leads/{board['leads']['Grace']['id']}"):
        page.keyboard.press("Enter")
    assert focused(page) == "Move Grace Hopper to Contacted"  # the same button, on from New
    tab_to(page, "Move column Won left")
    with saved(page, "PUT", "/leads/statuses/order"):
        page.keyboard.press("Enter")
    assert focused(page) == "Move column Won left"
    assert column_names(page) == ["Contacted", "Won", "New"]
    assert api_names(client, admin) == ["Contacted", "Won", "New"]
    assert status_of(client, admin, board["leads"]["Grace"]) == board["New"]["id"]
    assert page.errors == []


def test_two_quick_moves_are_saved_one_after_the_other_and_the_last_one_wins(
    console, admin, client, board
):
    page = open_board(console, admin)
    held, sent = [], []  # the service is slow to answer the first save

    def hold_the_first(route):
        sent.append(route.request)
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route("**/leads/statuses/order", hold_the_first)
    tab_to(page, "Column New")

    page.keyboard.press("ArrowRight")  # New after Contacted…
    page.keyboard.press("ArrowRight")  # …then after Won, before the first is saved
    page.wait_for_timeout(300)

    assert column_names(page) == ["Contacted", "Won", "New"]
    assert len(sent) == 1  # the second save waits for the first's answer
    held[0].continue_()
    page.wait_for_function("() => document.querySelectorAll('#notice .notice').length >= 2")
    assert len(sent) == 2
    assert api_names(client, admin) == ["Contacted", "Won", "New"]


def test_a_column_loads_its_cards_a_page_at_a_time(console, admin, client, board):
    for number in range(25):
        add_lead(client, admin, f"Lead {number:02}", statusId=board["Won"]["id"])
    page = open_board(console, admin)
    won = column(page, "Won")

    assert won.locator(".lead").count() == 20
    assert won.locator(".count").text_content() == "25"
    won.get_by_role("button", name="More").click()
    won.get_by_text("Lead 00").wait_for()
    assert won.locator(".lead").count() == 25
    assert won.get_by_role("button", name="More").is_hidden()


def test_hostile_names_are_shown_as_text(console, admin, client):
    add_columns(client, admin, HOSTILE)
    add_lead(client, admin, HOSTILE, email="x@example.com", source=HOSTILE)
    page = open_board(console, admin)

    assert column_names(page) == [HOSTILE]
    assert card(page, HOSTILE).locator(".lead-name").text_content() == HOSTILE
    assert page.locator("main img").count() == 0
    assert page.errors == []


def test_screenshots_of_the_board(console, admin, client, board, shot):
    add_lead(client, admin, "Katherine Johnson", statusId=board["Contacted"]["id"], phone="555")
    add_lead(client, admin, "Margaret Hamilton", statusId=board["Won"]["id"], source="referral")
    add_columns(client, admin, "Lost")
    page = open_board(console, admin)
    shot(page, "leads")

    phone = open_board(console, admin, viewport=PHONE)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(phone, "leads-phone")
    assert page.errors == [] and phone.errors == []
