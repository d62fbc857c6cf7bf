"""The board's columns: rename, move, delete, unique names, lead counts, reorder with leads."""

import peewee
import pytest

from orders_service.database import db, migration_runner
from orders_service.leads.models import LeadStatus

from .leads_board import add_columns, add_lead, statements


@pytest.fixture
def board(client, admin):
    return add_columns(client, admin, "New", "Contacted", "Won")


def names(client, admin):
    return [s["name"] for s in client.get("/leads/statuses", headers=admin).get_json()]


def test_patch_renames_a_column(client, admin, board):
    response = client.patch("/leads/statuses/2", json={"name": "Called"}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {"id": 2, "name": "Called", "statusOrder": 1}
    assert names(client, admin) == ["New", "Called", "Won"]


def test_patch_moves_a_column(client, admin, board):
    response = client.patch("/leads/statuses/1", json={"statusOrder": 5}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {"id": 1, "name": "New", "statusOrder": 5}
    assert names(client, admin) == ["Contacted", "Won", "New"]


def test_patch_renames_and_moves_at_once(client, admin, board):
    body = {"name": "Lost", "statusOrder": 0}
    response = client.patch("/leads/statuses/3", json=body, headers=admin)
    assert response.status_code == 200
    assert names(client, admin) == ["New", "Lost", "Contacted"]  # ties by id


def test_patch_with_nothing_to_change_answers_the_column(client, admin, board):
    response = client.patch("/leads/statuses/1", json={}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == board[0]


def test_patch_of_an_unknown_column_is_404(client, admin, board):
    response = client.patch("/leads/statuses/99", json={"name": "X"}, headers=admin)
    assert response.status_code == 404
    assert "99" in response.get_json()["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": None}, "name"),
        ({"statusOrder": "1"}, "statusOrder"),
        ({"statusOrder": 1.5}, "statusOrder"),
        ({"statusOrder": -1}, "statusOrder"),
        ({"id": 5}, "id"),
        ({"leadCount": 0}, "leadCount"),
    ],
)
def test_patch_with_a_bad_body_is_400_and_changes_nothing(client, admin, board, body, field):
    response = client.patch("/leads/statuses/1", json=body, headers=admin)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]["json"]
    assert LeadStatus.get_by_id(1).name == "New"


@pytest.mark.parametrize("name", ["New", "new", "NEW", "nEw"])
def test_a_new_columns_name_must_differ_ignoring_case(client, admin, board, name):
    response = client.post("/leads/statuses", json={"name": name}, headers=admin)
    assert response.status_code == 409
    assert "already exists" in response.get_json()["message"]
    assert LeadStatus.select().count() == 3


def test_renaming_onto_another_columns_name_in_another_case_is_409(client, admin, board):
    response = client.patch("/leads/statuses/2", json={"name": "WON"}, headers=admin)
    assert response.status_code == 409
    assert LeadStatus.get_by_id(2).name == "Contacted"


def test_a_column_may_change_the_case_of_its_own_name(client, admin, board):
    response = client.patch("/leads/statuses/1", json={"name": "NEW"}, headers=admin)
    assert response.status_code == 200
    assert response.get_json()["name"] == "NEW"


def test_deleting_an_empty_column_is_204_and_it_is_gone(client, admin, board):
    response = client.delete("/leads/statuses/2", headers=admin)
    assert response.status_code == 204
    assert response.data == b""
    assert names(client, admin) == ["New", "Won"]


def test_deleting_a_column_in_use_is_409_naming_how_many(client, admin, board):
    add_lead(client, admin, "Ada", statusId=2)
    add_lead(client, admin, "Bob", statusId=2)
    response = client.delete("/leads/statuses/2", headers=admin)
    assert response.status_code == 409
    body = response.get_json()
    assert "2 leads" in body["message"]
    assert body["errors"] == {"leadCount": 2}
    assert names(client, admin) == ["New", "Contacted", "Won"]


def test_a_column_emptied_by_moving_its_leads_can_be_deleted(client, admin, board):
    lead = add_lead(client, admin, statusId=2)
    assert "1 lead;" in client.delete("/leads/statuses/2", headers=admin).get_json()["message"]
    client.patch(f"/leads/{lead['id']}", json={"statusId": 3}, headers=admin)
    assert client.delete("/leads/statuses/2", headers=admin).status_code == 204


def test_deleting_an_unknown_column_is_404(client, admin, board):
    assert client.delete("/leads/statuses/99", headers=admin).status_code == 404


def test_the_database_itself_refuses_to_delete_a_column_in_use(app, client, admin, board):
    add_lead(client, admin, statusId=1)
    with app.app_context(), pytest.raises(peewee.IntegrityError), db.atomic():
        LeadStatus.delete().where(LeadStatus.id == 1).execute()


def test_with_counts_adds_how_many_leads_each_column_holds(client, admin, board):
    for name, column in (("Ada", 1), ("Bob", 3), ("Cy", 3)):
        add_lead(client, admin, name, statusId=column)
    response = client.get("/leads/statuses?withCounts=true", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": 1, "name": "New", "statusOrder": 0, "leadCount": 1},
        {"id": 2, "name": "Contacted", "statusOrder": 1, "leadCount": 0},
        {"id": 3, "name": "Won", "statusOrder": 2, "leadCount": 2},
    ]


def test_with_counts_is_one_query(client, admin, board, caplog):
    add_lead(client, admin, statusId=1)
    queries = statements(
        caplog, lambda: client.get("/leads/statuses?withCounts=true", headers=admin)
    )
    assert len(queries) == 1, queries


@pytest.mark.parametrize("query", ["", "?withCounts=false", "?withCounts=0"])
def test_without_counts_a_column_is_id_name_and_status_order(client, admin, board, query):
    add_lead(client, admin)
    response = client.get(f"/leads/statuses{query}", headers=admin)
    assert response.status_code == 200
    assert response.get_json()[0] == {"id": 1, "name": "New", "statusOrder": 0}


def test_with_counts_must_be_true_or_false(client, admin, board):
    response = client.get("/leads/statuses?withCounts=maybe", headers=admin)
    assert response.status_code == 400
    assert "withCounts" in response.get_json()["errors"]["query"]


@pytest.fixture
def leads_in_columns(client, admin, board):
    for name, column in (("Ada", 1), ("Bob", 2), ("Cy", 3)):
        add_lead(client, admin, name, statusId=column)


def board_now(client, admin):
    return client.get("/leads/statuses?withCounts=true", headers=admin).get_json()


def lead_columns(client, admin):
    return {lead["name"]: lead["statusId"] for lead in client.get("/leads", headers=admin).json}


def test_reorder_with_leads_moves_columns_and_leaves_the_leads_in_them(
    client, admin, leads_in_columns
):
    body = [{"id": 3, "statusOrder": 0}, {"id": 1, "statusOrder": 2}]
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": 3, "name": "Won", "statusOrder": 0},
        {"id": 2, "name": "Contacted", "statusOrder": 1},
        {"id": 1, "name": "New", "statusOrder": 2},
    ]
    assert lead_columns(client, admin) == {"Ada": 1, "Bob": 2, "Cy": 3}
    assert [s["leadCount"] for s in board_now(client, admin)] == [1, 1, 1]


def test_reorder_with_leads_and_an_unknown_id_is_404_and_changes_nothing(
    client, admin, leads_in_columns
):
    before = board_now(client, admin)
    body = [{"id": 3, "statusOrder": 0}, {"id": 42, "statusOrder": 1}]
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 404
    assert response.get_json()["message"] == "Unknown lead statuses: 42."
    assert response.get_json()["errors"] == {"json": {"id": [42]}}
    assert board_now(client, admin) == before
    assert lead_columns(client, admin) == {"Ada": 1, "Bob": 2, "Cy": 3}


@pytest.mark.parametrize(
    "body",
    [
        [{"id": 1, "statusOrder": 1}, {"id": 1, "statusOrder": 2}],
        [{"id": 1, "statusOrder": 1}, {"id": 2, "statusOrder": 1}],
    ],
)
def test_reorder_with_leads_and_repeats_is_400_and_changes_nothing(
    client, admin, leads_in_columns, body
):
    before = board_now(client, admin)
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 400
    assert "Repeated" in response.get_json()["message"]
    assert board_now(client, admin) == before


STATUS_ENDPOINTS = [
    ("get", "/leads/statuses", None),
    ("get", "/leads/statuses?withCounts=true", None),
    ("post", "/leads/statuses", {"name": "X"}),
    ("patch", "/leads/statuses/1", {"name": "X"}),
    ("delete", "/leads/statuses/1", None),
    ("put", "/leads/statuses/order", [{"id": 1, "statusOrder": 1}]),
]


@pytest.mark.parametrize(("method", "url", "body"), STATUS_ENDPOINTS)
def test_status_endpoints_need_a_token(client, board, method, url, body):
    response = getattr(client, method)(url, json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "url", "body"), STATUS_ENDPOINTS)
def test_status_endpoints_are_for_admins(client, customer, admin, board, method, url, body):
    response = getattr(client, method)(url, json=body, headers=customer)
    assert response.status_code == 403
    assert names(client, admin) == ["New", "Contacted", "Won"]


def test_openapi_documents_the_status_endpoints(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    listing = paths["/leads/statuses"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["withCounts"]
    by_id = paths["/leads/statuses/{status_id}"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(by_id["patch"]["responses"])
    assert {"204", "401", "403", "404", "409"} <= set(by_id["delete"]["responses"])
    assert "409" in paths["/leads/statuses"]["post"]["responses"]


def test_migration_0002_renames_names_that_differ_only_in_case_and_reverts(app):
    with app.app_context():
        runner = migration_runner()
        later = runner.down("0002_leads")[:-1]
        for order, name in enumerate(["New", "new", "NEW", "Won"]):
            LeadStatus.insert(name=name, status_order=order).execute()
        assert runner.up("0002_leads") == ["0002_leads"]
        renamed = [s.name for s in LeadStatus.select().order_by(LeadStatus.id)]
        assert runner.up() == later[::-1]
        db.close()
    assert renamed == ["New", "new (2)", "NEW (3)", "Won"]
