"""`make bench`: seed PostgreSQL, start the service and a bare Flask baseline, run wrk, report.

Every target is a ratio of two runs made in the same bench, so a busy machine moves both.
"""

import argparse
import datetime
import functools
import os
import tempfile
import time
from pathlib import Path

from orders_service.auth import issue_token

from . import cpu, data, flash, load, profile, report, servers, webhooks

SCRIPT = "requests"
NEW_ORDER = '["1", "2", "3"]'  # three lines, three products
DEEP = 30  # the cursor leaves this many of the user's orders before it: 70 pages-worth deep


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--seconds", type=float, default=10, help="each measured wrk run")
    parser.add_argument("--warmup", type=float, default=3, help="each discarded warm-up run")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each scenario (best kept)")
    parser.add_argument("--small", type=int, default=1_000, help="orders in the table at first")
    parser.add_argument("--large", type=int, default=1_000_000, help="orders for scenarios 3, 7")
    parser.add_argument("--memory-requests", type=int, default=100_000)
    parser.add_argument("--delay-ms", type=float, default=200, help="the slow Stripe fake")
    parser.add_argument("--flash-units", type=int, default=flash.UNITS, help="scenario 7's stock")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        action="append",
        default=[],
        help="also sample the service's workers with py-spy during this scenario (e.g. 1)",
    )
    parser.add_argument(
        "--only",
        metavar="PARTS",
        help=f"run only these parts, comma-separated, of: {','.join(PARTS)} (all by default)",
    )
    args = parser.parse_args(argv)
    args.database_url = args.database_url or data.DEFAULT_URL
    args.parts = set(PARTS) if args.only is None else set(args.only.split(","))
    if unknown := args.parts - set(PARTS):
        parser.error(f"--only: no part {', '.join(sorted(unknown))}; the parts: {', '.join(PARTS)}")
    return args


# What --only chooses among: scenarios 3 and 8 (deep), the reads beside the baseline and the
# peer, the creates (4 and the peer's), the flash sale (7), the worker RSS (5) and the webhook rows.
PARTS = ("deep", "reads", "writes", "flash", "memory", "webhooks")


def deep_page(order_ids):
    return {"BENCH_PATHS": f"/orders?limit=20&starting_after={order_ids[DEEP]}"}


def date_range(url, count, admin_token):
    """Scenario 8: an admin's orders created between the table's 30th and 60th percentiles
    (ids and creation times grow together in the seed), its first page and a page from a
    cursor halfway down the range: 150 orders deep at 1,000, 150,000 at 1,000,000."""
    lower, upper, cursor = (count * share // 100 for share in (30, 60, 45))
    after, before = data.created_at(url, (lower, upper))
    window = f"/orders?limit=20&createdAfter={after}&createdBefore={before}"
    return {"BENCH_PATHS": f"{window} {window}&starting_after={cursor}", "BENCH_TOKEN": admin_token}


def scenarios(order_ids, delay_ms):
    """(key, server, connections, Stripe delay in seconds, wrk environment) for one round: the
    reads beside the baseline and the peer (the service and the peer with half the pool
    each), then the writes on the service with its whole pool once those have stopped."""
    by_id = {"BENCH_PATHS": " ".join(f"/orders/{order_id}" for order_id in order_ids)}
    page = {"BENCH_PATHS": "/orders?limit=20"}
    post = {"BENCH_POST_EVERY": "1", "BENCH_POST_PATH": "/orders/new", "BENCH_BODY": NEW_ORDER}
    reads = [
        ("baseline", "baseline", 32, 0, by_id),
        ("1", "service", 32, 0, by_id),
        ("peer-1", "peer", 32, 0, by_id),
        ("2", "service", 32, 0, page),
        ("peer-2", "peer", 32, 0, page),
    ]
    writes = [
        ("4-fast", "service", 64, 0, post),
        ("peer-4", "peer", 64, 0, post),
        ("4-slow", "service", 64, delay_ms / 1000, post),
    ]
    return reads, writes


def run_round(args, targets, fake, token, runs):
    for key, server, connections, delay, env in targets:
        fake.delay_seconds = delay
        url = f"http://127.0.0.1:{runs['_servers'][server].port}"
        env = {"BENCH_TOKEN": token, **env}  # a scenario may bring its own (an admin's)
        if args.warmup:
            load.wrk(url, SCRIPT, args.warmup, connections, env)
        master = runs["_servers"][server].process.pid
        meter = cpu.Meter(functools.partial(servers.workers, master), args.database_url)
        with profile.maybe(key in args.profile, key, runs["_servers"][server], args.seconds):
            meter.start()
            run = load.wrk(url, SCRIPT, args.seconds, connections, env)
            run.charge(*meter.stop())
        runs.setdefault(key, []).append(run)
        print(f"  {key:<9} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms  "
              f"p99 {run.p99_ms:7.2f} ms  errors {run.errors}  "
              f"cpu {run.server_cpu_us:7.0f} us/req  pg {run.db_cpu_us:5.0f} us/req",
              flush=True)  # fmt: skip
    fake.delay_seconds = 0


# A worker that has run this long, with as many requests in flight as it has threads, has
# served every kind of request on every thread and filled its pool (0.2 s left workers that
# still grew by 7 MiB over the next 100,000 requests: their threads had not all run yet).
WARM_CPU_SECONDS = 1.0
WARM_CONNECTIONS = 64  # every thread of every worker busy at once (4 workers of 16 threads)


def warm_every_worker(url, master_pid, env, batch=2_000, most=20):
    """Requests in batches until every worker has done real work (its CPU rose by
    WARM_CPU_SECONDS): gunicorn does not spread connections evenly, and a worker's first
    requests grow it (imports, compiled statements, pool connections, each thread's own
    state) before it levels off."""
    pids = servers.workers(master_pid)
    before = {pid: cpu.cpu_seconds(pid) for pid in pids}
    sent = errors = 0
    for _ in range(most):
        answered, failed = load.send(url, SCRIPT, batch, WARM_CONNECTIONS, env)
        sent, errors = sent + answered, errors + failed
        if all(cpu.cpu_seconds(pid) - before[pid] >= WARM_CPU_SECONDS for pid in pids):
            return sent, errors, True
    return sent, errors, False


def memory(args, url, master_pid, token, order_ids):
    """Each worker's RSS once every worker is warm, and after `memory_requests` more."""
    env = {
        "BENCH_TOKEN": token,
        "BENCH_PATHS": " ".join(
            [f"/orders/{i}" for i in order_ids]
            + ["/orders?limit=20", deep_page(order_ids)["BENCH_PATHS"]]
        ),
        # One request in ten places an order, so the write path is in the mix too.
        "BENCH_POST_EVERY": "10",
        "BENCH_POST_PATH": "/orders/new",
        "BENCH_BODY": NEW_ORDER,
    }
    started = time.monotonic()
    warm, errors, all_warm = warm_every_worker(url, master_pid, env)
    after_first = {pid: servers.rss_kib(pid) for pid in servers.workers(master_pid)}
    measured, more_errors = load.send(url, SCRIPT, args.memory_requests, 32, env)
    after_all = {pid: servers.rss_kib(pid) for pid in servers.workers(master_pid)}
    return {
        "warm_requests": warm,
        "every_worker_warm": all_warm,
        "requests": measured,
        "errors": errors + more_errors,
        "seconds": round(time.monotonic() - started, 1),
        "workers": [
            {"pid": pid, "rss_first_kib": kib, "rss_last_kib": after_all.get(pid)}
            for pid, kib in after_first.items()
        ],
    }


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.UTC)
    load.ensure_wrk()
    logs = Path(tempfile.mkdtemp(prefix="orders-bench-"))
    print(f"bench database {args.database_url}; server logs in {logs}", flush=True)
    small_url = data.reset(args.database_url)
    order_ids = data.seed_orders(small_url, args.small)
    # The large data set lives in a schema of its own, so scenario 3 runs side by side.
    seed_seconds = 0.0
    if "deep" in args.parts:
        large_url = data.reset(args.database_url, "large")
        print(f"seeding {args.large:,} orders", flush=True)
        seeded = time.monotonic()
        large_ids = data.seed_orders(large_url, args.large)
        seed_seconds = time.monotonic() - seeded
    fake = servers.start_fake_stripe()
    service = servers.start_service(small_url, fake, logs)
    token = issue_token(service.env, data.BENCH_USER, ttl=3600)
    admin_token = issue_token(service.env, data.BENCH_USER, admin=True, ttl=3600)
    runs = {}
    # Two servers on one database at once (scenario 3's, the service's reads and the peer's):
    # each gets half the pool, so together they stay under PostgreSQL's max_connections (a
    # refused connection would be measured as a 503).
    half_pool = str(max(1, int(servers.settings()["DB_POOL_SIZE"]) // 2))
    try:
        if "deep" in args.parts:
            small = servers.start_service(small_url, fake, logs, "small", DB_POOL_SIZE=half_pool)
            large = servers.start_service(large_url, fake, logs, "large", DB_POOL_SIZE=half_pool)
            try:
                runs["_servers"] = {"small": small, "large": large}
                deep = [
                    ("3-small", "small", 32, 0, deep_page(order_ids)),
                    ("3-large", "large", 32, 0, deep_page(large_ids)),
                    ("8-small", "small", 32, 0, date_range(small_url, args.small, admin_token)),
                    ("8-large", "large", 32, 0, date_range(large_url, args.large, admin_token)),
                ]
                for number in range(1, args.rounds + 1):
                    print(f"round {number}/{args.rounds}: {args.small:,} and {args.large:,} orders")
                    run_round(args, deep, fake, token, runs)
            finally:
                small.stop()
                large.stop()
        sample = service.request(
            "GET", f"/orders/{order_ids[-1]}", headers={"Authorization": f"Bearer {token}"}
        )
        assert sample.status == 200, sample
        (logs / "order.json").write_bytes(sample.body)
        reads, writes = scenarios(order_ids, args.delay_ms)
        if "reads" in args.parts:
            baseline = servers.start_baseline(logs / "order.json", logs)
            reader = servers.start_service(small_url, fake, logs, "reads", DB_POOL_SIZE=half_pool)
            peer = servers.start_peer(small_url, logs, DB_POOL_SIZE=half_pool)
            runs["_servers"] = {"service": reader, "baseline": baseline, "peer": peer}
            try:
                for number in range(1, args.rounds + 1):
                    print(f"round {number}/{args.rounds} ({args.small:,} orders in the table)")
                    run_round(args, reads, fake, token, runs)
            finally:
                baseline.stop()
                reader.stop()
                peer.stop()
        if "writes" in args.parts:
            # The peer's create beside the service's, on the same Stripe fake; half the pool, so
            # that with the service's whole one they stay under max_connections.
            peer = servers.start_peer(small_url, logs, fake, "peer-writes", DB_POOL_SIZE=half_pool)
            runs["_servers"] = {"service": service, "peer": peer}
            try:
                for number in range(1, args.rounds + 1):
                    print(f"round {number}/{args.rounds}: new orders")
                    run_round(args, writes, fake, token, runs)
            finally:
                peer.stop()
        if "flash" in args.parts:
            print(
                f"flash sale: {args.flash_units} units of one product, a new customer each request"
            )
            runs["7"] = flash.run(
                service, small_url, args.rounds, args.flash_units, args.seconds, directory=logs
            )
    finally:
        service.stop()

    mem = None
    try:
        if "memory" in args.parts:
            print(f"memory: {args.memory_requests:,} requests to a fresh service", flush=True)
            service = servers.start_service(small_url, fake, logs)
            try:
                url = f"http://127.0.0.1:{service.port}"
                mem = memory(args, url, service.process.pid, token, order_ids)
            finally:
                service.stop()
    finally:
        fake.stop()

    webhook_rows = []
    if "webhooks" in args.parts:
        print("webhooks: delivery throughput and commit-to-receipt latency", flush=True)
        webhook_rows = webhooks.run(small_url, range(1, args.small + 1), logs)

    runs.pop("_servers", None)
    result = report.build(
        args, runs, mem, started, servers.settings(), seed_seconds, len(sample.body)
    )
    result["rows"] += webhook_rows
    print()
    print(report.table(result))
    paths = report.write(result)
    print(f"\nwritten: {', '.join(str(p) for p in paths)}")
    missed = [row["scenario"] for row in result["rows"] if row["met"] is False]
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
