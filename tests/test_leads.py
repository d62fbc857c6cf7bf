"""Leads on the board: add (any caller), read, change, move, delete, list page by page, search."""

import re

import pytest

from orders_service.leads.models import Lead

from .leads_board import add_columns, add_lead, statements


@pytest.fixture
def board(client, admin):
    return add_columns(client, admin, "New", "Contacted", "Won")


def test_an_admin_adds_a_lead_and_it_lands_in_the_first_column(client, admin, board):
    body = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20", "source": "contact form"}
    response = client.post("/leads", json=body, headers=admin)
    assert response.status_code == 201
    lead = response.get_json()
    assert response.headers["Location"].endswith(f"/leads/{lead['id']}")
    assert list(lead) == ["id", "name", "email", "phone", "source", "statusId", "createdAt"]
    assert {k: lead[k] for k in body} == body
    assert lead["statusId"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", lead["createdAt"])


RECEIPT = {"message": "Thank you: the lead has been received."}


def test_a_customers_lead_is_202_with_a_receipt_and_lands_in_the_first_column(
    client, customer, admin, board
):
    body = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20", "source": "contact form"}
    response = client.post("/leads", json=body, headers=customer)
    assert response.status_code == 202
    assert response.get_json() == RECEIPT
    assert "Location" not in response.headers
    [lead] = client.get("/leads", headers=admin).get_json()
    assert {k: lead[k] for k in body} == body
    assert lead["statusId"] == 1


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.COM"])
def test_a_customers_lead_with_a_known_email_gets_the_same_receipt_and_changes_nothing(
    client, customer, admin, board, email
):
    known = add_lead(client, admin, "Ada", "ada@example.com", source="fair")
    body = {"name": "Mallory", "email": email, "phone": "0", "source": "probe"}
    response = client.post("/leads", json=body, headers=customer)
    assert response.status_code == 202
    assert response.get_json() == RECEIPT
    assert response.headers.get("Location") is None
    assert client.get("/leads", headers=admin).get_json() == [known]


def test_a_customer_may_not_choose_the_column(client, customer, admin, board):
    body = {"name": "Ada", "email": "a@x.io", "statusId": 3}
    response = client.post("/leads", json=body, headers=customer)
    assert response.status_code == 403
    assert "statusId" in response.get_json()["errors"]["json"]
    assert Lead.select().count() == 0


def test_the_default_column_is_the_first_by_status_order_then_id(client, admin, customer, board):
    client.patch("/leads/statuses/1", json={"statusOrder": 5}, headers=admin)
    client.patch("/leads/statuses/3", json={"statusOrder": 1}, headers=admin)  # ties with 2
    assert add_lead(client, admin)["statusId"] == 2
    client.post("/leads", json={"name": "Bob", "email": "bob@x.io"}, headers=customer)
    assert client.get("/leads?q=bob", headers=admin).get_json()[0]["statusId"] == 2


def test_an_admin_may_add_a_lead_to_a_given_column(client, admin, board):
    assert add_lead(client, admin, statusId=3)["statusId"] == 3


def test_adding_a_lead_with_no_column_at_all_is_400(client, customer):
    response = client.post("/leads", json={"name": "Ada", "email": "a@x.io"}, headers=customer)
    assert response.status_code == 400
    assert "no lead status" in response.get_json()["message"]
    assert Lead.select().count() == 0


def test_adding_a_lead_to_an_unknown_column_is_400_naming_it(client, admin, board):
    body = {"name": "Ada", "email": "a@x.io", "statusId": 42}
    response = client.post("/leads", json=body, headers=admin)
    assert response.status_code == 400
    assert response.get_json()["message"] == "Unknown lead status 42."
    assert "statusId" in response.get_json()["errors"]["json"]
    assert Lead.select().count() == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"email": None}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@" + "x" * 250 + ".io"}, "email"),
        ({"phone": "1" * 51}, "phone"),
        ({"source": "s" * 101}, "source"),
        ({"statusId": "1"}, "statusId"),
        ({"statusId": 1.5}, "statusId"),
        ({"statusId": True}, "statusId"),
        ({"statusId": 0}, "statusId"),
        ({"id": 9}, "id"),
        ({"createdAt": "2026-01-01T00:00:00Z"}, "createdAt"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_a_bad_lead_is_400_naming_the_field(client, customer, board, change, field):
    body = {"name": "Ada", "email": "ada@example.com", **change}
    response = client.post("/leads", json=body, headers=customer)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]["json"]
    assert Lead.select().count() == 0


@pytest.mark.parametrize("field", ["name", "email"])
def test_name_and_email_are_required(client, customer, board, field):
    body = {"name": "Ada", "email": "ada@example.com"}
    del body[field]
    response = client.post("/leads", json=body, headers=customer)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]["json"]


def test_a_lead_body_must_be_a_json_object(client, customer, board):
    assert client.post("/leads", json=["Ada"], headers=customer).status_code == 400


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@Example.COM"])
def test_an_admins_duplicate_email_is_409_with_the_existing_leads_id(client, admin, board, email):
    first = add_lead(client, admin, "Ada", "ada@example.com")
    response = client.post("/leads", json={"name": "Other", "email": email}, headers=admin)
    assert response.status_code == 409
    body = response.get_json()
    assert body["errors"]["leadId"] == first["id"]
    assert "email" in body["errors"]["json"]
    assert Lead.select().count() == 1


def test_changing_email_to_another_leads_is_409_with_its_id(client, admin, board):
    ada = add_lead(client, admin, "Ada", "ada@example.com")
    bob = add_lead(client, admin, "Bob", "bob@example.com")
    response = client.patch(f"/leads/{bob['id']}", json={"email": "Ada@example.com"}, headers=admin)
    assert response.status_code == 409
    assert response.get_json()["errors"]["leadId"] == ada["id"]
    assert client.get(f"/leads/{bob['id']}", headers=admin).get_json() == bob


def test_a_lead_may_change_the_case_of_its_own_email(client, admin, board):
    ada = add_lead(client, admin, "Ada", "ada@example.com")
    response = client.patch(f"/leads/{ada['id']}", json={"email": "Ada@Example.com"}, headers=admin)
    assert response.status_code == 200
    assert response.get_json()["email"] == "Ada@Example.com"


def test_get_a_lead(client, admin, board):
    lead = add_lead(client, admin)
    response = client.get(f"/leads/{lead['id']}", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == lead


def test_get_an_unknown_lead_is_404(client, admin, board):
    response = client.get("/leads/99", headers=admin)
    assert response.status_code == 404
    assert response.get_json()["message"] == "Lead 99 not found."


def test_patch_changes_only_the_fields_sent(client, admin, board):
    lead = add_lead(client, admin, phone="1", source="fair")
    changes = {"name": "Ada King", "phone": None}
    response = client.patch(f"/leads/{lead['id']}", json=changes, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {**lead, **changes}


def test_moving_a_lead_is_a_patch_of_its_status_id(client, admin, board):
    lead = add_lead(client, admin)
    response = client.patch(f"/leads/{lead['id']}", json={"statusId": 3}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {**lead, "statusId": 3}
    counts = client.get("/leads/statuses?withCounts=true", headers=admin).get_json()
    assert [c["leadCount"] for c in counts] == [0, 0, 1]


def test_moving_a_lead_to_an_unknown_column_is_400_and_it_stays(client, admin, board):
    lead = add_lead(client, admin)
    response = client.patch(f"/leads/{lead['id']}", json={"statusId": 42}, headers=admin)
    assert response.status_code == 400
    assert "42" in response.get_json()["message"]
    assert client.get(f"/leads/{lead['id']}", headers=admin).get_json()["statusId"] == 1


@pytest.mark.parametrize(
    "body", [{"statusId": None}, {"statusId": "2"}, {"email": "nope"}, {"createdAt": "x"}]
)
def test_patch_with_a_bad_body_is_400(client, admin, board, body):
    lead = add_lead(client, admin)
    assert client.patch(f"/leads/{lead['id']}", json=body, headers=admin).status_code == 400
    assert client.get(f"/leads/{lead['id']}", headers=admin).get_json() == lead


@pytest.mark.parametrize("url", ["/leads/0", "/leads/99999999999999999999", "/leads/x"])
def test_an_id_out_of_range_is_404_not_500(client, admin, board, url):
    assert client.get(url, headers=admin).status_code == 404
    assert client.patch("/leads/statuses" + url[6:], json={}, headers=admin).status_code == 404


def test_patch_of_an_unknown_lead_is_404(client, admin, board):
    assert client.patch("/leads/99", json={"name": "X"}, headers=admin).status_code == 404


def test_delete_a_lead_is_204_then_it_is_gone(client, admin, board):
    lead = add_lead(client, admin)
    response = client.delete(f"/leads/{lead['id']}", headers=admin)
    assert response.status_code == 204
    assert client.get(f"/leads/{lead['id']}", headers=admin).status_code == 404
    assert client.delete(f"/leads/{lead['id']}", headers=admin).status_code == 404


def walk(client, headers, url):
    """Every page from `url` on, following rel=next; the ids in the order they came."""
    ids, pages = [], 0
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        ids += [lead["id"] for lead in response.get_json()]
        pages += 1
        link = re.match(r'<([^>]+)>; rel="next"', response.headers.get("Link", ""))
        url = link and link.group(1)
    return ids, pages


def test_pages_walk_every_lead_newest_first_without_gaps_or_repeats(client, admin, board):
    created = [add_lead(client, admin, f"Lead {n}")["id"] for n in range(23)]
    ids, pages = walk(client, admin, "/leads?limit=5")
    assert ids == sorted(created, reverse=True)
    assert pages == 5


def test_the_next_link_keeps_the_filters(client, admin, board):
    for n in range(7):
        add_lead(client, admin, f"Lead {n}", statusId=2 if n % 2 else 1)
    ids, pages = walk(client, admin, "/leads?statusId=1&q=lead&limit=2")
    assert ids == [7, 5, 3, 1]
    assert pages == 2


def test_the_list_defaults_to_20_and_has_no_link_on_the_last_page(client, admin, board):
    for n in range(21):
        add_lead(client, admin, f"Lead {n}")
    first = client.get("/leads", headers=admin)
    assert len(first.get_json()) == 20
    assert "starting_after=2" in first.headers["Link"]
    last = client.get("/leads?starting_after=2", headers=admin)
    assert [lead["id"] for lead in last.get_json()] == [1]
    assert "Link" not in last.headers


def test_a_page_of_leads_is_one_query_whatever_its_size(client, admin, board, caplog):
    for n in range(12):
        add_lead(client, admin, f"Lead {n}")
    assert len(statements(caplog, lambda: client.get("/leads?limit=10", headers=admin))) == 1


def test_the_list_filters_by_column(client, admin, board):
    for name, column in (("Ada", 1), ("Bob", 2), ("Cy", 2)):
        add_lead(client, admin, name, statusId=column)
    response = client.get("/leads?statusId=2", headers=admin)
    assert [lead["name"] for lead in response.get_json()] == ["Cy", "Bob"]
    assert client.get("/leads?statusId=3", headers=admin).get_json() == []


@pytest.fixture
def people(client, admin, board):
    for name, email in (
        ("Ada Lovelace", "ada@analytical.org"),
        ("Charles Babbage", "charles@engines.co.uk"),
        ("Grace Hopper", "GRACE@navy.mil"),
        ("100% Real_Lead", "percent@example.com"),
        ("Back\\slash", "back@example.com"),
    ):
        add_lead(client, admin, name, email)


def search(client, admin, q):
    response = client.get("/leads", query_string={"q": q}, headers=admin)
    assert response.status_code == 200
    return sorted(lead["name"] for lead in response.get_json())


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("lovelace", ["Ada Lovelace"]),
        ("LOVE", ["Ada Lovelace"]),
        ("navy", ["Grace Hopper"]),
        ("grace@", ["Grace Hopper"]),
        ("Engines.CO", ["Charles Babbage"]),
        ("a", ["100% Real_Lead", "Ada Lovelace", "Back\\slash", "Charles Babbage", "Grace Hopper"]),
        ("nobody", []),
    ],
)
def test_search_is_case_insensitive_over_name_and_email(client, admin, people, q, found):
    assert search(client, admin, q) == found


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("%", ["100% Real_Lead"]),
        ("_", ["100% Real_Lead"]),
        ("0% r", ["100% Real_Lead"]),
        ("l_lead", ["100% Real_Lead"]),
        ("a_a", []),
        ("\\", ["Back\\slash"]),
    ],
)
def test_search_treats_like_wildcards_literally(client, admin, people, q, found):
    assert search(client, admin, q) == found


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=x", "statusId=x", "statusId=0", "q=", "starting_after=0"],
)
def test_a_bad_list_query_is_400(client, admin, board, query):
    assert client.get(f"/leads?{query}", headers=admin).status_code == 400


ADMIN_ENDPOINTS = [
    ("get", "/leads", None),
    ("get", "/leads/1", None),
    ("patch", "/leads/1", {"name": "X"}),
    ("delete", "/leads/1", None),
]


@pytest.mark.parametrize(
    ("method", "url", "body"), [*ADMIN_ENDPOINTS, ("post", "/leads", {"name": "X"})]
)
def test_lead_endpoints_need_a_token(client, board, method, url, body):
    response = getattr(client, method)(url, json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_ENDPOINTS)
def test_lead_endpoints_but_adding_are_for_admins(
    client, admin, customer, board, method, url, body
):
    lead = add_lead(client, admin)
    response = getattr(client, method)(url, json=body, headers=customer)
    assert response.status_code == 403
    assert client.get("/leads/1", headers=admin).get_json() == lead


def test_openapi_documents_the_lead_endpoints(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    listing = paths["/leads"]["get"]
    assert {"limit", "starting_after", "statusId", "q"} <= {
        p["name"] for p in listing["parameters"]
    }
    assert "Link" in listing["responses"]["200"]["headers"]
    create = paths["/leads"]["post"]
    assert "Location" in create["responses"]["201"]["headers"]
    assert {"201", "202", "400", "401", "403", "409"} <= set(create["responses"])
    assert create["responses"]["202"]["content"]["application/json"]["schema"]
    assert "leadId" in create["responses"]["409"]["description"]
    by_id = paths["/leads/{lead_id}"]
    assert {"200", "401", "403", "404"} <= set(by_id["get"]["responses"])
    assert {"200", "400", "401", "403", "404", "409"} <= set(by_id["patch"]["responses"])
    assert {"204", "401", "403", "404"} <= set(by_id["delete"]["responses"])
