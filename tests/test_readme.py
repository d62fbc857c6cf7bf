"""The README stands alone and its commands run as written outside the virtualenv."""

import re

from tests.servers import ROOT

README = (ROOT / "README.md").read_text()


def test_the_readme_points_at_no_file_outside_the_repository():
    assert "SPEC" not in README


def test_cron_lines_call_the_virtualenvs_flask():
    schedule = re.compile(r"^[\d*][\d*/,-]* [\d*][\d*/,-]* ")
    cron = [line for line in README.splitlines() if schedule.match(line)]

    assert cron
    for line in cron:
        assert not re.search(r"(^|[;&|] *|\* )flask ", line), line
        assert ".venv/bin/flask --app wsgi" in line, line


def test_make_run_port_and_the_sqlite_container_volume_are_mentioned():
    assert "make run PORT=" in README
    assert "-v orders-data:/venv/var/orders_service-instance" in README
    assert "flask --app wsgi db upgrade" in README
