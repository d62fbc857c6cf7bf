"""The bench's table: printed, and written as JSON and Markdown under bench/results/."""

import datetime
import json
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = {
    "baseline": "baseline: bare Flask, static JSON",
    "1": "1 GET /orders/{{id}}",
    "peer-1": "peer GET /orders/{{id}} (Flask, peewee, marshmallow)",
    "2": "2 GET /orders?limit=20 (user with 100)",
    "peer-2": "peer GET /orders?limit=20",
    "3-small": "3 deep cursor, {small:,} orders",
    "3-large": "3 deep cursor, {large:,} orders",
    "8-small": "8 admin date range, {small:,} orders",
    "8-large": "8 admin date range, {large:,} orders",
    "4-fast": "4 POST /orders/new, Stripe 0 ms",
    "peer-4": "peer POST /orders/new (Flask, peewee, marshmallow, Stripe SDK), Stripe 0 ms",
    "4-slow": "4 POST /orders/new, Stripe {delay:g} ms",
    "5": "5 worker RSS, {memory:,} requests once warm",
    "7": "7 flash sale: POST /orders/new, one scarce product, a new customer each",
}
CONNECTIONS = {"4-fast": 64, "peer-4": 64, "4-slow": 64, "7": 64}
# Scenario 4's: worker CPU per created order (Stripe answering at once), alone and over the
# peer's create measured in the same run.
CREATE_CPU_US = 3_000
CREATE_PEER_RATIO = 0.5
COLUMNS = (
    "scenario", "conns", "req/s", "p50 ms", "p99 ms", "errors", "cpu µs/req", "pg µs/req",
    "ratio", "target", "result",
)  # fmt: skip


def best(runs):
    """The least disturbed of a scenario's runs: the one with the most requests per second."""
    return max(runs, key=lambda run: run.rps)


def _row(key, args, run=None, ratio="", target="", met=None, **extra):
    row = {
        "key": key,
        "scenario": LABELS[key].format(
            small=args.small, large=args.large, delay=args.delay_ms, memory=args.memory_requests
        ),
        "connections": CONNECTIONS.get(key, 32),
        "ratio": ratio,
        "target": target,
        "met": met,
        **extra,
    }
    if run is not None:
        row.update(run.as_dict())
    return row


def _ratio_row(key, args, run, reference, minimum, of):
    ratio = run.rps / reference.rps
    met = ratio >= minimum and run.errors == 0
    return _row(key, args, run, f"{ratio:.2f}x {of}", f"≥ {minimum}x {of}", met)


def cpu_ratios(run, peer):
    """The run's CPU per request over the peer's: the servers' alone (the target), and with
    PostgreSQL's added (work moved into the database is not work saved)."""
    with_db = (run.server_cpu_us + run.db_cpu_us) / (peer.server_cpu_us + peer.db_cpu_us)
    return run.server_cpu_us / peer.server_cpu_us, with_db


def _read_rows(args, runs):
    base, one, page = best(runs["baseline"]), best(runs["1"]), best(runs["2"])
    peer_one, peer_page = best(runs["peer-1"]), best(runs["peer-2"])
    rps_ratio, p99_ratio = one.rps / base.rps, one.p99_ms / base.p99_ms
    (one_cpu, one_all), (page_cpu, page_all) = (
        cpu_ratios(one, peer_one),
        cpu_ratios(page, peer_page),
    )
    page_rps = page.rps / base.rps
    return [
        _row("baseline", args, base),
        _row(
            "1",
            args,
            one,
            f"{rps_ratio:.2f}x req/s, p99 {p99_ratio:.2f}x, cpu {one_cpu:.2f}x peer "
            f"({one_all:.2f}x with pg)",
            "≥ 0.5x req/s, p99 ≤ 4x, cpu ≤ 0.5x peer",
            rps_ratio >= 0.5 and p99_ratio <= 4 and one_cpu <= 0.5 and one.errors == 0,
        ),
        _row("peer-1", args, peer_one, target="reference for 1's cpu"),
        _row(
            "2",
            args,
            page,
            f"{page_rps:.2f}x baseline, cpu {page_cpu:.2f}x peer ({page_all:.2f}x with pg)",
            "≥ 0.3x baseline, cpu ≤ 0.4x peer",
            page_rps >= 0.3 and page_cpu <= 0.4 and page.errors == 0,
        ),
        _row("peer-2", args, peer_page, target="reference for 2's cpu"),
    ]


def _create_rows(args, runs):
    """Scenario 4 at 0 ms against its CPU target and the peer's create, then at the delay."""
    fast, peer = best(runs["4-fast"]), best(runs["peer-4"])
    cpu, with_db = cpu_ratios(fast, peer)
    return [
        _row(
            "4-fast",
            args,
            fast,
            f"cpu {cpu:.2f}x peer ({with_db:.2f}x with pg)",
            f"cpu ≤ {CREATE_CPU_US:,} µs/req, ≤ {CREATE_PEER_RATIO}x peer",
            fast.server_cpu_us <= CREATE_CPU_US and cpu <= CREATE_PEER_RATIO and fast.errors == 0,
        ),
        _row("peer-4", args, peer, target="reference for 4's cpu"),
        _ratio_row("4-slow", args, best(runs["4-slow"]), fast, 0.8, "0 ms"),
    ]


def _memory_row(args, memory):
    growth = max(w["rss_last_kib"] / w["rss_first_kib"] for w in memory["workers"])
    rss = ", ".join(
        f"{w['rss_first_kib'] / 1024:.0f}→{w['rss_last_kib'] / 1024:.0f} MiB"
        for w in memory["workers"]
    )
    return _row(
        "5",
        args,
        ratio=f"{growth:.3f}x worst worker",
        target="≤ 1.1x RSS once warm",
        met=growth <= 1.1 and memory["errors"] == 0 and memory["every_worker_warm"],
        rps=round((memory["warm_requests"] + memory["requests"]) / memory["seconds"], 1),
        errors=memory["errors"],
        note=f"RSS per worker once every worker was warm ({memory['warm_requests']:,} "
        f"requests{'' if memory['every_worker_warm'] else ', NOT every worker'}) → after "
        f"{memory['requests']:,} more: {rss}",
    )


def build(args, runs, memory, started, settings, seed_seconds, body_bytes):
    """The rows of the scenarios that ran (`--only` may leave some out)."""
    argv = sys.argv[1:]
    rows = []
    if "baseline" in runs:
        rows += _read_rows(args, runs)
    if "3-small" in runs:
        small3, small8 = best(runs["3-small"]), best(runs["8-small"])
        rows += [
            _row("3-small", args, small3, target="reference for 3"),
            _ratio_row("3-large", args, best(runs["3-large"]), small3, 0.9, "small"),
            _row("8-small", args, small8, target="reference for 8"),
            _ratio_row("8-large", args, best(runs["8-large"]), small8, 0.9, "small"),
        ]
    if "4-fast" in runs:
        rows += _create_rows(args, runs)
    if "7" in runs:
        rows.append(flash_row(args, runs["7"], best(runs["4-fast"]) if "4-fast" in runs else None))
    if memory is not None:
        rows.append(_memory_row(args, memory))
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench" + (f" BENCH_ARGS='{' '.join(argv)}'" if argv else ""),
        "machine": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "gunicorn": settings,
        "wrk": {"threads": 2, "seconds": args.seconds, "warmup": args.warmup},
        "rounds": args.rounds,
        "order_body_bytes": body_bytes,
        "seed_seconds_large": round(seed_seconds, 1),
        "rows": rows,
        "runs": {key: [run.as_dict() for run in value] for key, value in runs.items()},
        "memory": memory,
        "finished": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def flash_row(args, sales, create):
    """Scenario 7 (bench/flash.py): the round that sold fastest; its workers' CPU per order
    while selling against scenario 4's at 0 ms per created order; the rounds' spread."""
    sale = max(sales, key=lambda s: s.orders_per_second)

    def ratio(s):
        if create is None or not s.cpu_us_per_order:  # scenario 4 left out by --only
            return float("nan")
        return s.cpu_us_per_order / create.server_cpu_us

    spread = "; ".join(
        f"{s.orders_per_second:.0f} orders/s, p99 {s.run.p99_ms:.0f} ms, "
        f"{s.cpu_us_per_order or 0:.0f} µs/order ({ratio(s):.2f}x 4's)"
        for s in sales
    )
    row = _row(
        "7",
        args,
        sale.run,
        f"{sale.orders_per_second:.1f} orders/s, {sale.cpu_us_per_order or 0:.0f} µs/order "
        f"= {ratio(sale):.2f}x 4's",
        "reference: orders/s, p99, cpu per order",
        None if sale.unexpected == 0 else False,
        orders_per_second=round(sale.orders_per_second, 1),
        cpu_us_per_order=sale.cpu_us_per_order,
        cpu_ratio_to_4=round(ratio(sale), 3),
        sold=sale.sold,
        units=sale.units,
        statuses=sale.statuses,
        note=f"7 flash sale: {sale.sold}/{sale.units} units sold in {sale.sale_seconds:.1f} s, "
        f"answers {sale.statuses}; µs/order: the workers' CPU from the run's start to the "
        f"stock's 0 per unit sold (cpu µs/req: the whole run's, 409s included); rounds: {spread}",
    )
    row["errors"] = sale.unexpected  # wrk's count has every 409 in it
    return row


def _cells(row):
    def number(name, spec):
        return format(row[name], spec) if name in row else "-"

    result = {True: "met", False: "NOT MET", None: ""}[row["met"]]
    return [
        row["scenario"],
        str(row["connections"]),
        number("rps", ".0f"),
        number("p50_ms", ".1f"),
        number("p99_ms", ".1f"),
        number("errors", "d"),
        _number(row.get("server_cpu_us")),
        _number(row.get("db_cpu_us")),
        row["ratio"],
        row["target"],
        result,
    ]


def _number(value):
    return "-" if value is None else f"{value:.0f}"


def table(result):
    cells = [list(COLUMNS), *(_cells(row) for row in result["rows"])]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [row["note"] for row in result["rows"] if row.get("note")]
    return "\n".join(lines + notes)


def markdown(result):
    lines = [
        f"# orders-service bench, {result['date']}",
        "",
        f"`{result['command']}` on {result['machine']['cores']} cores; gunicorn gthread "
        + ", ".join(f"{k}={v}" for k, v in result["gunicorn"].items())
        + f" for both servers; wrk 2 threads, {result['wrk']['warmup']:g} s warm-up + "
        f"{result['wrk']['seconds']:g} s measured, best of {result['rounds']} rounds; "
        f"order body {result['order_body_bytes']} bytes.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in result["rows"]]
    lines += [""] + [row["note"] for row in result["rows"] if row.get("note")]
    return "\n".join(lines) + "\n"


def write(result):
    RESULTS.mkdir(exist_ok=True)
    stamp = result["date"].replace(" ", "-").replace(":", "")
    paths = []
    for name in (f"bench-{stamp}", "latest"):
        json_path, md_path = RESULTS / f"{name}.json", RESULTS / f"{name}.md"
        json_path.write_text(json.dumps(result, indent=2) + "\n")
        md_path.write_text(markdown(result))
        paths += [json_path, md_path]
    return paths
