"""deploy/nginx.conf run by Debian's nginx on a free loopback port, in front of a test gunicorn."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import ROOT, Gunicorn, free_port

CONFIG = ROOT / "deploy" / "nginx.conf"
# Only what a private instance needs around the shipped file: its own pid, log and temp paths.
MAIN = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/orders-service.conf;
}}
"""


def nginx_binary():
    """Debian's nginx, installed (nginx-light) when missing and the suite may install it."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("nginx is missing: apt-get install nginx-light (as root)")
    subprocess.run(["apt-get", "install", "-y", "-q", "nginx-light"], check=True, timeout=600)
    return shutil.which("nginx", path="/usr/sbin:/sbin")


def site_config(listen_port, upstream_port):
    """deploy/nginx.conf with its two addresses replaced, and nothing else changed."""
    text = CONFIG.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{listen_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
    ):
        if text.count(old) != 1:
            raise AssertionError(f"deploy/nginx.conf should hold {old!r} exactly once")
        text = text.replace(old, new)
    return text


class Nginx:
    """One nginx master and its worker in a temporary prefix, proxying to `upstream_port`."""

    def __init__(self, upstream_port):
        self.binary = nginx_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="orders-nginx-"))
        # A master started as root runs its worker as nobody, which must reach the temp paths.
        self.directory.chmod(0o755)
        self.port = free_port()
        (self.directory / "orders-service.conf").write_text(site_config(self.port, upstream_port))
        self.main = self.directory / "nginx.conf"
        self.main.write_text(MAIN.format(dir=self.directory))
        self.process = None

    # The same one-connection request as a Gunicorn's (it needs only `port`), so LiveClient
    # drives either.
    request = Gunicorn.request

    def command(self, *args):
        return [
            self.binary,
            "-p",
            str(self.directory),
            "-e",
            str(self.log_path),
            "-c",
            str(self.main),
            *args,
        ]

    @property
    def log_path(self):
        return self.directory / "error.log"

    def test_config(self):
        """`nginx -t` on the shipped file: (exit code, what nginx said)."""
        done = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)
        return done.returncode, done.stderr

    def start(self, timeout=15):
        self.process = subprocess.Popen(
            self.command(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not listen within {timeout}s:\n{self.log()}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # nginx's fast shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
