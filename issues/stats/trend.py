"""The weekly trend: issues filed, resolved and gone overdue per week."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Case, Count, DateField, F, Q, Sum, Value, When
from django.db.models.functions import Cast, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import RUNNING_STATUSES, CityOutcome, DailyOutcome, Series
from .figures import live_condition
from .filters import Filters
from .units import CITY, Unit

# --- weekly trend ------------------------------------------------------------------------

# (key, label) of each series: the city's outcomes keep them by these names.
TREND_SERIES = Series.choices
TREND_HELP = _(
    "Among the issues filed in the period: filed per week of filing, resolved per week of "
    "resolution, and overdue per week of the deadline they missed (resolved after it, or "
    "still open past it). Weeks start on Monday."
)


def _week(field_name):
    return TruncWeek(field_name, output_field=DateField())


def _live_groups(unit: Unit, filters: Filters, now: datetime):
    missed = Q(due_at__lt=now) & (Q(status__in=RUNNING_STATUSES) | Q(resolved_at__gt=F("due_at")))
    return (
        unit.rows(filters)
        .values(
            filed_week=_week("created_at"),
            resolved_week=_week("resolved_at"),
            overdue_week=Case(
                When(missed, then=_week("due_at")), default=None, output_field=DateField()
            ),
        )
        .annotate(n=Count("id"))
        .values_list("filed_week", "resolved_week", "overdue_week", "n")
        .order_by()
    )


def _rollup_groups(unit: Unit, filters: Filters, now: datetime):
    """The same groups from the daily outcomes (filed, resolved and missed days, rolled up
    by week), and the unit's issues running past their deadline now, counted live over
    its open issues: one query."""
    no_week = Cast(Value(None), output_field=DateField())
    if unit.kind == CITY:
        # The city's outcomes in the slice the filters choose, a series at a time: a row
        # per series and week.
        stored = (
            CityOutcome.objects.filter(filters.slice_condition())
            .values(
                **{
                    f"w_{name}": Case(When(series=name, then=F("week")), output_field=DateField())
                    for name in Series
                }
            )
            .annotate(n=Sum("issues"))
            .values_list("w_filed", "w_resolved", "w_overdue", "n")
            .order_by()
        )
    else:
        stored = (
            DailyOutcome.objects.filter(unit.issues & filters.rollup_condition())
            .values(
                w_filed=_week("day"),
                w_resolved=_week("resolved_day"),
                w_overdue=_week("missed_day"),
            )
            .annotate(n=Sum("filed"))
            .values_list("w_filed", "w_resolved", "w_overdue", "n")
            .order_by()
        )
    # Running past the deadline now (not already counted as resolved after it).
    running_late = live_condition("overdue_now", now=now) & ~Q(resolved_at__gt=F("due_at"))
    live = (
        unit.rows(filters)
        .filter(running_late)
        .values(filed_week=no_week, resolved_week=no_week, overdue_week=_week("due_at"))
        .annotate(n=Count("id"))
        .values_list("filed_week", "resolved_week", "overdue_week", "n")
        .order_by()
    )
    return stored.union(live, all=True)


def trend(unit: Unit, filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Weekly counts [{week, filed, resolved, overdue}] in one query: the unit's issues are
    grouped by (week filed, week resolved, week of the missed deadline), a few hundred
    groups at most, which are then added up per series. Weeks without issues are filled
    with zeros, from the first week of the period to its last week or the last week with
    data (never after this week)."""
    now = now or timezone.now()
    groups = _rollup_groups(unit, filters, now) if unit.rollup else _live_groups(unit, filters, now)
    counts: dict[date, dict] = {}
    for filed_week, resolved_week, overdue_week, n in groups:
        for name, day in (
            ("filed", filed_week),
            ("resolved", resolved_week),
            ("overdue", overdue_week),
        ):
            if day is not None:
                if isinstance(day, datetime):
                    # PostgreSQL answers DATE_TRUNC inside CASE as a (local) timestamp.
                    day = (timezone.localtime(day) if timezone.is_aware(day) else day).date()
                series = counts.setdefault(day, {})
                series[name] = series.get(name, 0) + n

    def monday(day: date) -> date:
        return day - timedelta(days=day.weekday())

    first = monday(filters.start)
    this_week = monday(timezone.localdate(now))
    # The whole period (up to this week), and later weeks where its issues were resolved
    # or went overdue.
    last = max([first, min(monday(filters.end), this_week), *[d for d in counts if d <= this_week]])
    weeks = []
    day = first
    while day <= last:
        found = counts.get(day, {})
        weeks.append({"week": day, **{name: found.get(name, 0) for name, _label in TREND_SERIES}})
        day += timedelta(days=7)
    return weeks
