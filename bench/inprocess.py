"""`POST /orders/new` in one process: CPU per created order, and cProfile's top functions.

The app as production configures it (JSON logs to a file, metrics, the Stripe provider
against the bench's Stripe fake) on PostgreSQL with the bench's products, called as WSGI with
one prepared environ per request. CPU is `time.thread_time` of the calling thread, so neither
waiting on PostgreSQL nor the Stripe fake (threads of this process) is counted.

    .venv/bin/python -m bench.inprocess --database-url postgresql://…/db --orders 1000
"""

import argparse
import cProfile
import io
import logging
import os
import pstats
import statistics
import sys
import tempfile
import time

from . import data, servers

BODY = b'["1", "2", "3"]'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--orders", type=int, default=1_000, help="created orders per run")
    parser.add_argument("--runs", type=int, default=5, help="timed runs (best and spread shown)")
    parser.add_argument("--top", type=int, default=30, help="functions shown by cProfile")
    parser.add_argument("--keyed", action="store_true", help="send an Idempotency-Key each")
    args = parser.parse_args(argv)
    args.database_url = args.database_url or data.DEFAULT_URL
    return args


def make_app(url, fake, log_path):
    from tests.servers import server_env

    os.environ.update(
        server_env(
            url,
            PAYMENT_PROVIDER="stripe",
            STRIPE_SECRET_KEY=servers.STRIPE_KEY,
            STRIPE_WEBHOOK_SECRET="whsec_bench",
            STRIPE_API_BASE=fake.url,
            DB_POOL_SIZE="4",
        )
    )
    from orders_service import create_app
    from orders_service.ops.logging import formatter_for

    app = create_app()
    handler = logging.FileHandler(log_path)
    handler.setFormatter(formatter_for(app.config["LOG_FORMAT"]))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(app.config["LOG_LEVEL"])
    return app


def environ_for(token, key=None):
    environ = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/orders/new",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(BODY)),
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if key:
        environ["HTTP_IDEMPOTENCY_KEY"] = key
    return environ


def create(app, token, key=None):
    environ = environ_for(token, key)
    environ["wsgi.input"] = io.BytesIO(BODY)
    statuses = []
    body = b"".join(app(environ, lambda status, headers, *_: statuses.append(status)))
    if not statuses or not statuses[0].startswith("201"):
        raise RuntimeError(f"POST /orders/new answered {statuses}: {body[:300]!r}")
    return body


def timed(app, token, count, keyed, profiler=None):
    """CPU µs per created order over `count` creates."""
    keys = [f"bench-{time.time_ns()}-{i}" if keyed else None for i in range(count)]
    if profiler:
        profiler.enable()
    started = time.thread_time()
    for key in keys:
        create(app, token, key)
    spent = time.thread_time() - started
    if profiler:
        profiler.disable()
    return spent / count * 1e6


def main(argv=None):
    args = parse_args(argv)
    from orders_service.auth import issue_token

    url = data.reset(args.database_url, "inprocess")
    fake = servers.start_fake_stripe()
    log_path = os.path.join(tempfile.mkdtemp(prefix="orders-inprocess-"), "app.log")
    try:
        app = make_app(url, fake, log_path)
        token = issue_token(app.config, data.BENCH_USER, ttl=3600)
        timed(app, token, 50, args.keyed)  # warm: imports, pool, compiled statements
        runs = [timed(app, token, args.orders, args.keyed) for _ in range(args.runs)]
        profiler = cProfile.Profile(time.thread_time)
        profiled = timed(app, token, args.orders, args.keyed, profiler)
        statements = count_statements(app, token, args.keyed)
    finally:
        fake.stop()
    print(
        f"POST /orders/new in one process, {args.orders:,} orders a run"
        f"{' (keyed)' if args.keyed else ''}: CPU µs per created order, best "
        f"{min(runs):,.0f}, median {statistics.median(runs):,.0f}, worst {max(runs):,.0f} "
        f"over {args.runs} runs; {profiled:,.0f} under cProfile; "
        f"{statements} SQL statements a created order"
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    return 0


def count_statements(app, token, keyed):
    """The statements one created order sends (peewee's execute_sql, every one of them)."""
    from orders_service.database import db

    target = db.obj
    sent = []
    original = target.execute_sql

    def counting(sql, params=None, *rest, **kwargs):
        sent.append(sql)
        return original(sql, params, *rest, **kwargs)

    target.execute_sql = counting
    try:
        create(app, token, f"count-{time.time_ns()}" if keyed else None)
    finally:
        del target.execute_sql
    if os.environ.get("BENCH_SHOW_SQL"):
        print("\n".join(sent))
    return len(sent)


if __name__ == "__main__":
    raise SystemExit(main())
