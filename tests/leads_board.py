"""Helpers for the CRM board's tests: add columns and leads, count SQL statements."""

import logging


def add_columns(client, admin, *names):
    """POST each name to /leads/statuses; the created columns, in order."""
    columns = []
    for name in names:
        response = client.post("/leads/statuses", json={"name": name}, headers=admin)
        assert response.status_code == 201, response.get_json()
        columns.append(response.get_json())
    return columns


def add_lead(client, headers, name="Ada Lovelace", email=None, **fields):
    """POST /leads; the created lead."""
    email = email or f"{name.lower().replace(' ', '.')}@example.com"
    response = client.post("/leads", json={"name": name, "email": email, **fields}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def statements(caplog, request):
    """The SQL statements `request()` issued (peewee logs each one at DEBUG)."""
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        caplog.clear()
        response = request()
    assert response.status_code < 300, response.get_json()
    return [r.getMessage() for r in caplog.records if r.name == "peewee"]
