"""What the dashboard looks at: the period, the category, severity and source filters and
the recurrence rule (``Filters``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

# --- filters -----------------------------------------------------------------------------


def month_of(day: date) -> date:
    """The first day of the day's calendar month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after the day's."""
    return (month_of(day) + timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Filters:
    """What the dashboard looks at: issues filed from ``start`` to ``end`` (whole local
    days, both included), optionally one category, severity and source; and the recurrence
    rule (a grid with at least ``recurrence_count`` issues of one category filed within the
    ``recurrence_days`` days up to the end of the period)."""

    start: date
    end: date
    category_id: int | None = None
    severity: str = ""
    source: str = ""
    recurrence_count: int = 3
    recurrence_days: int = 14

    @classmethod
    def default(cls, today: date | None = None) -> Filters:
        today = today or timezone.localdate()
        return cls(
            start=today - timedelta(days=29),
            end=today,
            recurrence_count=settings.RECURRENCE_MIN_COUNT,
            recurrence_days=settings.RECURRENCE_DAYS,
        )

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """The first moment after the period (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def narrowed(self) -> bool:
        """Whether a category, severity or source is chosen (the daily rollups by those;
        otherwise the daily totals)."""
        return bool(self.category_id or self.severity or self.source)

    def slice_chosen(self) -> Q:
        """The slice of the city's rollups the filters choose, as a condition on its rows
        (the filters not chosen blank)."""
        return Q(category_id=self.category_id or None, severity=self.severity, source=self.source)

    def slice_condition(self) -> Q:
        """The filters as a condition on the rows of the city's rollups: the same days, and
        the slice they choose."""
        return Q(day__gte=self.start, day__lte=self.end) & self.slice_chosen()

    @property
    def whole_months(self) -> tuple[date, date] | None:
        """The calendar months wholly inside the period, as (the first one's first day, the
        first day after the last one); None if there is none."""
        first = self.start if self.start.day == 1 else next_month(self.start)
        after = self.end + timedelta(days=1)
        stop = after if after.day == 1 else month_of(self.end)
        return (first, stop) if first < stop else None

    def rollup_condition(self, prefix: str = "") -> Q:
        """The filters as a condition on daily rollup rows (fields named through
        ``prefix``): the same days (the rollup's day is the local filing day)."""
        q = Q(**{f"{prefix}day__gte": self.start, f"{prefix}day__lte": self.end})
        if self.category_id:
            q &= Q(**{f"{prefix}category_id": self.category_id})
        if self.severity:
            q &= Q(**{f"{prefix}severity": self.severity})
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        return q

    def condition(self, prefix: str = "", *, dates: bool = True) -> Q:
        """The filters as a condition on issues (fields named through ``prefix``)."""
        q = Q()
        if dates:
            q &= Q(**{f"{prefix}created_at__gte": self.start_at})
            q &= Q(**{f"{prefix}created_at__lt": self.end_at})
        if self.category_id:
            q &= Q(**{f"{prefix}category_id": self.category_id})
        if self.severity:
            q &= Q(**{f"{prefix}severity": self.severity})
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        return q
