"""The clock every deadline runs on: wall-clock hours, or working days.

A working day is a day of the official calendar on which people work: Monday to Friday,
less the public holidays, plus the weekend days worked to make up for them (调休), as the
``Holiday`` table records them. Working-day clocks run only within working hours
(``settings.WORKING_HOURS``, 08:30–17:30 by default): a report filed on a Friday evening
starts its clock on Monday morning, and "2 working days" from Thursday 15:00 is Monday
15:00. Hour clocks (急事) never stop.

``SlaTable`` is the deadline table read once (one query), with the calendar loaded the
first time a working-day deadline needs it (one more). ``issues.workflow.due_after`` is the
one function that turns it into a deadline; nothing else adds hours or days to a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone


def _parse_time(value: str) -> time:
    hours, _sep, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True)
class Calendar:
    """The working calendar: which days are worked, and the hours of a working day."""

    days_off: frozenset[date]
    make_up_days: frozenset[date]
    opens: time
    closes: time

    @classmethod
    def load(cls) -> Calendar:
        """The calendar as the ``Holiday`` table holds it (one query)."""
        from .models import Holiday

        days_off, make_up = set(), set()
        for day, kind in Holiday.objects.values_list("date", "kind"):
            (make_up if kind == Holiday.Kind.WORKDAY else days_off).add(day)
        opens, closes = (_parse_time(value) for value in settings.WORKING_HOURS)
        if closes <= opens:
            raise ValueError("WORKING_HOURS must end after they start")
        return cls(frozenset(days_off), frozenset(make_up), opens, closes)

    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_days:
            return True
        return day.weekday() < 5 and day not in self.days_off

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)

    def _at(self, day: date, moment: time) -> datetime:
        return timezone.make_aware(datetime.combine(day, moment))

    def close_of(self, day: date) -> datetime:
        """The end of working hours on ``day`` (a deadline set by date ends then)."""
        return self._at(day, self.closes)

    def add(self, start: datetime, worked: timedelta) -> datetime:
        """The moment when ``worked`` working time has passed after ``start``. Time outside
        working hours does not count; a clock that runs out exactly at closing time ends
        then (17:30), not at the next opening."""
        moment = timezone.localtime(start)
        day = moment.date()
        left = worked
        for _step in range(3660):  # ten years of days: a calendar with no working day stops
            if self.is_working_day(day):
                opening, closing = self._at(day, self.opens), self._at(day, self.closes)
                moment = max(moment, opening)
                if moment < closing:
                    room = closing - moment
                    if left <= room:
                        return moment + left
                    left -= room
            day += timedelta(days=1)
            moment = self._at(day, self.opens)
        raise ValueError("the working calendar has no working day in ten years")

    def worked_between(self, start: datetime, end: datetime) -> timedelta:
        """The working time from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        if end < start:
            return -self.worked_between(end, start)
        start, end = timezone.localtime(start), timezone.localtime(end)
        total = timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                opening = max(self._at(day, self.opens), start)
                closing = min(self._at(day, self.closes), end)
                if closing > opening:
                    total += closing - opening
            day += timedelta(days=1)
        return total


@dataclass(frozen=True)
class Deadline:
    """One policy: ``amount`` hours, or ``amount`` working days."""

    unit: str
    amount: int

    @property
    def counts_working_days(self) -> bool:
        from .models import SlaUnit

        return self.unit == SlaUnit.WORKING_DAYS

    @property
    def rough(self) -> timedelta:
        """Roughly how long it lasts on the wall clock (a working week is seven days): for
        sizing synthetic data and benchmarks, never for a real deadline."""
        if self.counts_working_days:
            return timedelta(days=self.amount * 7 / 5)
        return timedelta(hours=self.amount)


class SlaTable:
    """The deadline of every (severity, level), the configured policies over the defaults,
    and the calendar that working-day deadlines count on."""

    def __init__(self, deadlines: dict, calendar: Calendar | None = None):
        self._deadlines = deadlines
        self._calendar = calendar

    @classmethod
    def load(cls) -> SlaTable:
        from .choices import sla_policies
        from .models import DEFAULT_SLA

        deadlines = {key: Deadline(*value) for key, value in DEFAULT_SLA.items()}
        for severity, level, unit, amount in sla_policies():
            deadlines[(severity, level)] = Deadline(unit, amount)
        return cls(deadlines)

    def __getitem__(self, key: tuple[str, str]) -> Deadline:
        return self._deadlines[key]

    def items(self):
        return self._deadlines.items()

    @property
    def calendar(self) -> Calendar:
        if self._calendar is None:
            self._calendar = Calendar.load()
        return self._calendar

    def deadline(self, severity: str, level: str, start: datetime, left=None) -> datetime:
        """When the clock of (severity, level) started at ``start`` runs out; ``left`` is
        the clock time still to run when not the whole policy (a resumed issue)."""
        policy = self[(severity, level)]
        if not policy.counts_working_days:
            return start + (timedelta(hours=policy.amount) if left is None else left)
        if left is None:
            left = self.calendar.day_length * policy.amount
        if left < timedelta():
            # Already overdue when the clock stopped: it stays overdue by as long.
            return start + left
        return self.calendar.add(start, left)

    def time_left(self, severity: str, level: str, *, at: datetime, due: datetime) -> timedelta:
        """The clock time left at ``at`` before ``due`` (negative if overdue): working time
        for a working-day policy, wall-clock time otherwise."""
        if self[(severity, level)].counts_working_days:
            return self.calendar.worked_between(at, due)
        return due - at
