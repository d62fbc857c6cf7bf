"""The documented PUT /leads/statuses/order: all at once or not at all."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orders_service.leads.models import LeadStatus
from tests.servers import Gunicorn, server_env


@pytest.fixture
def board(client, admin):
    names = ["New", "Contacted", "Qualified", "Won"]
    return [
        client.post("/leads/statuses", json={"name": name}, headers=admin).get_json()
        for name in names
    ]


def orders_now():
    return {s.id: s.status_order for s in LeadStatus.select()}


def test_columns_are_created_at_the_end_and_listed_in_order(client, admin, board):
    assert [s["statusOrder"] for s in board] == [0, 1, 2, 3]
    response = client.get("/leads/statuses", headers=admin)
    assert response.status_code == 200
    assert [s["name"] for s in response.get_json()] == ["New", "Contacted", "Qualified", "Won"]


def test_a_column_may_be_created_at_a_given_place(client, admin, board):
    body = {"name": "Lost", "statusOrder": 1}
    created = client.post("/leads/statuses", json=body, headers=admin).get_json()
    names = [s["name"] for s in client.get("/leads/statuses", headers=admin).get_json()]
    assert created["statusOrder"] == 1
    assert names == ["New", "Contacted", "Lost", "Qualified", "Won"]  # ties by id


def test_reorder_applies_every_position_and_answers_every_status(client, admin, board):
    body = [{"id": 4, "statusOrder": 0}, {"id": 1, "statusOrder": 3}]
    body += [{"id": 2, "statusOrder": 2}, {"id": 3, "statusOrder": 1}]
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == [
        {"id": 4, "name": "Won", "statusOrder": 0},
        {"id": 3, "name": "Qualified", "statusOrder": 1},
        {"id": 2, "name": "Contacted", "statusOrder": 2},
        {"id": 1, "name": "New", "statusOrder": 3},
    ]


def test_the_api_pages_single_object_body_works(client, admin, board):
    response = client.put("/leads/statuses/order", json={"id": 1, "statusOrder": 9}, headers=admin)
    assert response.status_code == 200
    assert response.get_json()[-1] == {"id": 1, "name": "New", "statusOrder": 9}


def test_unknown_ids_are_404_by_name_and_nothing_changes(client, admin, board):
    before = orders_now()
    body = [{"id": 1, "statusOrder": 3}, {"id": 77, "statusOrder": 0}, {"id": 78, "statusOrder": 1}]
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 404
    assert "77, 78" in response.get_json()["message"]
    assert orders_now() == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"id": 1, "statusOrder": 1}, {"id": 1, "statusOrder": 2}], "Repeated id: 1"),
        ([{"id": 1, "statusOrder": 1}, {"id": 2, "statusOrder": 1}], "Repeated statusOrder: 1"),
        ([], "at least one"),
        ([{"id": 1}], "statusOrder"),
        ([{"statusOrder": 1}], "id"),
        ([{"id": "1", "statusOrder": 1}], "id"),
        ([{"id": 1, "statusOrder": 1.5}], "statusOrder"),
        ([{"id": 1, "statusOrder": -1}], "statusOrder"),
        ([{"id": 1, "statusOrder": 1, "name": "x"}], "name"),
        ("1", "Invalid"),
        ([1, 2], "Invalid"),
    ],
)
def test_malformed_bodies_are_400_and_nothing_changes(client, admin, board, body, message):
    before = orders_now()
    response = client.put("/leads/statuses/order", json=body, headers=admin)
    assert response.status_code == 400, response.get_json()
    assert message in response.get_json()["message"]
    assert orders_now() == before


def test_lead_statuses_are_for_admins(client, customer, board):
    body = [{"id": 1, "statusOrder": 1}]
    assert client.get("/leads/statuses", headers=customer).status_code == 403
    assert client.post("/leads/statuses", json={"name": "X"}, headers=customer).status_code == 403
    assert client.put("/leads/statuses/order", json=body, headers=customer).status_code == 403
    assert client.put("/leads/statuses/order", json=body).status_code == 401


def test_a_new_column_after_one_at_the_maximum_renumbers_and_stays_in_range(client, admin, board):
    last = board[-1]["id"]
    moved = [{"id": last, "statusOrder": 2147483647}]
    assert client.put("/leads/statuses/order", json=moved, headers=admin).status_code == 200

    created = client.post("/leads/statuses", json={"name": "Lost"}, headers=admin)
    listed = client.get("/leads/statuses", headers=admin).get_json()

    assert created.status_code == 201
    assert created.get_json()["statusOrder"] == 4
    assert [s["name"] for s in listed] == ["New", "Contacted", "Qualified", "Won", "Lost"]
    assert [s["statusOrder"] for s in listed] == [0, 1, 2, 3, 4]


@pytest.mark.slow
def test_twelve_columns_added_at_once_get_distinct_places_and_the_board_goes_back_unchanged(
    app, database_url, tmp_path, admin
):
    # Twelve threads in gunicorn, so every request is in flight at once (on PostgreSQL they
    # all read the same "last column" unless something makes them queue).
    env = server_env(database_url, WEB_CONCURRENCY=2, GUNICORN_THREADS=6)
    start = threading.Barrier(12)

    def add_column(number):
        start.wait()
        body = {"name": f"Column {number}"}
        return server.request("POST", "/leads/statuses", body, headers=admin)

    with Gunicorn(env, tmp_path / "gunicorn.log") as server, ThreadPoolExecutor(12) as pool:
        added = list(pool.map(add_column, range(12)))
        board = server.request("GET", "/leads/statuses", headers=admin).json()
        unchanged = [{"id": s["id"], "statusOrder": s["statusOrder"]} for s in board]
        sent_back = server.request("PUT", "/leads/statuses/order", unchanged, headers=admin)

    assert [reply.status for reply in added] == [201] * 12
    assert sorted(reply.json()["statusOrder"] for reply in added) == list(range(12))
    assert sent_back.status == 200, sent_back.json()
    assert sent_back.json() == board


def test_seed_adds_default_columns_so_the_api_pages_reorder_works(client, admin, runner):
    assert runner.invoke(args=["seed"]).exit_code == 0
    assert runner.invoke(args=["seed"]).exit_code == 0

    listed = client.get("/leads/statuses", headers=admin).get_json()
    reorder = client.put("/leads/statuses/order", json={"id": 1, "statusOrder": 1}, headers=admin)

    assert [s["name"] for s in listed] == ["New", "Contacted", "Qualified", "Won", "Lost"]
    assert reorder.status_code == 200


def test_seed_leaves_a_board_that_has_columns_alone(client, admin, runner, board):
    assert runner.invoke(args=["seed"]).exit_code == 0

    listed = client.get("/leads/statuses", headers=admin).get_json()

    assert [s["name"] for s in listed] == ["New", "Contacted", "Qualified", "Won"]
