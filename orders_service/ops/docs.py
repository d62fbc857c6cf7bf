"""Swagger UI's assets served from the installed swagger-ui-bundle, so /docs needs no CDN."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_MAX_AGE = 24 * 3600
# Relative to /docs, so the page still finds them when a proxy mounts the API under a prefix.
SWAGGER_UI_URL = "docs/assets/"

blp = Blueprint("swagger_ui_assets", __name__)


@blp.route("/docs/assets/<path:filename>")
def swagger_ui_asset(filename):
    return send_from_directory(swagger_ui_path, filename, max_age=ASSETS_MAX_AGE)


def init_app(app):
    app.register_blueprint(blp)
