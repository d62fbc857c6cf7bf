"""What each reliability check did, kept in a JSON file and printed as one table."""

import json
import os
import random
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("RELIABILITY_RESULTS") or ROOT / ".reliability")
RESULTS_FILE = RESULTS_DIR / "results.json"
# A fresh seed each run, so each run fuzzes anew; SCHEMATHESIS_SEED replays a run's findings.
FUZZ_SEED = int(os.environ.get("SCHEMATHESIS_SEED") or random.SystemRandom().randrange(2**32))

# The kinds of failure the acceptance names, each its own column (and key in results.json):
# server errors: an unexpected 5xx; schema violations: an answer its documentation does not
# allow (schema, status, content type, headers); duplicates: an order, intent, event or history
# row made twice; forged accepted: a forged token, a misplaced caller or a client price let
# through; other: anything else a check asserts (a mix, a slow answer, a wrong status).
KINDS = ("server errors", "schema violations", "duplicates", "forged accepted", "other")
KEYS = {kind: kind.replace(" ", "_") for kind in KINDS}
COLUMNS = (
    "check",
    "requests sent",
    "server errors",
    "schema violations",
    "duplicates",
    "forged accepted",
    "other failures",
    "orders lost",
    "result",
)


@dataclass
class Check:
    """One check's counts: requests sent, failures of each kind, orders lost."""

    name: str
    sent: int = 0
    counts: dict = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    lost: int = 0
    notes: list = field(default_factory=list)
    passed: bool = True
    # 5xx answers the check provokes on purpose (502/503 while a dependency is down).
    expected_5xx: frozenset = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def failures(self):
        """Failures of every kind (orders lost aside): a check passes only at zero."""
        return sum(self.counts.values())

    def saw(self, status):
        """Count one request and its answer; an unexpected 5xx is a server error."""
        with self._lock:
            self.sent += 1
            if status >= 500 and status not in self.expected_5xx:
                self.counts["server errors"] += 1
                self.notes.append(f"server error {status}")

    def fail(self, note, count=1, kind="other", status=None):
        """Count `count` failures of `kind`, noted. `status`: the answer at fault, when there is
        one; an unexpected 5xx is then only noted, saw() having counted it as a server error."""
        if kind not in self.counts:
            raise ValueError(f"unknown kind of failure {kind!r}; one of {KINDS}")
        with self._lock:
            if status is not None and status >= 500 and status not in self.expected_5xx:
                kind, count = "server errors", 0
            self.counts[kind] += count
            self.notes.append(f"{kind}: {note}")

    def as_row(self):
        row = {"name": self.name, "sent": self.sent}
        row.update({KEYS[kind]: self.counts[kind] for kind in KINDS})
        row.update(failures=self.failures, lost=self.lost, notes=self.notes, passed=self.passed)
        return row


def save(rows):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(rows, indent=2))


def _numbers(row):
    return [row["sent"], *(row[KEYS[kind]] for kind in KINDS), row["lost"]]


def table(rows):
    """The rows as an aligned text table, with a total line."""
    lines = [(r["name"], *map(str, _numbers(r)), _result(r)) for r in rows]
    sums = [sum(column) for column in zip(*map(_numbers, rows), strict=True)]
    total = (
        "total",
        *map(str, sums),
        "PASS" if all(_result(r) == "PASS" for r in rows) else "FAIL",
    )
    widths = [max(len(cells[i]) for cells in [COLUMNS, *lines, total]) for i in range(len(COLUMNS))]

    def render(cells):
        return " | ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([render(COLUMNS), rule, *map(render, lines), rule, render(total)])


def _result(row):
    failed = any(row[KEYS[kind]] for kind in KINDS) or row["lost"]
    return "PASS" if row["passed"] and not failed else "FAIL"
