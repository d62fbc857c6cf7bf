def test_smoke(make_app, migrated, catalog, customer, admin):
    app = make_app(RATE_LIMIT_ORDERS="5/minute")
    client = app.test_client()
    for i in range(7):
        r = client.post("/orders/new", json=["3"], headers=customer)
        print(r.status_code, dict(r.headers), r.get_json() if r.status_code != 201 else "")
    r = client.get("/orders", headers=customer)
    print(r.status_code, dict(r.headers))
