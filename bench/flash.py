"""Scenario 7, the flash sale: many customers' `POST /orders/new` for one product with few
units, racing on the service of scenario 4, and the sold-out 409s that follow.

Each request is a new customer (no limit or pending-order cap is reached), one unit of one
product whose stock is set to `units` before each run. wrk (bench/lua/flash.lua) counts the
answers by status. A thread polls the stock every 20 ms: when it reaches 0 it reads the
workers' CPU and the time, so orders/s is the units over the time from the run's start to the
sale's end, and CPU per order the workers' CPU over that time per unit sold (before the 409s;
the run's whole length when it did not sell out), set against scenario 4's CPU per created
order. The table's cpu µs/req column is the whole run's, 409s included.
"""

import argparse
import functools
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from orders_service.auth import issue_token

from . import cpu, data, load, servers

SCRIPT = "flash"
SKU = "BENCH-FLASH"
FIRST_CUSTOMER = 1_000_000  # far from the seeded users
MARKER = "FLASH_STATUSES "
UNITS = 500  # sold out in 4 to 6 s at 80 to 130 orders/s; the rest of a 10 s run is 409s

PRODUCT = """
INSERT INTO product (sku, name, price_in_cents, active, created_at, stock)
VALUES (%s, 'Bench flash sale sneaker', 12900, true, now(), %s)
ON CONFLICT (sku) DO UPDATE SET stock = EXCLUDED.stock
RETURNING id
"""
# The units of the flash product taken by orders made after a given id.
SOLD = """
SELECT coalesce(sum(l.stock_taken), 0) FROM order_line l
WHERE l.product_id = %s AND l.order_id > %s
"""
POLL_SECONDS = 0.02


@dataclass
class Sale:
    """One run of the flash sale: wrk's Run, the answers by status and what was sold."""

    run: load.Run
    statuses: dict
    units: int
    sold: int
    sale_seconds: float  # from the run's start to the stock's 0, or the run's when not sold out
    cpu_us_per_order: float | None  # the workers' CPU over that time, per unit sold
    socket_errors: int = 0

    @property
    def orders_per_second(self):
        return self.sold / self.sale_seconds if self.sale_seconds else 0.0

    @property
    def unexpected(self):
        """Answers other than an order or a sold-out 409, and socket errors and timeouts."""
        others = sum(n for status, n in self.statuses.items() if status not in ("201", "409"))
        return others + self.socket_errors

    def as_dict(self):
        return {
            **self.run.as_dict(),
            "statuses": self.statuses,
            "units": self.units,
            "sold": self.sold,
            "sale_seconds": round(self.sale_seconds, 2),
            "orders_per_second": round(self.orders_per_second, 1),
            "cpu_us_per_order": self.cpu_us_per_order,
        }


def customer_tokens(config, count, directory):
    """A file of `count` customers' bearer tokens, one a line (flash.lua reads it)."""
    path = Path(directory) / "flash-tokens.txt"
    lines = (issue_token(config, FIRST_CUSTOMER + i, ttl=3600) for i in range(count))
    path.write_text("\n".join(lines) + "\n")
    return path


def restock(database_url, units):
    """The flash product with `units` in stock; (its id, the last order id so far)."""
    with data.connect(database_url) as conn:
        product_id = conn.execute(PRODUCT, (SKU, units)).fetchone()[0]
        last = conn.execute("SELECT coalesce(max(id), 0) FROM orders").fetchone()[0]
    return product_id, last


def sold_since(database_url, product_id, after_order_id):
    with data.connect(database_url) as conn:
        return int(conn.execute(SOLD, (product_id, after_order_id)).fetchone()[0])


class SellOut(threading.Thread):
    """Polls the product's stock during the run; at 0, takes the meter's reading and the time:
    the sale's own CPU and length, before the sold-out 409s."""

    def __init__(self, database_url, product_id, meter):
        super().__init__(daemon=True)
        self.database_url, self.product_id, self.meter = database_url, product_id, meter
        self.finished = threading.Event()
        self.started = time.monotonic()
        self.seconds = self.cpu = None

    def run(self):
        with data.connect(self.database_url) as conn:
            while not self.finished.wait(POLL_SECONDS):
                query = "SELECT stock FROM product WHERE id = %s"
                if conn.execute(query, (self.product_id,)).fetchone()[0] == 0:
                    self.cpu = self.meter.stop()
                    self.seconds = time.monotonic() - self.started
                    return


def run_once(service, database_url, tokens_path, units, seconds, connections):
    """One sale on `service`: restock, wrk for `seconds` with every thread's CPU metered."""
    product_id, last = restock(database_url, units)
    env = {
        "BENCH_TOKENS_FILE": str(tokens_path),
        "BENCH_THREADS": str(load.THREADS),
        "BENCH_POST_PATH": "/orders/new",
        "BENCH_BODY": json.dumps([{"id": product_id, "quantity": 1}]),
    }
    url = f"http://127.0.0.1:{service.port}"
    meter = cpu.Meter(functools.partial(servers.workers, service.process.pid), database_url)
    meter.start()
    watch = SellOut(database_url, product_id, meter)
    watch.start()
    try:
        out = load.wrk_output(url, SCRIPT, seconds, connections, env)
    finally:
        watch.finished.set()
        watch.join()
    run = load.parse(out)
    run.charge(*meter.stop())
    line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"flash.lua printed no statuses:\n{out}")
    statuses = json.loads(line[len(MARKER) :])
    result = next(ln for ln in out.splitlines() if ln.startswith(load.MARKER))
    raw = json.loads(result[len(load.MARKER) :])
    socket_errors = sum(
        raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    taken = sold_since(database_url, product_id, last)
    # The database is the authority on what was sold; wrk may miss a few answers the server
    # sent (those in flight when its run ends, or on a connection it dropped), never add one.
    answered = statuses.get("201", 0)
    if taken > units or not answered <= taken <= answered + connections + socket_errors:
        raise RuntimeError(f"oversold or miscounted: {taken} of {units} taken, {statuses}")
    if watch.seconds is None:  # not sold out: the whole run was the sale
        sale_seconds, sale_cpu = run.seconds, (run.server_cpu_us or 0) * run.requests / 1e6
    else:
        sale_seconds, sale_cpu = watch.seconds, watch.cpu[0]
    return Sale(
        run=run,
        statuses=statuses,
        units=units,
        sold=taken,
        sale_seconds=sale_seconds,
        cpu_us_per_order=round(sale_cpu / taken * 1e6, 1) if taken else None,
        socket_errors=socket_errors,
    )


def run(service, database_url, rounds, units, seconds, connections=64, directory=None):
    """`rounds` sales on `service`, printed as they end; the Sales."""
    directory = directory or tempfile.mkdtemp(prefix="orders-flash-")
    # Enough customers that none comes twice: a generous guess of the answers per run.
    tokens_path = customer_tokens(service.env, max(20_000, int(seconds * 2_000)), directory)
    sales = []
    for _ in range(rounds):
        sale = run_once(service, database_url, tokens_path, units, seconds, connections)
        sales.append(sale)
        r = sale.run
        print(f"  7-flash   {sale.orders_per_second:9.1f} orders/s "
              f"({sale.sold}/{units} sold in {sale.sale_seconds:.1f} s)  p50 {r.p50_ms:7.2f} ms  "
              f"p99 {r.p99_ms:7.2f} ms  statuses {sale.statuses}  "
              f"cpu {r.server_cpu_us:7.0f} us/req  pg {r.db_cpu_us:5.0f} us/req  "
              f"cpu {sale.cpu_us_per_order or 0:7.0f} us/order while selling",
              flush=True)  # fmt: skip
    return sales


def main(argv=None):
    """This scenario alone: python -m bench.flash [--database-url URL] [--units N] …"""
    parser = argparse.ArgumentParser(prog="python -m bench.flash", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--units", type=int, default=UNITS)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    url = data.reset(args.database_url or data.DEFAULT_URL)
    data.seed_orders(url, 1_000)
    logs = tempfile.mkdtemp(prefix="orders-bench-")
    fake = servers.start_fake_stripe()
    service = servers.start_service(url, fake, logs)
    try:
        for sale in run(service, url, args.rounds, args.units, args.seconds, directory=logs):
            print(json.dumps(sale.as_dict()))
    finally:
        service.stop()
        fake.stop()


if __name__ == "__main__":
    raise SystemExit(main())
