"""Helpers for the CRM board's tests: add columns and leads, asserting each 201."""


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
