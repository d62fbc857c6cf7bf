"""Leads on the board, and names unique case-insensitively (lead statuses, lead emails)."""

from peewee import *

# Columns that differ only in case get their id appended, so the unique index can be built.
RENAME_CASE_DUPLICATES = """
UPDATE lead_status SET name = SUBSTR(name, 1, 80) || ' (' || id || ')'
WHERE id NOT IN (SELECT MIN(id) FROM lead_status GROUP BY LOWER(name))
"""


def up(migrator, db):
    class LeadStatus(Model):
        name = CharField(max_length=100)

        class Meta:
            database = db
            table_name = "lead_status"

    db.execute_sql(RENAME_CASE_DUPLICATES)
    db.execute(
        LeadStatus.index(fn.LOWER(LeadStatus.name), unique=True, name="lead_status_name_lower")
    )

    class Lead(Model):
        name = CharField(max_length=200)
        email = CharField(max_length=254)
        phone = CharField(max_length=50, null=True)
        source = CharField(max_length=100, null=True)
        status = ForeignKeyField(LeadStatus, on_delete="RESTRICT", index=False)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "lead"
            indexes = ((("status", "id"), False),)

    Lead.add_index(Lead.index(fn.LOWER(Lead.email), unique=True, name="lead_email_lower"))
    db.create_tables([Lead])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("lead"))
    migrator.migrate(migrator.drop_index("lead_status", "lead_status_name_lower"))
