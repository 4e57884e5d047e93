"""Digest notifications: one notice per staff member per unit for the issues a sweep run
brought there ("12 issues arrived overdue from the grid level"), instead of one per issue.
A digest names its unit and counts its issues; it names an issue only when there is one."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

UNIT_FIELDS = ("grid", "community", "subdistrict", "department")


def _unit_field(model, verbose_name):
    return models.ForeignKey(
        blank=True,
        db_index=False,
        null=True,
        on_delete=django.db.models.deletion.CASCADE,
        related_name="+",
        to=f"grids.{model}",
        verbose_name=verbose_name,
    )


def _exactly_one_unit():
    branches = [
        models.Q(**{f"{other}__isnull": other != name for other in UNIT_FIELDS})
        for name in UNIT_FIELDS
    ]
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


class Migration(migrations.Migration):
    dependencies = [
        ("grids", "0005_merge_0003_place_0004_merge_20261203_2022"),
        ("issues", "0016_official_calendar"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="issue",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="issues.issue",
                verbose_name="issue",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="issue_count",
            field=models.PositiveIntegerField(
                blank=True, null=True, verbose_name="number of issues"
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="from_level",
            field=models.CharField(
                blank=True,
                choices=[
                    ("grid", "Grid"),
                    ("community", "Community"),
                    ("subdistrict", "Subdistrict"),
                ],
                db_default="",
                max_length=12,
                verbose_name="from level",
            ),
        ),
        migrations.AddField(
            model_name="notification", name="grid", field=_unit_field("grid", "grid")
        ),
        migrations.AddField(
            model_name="notification",
            name="community",
            field=_unit_field("community", "community"),
        ),
        migrations.AddField(
            model_name="notification",
            name="subdistrict",
            field=_unit_field("subdistrict", "subdistrict"),
        ),
        migrations.AddField(
            model_name="notification",
            name="department",
            field=_unit_field("department", "department"),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    issue_count__isnull=True,
                    issue__isnull=False,
                    **{f"{name}__isnull": True for name in UNIT_FIELDS},
                )
                | (models.Q(issue_count__gte=1) & _exactly_one_unit()),
                name="notification_issue_or_digest",
            ),
        ),
        *[
            migrations.AddConstraint(
                model_name="notification",
                constraint=models.UniqueConstraint(
                    condition=models.Q(**{f"{name}__isnull": False}),
                    fields=("user", name, "reason", "created_at"),
                    name=f"notification_digest_{name}",
                ),
            )
            for name in UNIT_FIELDS
        ],
    ]
