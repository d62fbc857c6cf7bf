"""The catalog: anyone reads active products, admins manage them, seed is idempotent."""

import pytest

NEW = {"sku": "POSTER-A2", "name": "A2 Poster", "priceInCents": 1500}


def test_seed_loads_the_demo_catalog_once(runner, client):
    first = runner.invoke(args=["seed"])
    again = runner.invoke(args=["seed"])
    assert "11 products added" in first.output
    assert "0 products added, 11 already there" in again.output
    assert len(client.get("/products?limit=100").get_json()) == 11


def test_anyone_lists_active_products_newest_first(client, catalog):
    response = client.get("/products")
    assert response.status_code == 200
    products = response.get_json()
    assert [p["id"] for p in products] == list(range(11, 0, -1))
    assert set(products[0]) == {"id", "sku", "name", "priceInCents", "active", "stock"}


def test_inactive_products_are_for_admins_only(client, admin, customer, catalog):
    assert client.patch("/products/2", json={"active": False}, headers=admin).status_code == 200
    assert 2 not in [p["id"] for p in client.get("/products").get_json()]
    assert 2 not in [p["id"] for p in client.get("/products", headers=customer).get_json()]
    assert 2 in [p["id"] for p in client.get("/products", headers=admin).get_json()]
    assert client.get("/products/2").status_code == 404
    assert client.get("/products/2", headers=admin).get_json()["active"] is False


def test_get_one_product_and_404(client, catalog):
    assert client.get("/products/3").get_json()["sku"] == "HOODIE-GRY-M"
    response = client.get("/products/999")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Product 999 not found."


def test_an_invalid_token_is_refused_even_where_a_token_is_optional(client, catalog):
    response = client.get("/products", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_admin_creates_a_product(client, admin):
    response = client.post("/products", json=NEW, headers=admin)
    assert response.status_code == 201
    assert response.get_json() == {"id": 1, "active": True, "stock": None, **NEW}


def test_a_customer_cannot_create_or_change_products(client, customer, catalog):
    assert client.post("/products", json=NEW, headers=customer).status_code == 403
    assert client.patch("/products/1", json={"name": "x"}, headers=customer).status_code == 403
    assert client.post("/products", json=NEW).status_code == 401


def test_a_taken_sku_is_409(client, admin, catalog):
    response = client.post("/products", json={**NEW, "sku": "MUG-LOGO"}, headers=admin)
    assert response.status_code == 409
    assert "MUG-LOGO" in response.get_json()["message"]
    response = client.patch("/products/1", json={"sku": "MUG-LOGO"}, headers=admin)
    assert response.status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {**NEW, "priceInCents": 0},
        {**NEW, "priceInCents": -5},
        {**NEW, "priceInCents": 12.5},
        {**NEW, "priceInCents": "1500"},
        {**NEW, "priceInCents": True},
        {**NEW, "active": "yes"},
        {**NEW, "active": 1},
        {**NEW, "active": 0},
        {**NEW, "sku": ""},
        {**NEW, "extra": 1},
        {"sku": "X", "name": "no price"},
    ],
)
def test_invalid_products_are_400(client, admin, body):
    response = client.post("/products", json=body, headers=admin)
    assert response.status_code == 400
    assert response.get_json()["errors"]


def test_patch_changes_only_what_is_sent(client, admin, catalog):
    response = client.patch("/products/4", json={"priceInCents": 1399}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {
        "id": 4,
        "sku": "MUG-LOGO",
        "name": "Logo Mug",
        "priceInCents": 1399,
        "active": True,
        "stock": None,
    }
    assert client.patch("/products/999", json={"name": "x"}, headers=admin).status_code == 404


def test_product_list_pages_with_a_link(client, catalog):
    response = client.get("/products?limit=3")
    assert [p["id"] for p in response.get_json()] == [11, 10, 9]
    assert response.headers["Link"] == '</products?limit=3&starting_after=9>; rel="next"'


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "localhost@evil.example"])
def test_the_next_link_is_a_relative_reference_whatever_the_host_header(client, catalog, host):
    response = client.get("/products?limit=3", headers={"Host": host})
    assert response.status_code == 200
    assert response.headers["Link"] == '</products?limit=3&starting_after=9>; rel="next"'
    assert "evil" not in response.headers["Link"]
