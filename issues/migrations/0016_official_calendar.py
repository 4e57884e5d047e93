"""The official calendar the package knows, from 2024 on, so working-day deadlines count
the holidays and 调休 from the first day. Later years: ``manage.py import_holidays YEAR``."""

from django.db import migrations


def load(apps, schema_editor):
    from chinese_calendar.constants import holidays, workdays

    from issues.management.commands.import_holidays import NAMES

    Holiday = apps.get_model("issues", "Holiday")
    present = set(Holiday.objects.values_list("date", flat=True))
    rows = [
        Holiday(date=day, kind="day_off", name=NAMES.get(name, name))
        for day, name in holidays.items()
        if day.year >= 2024 and day.weekday() < 5 and day not in present
    ] + [
        Holiday(date=day, kind="workday", name=NAMES.get(name, name))
        for day, name in workdays.items()
        if day.year >= 2024 and day.weekday() >= 5 and day not in present
    ]
    Holiday.objects.bulk_create(rows)


class Migration(migrations.Migration):
    dependencies = [("issues", "0015_closed_loop")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
