"""Full-text index of problems for duplicate detection.

SQLite: an FTS5 virtual table (external content: problems_problem) kept in sync by triggers.
PostgreSQL: an expression GIN index on the French tsvector of title and description.
Other databases: nothing (duplicate detection falls back to a plain scan).
"""

from django.db import migrations

# The statements live in the app (problems/search.py) so that a post_migrate hook can re-create the
# triggers if a later migration rebuilds the problems table (SQLite drops triggers with the old table).
from tremplin.web.problems.search import POSTGRES_CREATE, POSTGRES_DROP, SQLITE_CREATE, SQLITE_DROP  # noqa: E402


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("problems", "0002_endorsements_weights_consultations"),
    ]

    operations = [
        migrations.RunPython(_run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
                             _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}), elidable=False),
    ]
