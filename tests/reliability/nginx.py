"""deploy/nginx.conf run by Debian's nginx on a free loopback port, in front of a test gunicorn."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import ROOT, Gunicorn, debian_program

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
    """Debian's nginx, installed (nginx-light) when missing."""
    return debian_program("nginx", "nginx-light")


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


class Nginx(Gunicorn):
    """nginx's master and worker in a temporary prefix, proxying to `upstream_port`; started,
    asked and stopped as a Gunicorn is (ready once /healthz answers through it)."""

    name = "nginx"

    def __init__(self, upstream_port):
        self.directory = Path(tempfile.mkdtemp(prefix="orders-nginx-"))
        # A master started as root runs its worker as nobody, which must reach the temp paths.
        self.directory.chmod(0o755)
        main = self.directory / "nginx.conf"
        log_path = self.directory / "error.log"
        command = [nginx_binary(), "-p", self.directory, "-e", log_path, "-c", main]
        super().__init__(os.environ, log_path, command=map(str, command))
        (self.directory / "orders-service.conf").write_text(site_config(self.port, upstream_port))
        main.write_text(MAIN.format(dir=self.directory))

    def test_config(self):
        """`nginx -t` on the shipped file: (exit code, what nginx said)."""
        done = subprocess.run([*self.command, "-t"], capture_output=True, text=True, timeout=30)
        return done.returncode, done.stderr

    def stop(self, timeout=15):
        """SIGTERM (nginx's fast shutdown), then the prefix goes."""
        code = super().stop(timeout)
        shutil.rmtree(self.directory, ignore_errors=True)
        return code
