"""Real gunicorn for tests: the project's gunicorn.conf.py on a free loopback port, logs kept."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ("gunicorn", "--config", "gunicorn.conf.py", "wsgi:app")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def debian_program(program, package):
    """The path of `program`, installing Debian's `package` first when it is missing (as root;
    the package lists are fetched only when the install needs them, as on a new machine)."""
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    found = shutil.which(program, path=path)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError(f"{program} is missing: apt-get install {package} (as root)")
    print(f"installing {package} (apt-get install -y {package})", flush=True)
    install = ["apt-get", "install", "-y", "-qq", package]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, capture_output=True, env=env, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True, timeout=600)
        subprocess.run(install, check=True, capture_output=True, env=env, timeout=600)
    return shutil.which(program, path=path)


def stop_process(process, timeout=10):
    """SIGTERM, then SIGKILL if it hangs: once this returns, `process` has exited."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def server_env(database_url, **overrides):
    """The environment a production container gets, for the local payment provider."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PROMETHEUS_", "GUNICORN_", "STRIPE_", "JWT_", "CORS_"))
    }
    env.update(
        APP_ENV="production",
        DATABASE_URL=database_url,
        JWT_SECRET="test-secret-0123456789abcdef0123456789abcdef",
        PAYMENT_PROVIDER="local",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        # Requests here take milliseconds; a stop that hangs should not hold a test for 30 s.
        GUNICORN_GRACEFUL_TIMEOUT="10",
        PYTHONUNBUFFERED="1",
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",  # the subscribers of the tests are on loopback
        # Load and concurrency tests place many orders as one customer; rate limits are tested
        # on their own (tests/test_rate_limits.py).
        RATE_LIMIT_ORDERS="1000000/minute",
        RATE_LIMIT_LEADS="1000000/minute",
    )
    env.update({name: str(value) for name, value in overrides.items()})
    return env


class Gunicorn:
    """One gunicorn master and its workers; stdout and stderr go to `log_path`."""

    name = "gunicorn"

    def __init__(self, env, log_path, cwd=ROOT, command=None):
        self.port = free_port()
        self.env = dict(env, PORT=str(self.port))
        # The image binds 0.0.0.0; tests stay on loopback (the command line keeps the image's).
        self.env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.cwd = cwd
        self.command = list(command or [sys.executable, "-m", *COMMAND])
        self.process = None

    def start(self, timeout=30):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.log()}")
            try:
                if self.request("GET", "/healthz", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.log()}")

    def request(self, method, path, body=None, headers=None, timeout=15):
        """One request on a new connection (so the workers share the load)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if body is not None and not isinstance(body, bytes | str):
                body = json.dumps(body)
                headers = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            connection.close()

    def signal(self, signum=signal.SIGTERM):
        self.process.send_signal(signum)

    def stop(self, timeout=45):
        """SIGTERM (a graceful stop), then SIGKILL to the group if it hangs; the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(5)

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self):
        """Every line of output parsed as JSON (raises on a line that is not one)."""
        return [json.loads(line) for line in self.log().splitlines() if line.strip()]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
