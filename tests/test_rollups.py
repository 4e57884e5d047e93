"""The daily rollups (issues.rollups) against the live figures, their oracle.

``history`` files issues over seventy days in every grid of both subdistricts, with several
categories, severities and sources, takes them through the workflow (accepted, escalated,
dispatched, returned, handled jointly, suspended, extended, resolved, evaluated, called
back, verified, rejected, supervised) and runs the sweep. The rollups are kept by those
actions alone, never rebuilt; then, for periods, units and filters drawn at random (seeded),
every figure read from the rollups equals the figure counted live over the issues, the
rankings of child units and the weekly trend too, and medians lie in the range the
histogram gives.
"""

import contextlib
import itertools
import random
from dataclasses import replace
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import timezone

from issues import rollups, stats, workflow
from issues.models import (
    ROLLUP_BUCKETS,
    ROLLUP_COUNTS,
    ROLLUP_SUMS,
    ROLLUP_VALUES,
    DailyRollup,
    DailyTotal,
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    MonthlyTotal,
    PendingRollup,
    ReturnReason,
    Satisfaction,
    Severity,
    Source,
    Status,
    SubdistrictDay,
    SubdistrictMonth,
)
from issues.stats import loop
from issues.sweep import run_sweep
from issues.workflow import WorkflowError
from tests.conftest import requires_postgres
from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    IssueFactory,
    UserFactory,
    staff_on,
)
from tests.rollup_support import rollups_follow_saves  # noqa: F401
from tests.test_dashboard import page_queries

H = timedelta(hours=1)
SEED = 1154
# Long enough that most periods drawn hold a whole calendar month (its monthly totals).
DAYS = 70

# Every count a page can show, and the rates and averages computed from them.
COUNTS = sorted(stats.COUNT_KEYS | {"response_due", "tasks_due", "closed", "resolution_due"})
MEDIANS = {"accept_hours_median": "accept", "resolve_hours_median": "resolve"}


# --- the history ---------------------------------------------------------------------------


class Cast:
    """Who acts where: a worker per grid, staff per community, subdistrict and department."""

    def __init__(self, t, p):
        self.t, self.p = t, p
        self.grid_staff = {
            t.grid.pk: [p.worker, p.worker2],
            t.sibling_grid.pk: [p.sibling_worker, staff_on(t.sibling_grid)],
            t.cousin_grid.pk: [staff_on(t.cousin_grid), staff_on(t.cousin_grid)],
            t.far_grid.pk: [staff_on(t.far_grid), staff_on(t.far_grid)],
        }
        self.community_staff = {
            t.community.pk: p.community_staff,
            t.other_community.pk: p.other_community_staff,
            t.far_grid.community_id: staff_on(t.far_grid.community),
        }
        self.subdistrict_staff = {
            t.subdistrict.pk: p.subdistrict_staff,
            t.other_subdistrict.pk: p.far_staff,
        }
        self.housing = DepartmentFactory(subdistrict=t.subdistrict, name="住建")
        self.department_staff = {
            t.department.pk: p.department_staff,
            self.housing.pk: staff_on(self.housing),
            t.other_department.pk: p.other_department_staff,
        }
        self.departments = {
            t.subdistrict.pk: [t.department, self.housing],
            t.other_subdistrict.pk: [t.other_department],
        }

    def holder(self, issue: Issue):
        """Someone posted on the issue's current unit."""
        if issue.department_id:
            return self.department_staff[issue.department_id]
        return {
            Level.GRID: lambda: self.grid_staff[issue.grid_id][0],
            Level.COMMUNITY: lambda: self.community_staff[issue.community_id],
            Level.SUBDISTRICT: lambda: self.subdistrict_staff[issue.subdistrict_id],
        }[issue.level]()

    def other(self, issue: Issue):
        """A second member of the grid (to verify what the first resolved)."""
        return self.grid_staff[issue.grid_id][1]


def _file(cast, rng, now, categories) -> Issue:
    t, p = cast.t, cast.p
    grid = rng.choice([t.grid, t.grid, t.sibling_grid, t.cousin_grid, t.far_grid])
    source = rng.choice(
        [Source.RESIDENT, Source.RESIDENT, Source.PATROL, Source.VOLUNTEER, Source.HOTLINE]
        + [Source.API]
    )
    severity = rng.choice([Severity.MINOR, Severity.MINOR, Severity.URGENT, Severity.DIFFICULT])
    filed = now - timedelta(days=rng.randrange(DAYS), minutes=rng.randrange(24 * 60))
    first = workflow.due_after(severity=severity, level=Level.GRID, start=filed)
    return IssueFactory(
        grid=grid,
        category=rng.choice(categories),
        severity=severity,
        source=source,
        reporter=p.resident if source in (Source.RESIDENT, Source.VOLUNTEER) else None,
        created_at=filed,
        level_entered_at=filed,
        due_at=first,
        response_due_at=first,
    )


def _story(cast, rng, issue: Issue) -> None:
    """One random path through the workflow; a refused step ends the story."""
    reason = ReturnReason.objects.get_or_create(name="不属于本部门职责")[0]

    def act(action, **kwargs):
        nonlocal issue
        issue = action(issue=issue, actor=kwargs.pop("actor", None) or cast.holder(issue), **kwargs)
        return issue

    def climb(to: str):
        while issue.level != to:
            act(workflow.escalate, reason="需要上级协调")

    def resolve_and_close():
        act(workflow.resolve, note="已处理")
        if issue.source in (Source.RESIDENT, Source.VOLUNTEER):
            outcome = rng.choice(["satisfied", "basic", "dissatisfied", "none"])
            if outcome == "none":
                return
            satisfaction = {
                "satisfied": Satisfaction.SATISFIED,
                "basic": Satisfaction.BASICALLY_SATISFIED,
                "dissatisfied": Satisfaction.DISSATISFIED,
            }[outcome]
            act(
                workflow.evaluate,
                actor=cast.p.resident,
                satisfaction=satisfaction,
                reason="没修好" if outcome == "dissatisfied" else "",
            )
        elif issue.source in (Source.HOTLINE, Source.API) and rng.random() < 0.7:
            act(
                workflow.callback,
                actor=cast.community_staff[issue.community_id],
                outcome=rng.choice([Satisfaction.SATISFIED, Satisfaction.DISSATISFIED]),
                said="还是不行",
            )
        elif rng.random() < 0.6 and not issue.department_id and issue.level == Level.GRID:
            act(workflow.verify, actor=cast.other(issue))

    def run(path):
        if path == 0:
            return  # left waiting (past its first deadline or not)
        if path == 1:
            act(workflow.reject, reason="重复上报")
            return
        if path in (2, 3):
            act(workflow.accept)
            resolve_and_close()
            return
        if path == 4:
            climb(Level.COMMUNITY)
            act(workflow.accept)
            if rng.random() < 0.5:
                act(workflow.suspend, reason="等待配件")
                if rng.random() < 0.5:
                    act(workflow.resume)
            return
        if path == 5:
            climb(Level.SUBDISTRICT)
            departments = cast.departments[issue.subdistrict_id]
            act(workflow.dispatch, department=departments[0])
            act(workflow.accept)
            if len(departments) > 1 and rng.random() < 0.7:
                act(workflow.return_dispatch, reason=reason)
                act(
                    workflow.dispatch_joint,
                    lead=departments[0],
                    co_handlers=departments[1:],
                    instruction="联合处置",
                )
                task = IssueTask.objects.get(issue=issue, department=departments[1], state="open")
                if rng.random() < 0.7:
                    act(
                        workflow.complete_task,
                        actor=cast.department_staff[departments[1].pk],
                        task=task,
                        note="已完成",
                    )
                act(workflow.accept)
            if rng.random() < 0.6:
                resolve_and_close()
            return
        if path == 6:
            act(workflow.accept)
            act(
                workflow.request_extension,
                until=timezone.localdate() + timedelta(days=5),
                reason="等材料",
            )
            if rng.random() < 0.5:
                act(workflow.approve_extension, actor=cast.community_staff[issue.community_id])
            return
        if path == 7:
            act(workflow.accept)
            act(
                workflow.supervise_note,
                actor=cast.community_staff[issue.community_id],
                note="尽快办结",
            )
            if rng.random() < 0.5:
                resolve_and_close()
            return
        if path == 8:
            climb(Level.COMMUNITY)
            act(workflow.reject, reason="不属于受理范围")
            return
        act(workflow.accept)  # path 9: in progress

    with contextlib.suppress(WorkflowError):
        run(rng.randrange(10))


@pytest.fixture
def history(territory, people, rollups_follow_saves):  # noqa: F811
    """Eighty issues over seventy days, through the workflow and the sweep. Filing is a row
    written directly (so that it can be in the past), its rollup kept as filing keeps it."""
    rng = random.Random(SEED)
    cast = Cast(territory, people)
    categories = [
        territory.category,
        CategoryFactory(name="噪音扰民", default_severity=Severity.URGENT),
        CategoryFactory(name="违章建筑", default_severity=Severity.DIFFICULT),
    ]
    now = timezone.now()
    issues = [_file(cast, rng, now, categories) for _n in range(80)]
    for issue in issues:
        _story(cast, rng, issue)
    run_sweep()
    # Some of each kind of thing, so the comparison below means something.
    assert Issue.objects.filter(status=Status.CLOSED).count() >= 5
    assert Issue.objects.filter(department__isnull=False).exists()
    assert IssueEvent.objects.filter(kind=IssueEvent.Kind.RETURNED).exists()
    assert IssueTask.objects.filter(state=IssueTask.State.DONE).exists()
    assert Issue.objects.filter(reopen_count__gt=0).exists()
    assert Issue.objects.filter(is_supervised=True).exists()
    return cast


def units_of(t, cast):
    return [
        ("subdistrict", t.subdistrict.pk),
        ("subdistrict", t.other_subdistrict.pk),
        ("community", t.community.pk),
        ("community", t.other_community.pk),
        ("grid", t.grid.pk),
        ("grid", t.sibling_grid.pk),
        ("grid", t.cousin_grid.pk),
        ("grid", t.far_grid.pk),
        ("department", t.department.pk),
        ("department", cast.housing.pk),
        ("department", t.other_department.pk),
    ]


def random_filters(rng, categories) -> stats.Filters:
    today = timezone.localdate()
    start = today - timedelta(days=rng.randrange(DAYS + 5))
    end = min(today, start + timedelta(days=rng.randrange(1, DAYS)))
    filters = stats.Filters(start=start, end=end)
    if rng.random() < 0.25:
        filters = replace(filters, category_id=rng.choice(categories))
    if rng.random() < 0.25:
        filters = replace(filters, severity=rng.choice(Severity.values))
    if rng.random() < 0.25:
        filters = replace(filters, source=rng.choice(Source.values))
    return filters


def assert_same_figures(live: stats.Figures, rolled: stats.Figures, where) -> None:
    for key in COUNTS:
        assert getattr(rolled, key) == getattr(live, key), (where, key)
    for figure in stats.FIGURES:
        if figure.key in MEDIANS:
            continue
        expected, got = live.value(figure.key), rolled.value(figure.key)
        assert (got is None) == (expected is None), (where, figure.key)
        if expected is not None:
            assert got == pytest.approx(expected), (where, figure.key)
    for key, measure in MEDIANS.items():
        exact, found = live.value(key), rolled.histogram_median(measure)
        assert (found is None) == (exact is None), (where, key)
        if found is not None:
            assert found.low - 1e-6 <= exact, (where, key, exact, found)
            assert found.high is None or exact <= found.high + 1e-6, (where, key, exact, found)
            assert found.low <= found.hours and (found.high is None or found.hours <= found.high)


def test_every_figure_from_the_rollups_equals_the_live_figure(territory, history, root):
    rng = random.Random(SEED)
    categories = list({issue.category_id for issue in Issue.objects.all()})
    now = timezone.now()
    compared = months = combined = 0
    today = timezone.localdate()
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    # Besides the random draws, periods that surely hold whole months (monthly totals).
    fixed = [
        stats.Filters(start=last_month, end=this_month - timedelta(days=1)),
        stats.Filters(start=(last_month - timedelta(days=1)).replace(day=1), end=today),
        stats.Filters(start=today - timedelta(days=DAYS - 2), end=this_month - timedelta(days=1)),
    ]
    for filters in [random_filters(rng, categories) for _round in range(40)] + fixed:
        months += bool(filters.whole_months and not filters.narrowed)
        # Two or three filters at once: the city reads their combination's slice.
        combined += sum(map(bool, (filters.category_id, filters.severity, filters.source))) > 1
        # The whole city every time (its own rollups, by subdistrict), and four units.
        for kind, pk in [(stats.CITY, 0), *rng.sample(units_of(territory, history), 4)]:
            live = stats.load_unit(root, kind, pk, filters, now=now)
            rolled = stats.load_unit(root, kind, pk, filters, now=now, rollup=True)
            assert rolled.rollup and not live.rollup
            where = (kind, pk, filters)
            assert_same_figures(live.figures, rolled.figures, where)
            compared += live.figures.filed
            # The weekly trend.
            assert stats.trend(rolled, filters, now=now) == stats.trend(live, filters, now=now)
            # The child units' rankings, row by row.
            live_tables = stats.rankings(live, filters, now=now)
            rolled_tables = stats.rankings(rolled, filters, now=now)
            assert live_tables.keys() == rolled_tables.keys()
            for name, rows in live_tables.items():
                assert [(r.kind, r.pk) for r in rolled_tables[name]] == [
                    (r.kind, r.pk) for r in rows
                ]
                for a, b in zip(rows, rolled_tables[name], strict=True):
                    for key in stats.RANKING_AGGREGATES:
                        got, expected = b.figures.raw.get(key), a.figures.raw.get(key)
                        assert (got or 0) == pytest.approx(expected or 0), (where, a.name, key)
                    if b.kind == "department":
                        for key in ("returned", "dispatches_received", "tasks_due"):
                            assert getattr(b.figures, key) == getattr(a.figures, key)
    assert compared > 100  # the draws did look at issues
    assert months >= 3  # and some read monthly totals
    assert combined >= 3  # and some chose several filters


def test_the_monthly_totals_add_up_their_daily_totals(territory, history):
    """Kept by the actions alone (never rebuilt): each grid's month is its days added up."""
    from django.db.models import Sum
    from django.db.models.functions import TruncMonth

    values = [c for c in ROLLUP_VALUES if not c.endswith("_seconds_sum")]  # float sums
    key = ("subdistrict_id", "community_id", "grid_id", "department_id")

    def rows(queryset):
        return sorted(queryset.values_list(*key, "month", *values), key=str)

    months = MonthlyTotal.objects.annotate(month=F("day"))
    days = (
        DailyTotal.objects.annotate(month=TruncMonth("day"))
        .values(*key, "month")
        .annotate(**{f"sum_{c}": Sum(c) for c in values})
    )
    kept = rows(months)
    assert len({row[-len(values) - 1] for row in kept}) >= 2  # two months or more
    assert kept == sorted(days.values_list(*key, "month", *(f"sum_{c}" for c in values)), key=str)


def test_the_city_rollups_kept_by_difference_are_what_a_rebuild_writes(territory, history):
    """Kept by the actions alone (each taking its rows away and adding them back, then
    adding up the keys it touched): every subdistrict's month and every slice of the city's
    outcomes holds one row per key, none of them empty, the very rows a rebuild writes."""
    from issues.models import CityOutcome

    counts = [c for c in ROLLUP_VALUES if not c.endswith("_seconds_sum")]  # (float sums)
    tables = {
        SubdistrictMonth: (("day", "subdistrict_id", *rollups.SLICE_COLUMNS), counts),
        CityOutcome: (rollups.CITY_OUTCOME_COLUMNS[:-1], ["issues"]),
    }

    def rows(model):
        keys, values = tables[model]
        return sorted(model.objects.values_list(*keys, *values), key=str)

    kept = {model: rows(model) for model in tables}
    for model, found in kept.items():
        keys, values = tables[model]
        assert len({row[: len(keys)] for row in found}) == len(found), model  # one per key
        assert all(any(row[len(keys) :]) for row in found), model  # none empty
        # Some hold two or three filters at once.
        chosen = [keys.index(c) for c in rollups.SLICE_COLUMNS]
        assert any(sum(bool(row[i]) for i in chosen) > 1 for row in found), model
    rollups.rebuild()
    assert {model: rows(model) for model in tables} == kept


@pytest.mark.parametrize(
    "start, end, months, days",
    [
        # Within one month: its days.
        ("2026-03-05", "2026-03-20", None, [("2026-03-05", "2026-03-21")]),
        # A whole month exactly: its total alone.
        ("2026-02-01", "2026-02-28", ("2026-02-01", "2026-03-01"), []),
        # Across a year's end, with days on both sides.
        (
            "2025-11-15",
            "2026-02-03",
            ("2025-12-01", "2026-02-01"),
            [("2025-11-15", "2025-12-01"), ("2026-02-01", "2026-02-04")],
        ),
        # Starting on a month's first day, ending mid-month.
        ("2026-01-01", "2026-03-10", ("2026-01-01", "2026-03-01"), [("2026-03-01", "2026-03-11")]),
        # Two partial months and no whole one.
        ("2026-01-20", "2026-02-10", None, [("2026-01-20", "2026-02-11")]),
    ],
)
def test_a_period_reads_the_totals_of_its_whole_months_and_of_its_other_days(
    start, end, months, days
):
    from datetime import date

    filters = stats.Filters(start=date.fromisoformat(start), end=date.fromisoformat(end))
    read = {model: condition for model, condition in stats.rollup_sources(filters)}

    def bounds(condition):
        """The [low, high) day ranges of a condition built from day__gte / day__lt."""
        children = condition.children if condition.connector == "OR" else [condition]
        found = []
        for child in children:
            found.append(
                tuple(dict(child.children)[f"day__{op}"].isoformat() for op in ("gte", "lt"))
            )
        return sorted(found)

    if months is None:
        assert MonthlyTotal not in read
        assert filters.whole_months is None
    else:
        assert bounds(read[MonthlyTotal]) == [months]
    if days and months is not None:
        assert bounds(read[DailyTotal]) == days
    elif months is None:
        # The period's days, by the filters' own condition.
        assert read[DailyTotal] == filters.rollup_condition()
    else:
        assert DailyTotal not in read


def test_a_grid_moved_to_another_subdistrict_takes_its_city_rows_along(territory, people):
    """The city's rows are a subdistrict's: when a grid moves, the rows of the subdistrict
    it left are rewritten too, in every slice (each counts the issue once)."""
    from grids.units import save_unit

    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    day = rollups.local_day(issue.created_at)

    def filed():
        return {
            model.__name__: dict(
                model.objects.filter(day__gte=day.replace(day=1))
                .values("subdistrict_id")
                .annotate(n=Sum("filed"))
                .values_list("subdistrict_id", "n")
            )
            for model in (SubdistrictDay, SubdistrictMonth)
        }

    slices = len(rollups.SLICES)
    assert filed() == dict.fromkeys(filed(), {t.subdistrict.pk: slices})
    t.grid.community = t.far_grid.community
    assert save_unit(t.grid) is True
    assert filed() == dict.fromkeys(filed(), {t.other_subdistrict.pk: slices})


def test_a_rebuild_writes_what_the_workflow_kept(territory, history):
    def rows():
        found = {}
        for model in rollups.TABLES:
            columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
            columns = [c for c in columns if not c.endswith("_seconds_sum")]  # float sums
            found[model.__name__] = sorted(model.objects.values_list(*columns), key=str)
        return found

    kept = rows()
    assert all(kept.values())
    assert rollups.rebuild() == len(kept["DailyRollup"])
    assert rows() == kept


def test_the_rollup_columns_are_the_stored_figures():
    """The model's columns and the figures' definitions, tied together."""
    loop_stored = {*loop.routing_aggregates(), *loop.task_aggregates()}
    assert set(ROLLUP_COUNTS) | set(ROLLUP_SUMS) == set(stats.STORED_KEYS) | loop_stored
    assert stats.figures.MEDIAN_BUCKETS == ROLLUP_BUCKETS
    assert set(stats.LIVE_KEYS).isdisjoint(ROLLUP_COUNTS)
    assert set(rollups.COLUMNS) == {
        field.column for field in DailyRollup._meta.concrete_fields if field.column != "id"
    }


# --- kept in the same transaction -----------------------------------------------------------


def subdistrict_figures(t, user, *, rollup):
    today = timezone.localdate()
    filters = stats.Filters(start=today - timedelta(days=29), end=today)
    return stats.load_unit(user, "subdistrict", t.subdistrict.pk, filters, rollup=rollup).figures


def test_each_action_keeps_the_rollups_fresh_without_a_rebuild(territory, people):
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert (rolled.filed, rolled.open, rolled.accepted) == (1, 1, 0)
    issue = workflow.accept(issue=issue, actor=p.worker)
    assert subdistrict_figures(t, p.subdistrict_staff, rollup=True).accepted == 1
    issue = workflow.resolve(issue=issue, actor=p.worker, note="已修好")
    issue = workflow.evaluate(issue=issue, actor=p.resident, satisfaction=Satisfaction.SATISFIED)
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert (rolled.minor_closed, rolled.satisfied, rolled.open) == (1, 1, 0)
    live = subdistrict_figures(t, p.subdistrict_staff, rollup=False)
    assert_same_figures(live, rolled, "after the actions")
    # One rollup row: the day and grid of the issue.
    assert DailyRollup.objects.count() == 1


def test_a_refused_action_leaves_the_rollups_as_they_were(territory, people):
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    before = list(DailyRollup.objects.values())
    with pytest.raises(WorkflowError):
        workflow.resolve(issue=issue, actor=p.worker, note="")
    assert list(DailyRollup.objects.values()) == before


def test_the_sweep_keeps_the_rollups_of_its_batches(territory, people, rollups_follow_saves):  # noqa: F811
    t, p = territory, people
    now = timezone.now()
    for n in range(7):
        IssueFactory(
            grid=t.grid if n % 2 else t.sibling_grid, reporter=None, created_at=now - n * 6 * H,
            level_entered_at=now - 50 * H, due_at=now - H, response_due_at=now - H,
        )  # fmt: skip
    assert subdistrict_figures(t, p.subdistrict_staff, rollup=True).reached_community == 0
    run_sweep(batch_size=3)
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert rolled.reached_community == 7
    assert_same_figures(subdistrict_figures(t, p.subdistrict_staff, rollup=False), rolled, "sweep")


# --- rebuilding ------------------------------------------------------------------------------


def test_rebuild_rollups_command_mends_the_days_asked(territory, history):
    today = timezone.localdate()
    kept = DailyRollup.objects.count()
    DailyRollup.objects.update(filed=99)  # spoiled
    out = StringIO()
    call_command("rebuild_rollups", "--since", str(today), "--until", str(today), stdout=out)
    assert "Rebuilt the daily rollups" in out.getvalue()
    assert not DailyRollup.objects.filter(day=today, filed=99).exists()
    assert DailyRollup.objects.exclude(day=today).filter(filed=99).exists()
    call_command("rebuild_rollups", "--chunk-days", "7", stdout=StringIO())
    assert DailyRollup.objects.count() == kept
    assert not DailyRollup.objects.filter(filed=99).exists()


def test_rebuild_rollups_refuses_bad_dates(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--since", "2024-13-01")
    with pytest.raises(CommandError):
        call_command("rebuild_rollups", "--since", "2024-02-01", "--until", "2024-01-01")


def test_rebuild_rollups_runs_as_a_task(territory, people, settings, rollups_follow_saves):  # noqa: F811
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    IssueFactory(grid=territory.grid, reporter=None)
    DailyRollup.objects.all().delete()
    out = StringIO()
    call_command("rebuild_rollups", "--enqueue", stdout=out)
    assert "Enqueued" in out.getvalue()
    assert DailyRollup.objects.get().filed == 1
    result = rollups.rebuild_rollups_task.enqueue(str(timezone.localdate()), None)
    assert result.return_value == 1


def test_rebuild_drops_the_rows_of_issues_no_longer_there(territory, people, rollups_follow_saves):  # noqa: F811
    issue = IssueFactory(grid=territory.grid, reporter=None)
    assert DailyRollup.objects.count() == 1
    Issue.objects.filter(pk=issue.pk).delete()
    rollups.rebuild()
    assert DailyRollup.objects.count() == 0


# --- the dashboard reads them ---------------------------------------------------------------


def many_issues(t, n, category):
    now = timezone.now()
    statuses = [Status.SUBMITTED, Status.IN_PROGRESS, Status.CLOSED, Status.RESOLVED]
    grids = [t.grid, t.sibling_grid, t.cousin_grid]
    built = [
        IssueFactory.build(
            grid=grids[i % 3],
            reporter=None,
            category=category,
            status=statuses[i % 4],
            created_at=now - timedelta(hours=i % 700 + 1),
            level_entered_at=now,
            accepted_at=None if i % 4 == 0 else now - timedelta(minutes=30),
            resolved_at=now if statuses[i % 4] in (Status.CLOSED, Status.RESOLVED) else None,
            due_at=now + timedelta(hours=(i % 7) - 3),
            department=t.department if i % 5 else None,
            level=Level.SUBDISTRICT if i % 5 else Level.GRID,
        )  # fmt: skip
        for i in range(n)
    ]
    Issue.objects.bulk_create(built)
    rollups.rebuild()


@pytest.mark.parametrize("delay", [0, 30])  # rewritten in each change, or caught up later
def test_dashboard_queries_are_the_same_for_10_and_1000_issues(
    client, territory, people, settings, delay
):
    settings.ROLLUP_DELAY = delay
    t = territory
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    urls = [
        stats.unit_url(kind, pk) + query
        for kind, pk in [
            (stats.CITY, 0),
            ("subdistrict", t.subdistrict.pk),
            ("community", t.community.pk),
            ("grid", t.grid.pk),
            ("department", t.department.pk),
        ]
        for query in (
            "",
            "?start=2000-01-01&end=2001-01-01",
            f"?severity=minor&category={t.category.pk}",
        )
    ]
    many_issues(t, 10, t.category)
    few = [page_queries(client, url) for url in urls]
    many_issues(t, 990, t.category)
    many = [page_queries(client, url) for url in urls]
    assert few == many
    assert max(many) <= 10


def test_the_page_says_medians_come_from_a_histogram(client, territory, people):
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    Issue.objects.filter(pk=issue.pk).update(created_at=timezone.now() - 5 * H)
    rollups.refresh_issues([issue.pk])
    workflow.accept(issue=issue, actor=p.worker)
    client.force_login(p.worker)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("dashboard_unit", args=["grid", t.grid.pk])).text
    card = html.split('data-figure="accept_hours_median"')[1].split("</p>")[0]
    assert "(between 4 and 6 h)" in card
    assert "read from a histogram of the durations" in html
    # A person's page is counted live: exact medians.
    html = client.get(reverse("dashboard_unit", args=["worker", p.worker.pk])).text
    card = html.split('data-figure="accept_hours_median"')[1].split("</p>")[0]
    assert "between" not in card and "5.0 h" in card


# --- two transactions on one key (PostgreSQL) -------------------------------------------------


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_two_transactions_on_one_key_leave_no_stale_row(territory, people):
    """The second refresh of a key waits for the first transaction to commit, then sees its
    change: the rollup counts both acceptances, as the live figures do."""
    import threading
    import time

    from django.db import connection as default_connection
    from django.db import transaction

    t, p = territory, people
    first, second = (
        workflow.file_issue(
            actor=p.resident,
            source=Source.RESIDENT,
            category=t.category,
            title=f"路灯{n}",
            description="楼下路灯坏了",
            grid=t.grid,
        )  # fmt: skip
        for n in range(2)
    )
    assert rollups.key_of(first) == rollups.key_of(second)
    refreshed = threading.Event()
    errors = []

    def slow_first():
        try:
            with transaction.atomic():
                workflow.accept(issue=first, actor=p.worker)  # holds the key's lock
                refreshed.set()
                time.sleep(0.5)  # the other transaction refreshes meanwhile
        except Exception as error:  # reported below
            errors.append(error)
            refreshed.set()
        finally:
            default_connection.close()

    def second_meanwhile():
        try:
            refreshed.wait(5)
            workflow.accept(issue=second, actor=p.worker2)
        except Exception as error:
            errors.append(error)
        finally:
            default_connection.close()

    threads = [threading.Thread(target=f) for f in (slow_first, second_meanwhile)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert rolled.accepted == 2
    assert_same_figures(subdistrict_figures(t, p.subdistrict_staff, rollup=False), rolled, "both")


# --- with a delay: changes noted, then caught up off the request ---------------------------------

CATCH_UP_TASK = "issues.rollups.catch_up_task"


def test_with_a_delay_a_change_is_noted_and_the_catch_up_counts_it(territory, people, settings):
    settings.ROLLUP_DELAY = 30
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    workflow.accept(issue=issue, actor=p.worker)
    # The actions wrote a note each, not the rollups.
    assert not DailyRollup.objects.exists()
    assert list(PendingRollup.objects.values_list("day", "grid_id")) == [rollups.key_of(issue)] * 2
    assert rollups.lag() is not None
    assert rollups.catch_up() == 1  # one grid-day, however many notes
    assert not PendingRollup.objects.exists() and rollups.lag() is None
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert (rolled.filed, rolled.accepted) == (1, 1)
    live = subdistrict_figures(t, p.subdistrict_staff, rollup=False)
    assert_same_figures(live, rolled, "caught up")
    assert rollups.catch_up() == 0


def test_noting_a_batch_of_keys_is_one_statement_that_keeps_each_key(
    territory, settings, django_assert_num_queries
):
    # A sweep batch notes thousands of grid-days at once: one INSERT, however many.
    settings.ROLLUP_DELAY = 30
    t = territory
    today = timezone.localdate()
    keys = [
        (today - timedelta(days=n), grid.pk)
        for n in range(400)
        for grid in (t.grid, t.sibling_grid)
    ]
    before = timezone.now()
    with django_assert_num_queries(1):
        rollups.changed([*keys, *keys[:50]])  # a key named twice is noted once
    noted = list(PendingRollup.objects.values_list("day", "grid_id", "noted_at"))
    assert sorted((day, grid) for day, grid, _at in noted) == sorted(keys)
    assert {at for _day, _grid, at in noted} == {noted[0][2]}
    assert before <= noted[0][2] <= timezone.now()
    assert rollups.lag() == noted[0][2]


def test_the_catch_up_takes_its_notes_a_chunk_at_a_time(territory, people, settings, monkeypatch):
    settings.ROLLUP_DELAY = 30
    t, p = territory, people
    now = timezone.now()
    for n in range(5):  # five days of one grid, five of another
        for grid in (t.grid, t.sibling_grid):
            issue = workflow.file_issue(
                actor=p.resident, source=Source.RESIDENT, category=t.category, title=f"路灯{n}",
                description="楼下路灯坏了", grid=grid,
            )  # fmt: skip
            Issue.objects.filter(pk=issue.pk).update(created_at=now - n * 24 * H)
    rollups.changed_rows(Issue.objects.values("created_at", "grid_id"))
    assert PendingRollup.objects.count() == 10 + 10  # the filings' notes and the moves'
    # Chunks of 3 notes: a grid-day whose notes span two chunks is rewritten twice.
    chunks, refresh = [], rollups.refresh
    monkeypatch.setattr(rollups, "refresh", lambda keys: [chunks.append(keys), refresh(keys)])
    assert rollups.catch_up(rows_per_transaction=3) >= 10
    assert not PendingRollup.objects.exists()
    # Day by day, oldest first (the notes were written newest first): a chunk touches
    # neighbouring days and months, not the whole span of the notes.
    assert len(chunks) == 7
    for chunk, after in itertools.pairwise(chunks):
        assert max(day for day, _grid in chunk) <= min(day for day, _grid in after)
    today = timezone.localdate()
    filters = stats.Filters(start=today - timedelta(days=9), end=today)
    rolled = stats.load_unit(
        p.subdistrict_staff, "subdistrict", t.subdistrict.pk, filters, rollup=True
    )
    live = stats.load_unit(
        p.subdistrict_staff, "subdistrict", t.subdistrict.pk, filters, rollup=False
    )
    assert rolled.figures.filed == 10
    assert_same_figures(live.figures, rolled.figures, "chunks")


def test_the_sweep_catches_up_at_the_end_of_its_round(territory, people, settings):
    settings.ROLLUP_DELAY = 30
    t, p = territory, people
    now = timezone.now()
    for n in range(5):
        IssueFactory(
            grid=t.grid, reporter=None, created_at=now - n * 6 * H,
            level_entered_at=now - 50 * H, due_at=now - H, response_due_at=now - H,
        )  # fmt: skip
    result = run_sweep(batch_size=2, catch_up=False)
    assert result.escalated == 5 and result.caught_up == 0
    assert PendingRollup.objects.exists()
    assert subdistrict_figures(t, p.subdistrict_staff, rollup=True).reached_community == 0
    result = run_sweep()
    assert result.escalated == 0 and result.caught_up >= 1
    assert "dashboard figures updated" in str(result)
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert rolled.reached_community == 5
    assert_same_figures(subdistrict_figures(t, p.subdistrict_staff, rollup=False), rolled, "sweep")


@pytest.mark.django_db(transaction=True)
def test_changes_ask_for_one_delayed_catch_up_task_and_the_worker_runs_it(
    territory, people, settings, django_capture_on_commit_callbacks
):
    from django.core.cache import cache
    from django_tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from tests.test_tasks import DATABASE_BACKEND, work

    settings.ROLLUP_DELAY = 30
    settings.TASKS = DATABASE_BACKEND
    cache.delete(rollups.SCHEDULED)
    t, p = territory, people
    with django_capture_on_commit_callbacks(execute=True):
        issue = workflow.file_issue(
            actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
            description="楼下路灯坏了", grid=t.grid,
        )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=p.worker)
    (asked,) = DBTaskResult.objects.filter(task_path=CATCH_UP_TASK)  # one for both changes
    assert asked.run_after > timezone.now() + timedelta(seconds=20)
    work()  # not yet due
    assert not DailyRollup.objects.exists()
    DBTaskResult.objects.filter(pk=asked.pk).update(run_after=timezone.now())
    work()
    asked.refresh_from_db()
    assert asked.status == TaskResultStatus.SUCCESSFUL and asked.return_value == 1
    assert subdistrict_figures(t, p.subdistrict_staff, rollup=True).accepted == 1
    assert not PendingRollup.objects.exists()
    cache.delete(rollups.SCHEDULED)


def test_the_dashboard_says_when_its_figures_fall_behind(client, territory, people, settings):
    settings.ROLLUP_DELAY = 30
    t, p = territory, people
    workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    client.force_login(p.subdistrict_staff)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    url = reverse("dashboard_unit", args=["subdistrict", t.subdistrict.pk])
    html = client.get(url).text
    assert "within about 30 seconds of every change" in html
    assert "not counted yet" not in html  # noted a moment ago: within the delay
    PendingRollup.objects.update(noted_at=timezone.now() - timedelta(minutes=5))
    html = client.get(url).text
    assert "are not counted yet: the task worker or the sweep is not keeping up" in html
    rollups.catch_up()
    assert "not counted yet" not in client.get(url).text


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_still_uncommitted_during_a_catch_up_is_caught_up_the_next_time(
    territory, people, settings
):
    import threading

    from django.db import connection as default_connection
    from django.db import transaction

    settings.ROLLUP_DELAY = 30
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    noted, go_on = threading.Event(), threading.Event()
    errors = []

    def accept_slowly():
        try:
            with transaction.atomic():
                workflow.accept(issue=issue, actor=p.worker)
                noted.set()
                go_on.wait(10)  # the catch-up runs meanwhile
        except Exception as error:  # reported below
            errors.append(error)
            noted.set()
        finally:
            default_connection.close()

    thread = threading.Thread(target=accept_slowly)
    thread.start()
    noted.wait(10)
    assert rollups.catch_up() == 1  # the filing's note; the acceptance's is not visible
    go_on.set()
    thread.join(10)
    assert not errors
    assert subdistrict_figures(t, p.subdistrict_staff, rollup=True).accepted == 0
    assert PendingRollup.objects.count() == 1  # the acceptance's note is still there
    assert rollups.catch_up() == 1
    rolled = subdistrict_figures(t, p.subdistrict_staff, rollup=True)
    assert rolled.accepted == 1
    assert_same_figures(subdistrict_figures(t, p.subdistrict_staff, rollup=False), rolled, "later")


@pytest.mark.django_db(transaction=True)
def test_the_city_slices_migrate_back_and_forth(territory, people):
    """Going back before the slices leaves the whole slice's rows alone (the others go
    before their columns), and coming back fills the slices again as they were."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from issues.models import CityOutcome

    t, p = territory, people
    for category in (t.category, CategoryFactory(name="噪音扰民")):
        workflow.file_issue(
            actor=p.resident, source=Source.RESIDENT, category=category, title="路灯不亮",
            description="楼下路灯坏了", grid=t.grid,
        )  # fmt: skip
    rollups.rebuild()
    city_tables = (SubdistrictDay, SubdistrictMonth, CityOutcome)

    def rows():
        return {
            model.__name__: sorted(
                model.objects.values_list(
                    *(f.column for f in model._meta.concrete_fields if f.column != "id")
                ),
                key=str,
            )
            for model in city_tables
        }

    kept = rows()
    assert all(kept.values())

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([("issues", target)])
        return executor.loader.project_state([("issues", target)]).apps

    try:
        apps = migrate("0027_city_rollups")
        day = apps.get_model("issues", "SubdistrictDay")
        assert day.objects.aggregate(n=Sum("filed"))["n"] == 2  # the whole, once
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("issues")[0][1])
    assert rows() == kept
