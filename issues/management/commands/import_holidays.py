"""Import a year of the official calendar (public holidays and 调休 make-up working days)
from the chinese-calendar package into the ``Holiday`` table, which working-day deadlines
count on. Run it for next year as soon as the State Council publishes the dates (and the
package is updated); until then, or for a correction, edit the days in the admin."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from issues.models import Holiday

# chinese-calendar names its holidays in English; the admin shows them in Chinese.
NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def official_days(year: int) -> list[Holiday]:
    """The year's days that differ from the plain week, as the package has them: the
    holidays that fall on a working weekday (a holiday on a weekend changes nothing) and
    the weekend days worked in lieu."""
    import chinese_calendar
    from chinese_calendar.constants import holidays, workdays

    if not any(day.year == year for day in holidays):
        raise CommandError(
            f"chinese-calendar {chinese_calendar.__version__} has no calendar for {year} yet. "
            "Enter the days in the admin (Working calendar) as published, or update the "
            "package when it has them."
        )
    days = []
    for day, name in sorted(holidays.items()):
        if day.year == year and day.weekday() < 5:
            days.append(Holiday(date=day, kind=Holiday.Kind.DAY_OFF, name=NAMES.get(name, name)))
    for day, name in sorted(workdays.items()):
        if day.year == year and day.weekday() >= 5:
            days.append(Holiday(date=day, kind=Holiday.Kind.WORKDAY, name=NAMES.get(name, name)))
    return days


class Command(BaseCommand):
    help = (
        "Import a year of public holidays and make-up working days (调休) from the "
        "chinese-calendar package into the working calendar. Days already there (entered "
        "or corrected in the admin) are kept as they are."
    )

    def add_arguments(self, parser):
        parser.add_argument("year", type=int)

    def handle(self, *args, year: int, **options):
        if not 2004 <= year <= timezone.localdate().year + 1:
            raise CommandError(f"{year} is not a year the official calendar covers.")
        days = official_days(year)
        with transaction.atomic():
            present = set(Holiday.objects.filter(date__year=year).values_list("date", flat=True))
            new = [day for day in days if day.date not in present]
            Holiday.objects.bulk_create(new)
        self.stdout.write(
            f"{year}: {len(new)} days added, {len(days) - len(new)} already in the calendar "
            f"({sum(d.kind == Holiday.Kind.DAY_OFF for d in days)} holidays on weekdays, "
            f"{sum(d.kind == Holiday.Kind.WORKDAY for d in days)} make-up working days)."
        )
