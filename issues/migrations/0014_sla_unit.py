"""Deadlines in hours or working days: the policy's ``hours`` become an ``amount`` with a
``unit``. Rows still at the first installation's default hours take the new defaults
(working days where a level's deadline spans days); rows an administrator changed keep
their hours."""

from django.db import migrations, models
from django.db.models import Q

OLD_HOURS = {
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
NEW_WORKING_DAYS = {
    ("minor", "community"): 3,
    ("minor", "subdistrict"): 5,
    ("difficult", "community"): 3,
    ("difficult", "subdistrict"): 10,
}


def to_working_days(apps, schema_editor):
    SlaPolicy = apps.get_model("issues", "SlaPolicy")
    for (severity, level), days in NEW_WORKING_DAYS.items():
        SlaPolicy.objects.filter(
            severity=severity, level=level, unit="hours", amount=OLD_HOURS[(severity, level)]
        ).update(unit="working_days", amount=days)


def to_hours(apps, schema_editor):
    SlaPolicy = apps.get_model("issues", "SlaPolicy")
    for (severity, level), days in NEW_WORKING_DAYS.items():
        SlaPolicy.objects.filter(
            severity=severity, level=level, unit="working_days", amount=days
        ).update(unit="hours", amount=OLD_HOURS[(severity, level)])


class Migration(migrations.Migration):
    dependencies = [("issues", "0013_merge_0008_open311_0012_alter_issueevent_kind")]

    operations = [
        migrations.RemoveConstraint(model_name="slapolicy", name="sla_hours_positive"),
        migrations.RenameField(model_name="slapolicy", old_name="hours", new_name="amount"),
        migrations.AlterField(
            model_name="slapolicy",
            name="amount",
            field=models.PositiveIntegerField(verbose_name="deadline"),
        ),
        migrations.AddField(
            model_name="slapolicy",
            name="unit",
            field=models.CharField(
                choices=[("hours", "hours"), ("working_days", "working days")],
                default="hours",
                max_length=12,
                verbose_name="counted in",
            ),
        ),
        migrations.AddConstraint(
            model_name="slapolicy",
            constraint=models.CheckConstraint(
                condition=Q(amount__gt=0), name="sla_amount_positive"
            ),
        ),
        migrations.RunPython(to_working_days, to_hours),
    ]
