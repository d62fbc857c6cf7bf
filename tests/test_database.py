"""The database layer: compiled queries and the pool keep their answers; transaction locks."""

import pytest

from orders_service.database import CompiledQuery, PooledPostgres, db, is_sqlite, transaction_lock
from orders_service.orders.models import Order, OrderLine
from orders_service.products.models import Product


def products_named(name, ids, limit):
    query = Product.select().order_by(Product.id)
    if name is not None:
        query = query.where(Product.name == name)
    if ids is not None:
        query = query.where(Product.id.in_(ids))
    return query.limit(limit)


@pytest.fixture
def compiled(app, catalog):
    with app.app_context():
        yield CompiledQuery(Product, products_named)
        db.close()


@pytest.mark.parametrize(
    "name, ids, limit",
    [(None, None, 3), (None, [2, 5, 7], 10), (None, [4], 10), ("nonexistent", [1, 2], 5)],
)
def test_a_compiled_query_selects_what_the_plain_one_does(compiled, name, ids, limit):
    expected = [p.id for p in products_named(name, ids, limit)]
    assert [p.id for p in compiled(name, ids, limit)] == expected


def test_a_compiled_query_binds_text_and_numbers_of_every_call(compiled):
    first = Product.get_by_id(3)
    assert [p.id for p in compiled(first.name, [1, 2, 3], 5)] == [3]
    assert [p.id for p in compiled(Product.get_by_id(2).name, [2, 3], 5)] == [2]
    assert compiled(first.name, [1, 2], 5) == []
    assert len(compiled._compiled) == 2  # one per shape: three ids, then two


def test_a_compiled_query_returns_models(app, place_order):
    order_id = place_order(["1", "2"])["id"]
    lines = CompiledQuery(OrderLine, lambda ids: OrderLine.select().where(OrderLine.order.in_(ids)))
    with app.app_context():
        found = lines([order_id])
        assert {line.product_id for line in found} == {1, 2}
        assert {line.order_id for line in found} == {order_id}
        assert isinstance(found[0], OrderLine) and Order.get_by_id(order_id)
        db.close()


def test_the_pool_pings_only_a_connection_that_sat_idle(app, monkeypatch):
    if is_sqlite():
        pytest.skip("the pool is PostgreSQL's")
    pool = db.obj
    assert isinstance(pool, PooledPostgres)
    pings = []
    monkeypatch.setattr(
        type(pool).__mro__[1], "_is_closed", lambda self, conn: pings.append(conn) or False
    )
    with app.app_context():
        db.connect(reuse_if_open=True)
        db.close()
        db.connect()  # handed back a moment ago: no round trip
        db.close()
        assert pings == []
        monkeypatch.setattr(PooledPostgres, "PING_AFTER_IDLE", 0)
        db.connect()  # idle "too long": pinged first
        db.close()
        assert len(pings) == 1


def test_a_compiled_query_refuses_arithmetic_on_its_values(app):
    # The marker plus one would be compiled in as a constant: every call would get it.
    plus_one = CompiledQuery(Product, lambda limit: Product.select().limit(limit + 1))
    with app.app_context(), pytest.raises(ValueError, match="computes with a value"):
        plus_one(5)


def test_a_transaction_lock_outside_a_transaction_is_refused(app):
    # On PostgreSQL it would be let go as the statement ended, and guard nothing.
    with app.app_context():
        with pytest.raises(RuntimeError, match="outside a transaction"):
            transaction_lock("anything")
        with db.atomic():
            transaction_lock("anything")
        db.close()
