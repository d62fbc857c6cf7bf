"""What the servers stored, read back through the models: complete orders, history chains."""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from orders_service.orders.lifecycle import TRANSITIONS
from orders_service.orders.models import Order, OrderHistory, OrderLine


def at_once(count, send):
    """send(i) for i in range(count), all released together from `count` threads; the results."""
    barrier = threading.Barrier(count)

    def go(i):
        barrier.wait(timeout=30)
        return send(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(go, range(count)))


def history_chain(order_id):
    rows = OrderHistory.select().where(OrderHistory.order == order_id).order_by(OrderHistory.id)
    return [(row.from_status, row.to_status, row.actor) for row in rows]


def chain_problems(order_id):
    """Why the order's history is not one legal move per row ending at its status ([] if it is)."""
    chain = history_chain(order_id)
    problems = []
    if not chain or chain[0][:2] != (None, "pending"):
        problems.append(f"order {order_id}: history does not start with its creation: {chain}")
    for before, after in itertools.pairwise(chain):
        if after[0] != before[1] or after[1] not in TRANSITIONS[before[1]]:
            problems.append(f"order {order_id}: {before[1]} then {after[0]}→{after[1]}")
    status = Order.get_by_id(order_id).status
    if chain and chain[-1][1] != status:
        problems.append(f"order {order_id} is {status} but its history ends at {chain[-1][1]}")
    return problems


def written_twice(order_id):
    """True if a history row repeats a change already written (a second writer on a stale read)."""
    chain = history_chain(order_id)
    return any(after[0] != before[1] for before, after in itertools.pairwise(chain))


def missing_or_incomplete(bodies):
    """The 201 bodies whose order is not stored as answered: lines, client secret, history."""
    lost = []
    for body in bodies:
        order = Order.get_or_none(Order.id == body["id"])
        lines = list(OrderLine.select().where(OrderLine.order == body["id"]).order_by(OrderLine.id))
        if (
            order is None
            or order.client_secret != body["clientSecret"]
            or order.amount_in_cents != body["amountInCents"]
            or [(line.product_id, line.quantity) for line in lines]
            != [(p["id"], p["quantity"]) for p in body["products"]]
            or chain_problems(body["id"])
        ):
            lost.append(body["id"])
    return lost
