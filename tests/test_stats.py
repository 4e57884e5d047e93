"""The governance figures (issues.stats) against values computed by hand.

``outcomes`` builds thirteen issues with known fates in the subdistrict (plus one in
another subdistrict and one filed before the period). The comment on each says what it
contributes; the expected numbers in the tests are worked out from those comments.
"""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import stats, workflow
from issues.models import Issue, Level, Satisfaction, Severity, SlaPolicy, SlaUnit, Source, Status
from tests.factories import CategoryFactory, IssueFactory, staff_on

H = timedelta(hours=1)


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def period(now):
    today = timezone.localdate(now)
    return stats.Filters(start=today - timedelta(days=29), end=today)


def make(grid, **fields):
    """An issue row with every figure-relevant field explicit (no reporter row needed)."""
    values = dict(
        grid=grid,
        reporter=None,
        severity=Severity.MINOR,
        source=Source.RESIDENT,
        level=Level.GRID,
        status=Status.SUBMITTED,
    )
    values.update(fields)
    values.setdefault("level_entered_at", values["created_at"])
    # The first deadline, as filing sets it: the grid's, from the filing time.
    values.setdefault(
        "response_due_at",
        workflow.due_after(
            severity=values["severity"], level=Level.GRID, start=values["created_at"]
        ),
    )
    return IssueFactory(**values)


@pytest.fixture
def outcomes(territory, people, now):
    t, p = territory, people
    t0 = now - timedelta(days=10)
    i = {}
    # A: minor, settled in the grid, found on patrol; accepted 1 h, resolved 10 h.
    i["A"] = make(
        t.grid, source=Source.PATROL, status=Status.CLOSED, created_at=t0,
        accepted_at=t0 + 1 * H, resolved_at=t0 + 10 * H, due_at=t0 + 48 * H,
        assignee=p.worker, resolved_by=p.worker,
    )  # fmt: skip
    # A2: minor, settled in the grid (other community), satisfied; 2 h / 4 h.
    i["A2"] = make(
        t.cousin_grid, status=Status.CLOSED, created_at=t0, accepted_at=t0 + 2 * H,
        resolved_at=t0 + 4 * H, due_at=t0 + 48 * H, satisfaction=Satisfaction.SATISFIED,
    )  # fmt: skip
    # B: minor, climbed to the community (not settled in the grid), accepted late (50 h >
    # 48 h), reopened once, then satisfied; resolved at 100 h with 4 h suspended → 96 h.
    i["B"] = make(
        t.grid, level=Level.COMMUNITY, status=Status.CLOSED, created_at=t0,
        accepted_at=t0 + 50 * H, resolved_at=t0 + 100 * H, due_at=t0 + 120 * H,
        satisfaction=Satisfaction.SATISFIED, reopen_count=1, suspended_seconds=4 * 3600,
        resolved_by=p.community_staff,
    )  # fmt: skip
    # C: urgent, settled in the community; hotline; resolved late (20 h > due 14 h).
    i["C"] = make(
        t.sibling_grid, severity=Severity.URGENT, source=Source.HOTLINE, level=Level.COMMUNITY,
        status=Status.CLOSED, created_at=t0, accepted_at=t0 + 1 * H, resolved_at=t0 + 20 * H,
        due_at=t0 + 14 * H, satisfaction=Satisfaction.BASICALLY_SATISFIED,
        resolved_by=p.sibling_worker,
    )  # fmt: skip
    # D: urgent, climbed to the subdistrict and dispatched; accepted late (3 h > 2 h);
    # resolved on time.
    i["D"] = make(
        t.cousin_grid, severity=Severity.URGENT, level=Level.SUBDISTRICT,
        department=t.department, status=Status.CLOSED, created_at=t0, accepted_at=t0 + 3 * H,
        resolved_at=t0 + 30 * H, due_at=t0 + 40 * H, satisfaction=Satisfaction.SATISFIED,
    )  # fmt: skip
    # E: difficult, supervised (not settled inside the subdistrict), resolved late, and a
    # stored dissatisfied evaluation.
    i["E"] = make(
        t.grid, severity=Severity.DIFFICULT, level=Level.SUBDISTRICT, is_supervised=True,
        status=Status.CLOSED, created_at=t0, accepted_at=t0 + 2 * H, resolved_at=t0 + 200 * H,
        due_at=t0 + 150 * H, satisfaction=Satisfaction.DISSATISFIED,
        resolved_by=p.subdistrict_staff,
    )  # fmt: skip
    # F: difficult, dispatched, settled inside the subdistrict; closed unevaluated.
    i["F"] = make(
        t.grid, severity=Severity.DIFFICULT, level=Level.SUBDISTRICT, department=t.department,
        status=Status.CLOSED, created_at=t0, accepted_at=t0 + 5 * H, resolved_at=t0 + 60 * H,
        due_at=t0 + 100 * H, resolved_by=p.department_staff,
    )  # fmt: skip
    # G: reopened once and now in progress again, overdue (counted late).
    i["G"] = make(
        t.grid, status=Status.IN_PROGRESS, created_at=t0, accepted_at=t0 + 1 * H,
        due_at=now - 1 * H, reopen_count=1, assignee=p.worker2,
    )  # fmt: skip
    # H: just filed, still within its first deadline: in no response or on-time count.
    i["H"] = make(t.grid, created_at=now - 1 * H, due_at=now + 47 * H)
    # I: never accepted, escalated by the sweep, overdue again: a missed response and late.
    i["I"] = make(
        t.sibling_grid, level=Level.COMMUNITY, created_at=t0, due_at=now - 2 * H,
    )  # fmt: skip
    # J: rejected without being accepted: left out of the response rate.
    i["J"] = make(
        t.grid, status=Status.REJECTED, created_at=t0, due_at=t0 + 48 * H,
        closed_at=t0 + 3 * H,
    )  # fmt: skip
    # K: suspended past its old deadline: a stopped clock is not late.
    i["K"] = make(
        t.grid, status=Status.SUSPENDED, created_at=t0, accepted_at=t0 + 1 * H,
        due_at=now - 5 * H, suspended_at=now - 6 * H, suspended_seconds=7200,
        assignee=p.worker,
    )  # fmt: skip
    # L: resolved (awaiting verification), patrol; 30 h with 10 h suspended → 20 h.
    i["L"] = make(
        t.grid, source=Source.PATROL, status=Status.RESOLVED, created_at=t0,
        accepted_at=t0 + 2 * H, resolved_at=t0 + 30 * H, due_at=t0 + 48 * H,
        suspended_seconds=10 * 3600, resolved_by=p.worker2,
    )  # fmt: skip
    # Outside: another subdistrict, and filed before the period.
    i["far"] = make(t.far_grid, status=Status.CLOSED, created_at=t0, due_at=t0 + 48 * H)
    i["old"] = make(
        t.grid, status=Status.CLOSED, created_at=now - timedelta(days=40),
        due_at=now - timedelta(days=38),
    )  # fmt: skip
    return i


def subdistrict_unit(territory, people, period, now):
    return stats.load_unit(
        people.subdistrict_staff, "subdistrict", territory.subdistrict.pk, period, now=now
    )


def test_every_figure_of_the_subdistrict(territory, people, outcomes, period, now):
    f = subdistrict_unit(territory, people, period, now).figures
    assert f.filed == 13
    assert f.closed == 7
    assert f.overdue_now == 2  # G and I; K is suspended
    # 小事不出网格: A, A2 of A, A2, B.
    assert (f.minor_settled, f.minor_closed) == (2, 3)
    assert f.minor_settled_rate == pytest.approx(200 / 3)
    # 急事不出社区: C of C, D.
    assert (f.urgent_settled, f.urgent_closed) == (1, 2)
    assert f.urgent_settled_rate == pytest.approx(50.0)
    # 难事不出街道: F (E was supervised).
    assert (f.difficult_settled, f.difficult_closed) == (1, 2)
    # Response: ten accepted (B and D late) plus I never accepted; H in time, J rejected.
    assert (f.response_on_time, f.response_due) == (8, 11)
    assert f.response_rate == pytest.approx(800 / 11)
    # On time: eight resolved (C and E late) plus G and I overdue; K suspended.
    assert (f.resolution_on_time, f.resolution_due) == (6, 10)
    assert f.on_time_rate == pytest.approx(60.0)
    # Satisfaction: A2, B, C, D satisfied of five stored evaluations plus two reopens.
    assert (f.satisfied, f.evaluations) == (4, 7)
    assert f.satisfaction_rate == pytest.approx(400 / 7)
    assert f.patrol_rate == pytest.approx(200 / 13)
    assert [(s["key"], s["count"]) for s in f.funnel()] == [
        ("filed", 13),
        ("reached_community", 6),
        ("reached_subdistrict", 3),
        ("dispatched", 2),
    ]
    # Reopened: B and G, of the eight resolved plus G.
    assert (f.reopened, f.resolved_once) == (2, 9)
    assert f.reopen_rate == pytest.approx(200 / 9)
    assert f.supervised == 1
    # Hours to accept: 1,1,1,1,2,2,2,3,5,50 → mean 6.8, median 2.
    assert f.accepted == 10
    assert f.accept_hours_avg == pytest.approx(6.8)
    assert f.accept_hours_median == pytest.approx(2.0)
    # Hours to resolve, suspended time out: 4,10,20,20,30,60,96,200 → mean 55, median 25.
    assert f.resolved == 8
    assert f.resolve_hours_avg == pytest.approx(55.0)
    assert f.resolve_hours_median == pytest.approx(25.0)


def test_median_of_odd_and_even_counts(territory, people, outcomes, period, now):
    # The grid's accepted issues A, B, E, F, G, K, L took 1, 50, 2, 5, 1, 1, 2 hours:
    # sorted 1,1,1,2,2,5,50, an odd count, so the middle value 2.
    grid = stats.load_unit(people.worker, "grid", territory.grid.pk, period, now=now)
    assert grid.figures.accepted == 7
    assert grid.figures.accept_hours_median == pytest.approx(2.0)
    # The community adds C (1 h): 1,1,1,1,2,2,5,50, an even count: (1 + 2) / 2.
    unit = stats.load_unit(
        people.community_staff, "community", territory.community.pk, period, now=now
    )
    assert unit.figures.accepted == 8
    assert unit.figures.accept_hours_median == pytest.approx(1.5)


def test_no_issues_gives_no_rates_and_no_division_by_zero(territory, people, period, now):
    f = subdistrict_unit(territory, people, period, now).figures
    assert f.filed == 0
    for key in [
        "minor_settled_rate",
        "urgent_settled_rate",
        "difficult_settled_rate",
        "response_rate",
        "on_time_rate",
        "satisfaction_rate",
        "patrol_rate",
        "reopen_rate",
        "accept_hours_avg",
        "accept_hours_median",
        "resolve_hours_avg",
        "resolve_hours_median",
    ]:
        assert f.value(key) is None, key
    assert f.supervised == 0
    assert [s["share"] for s in f.funnel()] == [None] * 4


def test_the_response_rate_follows_the_configured_grid_deadline(
    territory, people, request, period, now
):
    # Minor issues must now be accepted within 1 h at the grid, configured before they are
    # filed: A, G and K (exactly 1 h) still are; A2 and L (2 h) are not; H (filed exactly
    # 1 h ago) has just reached it and is not yet due.
    SlaPolicy.objects.update_or_create(
        severity=Severity.MINOR, level=Level.GRID, defaults={"unit": SlaUnit.HOURS, "amount": 1}
    )
    outcomes = request.getfixturevalue("outcomes")
    assert outcomes["A"].response_due_at == outcomes["A"].created_at + 1 * H
    f = subdistrict_unit(territory, people, period, now).figures
    assert (f.response_on_time, f.response_due) == (6, 11)
    # The deadline is the one the clock set on filing: a later change of the policy does
    # not rewrite the past.
    SlaPolicy.objects.filter(severity=Severity.MINOR, level=Level.GRID).delete()
    f = subdistrict_unit(territory, people, period, now).figures
    assert (f.response_on_time, f.response_due) == (6, 11)


def test_the_response_rate_reads_the_deadline_set_on_filing(territory, people, period, now):
    # A deadline in working days (on the official calendar) is whatever due_after made of
    # it: accepted one minute before it is in time, one minute after is late, whatever
    # the wall-clock hours in between.
    SlaPolicy.objects.update_or_create(
        severity=Severity.MINOR,
        level=Level.GRID,
        defaults={"unit": SlaUnit.WORKING_DAYS, "amount": 1},
    )
    filed = now - timedelta(days=9)
    due = workflow.due_after(severity=Severity.MINOR, level=Level.GRID, start=filed)
    for accepted in (due - timedelta(minutes=1), due + timedelta(minutes=1)):
        make(
            territory.grid, status=Status.IN_PROGRESS, created_at=filed, accepted_at=accepted,
            due_at=now + H,
        )  # fmt: skip
    assert Issue.objects.filter(response_due_at=due).count() == 2
    f = subdistrict_unit(territory, people, period, now).figures
    assert (f.response_on_time, f.response_due) == (1, 2)


def test_filters_narrow_every_figure(territory, people, outcomes, period, now):
    from dataclasses import replace

    def filed(**changes):
        return subdistrict_unit(territory, people, replace(period, **changes), now).figures.filed

    assert filed(severity=Severity.MINOR) == 9
    assert filed(severity=Severity.URGENT) == 2
    assert filed(source=Source.PATROL) == 2
    assert filed(source=Source.HOTLINE, severity=Severity.URGENT) == 1
    assert filed(category_id=outcomes["A"].category_id) == 1
    # The period is by filing date: the old issue comes in when the period reaches it.
    assert filed(start=period.start - timedelta(days=15)) == 14
    # One day only: the day twelve issues were filed, ten days ago.
    day = timezone.localdate(outcomes["A"].created_at)
    assert filed(start=day, end=day) == 12
    assert filed(start=day + timedelta(days=1), end=day + timedelta(days=1)) == 0


def test_a_worker_counts_what_they_resolved_or_hold(territory, people, outcomes, period, now):
    # Worker: A (resolved) and K (assigned); worker2: G (assigned) and L (resolved).
    unit = stats.load_unit(people.worker, "worker", people.worker.pk, period, now=now)
    assert unit.figures.filed == 2
    assert unit.figures.accept_hours_median == pytest.approx(1.0)
    unit = stats.load_unit(people.worker, "worker", people.worker2.pk, period, now=now)
    assert unit.figures.filed == 2
    assert unit.figures.reopened == 1


def test_rankings_of_communities_and_departments(territory, people, outcomes, period, now):
    unit = subdistrict_unit(territory, people, period, now)
    with CaptureQueriesContext(connection) as queries:
        tables = stats.rankings(unit, period, now=now)
    assert len(queries) == 1
    rows = {row.name: row for row in tables["ranking"]}
    assert set(rows) == {"全运村社区", "龙洞社区"}
    qyc, ld = rows["全运村社区"].figures, rows["龙洞社区"].figures
    assert (qyc.filed, ld.filed) == (11, 2)
    assert qyc.minor_settled_rate == pytest.approx(50.0)  # A of A, B
    assert ld.minor_settled_rate == pytest.approx(100.0)  # A2
    assert qyc.on_time_rate == pytest.approx(50.0)  # A, B, F, L of six resolved + G, I
    assert ld.on_time_rate == pytest.approx(100.0)
    assert qyc.resolve_hours_avg == pytest.approx((10 + 96 + 20 + 200 + 60 + 20) / 6)
    departments = tables["departments"]
    assert [(row.name, row.figures.filed) for row in departments] == [("城管", 2)]
    assert departments[0].figures.on_time_rate == pytest.approx(100.0)


def test_a_child_without_issues_is_listed_with_empty_rates(territory, people, period, now):
    unit = subdistrict_unit(territory, people, period, now)
    rows = stats.rankings(unit, period, now=now)["ranking"]
    assert [(row.name, row.figures.filed, row.figures.on_time_rate) for row in rows] == [
        ("全运村社区", 0, None),
        ("龙洞社区", 0, None),
    ]


def test_rankings_of_grids_and_of_workers(territory, people, outcomes, period, now):
    community = stats.load_unit(
        people.community_staff, "community", territory.community.pk, period, now=now
    )
    grids = {row.name: row.figures.filed for row in stats.rankings(community, period)["ranking"]}
    assert grids == {"第一网格": 9, "第二网格": 2}

    grid = stats.load_unit(people.worker, "grid", territory.grid.pk, period, now=now)
    with CaptureQueriesContext(connection) as queries:
        rows = stats.rankings(grid, period, now=now)["ranking"]
    assert len(queries) == 1
    by_pk = {row.pk: row for row in rows}
    p = people
    assert {pk: row.figures.filed for pk, row in by_pk.items()} == {
        p.worker.pk: 2,  # A, K
        p.worker2.pk: 2,  # G, L
        p.community_staff.pk: 1,  # B
        p.subdistrict_staff.pk: 1,  # E
        p.department_staff.pk: 1,  # F
        None: 2,  # H, J: nobody yet
    }
    # Only people posted on this grid link to a page of their own.
    assert {pk for pk, row in by_pk.items() if row.linked} == {p.worker.pk, p.worker2.pk}
    assert by_pk[p.worker.pk].name == "张伟"  # the name, never the login name
    assert rows[-1].pk is None  # "not yet assigned" last


def test_weekly_trend(territory, people, outcomes, period, now):
    unit = subdistrict_unit(territory, people, period, now)
    with CaptureQueriesContext(connection) as queries:
        weeks = stats.trend(unit, period, now=now)
    assert len(queries) == 1

    def week(moment):
        day = timezone.localdate(moment)
        return day - timedelta(days=day.weekday())

    o = outcomes
    inside = [k for k in o if k not in ("far", "old")]
    expected = {}
    for key in inside:
        expected.setdefault(week(o[key].created_at), [0, 0, 0])[0] += 1
    for key in ["A", "A2", "B", "C", "D", "E", "F", "L"]:
        expected.setdefault(week(o[key].resolved_at), [0, 0, 0])[1] += 1
    for key in ["C", "E", "G", "I"]:  # resolved late, or running past the deadline
        expected.setdefault(week(o[key].due_at), [0, 0, 0])[2] += 1
    got = {w["week"]: [w["filed"], w["resolved"], w["overdue"]] for w in weeks}
    assert {k: v for k, v in got.items() if v != [0, 0, 0]} == expected
    # Every week of the period is there, Monday to Monday, without gaps.
    assert weeks[0]["week"] == period.start - timedelta(days=period.start.weekday())
    assert all(b["week"] - a["week"] == timedelta(days=7) for a, b in itertools.pairwise(weeks))
    assert weeks[-1]["week"] == week(now)


def test_recurrence_alert_lists_the_issues(territory, people, now):
    t = territory
    noise = CategoryFactory(name="噪音扰民")
    rubbish = CategoryFactory(name="垃圾堆放")
    today = timezone.localdate(now)
    filters = stats.Filters(start=today - timedelta(days=29), end=today)
    # Three noise reports in the grid within 14 days: an alert. Two in the sibling grid,
    # and three rubbish reports spread over more than 14 days: none.
    hits = [
        make(
            t.grid, category=noise, created_at=now - timedelta(days=d), due_at=now, title=f"噪音{d}"
        )
        for d in (1, 5, 13)
    ]
    for d in (1, 2):
        make(t.sibling_grid, category=noise, created_at=now - timedelta(days=d), due_at=now)
    for d in (1, 10, 20):
        make(t.grid, category=rubbish, created_at=now - timedelta(days=d), due_at=now)
    unit = stats.load_unit(people.subdistrict_staff, "subdistrict", t.subdistrict.pk, filters)
    with CaptureQueriesContext(connection) as queries:
        alerts = stats.recurrences(unit, filters)
    assert len(queries) == 1
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.grid_name, alert.category_name, alert.count) == ("第一网格", "噪音扰民", 3)
    assert [i["tracking_number"] for i in alert.issues] == [h.tracking_number for h in hits]
    # N and M are parameters: two within 14 days flags the sibling grid too; three within
    # 30 days flags the rubbish.
    from dataclasses import replace

    alerts = stats.recurrences(unit, replace(filters, recurrence_count=2))
    assert [(a.grid_name, a.category_name, a.count) for a in alerts] == [
        ("第一网格", "噪音扰民", 3),
        ("第一网格", "垃圾堆放", 2),
        ("第二网格", "噪音扰民", 2),
    ]
    alerts = stats.recurrences(unit, replace(filters, recurrence_days=30))
    assert {(a.category_name, a.count) for a in alerts} == {("噪音扰民", 3), ("垃圾堆放", 3)}
    # The window ends with the period: a period ending 3 days ago sees only two noise
    # reports in the grid.
    earlier = replace(filters, end=today - timedelta(days=3))
    assert stats.recurrences(unit, earlier) == []


def test_recurrence_lists_a_bounded_number_of_issues_per_alert(territory, people, now):
    category = CategoryFactory()
    for n in range(25):
        make(territory.grid, category=category, created_at=now - timedelta(hours=n + 1),
             due_at=now)  # fmt: skip
    today = timezone.localdate(now)
    filters = stats.Filters(start=today - timedelta(days=29), end=today)
    unit = stats.load_unit(people.worker, "grid", territory.grid.pk, filters)
    (alert,) = stats.recurrences(unit, filters)
    assert alert.count == 25
    assert len(alert.issues) == stats.RECURRENCE_ISSUES_PER_GROUP


# --- scope --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "kind", "unit", "visible"),
    [
        ("worker", "grid", "grid", True),
        ("worker", "grid", "sibling_grid", False),
        ("worker", "community", "community", False),
        ("worker", "subdistrict", "subdistrict", False),
        ("community_staff", "community", "community", True),
        ("community_staff", "grid", "sibling_grid", True),
        ("community_staff", "grid", "cousin_grid", False),
        ("community_staff", "community", "other_community", False),
        ("community_staff", "department", "department", False),
        ("subdistrict_staff", "subdistrict", "subdistrict", True),
        ("subdistrict_staff", "grid", "cousin_grid", True),
        ("subdistrict_staff", "department", "department", True),
        ("subdistrict_staff", "subdistrict", "other_subdistrict", False),
        ("subdistrict_staff", "grid", "far_grid", False),
        ("subdistrict_staff", "department", "other_department", False),
        ("department_staff", "department", "department", True),
        ("department_staff", "subdistrict", "subdistrict", False),
        ("department_staff", "department", "other_department", False),
        ("resident", "grid", "grid", False),
    ],
)
def test_units_in_scope(territory, people, period, who, kind, unit, visible):
    user = getattr(people, who)
    found = stats.load_unit(user, kind, getattr(territory, unit).pk, period)
    assert (found is not None) == visible


@pytest.mark.parametrize(
    ("who", "whom", "visible"),
    [
        ("worker", "worker", True),
        ("worker", "worker2", True),  # a colleague on the same grid
        ("worker", "sibling_worker", False),
        ("worker", "community_staff", False),
        ("community_staff", "sibling_worker", True),
        ("community_staff", "other_community_staff", False),
        ("subdistrict_staff", "department_staff", True),
        ("subdistrict_staff", "far_staff", False),
        ("department_staff", "worker", False),
        ("worker", "resident", False),  # holds no post: not a worker page
    ],
)
def test_people_in_scope(territory, people, period, who, whom, visible):
    found = stats.load_unit(getattr(people, who), "worker", getattr(people, whom).pk, period)
    assert (found is not None) == visible


def test_a_workers_page_shows_only_what_the_viewer_sees(territory, people, period, now):
    # The colleague also works the sibling grid; the viewer does not see that grid.
    p, t = people, territory
    from tests.factories import post_for

    post_for(p.worker2, t.sibling_grid)
    make(t.grid, created_at=now - H, due_at=now + H, assignee=p.worker2)
    make(t.sibling_grid, created_at=now - H, due_at=now + H, assignee=p.worker2)
    assert stats.load_unit(p.worker, "worker", p.worker2.pk, period).figures.filed == 1
    assert stats.load_unit(p.community_staff, "worker", p.worker2.pk, period).figures.filed == 2


def test_superuser_sees_every_unit_and_starts_from_every_subdistrict(territory, period):
    admin = staff_on(territory.far_grid, is_superuser=True)
    assert stats.load_unit(admin, "grid", territory.grid.pk, period) is not None
    tops = stats.top_units(admin)
    assert tops[0][0] == stats.CITY  # the whole city first
    assert {name for kind, pk, name in tops[1:]} == {"龙洞街道", "姚家街道"}


def test_top_units_leave_out_units_below_another_post(territory, people):
    from tests.factories import post_for

    user = people.community_staff
    post_for(user, territory.grid)  # below the community: not a separate start
    post_for(user, territory.far_grid)
    assert sorted((kind, pk) for kind, pk, _ in stats.top_units(user)) == sorted(
        [("community", territory.community.pk), ("grid", territory.far_grid.pk)]
    )


def test_every_count_is_named_in_count_keys(now):
    keys = set(stats.figure_aggregates(now=now))
    # The issue rows' counts, and the loop's counted apart (events, sub-tasks, the sweep).
    assert stats.COUNT_KEYS == {k for k in keys if not k.endswith(("_avg", "_sum"))} | set(
        stats.LOOP_KEYS
    )
