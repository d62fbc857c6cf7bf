"""The image without Docker: a clean virtualenv built as the Dockerfile builds it, from the
lock file alone (and the console's npm lock file), then the image's CMD under gunicorn answers
/readyz, serves the console with its npm code, and its HEALTHCHECK passes."""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.servers import ROOT, Gunicorn, server_env

pytestmark = pytest.mark.slow


def dockerfile():
    """(console COPY sources, builder COPY sources, final COPY sources, CMD, HEALTHCHECK CMD)
    as the Dockerfile says."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages, cmd, healthcheck = [], None, None
    for line in text.splitlines():
        words = line.split(maxsplit=1)
        if not words or words[0].startswith("#"):
            continue
        instruction, rest = words[0].upper(), words[1] if len(words) > 1 else ""
        if instruction == "FROM":
            stages.append([])
        elif instruction == "COPY" and not rest.startswith("--from"):
            stages[-1] += shlex.split(rest)[:-1]
        elif instruction == "CMD":
            cmd = json.loads(rest)
        elif instruction == "HEALTHCHECK":
            healthcheck = json.loads(rest[rest.index(" CMD ") + 5 :])
    console, builder, final = stages
    return console, builder, final, cmd, healthcheck


def copy_context(sources, target):
    target.mkdir()
    for source in sources:
        path = ROOT / source
        if path.is_dir():
            # As .dockerignore: npm's installs come from the console stage only.
            ignore = shutil.ignore_patterns("__pycache__", "node_modules")
            shutil.copytree(path, target / path.name, ignore=ignore)
        else:
            shutil.copy2(path, target / path.name)
    return target


def run(command, cwd, env):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_lock_file_install_serves_readyz_with_the_images_command(tmp_path):
    console_files, builder_files, final_files, cmd, healthcheck = dockerfile()
    console = tmp_path / "console"
    console.mkdir()
    for source in console_files:
        shutil.copy2(ROOT / source, console)
    src = copy_context(builder_files, tmp_path / "src")
    workdir = copy_context(final_files, tmp_path / "app")
    venv = tmp_path / "venv"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"VIRTUAL_ENV", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV"}
    }
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", PIP_DISABLE_PIP_VERSION_CHECK="1")

    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--quiet"]
    run([*pip, "install", "--no-deps", "--require-hashes", "-r", "requirements.lock"], src, env)
    run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], console, env)
    shutil.copytree(console / "node_modules", src / "orders_service/console/node_modules")
    run([*pip, "install", "--no-deps", "."], src, env)
    run([*pip, "check"], src, env)  # the lock alone satisfies every dependency

    database_url = f"sqlite:///{tmp_path / 'orders.db'}"
    env = server_env(database_url, PATH=env["PATH"])
    env.pop("PYTHONPATH", None)
    imported = run(
        ["python", "-c", "import orders_service; print(orders_service.__file__)"], workdir, env
    )
    assert imported.startswith(str(venv)), "the installed package, not the source tree"
    run(["flask", "--app", "wsgi", "db", "upgrade"], workdir, env)
    with Gunicorn(env, tmp_path / "gunicorn.log", cwd=workdir, command=cmd) as server:
        ready = server.request("GET", "/readyz")
        page = server.request("GET", "/console")
        sortable = server.request("GET", "/console/vendor/sortable.esm.js")
        run(healthcheck, workdir, dict(env, PORT=str(server.port)))

    assert ready.status == 200, server.log()
    assert ready.json() == {"status": "ready"}
    assert page.status == 200 and b'src="console/static/app.js"' in page.body
    assert sortable.status == 200 and b"Sortable" in sortable.body
