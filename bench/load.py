"""wrk: installed from Debian's packages when missing, run with a Lua script, read as JSON."""

import json
import math
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.servers import debian_program

LUA = Path(__file__).resolve().parent / "lua"
THREADS = 2  # one per core: wrk shares the machine with the servers it measures
MARKER = "BENCH_RESULT "


def ensure_wrk():
    """wrk on PATH, from Debian's packages."""
    debian_program("wrk", "wrk")


@dataclass
class Run:
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    # CPU microseconds per request: the server's workers, and PostgreSQL's backends.
    server_cpu_us: float | None = None
    db_cpu_us: float | None = None

    @property
    def rps(self):
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self):
        return {**asdict(self), "rps": round(self.rps, 1)}

    def charge(self, server_seconds, db_seconds):
        """Record the CPU the run cost, per request answered."""
        if self.requests:
            self.server_cpu_us = round(server_seconds / self.requests * 1e6, 1)
            self.db_cpu_us = round(db_seconds / self.requests * 1e6, 1)


def wrk(url, script, seconds, connections, env=None, requests_per_thread=None):
    """One wrk run of `script` (bench/lua/NAME.lua) against `url`; stops after `seconds`."""
    return parse(wrk_output(url, script, seconds, connections, env, requests_per_thread))


def wrk_output(url, script, seconds, connections, env=None, requests_per_thread=None):
    """What one wrk run printed (a script may print lines of its own beside BENCH_RESULT)."""
    variables = {"BENCH_LUA_DIR": str(LUA), **(env or {})}
    if requests_per_thread:
        variables["BENCH_REQUESTS_PER_THREAD"] = str(requests_per_thread)
    command = [
        "wrk", f"-t{THREADS}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "--latency", "-s", str(LUA / f"{script}.lua"), url,
    ]  # fmt: skip
    return subprocess.run(
        command,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout


def parse(out):
    """The Run of BENCH_RESULT in wrk's output."""
    line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line[len(MARKER) :])
    errors = sum(raw[k] for k in raw if k.endswith("_errors") or k == "timeouts")
    return Run(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=errors,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )


def send(url, script, total, connections, env=None, rate_guess=500.0):
    """About `total` requests, in runs that each stop once their share is answered.

    (wrk waits out its duration even after every thread stopped, so each run's duration is
    sized from the rate seen so far.)
    """
    done = errors = 0
    while done < total:
        remaining = total - done
        seconds = min(60, max(1, math.ceil(remaining / rate_guess * 1.1)))
        run = wrk(url, script, seconds, connections, env, math.ceil(remaining / THREADS))
        if run.requests == 0:
            raise RuntimeError(f"no request answered: {run}")
        done += run.requests
        errors += run.errors
        rate_guess = run.rps
    return done, errors
