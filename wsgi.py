"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

import sys

from orders_service import create_app
from orders_service.config import ConfigError, exit_for
from orders_service.ops.logging import configure_logging

try:
    app = create_app()
except ConfigError as error:
    if "gunicorn.arbiter" in sys.modules:
        # A gunicorn worker (gunicorn.conf.py's on_starting stops the master before any is
        # forked): gunicorn prints this error's message alone, and its master stops rather than
        # boot worker after worker.
        from gunicorn.errors import AppImportError

        raise AppImportError(str(error)) from None
    exit_for(error)  # a flask command: the one line, status 2
# Logging is the process's, set here at its entry point rather than by every app a test makes.
configure_logging(app.config)
