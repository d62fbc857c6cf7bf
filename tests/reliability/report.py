"""What each reliability check did, kept in a JSON file and printed as one table."""

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = Path(os.environ.get("RELIABILITY_RESULTS") or ROOT / ".reliability")
RESULTS_FILE = RESULTS_DIR / "results.json"
COLUMNS = ("check", "requests sent", "failures", "orders lost", "result")


@dataclass
class Check:
    """One check's counts. Failures: server errors, schema violations, duplicates, forgeries."""

    name: str
    sent: int = 0
    failures: int = 0
    lost: int = 0
    notes: list = field(default_factory=list)
    passed: bool = True
    # 5xx answers the check provokes on purpose (502/503 while a dependency is down).
    expected_5xx: frozenset = frozenset()
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def saw(self, status):
        """Count one request and its answer; an unexpected 5xx is a failure."""
        with self._lock:
            self.sent += 1
            if status >= 500 and status not in self.expected_5xx:
                self.failures += 1
                self.notes.append(f"server error {status}")

    def fail(self, note, count=1):
        with self._lock:
            self.failures += count
            self.notes.append(note)

    def as_row(self):
        names = ("name", "sent", "failures", "lost", "notes", "passed")
        return {name: getattr(self, name) for name in names}


def save(rows):
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(rows, indent=2))


def table(rows):
    """The rows as an aligned text table, with a total line."""
    lines = [
        (r["name"], str(r["sent"]), str(r["failures"]), str(r["lost"]), _result(r)) for r in rows
    ]
    total = (
        "total",
        str(sum(r["sent"] for r in rows)),
        str(sum(r["failures"] for r in rows)),
        str(sum(r["lost"] for r in rows)),
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
    return "PASS" if row["passed"] and not row["failures"] and not row["lost"] else "FAIL"
