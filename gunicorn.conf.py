"""gunicorn's settings: `gunicorn --config gunicorn.conf.py wsgi:app` (make serve, the image)."""

import os
import shutil
import tempfile

from gunicorn.glogging import Logger

# prometheus-client picks its multiprocess mode when first imported, so the directory is
# chosen before anything imports the app; each worker writes its samples there.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="orders-prometheus-")
    _made_metrics_dir = True
else:
    _made_metrics_dir = False


def _cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _log_settings():
    from orders_service.config import Config, ConfigError
    from orders_service.ops.logging import dict_config

    try:
        config = Config(instance_path=tempfile.gettempdir())
    except ConfigError:
        return dict_config("json", "INFO")  # on_starting stops with the error's one line
    return dict_config(config.LOG_FORMAT, config.LOG_LEVEL)


bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# 2 x cores + 1, capped: every thread of every worker may hold a database connection.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cores() + 1, 8)))
# Threads, so a worker waiting on the payment provider still answers other requests.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# On SIGTERM, requests in flight get this long to finish (a provider call with its
# retries takes up to 30 s); give the orchestrator's kill timeout a few seconds more.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
keepalive = 5
# gunicorn's 4 KiB default answered a long query string itself, with a plain-text 414 the API
# does not document, where the app gives a JSON 400. 0 (no limit) read a 10 MB request line
# whole, seconds of a worker. gunicorn's maximum, 8 KiB, is also nginx's default bound
# (large_client_header_buffers): the app judges any query string that fits it.
limit_request_line = 8190
# Each worker imports the app after the fork, so no connection is ever shared across processes.
preload_app = False
# Every line, gunicorn's and the app's, goes to stdout as JSON (text under APP_ENV=development).
errorlog = "-"
logconfig_dict = _log_settings()


class AppWritesTheAccessLine(Logger):
    """gunicorn's logger, minus its access line: the app writes one with the request id, and
    gunicorn (seeing a logging config) would build all of its own at each request, for a
    logger with no handler."""

    access_log_enabled = False


logger_class = AppWritesTheAccessLine
# gunicorn ≥ 25's control socket sits at one path per user: instances side by side would
# fight over it, and a container has no use for it.
control_socket_disable = True


def on_starting(server):
    """Stop on a configuration error, with its one line and status 2, before any worker is
    forked (each would stop on it in turn); warn of rate limits each worker counts alone. Start
    the metrics from zero: samples left by an earlier run would be summed in."""
    from orders_service.config import Config, exit_for, startup_problem
    from orders_service.ops.limits import memory_storage_warning

    problem = startup_problem(instance_path=tempfile.gettempdir())
    if problem is not None:
        exit_for(problem)
    warning = memory_storage_warning(Config(tempfile.gettempdir()).as_dict(), server.cfg.workers)
    if warning:
        server.log.warning(warning)
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _made_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def pre_request(worker, req):
    """Let the app ask gunicorn to close a connection whose request body it left unread."""
    from orders_service.ops.keepalive import gunicorn_pre_request

    gunicorn_pre_request(worker, req)
