"""deploy/nginx.conf: nginx accepts it, and it keeps the service's own limits."""

import re
import shutil

import pytest

from orders_service import MAX_BODY_BYTES
from tests.reliability.nginx import CONFIG, Nginx

UNITS = {"": 1, "k": 1024, "m": 1024**2}


def directive(name):
    [value] = re.findall(rf"^\s*{name}\s+([^;]+);", CONFIG.read_text(), re.MULTILINE)
    return value


@pytest.mark.skipif(not shutil.which("nginx", path="/usr/sbin:/usr/bin"), reason="no nginx")
def test_deploy_nginx_conf_passes_nginx_t():
    nginx = Nginx(upstream_port=8000)
    try:
        code, said = nginx.test_config()
    finally:
        nginx.stop()
    assert code == 0, said
    assert "test is successful" in said


def test_the_proxy_refuses_bodies_over_the_services_own_limit():
    number, unit = re.fullmatch(r"(\d+)([km]?)", directive("client_max_body_size").lower()).groups()
    assert int(number) * UNITS[unit] == MAX_BODY_BYTES


def test_the_proxy_reads_whole_requests_before_gunicorn_sees_them():
    assert directive("proxy_request_buffering") == "on"
    for timeout in ("client_header_timeout", "client_body_timeout"):
        assert int(directive(timeout).removesuffix("s")) <= 30
