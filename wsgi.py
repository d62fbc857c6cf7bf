"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from orders_service import create_app
from orders_service.ops.logging import configure_logging

app = create_app()
# Logging is the process's, set here at its entry point rather than by every app a test makes.
configure_logging(app.config)
