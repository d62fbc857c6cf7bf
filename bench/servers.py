"""The servers under test: the service and the baseline under gunicorn, the Stripe fake, RSS."""

import os
import sys
from pathlib import Path

from tests.fakes.stripe_api import FakeStripe
from tests.servers import COMMAND, Gunicorn, server_env

STRIPE_KEY = "sk_test_bench"

# Both servers run with these: 64 requests in flight fit (scenario 4), and every thread of a
# worker can hold a pooled connection without waiting, while the total (workers x pool) stays
# well under PostgreSQL's max_connections of 100.
SETTINGS = {"WEB_CONCURRENCY": "4", "GUNICORN_THREADS": "16", "DB_POOL_SIZE": "16"}


def settings():
    """SETTINGS, each overridable from the environment (e.g. WEB_CONCURRENCY=2 make bench)."""
    return {name: os.environ.get(name, value) for name, value in SETTINGS.items()}


def start_fake_stripe():
    return FakeStripe(api_key=STRIPE_KEY).start()


def start_service(database_url, fake, log_dir, name="service", **overrides):
    """The service as production runs it: gunicorn, APP_ENV=production, Stripe (the fake)."""
    env = server_env(
        database_url,
        PAYMENT_PROVIDER="stripe",
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET="whsec_bench",
        STRIPE_API_BASE=fake.url,
        **{**settings(), **overrides},
    )
    return Gunicorn(env, Path(log_dir) / f"{name}.log").start(timeout=60)


def start_baseline(body_path, log_dir):
    env = server_env("sqlite:///unused", BENCH_BASELINE_BODY=str(body_path), **settings())
    command = [sys.executable, "-m", *COMMAND[:-1], "bench.baseline:app"]
    return Gunicorn(env, Path(log_dir) / "baseline.log", command=command).start(timeout=60)


def start_peer(database_url, log_dir, fake=None, name="peer", **overrides):
    """bench/peer.py under the same gunicorn settings, on the service's data (and, for its
    create, the service's Stripe fake)."""
    stripe = {"STRIPE_SECRET_KEY": STRIPE_KEY, "STRIPE_API_BASE": fake.url} if fake else {}
    env = server_env(database_url, **{**settings(), **stripe, **overrides})
    command = [sys.executable, "-m", *COMMAND[:-1], "bench.peer:app"]
    return Gunicorn(env, Path(log_dir) / f"{name}.log", command=command).start(timeout=60)


def workers(master_pid):
    """Pids of the gunicorn master's children (its workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) start with state, ppid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
            found.append(int(entry))
    return sorted(found)


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")
