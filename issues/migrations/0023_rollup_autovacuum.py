"""The daily rollups are rewritten all day (a key's rows deleted and written anew on every
change, a sweep round rewriting tens of thousands of keys): on PostgreSQL autovacuum is
told to clean them after 2% of their rows died rather than the default 20%, so that the
dashboards do not read through pages of dead rows between two of its visits."""

from django.db import migrations

TABLES = ("issues_dailyrollup", "issues_dailytotal", "issues_dailyoutcome")
SETTINGS = "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02"
NAMES = "autovacuum_vacuum_scale_factor, autovacuum_analyze_scale_factor"


def _alter(schema_editor, clause: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} {clause}")


def vacuum_sooner(apps, schema_editor):
    _alter(schema_editor, f"SET ({SETTINGS})")


def vacuum_as_default(apps, schema_editor):
    _alter(schema_editor, f"RESET ({NAMES})")


class Migration(migrations.Migration):
    dependencies = [("issues", "0022_volunteer_rollup_indexes")]

    operations = [migrations.RunPython(vacuum_sooner, vacuum_as_default)]
