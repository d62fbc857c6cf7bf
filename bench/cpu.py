"""CPU time from /proc: a server's workers' and the bench database's backends', per request."""

import os
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")

BACKENDS = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
"""


def cpu_seconds(pid):
    """User + system seconds `pid` has run (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # After the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def backends(database_url):
    """Pids of the PostgreSQL backends serving the bench database (this one's left out)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return [row[0] for row in conn.execute(BACKENDS)]


class Meter:
    """CPU seconds a server's workers and the database's backends spend between start and stop.

    A backend that connects during the run counts from zero; one that exits loses its share
    (the pools keep theirs open, so that is rare and only ever understates).
    """

    def __init__(self, workers, database_url):
        self.workers = workers
        self.database_url = database_url

    def _sample(self):
        server = {pid: cpu_seconds(pid) for pid in self.workers()}
        database = {pid: cpu_seconds(pid) for pid in backends(self.database_url)}
        return server, database

    def start(self):
        self.before = self._sample()
        return self

    def stop(self):
        after = self._sample()
        return tuple(
            sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in now.items())
            for before, now in zip(self.before, after, strict=True)
        )
