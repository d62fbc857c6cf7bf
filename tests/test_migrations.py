"""The schema comes only from migrations, and what they make is what the models describe."""

from playhouse.schema_diff import diff_models

from orders_service.database import db
from orders_service.models import MODELS


def test_migrated_schema_matches_the_models(app):
    with app.app_context():
        diff = diff_models(db.obj, list(MODELS))
        db.close()
    assert not diff, str(diff)


def test_db_upgrade_is_idempotent_and_status_lists_what_is_applied(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "nothing to apply" in result.output
    status = runner.invoke(args=["db", "status"])
    assert status.exit_code == 0
    assert "[x] 0001_initial" in status.output


def test_readyz_says_ready_once_migrations_are_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready"}
