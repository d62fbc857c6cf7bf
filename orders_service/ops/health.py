"""Liveness and readiness for load balancers and orchestrators."""

import marshmallow as ma
import peewee
from flask.views import MethodView
from flask_smorest import abort

from ..database import MIGRATE_COMMAND, db, migration_runner
from ..extensions import Blueprint
from ..fields import Schema

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(("ok", "ready")))


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(operationId="checkLiveness")
    @blp.response(200, HealthSchema)
    def get(self):
        """The process answers"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(operationId="checkReadiness")
    @blp.response(200, HealthSchema)
    @blp.errors(503)
    def get(self):
        """The database answers and every migration is applied"""
        try:
            pending = [m.name for m in migration_runner().status() if not m.applied]
        except peewee.PeeweeException as error:
            abort(503, message=f"The database is unreachable: {type(error).__name__}.")
        finally:
            if not db.is_closed():
                db.close()
        if pending:
            names = ", ".join(pending)
            abort(503, message=f"Migrations not applied: {names}. Apply them: `{MIGRATE_COMMAND}`.")
        return {"status": "ready"}
