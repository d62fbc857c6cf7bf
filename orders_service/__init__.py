"""orders-service: prices carts, records orders, takes payment, keeps a CRM's lead statuses."""

import inspect
import os

from flask import Flask

from . import cli, console, database
from .config import Config, check
from .events.routes import endpoints_blp, events_blp
from .extensions import Api, IdConverter
from .leads.routes import blp as leads_blp
from .ops import cors, docs, keepalive, limits, metrics
from .ops import logging as request_logging
from .ops.bodies import BoundedRequest
from .ops.health import blp as health_blp
from .orders.routes import blp as orders_blp
from .payments import gateway
from .payments.refund_routes import blp as refunds_blp
from .payments.webhooks import blp as webhooks_blp
from .products.routes import blp as products_blp

MODULES = (products_blp, orders_blp, webhooks_blp, leads_blp, health_blp)
MODULES += (refunds_blp, endpoints_blp, events_blp)
MAX_BODY_BYTES = 1024 * 1024

API_SETTINGS = {
    "API_TITLE": "orders-service",
    "API_VERSION": "1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": docs.SWAGGER_UI_URL,
}
SPEC_OPTIONS = {
    "info": {"license": {"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"}},
    # Relative: the service that serves this document (a client gives its own base URL).
    "servers": [{"url": "/", "description": "This service"}],
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
    },
}


class App(Flask):
    """Flask, asking once per function whether it is a coroutine.

    Flask asks inspect at every call of every hook and view (about 5 % of a read's CPU);
    the answer for a function never changes. Its requests refuse a chunked body over the
    size limit as one with a Content-Length (ops/bodies.py).
    """

    request_class = BoundedRequest

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._coroutines = {}

    def ensure_sync(self, func):
        plain = getattr(func, "__func__", func)  # a view's bound method is new each request
        is_coroutine = self._coroutines.get(plain)
        if is_coroutine is None:
            is_coroutine = self._coroutines[plain] = inspect.iscoroutinefunction(func)
        return self.async_to_sync(func) if is_coroutine else func


def create_app(test_config=None):
    """Load config, check it, bind the database, the API and the payment provider."""
    app = App(__name__, instance_relative_config=True)
    app.json.sort_keys = False  # bodies keep the documented field order
    app.config.update(Config(app.instance_path).as_dict())
    app.config.update(
        API_SETTINGS, API_SPEC_OPTIONS=SPEC_OPTIONS, MAX_CONTENT_LENGTH=MAX_BODY_BYTES
    )
    app.config.update(test_config or {})
    check(app.config)
    if app.config["DATABASE_URL"].startswith("sqlite"):
        os.makedirs(app.instance_path, exist_ok=True)

    request_logging.init_app(app)
    database.init_app(app)
    app.url_map.converters["id"] = IdConverter
    api = Api(app)
    for blp in MODULES:
        api.register_blueprint(blp)
    docs.init_app(app)
    console.init_app(app)
    metrics.init_app(app)
    limits.init_app(app)
    cors.init_app(app)
    gateway.init_app(app)
    cli.register(app)
    keepalive.init_app(app)
    return app
