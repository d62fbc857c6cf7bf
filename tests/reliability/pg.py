"""A private PostgreSQL cluster for tests that stop the database (never the shared one)."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import free_port

BIN = Path(os.environ.get("PG_BIN") or sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
SUPERUSER = "postgres"


def _as_postgres(*args):
    """Run a server binary as the postgres system user (initdb and pg_ctl refuse root)."""
    command = [str(BIN / args[0]), *map(str, args[1:])]
    if os.geteuid() == 0:
        command = ["runuser", "-u", SUPERUSER, "--", *command]
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)


class PrivatePostgres:
    """initdb in a temporary directory, one server on a free loopback port, stoppable at will."""

    def __init__(self, database="orders"):
        self.directory = Path(tempfile.mkdtemp(prefix="orders-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.database = database
        self.url = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"
        if os.geteuid() == 0:
            shutil.chown(self.directory, SUPERUSER, SUPERUSER)

    def create(self):
        _as_postgres("initdb", "-D", self.data, "-A", "trust", "-U", SUPERUSER, "--no-sync")
        self.start()
        _as_postgres("createdb", "-h", "127.0.0.1", "-p", self.port, "-U", SUPERUSER, self.database)
        return self

    def start(self):
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        log = self.directory / "server.log"
        _as_postgres("pg_ctl", "-D", self.data, "-o", options, "-l", log, "-w", "-t", "30", "start")

    def stop(self):
        _as_postgres("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30", "stop")

    def destroy(self):
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()
