"""CORS for the storefront origins in CORS_ORIGINS, and for no other."""

from flask_cors import CORS

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID")
EXPOSE_HEADERS = ("Link", "Location", "Idempotent-Replayed", "Retry-After", "X-Request-ID")
PREFLIGHT_MAX_AGE = 600


def init_app(app):
    origins = app.config["CORS_ORIGINS"]
    if not origins:
        return
    CORS(
        app,
        origins=[origin.rstrip("/") for origin in origins],
        allow_headers=list(ALLOW_HEADERS),
        expose_headers=list(EXPOSE_HEADERS),
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        max_age=PREFLIGHT_MAX_AGE,
        # Bearer tokens travel in a header, never in cookies.
        supports_credentials=False,
        vary_header=True,
    )
