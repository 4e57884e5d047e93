"""Load the default deadlines, so a new installation has every severity × level."""

from django.db import migrations

DEFAULTS = {
    ("minor", "grid"): 48,
    ("minor", "community"): 72,
    ("minor", "subdistrict"): 120,
    ("urgent", "grid"): 2,
    ("urgent", "community"): 12,
    ("urgent", "subdistrict"): 24,
    ("difficult", "grid"): 24,
    ("difficult", "community"): 72,
    ("difficult", "subdistrict"): 240,
}


def load(apps, schema_editor):
    SlaPolicy = apps.get_model("issues", "SlaPolicy")
    for (severity, level), hours in DEFAULTS.items():
        SlaPolicy.objects.get_or_create(severity=severity, level=level, defaults={"hours": hours})


class Migration(migrations.Migration):
    dependencies = [("issues", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
