"""PgBouncer (Debian's package) in transaction pooling mode, on a free port, in front of a
PostgreSQL database."""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tests.servers import debian_program, free_port, stop_process

USER = "postgres"  # pgbouncer refuses to run as root, like the server it fronts


def pgbouncer_binary():
    """Debian's pgbouncer, installed when missing."""
    return debian_program("pgbouncer", "pgbouncer")


class PgBouncer:
    """One pgbouncer for the database of `url`: `pool_size` server connections, shared by
    transaction (pool_mode = transaction), as it serves many replicas in production."""

    def __init__(self, url, pool_size=10):
        parts = urlsplit(url)
        self.database = parts.path.lstrip("/")
        self.user = parts.username or USER
        self.server = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self.pool_size = pool_size
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="orders-pgbouncer-"))
        self.url = f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"
        self.process = None

    def _write_config(self):
        host, port = self.server
        (self.directory / "users.txt").write_text(f'"{self.user}" ""\n')
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            f"[databases]\n{self.database} = host={host} port={port} dbname={self.database}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.directory / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {self.pool_size}\n"
            "max_client_conn = 1000\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.directory / 'pgbouncer.log'}\n"
        )
        if os.geteuid() == 0:
            shutil.chown(self.directory, USER, USER)
            for path in self.directory.iterdir():
                shutil.chown(path, USER, USER)
        return config

    def start(self, timeout=30):
        command = [pgbouncer_binary(), str(self._write_config())]
        if os.geteuid() == 0:
            command = ["runuser", "-u", USER, "--", *command]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited {self.process.returncode}:\n{self.log()}")
            try:
                with psycopg.connect(self.url, connect_timeout=2) as connection:
                    connection.execute("SELECT 1")
                return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"pgbouncer did not answer within {timeout}s:\n{self.log()}")

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self):
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
