"""The clock deadlines run on (issues.workdays): working days on the official calendar,
within working hours, and hour clocks that never stop.

The holidays and make-up days are taken from the chinese-calendar package, the source the
working calendar is loaded from, never typed here; expectations are exact to the minute.
"""

from datetime import UTC, date, datetime, time, timedelta
from io import StringIO

import chinese_calendar
import pytest
from chinese_calendar.constants import holidays, workdays
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from issues import workflow
from issues.models import Holiday, Issue, IssueEvent, Level, Severity, SlaPolicy, SlaUnit, Status
from issues.workdays import Calendar, Deadline, SlaTable
from tests.factories import IssueFactory

YEAR = 2026
# 国庆 and its make-up working days (调休), as the package has them.
NATIONAL_DAY = sorted(
    d for d, name in holidays.items() if d.year == YEAR and name == "National Day"
)
MAKE_UP_DAYS = sorted(
    d for d, name in workdays.items() if d.year == YEAR and name == "National Day"
)
EVE = chinese_calendar.find_workday(-1, NATIONAL_DAY[0])  # the last working day before it
DAY_OFF = next(d for d in NATIONAL_DAY if d.weekday() < 5 and d > NATIONAL_DAY[0])


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (Beijing) time."""
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def nth_working_day(day: date, n: int) -> date:
    """The n-th working day of a clock that starts on ``day`` (n = 1: the day itself, or
    the first working day after it when it is not one), by the package's calendar."""
    first = chinese_calendar.find_workday(0, day)
    return chinese_calendar.find_workday(n - 1, first)


@pytest.fixture
def policies(db):
    """Deadlines set explicitly, so the tests do not lean on the defaults."""
    rows = {
        (Severity.MINOR, Level.GRID): (SlaUnit.WORKING_DAYS, 1),
        (Severity.MINOR, Level.COMMUNITY): (SlaUnit.WORKING_DAYS, 3),
        (Severity.URGENT, Level.COMMUNITY): (SlaUnit.HOURS, 12),
        (Severity.DIFFICULT, Level.SUBDISTRICT): (SlaUnit.WORKING_DAYS, 10),
    }
    for (severity, level), (unit, amount) in rows.items():
        SlaPolicy.objects.update_or_create(
            severity=severity, level=level, defaults={"unit": unit, "amount": amount}
        )
    return rows


def _set_amount(severity, level, amount):
    """A policy changed as the admin changes one (saved, so every host's copy is dropped)."""
    policy = SlaPolicy.objects.get(severity=severity, level=level)
    policy.amount = amount
    policy.save()


def due(start, severity=Severity.MINOR, level=Level.COMMUNITY):
    return workflow.due_after(severity=severity, level=level, start=start)


def test_the_package_dates_are_what_these_tests_expect():
    # The shape the cases below rely on (were the package to change, they would say so).
    assert len(NATIONAL_DAY) == 7 and NATIONAL_DAY[0] == date(YEAR, 10, 1)
    assert [d.weekday() for d in MAKE_UP_DAYS] == [6, 5]  # a Sunday and a Saturday
    assert EVE.weekday() < 5 and chinese_calendar.is_workday(EVE)


def test_the_calendar_is_the_official_one_for_every_day_of_the_year(db):
    calendar = Calendar.load()
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)
    for day in MAKE_UP_DAYS:
        assert calendar.is_working_day(day) and day.weekday() >= 5
    assert not any(calendar.is_working_day(d) for d in NATIONAL_DAY)


# --- working-day deadlines --------------------------------------------------------------


def test_a_clock_started_within_hours_runs_through_the_holiday_to_a_make_up_saturday(policies):
    # Wednesday 15:00 + 3 working days: 2.5 h that day, none for seven days, two full days,
    # and the rest on the Saturday worked in lieu (调休).
    deadline = due(at(EVE, 15))
    end = nth_working_day(EVE, 4)
    assert deadline == at(end, 15)
    assert end in MAKE_UP_DAYS and end.weekday() == 5


def test_a_clock_started_before_opening_starts_at_opening_and_ends_at_closing(policies):
    # 07:00 counts from 08:30: three whole working days end at 17:30 on the third, not at
    # the next day's opening.
    assert due(at(EVE, 7)) == at(nth_working_day(EVE, 3), 17, 30)
    assert due(at(EVE, 8, 30)) == at(nth_working_day(EVE, 3), 17, 30)


def test_a_clock_started_after_closing_starts_the_next_working_morning(policies):
    after_holiday = nth_working_day(EVE, 2)
    assert after_holiday == NATIONAL_DAY[-1] + timedelta(days=1)
    for start in (at(EVE, 17, 30), at(EVE, 18), at(EVE, 23, 59)):
        assert due(start) == at(nth_working_day(after_holiday, 3), 17, 30)
    # One minute before closing is one minute of the clock.
    assert due(at(EVE, 17, 29)) == at(nth_working_day(after_holiday, 3), 17, 29)


def test_a_clock_started_on_a_holiday_waits_for_the_first_working_day(policies):
    for start in (at(DAY_OFF, 10), at(NATIONAL_DAY[0], 8, 30), at(NATIONAL_DAY[-1], 17)):
        assert due(start) == at(nth_working_day(DAY_OFF, 3), 17, 30)


def test_a_make_up_sunday_counts_and_the_weekend_before_does_not(policies):
    sunday = MAKE_UP_DAYS[0]
    saturday = sunday - timedelta(days=1)
    assert chinese_calendar.is_holiday(saturday)
    one_day = {"severity": Severity.MINOR, "level": Level.GRID}  # 1 working day
    assert workflow.due_after(**one_day, start=at(saturday, 10)) == at(sunday, 17, 30)
    assert workflow.due_after(**one_day, start=at(sunday, 12)) == at(nth_working_day(sunday, 2), 12)


def test_a_normal_weekend_is_skipped(policies):
    # The first Thursday of November: nothing official about the days that follow.
    thursday = next(date(YEAR, 11, d) for d in range(1, 8) if date(YEAR, 11, d).weekday() == 3)
    week = [thursday + timedelta(days=i) for i in range(5)]
    assert not any(d in holidays or d in workdays for d in week)
    # "2 working days from Thursday 15:00 is Monday 15:00".
    deadline = workflow.due_after(severity=Severity.MINOR, level=Level.GRID, start=at(thursday, 15))
    assert deadline == at(thursday + timedelta(days=1), 15)
    _set_amount(Severity.MINOR, Level.GRID, 2)
    deadline = workflow.due_after(severity=Severity.MINOR, level=Level.GRID, start=at(thursday, 15))
    assert deadline == at(nth_working_day(thursday, 3), 15)
    assert timezone.localtime(deadline).weekday() == 0  # Monday
    # From Friday evening: Monday morning starts the clock, a full day ends Monday 17:30.
    _set_amount(Severity.MINOR, Level.GRID, 1)
    friday = thursday + timedelta(days=1)
    assert workflow.due_after(
        severity=Severity.MINOR, level=Level.GRID, start=at(friday, 19)
    ) == at(friday + timedelta(days=3), 17, 30)


def test_ten_working_days_at_the_subdistrict(policies):
    deadline = due(at(EVE, 10), Severity.DIFFICULT, Level.SUBDISTRICT)
    assert deadline == at(nth_working_day(EVE, 11), 10)
    assert len(chinese_calendar.get_workdays(EVE, timezone.localdate(deadline))) == 11


def test_the_clock_counts_in_local_time_whatever_the_zone_of_the_start(policies):
    start = at(EVE, 15).astimezone(UTC)
    assert due(start) == at(nth_working_day(EVE, 4), 15)


def test_hour_clocks_ignore_the_calendar(policies):
    for start in (at(EVE, 15), at(DAY_OFF, 3), at(MAKE_UP_DAYS[1], 22)):
        assert due(start, Severity.URGENT, Level.COMMUNITY) == start + timedelta(hours=12)
    sla = SlaPolicy.table()
    # Time left on an hour clock is wall-clock time, holidays included.
    assert sla.time_left(
        Severity.URGENT, Level.COMMUNITY, at=at(EVE, 15), due=at(DAY_OFF, 15)
    ) == at(DAY_OFF, 15) - at(EVE, 15)


def test_working_hours_come_from_the_settings(policies, settings):
    settings.WORKING_HOURS = ("09:00", "12:00")
    assert due(at(EVE, 11)) == at(nth_working_day(EVE, 4), 11)
    settings.WORKING_HOURS = ("18:00", "09:00")
    with pytest.raises(ValueError):
        Calendar.load()


def test_a_calendar_without_working_days_refuses_instead_of_looping():
    nothing = Calendar(frozenset(), frozenset(), time(8, 30), time(8, 31))
    everything_off = Calendar(
        frozenset(date(2030, 1, 1) + timedelta(days=i) for i in range(4000)),
        frozenset(),
        time(8, 30),
        time(17, 30),
    )
    assert nothing.add(at(date(2030, 1, 1), 8, 30), timedelta(minutes=1)) == at(
        date(2030, 1, 1), 8, 31
    )
    with pytest.raises(ValueError):
        everything_off.add(at(date(2030, 1, 1), 9), timedelta(hours=1))


def test_sla_table_reads_policies_over_the_defaults_in_one_query(
    policies, django_assert_num_queries
):
    with django_assert_num_queries(1):
        sla = SlaPolicy.table()
    assert sla[(Severity.MINOR, Level.COMMUNITY)] == Deadline(SlaUnit.WORKING_DAYS, 3)
    with django_assert_num_queries(1):  # the calendar, the first time only
        sla.deadline(Severity.MINOR, Level.COMMUNITY, at(EVE, 15))
    with django_assert_num_queries(0):
        for day in range(30):
            sla.deadline(Severity.MINOR, Level.COMMUNITY, at(EVE, 15) + timedelta(days=day))
    assert isinstance(sla, SlaTable)


# --- worked_between ---------------------------------------------------------------------


def test_worked_between_counts_working_hours_only(db):
    calendar = Calendar.load()
    after = nth_working_day(EVE, 2)
    assert calendar.worked_between(at(EVE, 15), at(after, 10)) == timedelta(hours=4)
    assert calendar.worked_between(at(after, 10), at(EVE, 15)) == -timedelta(hours=4)
    assert calendar.worked_between(at(NATIONAL_DAY[0], 0), at(NATIONAL_DAY[-1], 23, 59)) == (
        timedelta()
    )
    assert calendar.worked_between(at(EVE, 8), at(EVE, 20)) == calendar.day_length
    assert calendar.worked_between(at(EVE, 12), at(EVE, 12)) == timedelta()
    # A whole year: nine hours for each of the package's working days.
    start, end = date(YEAR, 1, 1), date(YEAR, 12, 31)
    year = calendar.worked_between(at(start, 0), at(end, 23, 59))
    assert year == timedelta(hours=9) * len(chinese_calendar.get_workdays(start, end))


def test_add_and_worked_between_agree(db):
    calendar = Calendar.load()
    starts = [at(EVE, 15), at(DAY_OFF, 10), at(MAKE_UP_DAYS[0], 7), at(EVE, 17, 30)]
    for start in starts:
        for worked in (timedelta(minutes=1), timedelta(hours=9), timedelta(hours=31, minutes=7)):
            end = calendar.add(start, worked)
            assert calendar.worked_between(start, end) == worked, (start, worked)


# --- through the workflow ---------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """Set the present: django.utils.timezone.now, not our code."""

    def set_now(moment):
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return set_now


def test_filing_sets_both_deadlines_with_due_after(territory, people, policies, clock):
    t, p = territory, people
    clock(at(EVE, 16))
    issue = workflow.file_issue(
        actor=p.resident,
        source="resident",
        category=t.category,
        title="路灯不亮",
        description="3号楼前路灯不亮",
        grid=t.grid,
    )
    issue.refresh_from_db()
    expected = at(nth_working_day(EVE, 2), 16)  # 1.5 h that day, 7.5 h after the holiday
    assert issue.due_at == issue.response_due_at == expected
    assert issue.due_at == workflow.due_after(
        severity=Severity.MINOR, level=Level.GRID, start=at(EVE, 16)
    )
    # Escalated the next working morning: the community's own clock from then.
    morning = clock(at(nth_working_day(EVE, 2), 9))
    workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")
    issue.refresh_from_db()
    # Three working days from 09:00 end at 09:00 on the fourth.
    assert issue.due_at == at(nth_working_day(morning.date(), 4), 9)
    assert issue.response_due_at == expected  # the first deadline stays


def test_resume_after_a_holiday_gives_back_exactly_the_working_time_left(
    territory, people, policies, clock
):
    t, p = territory, people
    deadline = at(nth_working_day(EVE, 3), 12)  # the Friday after the holiday, noon
    issue = IssueFactory(
        grid=t.grid,
        category=t.category,
        reporter=p.resident,
        level=Level.COMMUNITY,
        status=Status.IN_PROGRESS,
        assignee=p.community_staff,
        accepted_at=at(EVE, 9),
        level_entered_at=at(EVE, 9),
        due_at=deadline,
    )
    suspended = clock(at(EVE, 15))
    workflow.suspend(issue=issue, actor=p.community_staff, reason="等待业主节后回家")
    calendar = Calendar.load()
    left = calendar.worked_between(suspended, deadline)
    assert left == timedelta(hours=2.5 + 9 + 3.5)

    # Resumed on the make-up Saturday at 10:00: 7.5 h that day, the Sunday off, 7.5 h on
    # Monday.
    saturday = MAKE_UP_DAYS[1]
    resumed = clock(at(saturday, 10))
    workflow.resume(issue=issue, actor=p.community_staff)
    issue.refresh_from_db()
    assert issue.due_at == at(nth_working_day(saturday, 2), 16)
    assert calendar.worked_between(resumed, issue.due_at) == left
    assert issue.suspended_seconds == int((resumed - suspended).total_seconds())
    assert issue.status == Status.IN_PROGRESS


def test_resume_of_an_overdue_working_day_clock_stays_overdue_by_as_long(
    territory, people, policies, clock
):
    t, p = territory, people
    issue = IssueFactory(
        grid=t.grid, category=t.category, reporter=p.resident, level=Level.COMMUNITY,
        status=Status.SUSPENDED, assignee=p.community_staff, accepted_at=at(EVE, 9),
        suspended_at=at(EVE, 15), due_at=at(EVE, 14),
    )  # fmt: skip
    resumed = clock(at(DAY_OFF, 10))
    workflow.resume(issue=issue, actor=p.community_staff)
    issue.refresh_from_db()
    assert issue.due_at == resumed - timedelta(hours=1)


def test_resume_of_an_hour_clock_gives_back_the_wall_clock_time_left(
    territory, people, policies, clock
):
    t, p = territory, people
    issue = IssueFactory(
        grid=t.grid, category=t.category, reporter=p.resident, level=Level.COMMUNITY,
        severity=Severity.URGENT, status=Status.SUSPENDED, assignee=p.community_staff,
        accepted_at=at(EVE, 9), suspended_at=at(EVE, 15), due_at=at(EVE, 21),
    )  # fmt: skip
    resumed = clock(at(DAY_OFF, 2))
    workflow.resume(issue=issue, actor=p.community_staff)
    issue.refresh_from_db()
    assert issue.due_at == resumed + timedelta(hours=6)


def test_an_admin_edit_of_the_calendar_changes_the_next_deadline(admin_en, policies):
    before = due(at(EVE, 15))
    assert before == at(MAKE_UP_DAYS[1], 15)

    # The make-up Saturday corrected to a day off: the clock runs on to Monday.
    saturday = Holiday.objects.get(date=MAKE_UP_DAYS[1])
    response = admin_en.post(
        reverse("admin:issues_holiday_change", args=[saturday.pk]),
        {"date": saturday.date.isoformat(), "kind": Holiday.Kind.DAY_OFF, "name": "更正"},
    )
    assert response.status_code == 302
    assert due(at(EVE, 15)) == at(MAKE_UP_DAYS[1] + timedelta(days=2), 15)

    # A day off added on an ordinary Monday pushes it one more day.
    monday = MAKE_UP_DAYS[1] + timedelta(days=2)
    response = admin_en.post(
        reverse("admin:issues_holiday_add"),
        {"date": monday.isoformat(), "kind": Holiday.Kind.DAY_OFF, "name": "临时放假"},
    )
    assert response.status_code == 302
    assert due(at(EVE, 15)) == at(monday + timedelta(days=1), 15)
    # One date, one row.
    response = admin_en.post(
        reverse("admin:issues_holiday_add"),
        {"date": monday.isoformat(), "kind": Holiday.Kind.WORKDAY, "name": "重复"},
    )
    assert response.status_code == 200
    assert Holiday.objects.filter(date=monday).count() == 1


# --- import_holidays --------------------------------------------------------------------


def package_days(year):
    days_off = {d for d in holidays if d.year == year and d.weekday() < 5}
    make_up = {d for d in workdays if d.year == year and d.weekday() >= 5}
    return days_off, make_up


def stored_days(year):
    rows = Holiday.objects.filter(date__year=year)
    return (
        set(rows.filter(kind=Holiday.Kind.DAY_OFF).values_list("date", flat=True)),
        set(rows.filter(kind=Holiday.Kind.WORKDAY).values_list("date", flat=True)),
    )


def test_the_migration_loaded_the_years_the_package_has(db):
    for year in (2024, 2025, YEAR):
        assert stored_days(year) == package_days(year)


def test_import_holidays_imports_a_year(db):
    Holiday.objects.filter(date__year=YEAR).delete()
    out = StringIO()
    call_command("import_holidays", str(YEAR), stdout=out)
    days_off, make_up = package_days(YEAR)
    assert stored_days(YEAR) == (days_off, make_up)
    assert f"{YEAR}: {len(days_off) + len(make_up)} days added" in out.getvalue()
    assert Holiday.objects.get(date=NATIONAL_DAY[0]).name == "国庆节"
    assert Holiday.objects.get(date=MAKE_UP_DAYS[1]).name == "国庆节"


def test_import_holidays_twice_changes_nothing_and_keeps_admin_edits(db):
    Holiday.objects.filter(date=MAKE_UP_DAYS[1]).update(kind=Holiday.Kind.DAY_OFF, name="更正")
    Holiday.objects.filter(date=NATIONAL_DAY[0]).delete()
    call_command("import_holidays", str(YEAR), stdout=StringIO())
    before = list(Holiday.objects.values())
    out = StringIO()
    call_command("import_holidays", str(YEAR), stdout=out)
    assert list(Holiday.objects.values()) == before
    assert f"{YEAR}: 0 days added" in out.getvalue()
    # The corrected day stays corrected; a day deleted by mistake comes back.
    corrected = Holiday.objects.get(date=MAKE_UP_DAYS[1])
    assert (corrected.kind, corrected.name) == (Holiday.Kind.DAY_OFF, "更正")
    assert Holiday.objects.get(date=NATIONAL_DAY[0]).kind == Holiday.Kind.DAY_OFF


@pytest.mark.parametrize("year", ["2027", "1999"])
def test_import_holidays_refuses_a_year_it_does_not_know(db, year):
    count = Holiday.objects.count()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_holidays", year, stdout=StringIO())
    assert year in str(excinfo.value)
    assert Holiday.objects.count() == count


def test_a_working_day_clock_sweeps_like_an_hour_clock(territory, people, policies):
    """The sweep escalates on the same deadline the workflow sets, working days included."""
    from issues.sweep import run_sweep

    t, p = territory, people
    issue = IssueFactory(
        grid=t.grid, category=t.category, reporter=p.resident, level=Level.COMMUNITY,
        level_entered_at=at(EVE, 15), due_at=due(at(EVE, 15)),
    )  # fmt: skip
    assert run_sweep(now=issue.due_at - timedelta(minutes=1)).escalated == 0
    assert run_sweep(now=issue.due_at + timedelta(minutes=1)).escalated == 1
    issue.refresh_from_db()
    assert issue.level == Level.SUBDISTRICT
    now = issue.level_entered_at
    assert issue.due_at == due(now, Severity.MINOR, Level.SUBDISTRICT)
    assert IssueEvent.objects.filter(issue=issue, kind=IssueEvent.Kind.ESCALATED).count() == 1
    assert Issue.objects.count() == 1
