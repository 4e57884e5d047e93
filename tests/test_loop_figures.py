"""The closed loop's figures (issues.stats) against values worked out by hand: returns and
sub-tasks per department, extensions, satisfaction by channel, supervision, and the
resolved issues left unverified too long. The issues go through ``issues.workflow``; only
the passing of time (a sub-task's due time, an old resolution) is written on the rows."""

from datetime import timedelta

import pytest
from django.utils import timezone

from issues import stats, workflow
from issues.models import (
    IssueEvent,
    IssueTask,
    ReturnReason,
    Satisfaction,
    Source,
    Status,
)
from tests.factories import DepartmentFactory, IssueFactory, issue_at, staff_on

H = timedelta(hours=1)


@pytest.fixture
def period():
    today = timezone.localdate()
    return stats.Filters(start=today - timedelta(days=29), end=today)


def _reason():
    return ReturnReason.objects.get_or_create(name="不属于本部门职责")[0]


@pytest.fixture
def routing(territory, people):
    """Dispatches, returns and sub-tasks in the subdistrict. ``department`` (城管) and
    ``housing`` (住建) serve it; the comments say what each step counts."""
    t, p = territory, people
    housing = DepartmentFactory(subdistrict=t.subdistrict, name="住建")
    housing_staff = staff_on(housing, username="housing")
    boss = p.subdistrict_staff
    # X1: to 城管, which returns it; then to 住建, which keeps it.
    # 城管 1 dispatch, 1 return; 住建 1 dispatch.
    x1 = issue_at(t, "subdistrict", reporter=p.resident)
    workflow.dispatch(issue=x1, actor=boss, department=t.department)
    workflow.return_dispatch(issue=x1, actor=p.department_staff, reason=_reason())
    workflow.dispatch(issue=x1, actor=boss, department=housing)
    # X2: to 城管, which keeps it. 城管 2 dispatches.
    x2 = issue_at(t, "subdistrict", reporter=p.resident)
    workflow.dispatch(issue=x2, actor=boss, department=t.department)
    # X3: joint, 城管 leads (3 dispatches), 住建 co-handles and is done on time; 城管's
    # sub-task is past its due time, still open: late.
    x3 = issue_at(t, "subdistrict", reporter=p.resident)
    workflow.dispatch_joint(
        issue=x3, actor=boss, lead=t.department, co_handlers=[housing], instruction="联合整治"
    )
    task = IssueTask.objects.get(issue=x3, department=housing)
    workflow.complete_task(issue=x3, actor=housing_staff, task=task, note="已整改")
    IssueTask.objects.filter(issue=x3, department=t.department).update(due_at=timezone.now() - H)
    # X4: joint, 住建 leads (2 dispatches), 城管 co-handles and is done after its due time
    # (late); then 住建 returns it (1 return), which cancels its own sub-task (left out).
    x4 = issue_at(t, "subdistrict", reporter=p.resident)
    workflow.dispatch_joint(
        issue=x4, actor=boss, lead=housing, co_handlers=[t.department], instruction="联合整治"
    )
    IssueTask.objects.filter(issue=x4, department=t.department).update(due_at=timezone.now() - H)
    task = IssueTask.objects.get(issue=x4, department=t.department)
    workflow.complete_task(issue=x4, actor=p.department_staff, task=task, note="已清理")
    workflow.return_dispatch(issue=x4, actor=housing_staff, reason=_reason())
    # X5: dispatched to 城管 before the event kept the department's id (its name only):
    # 城管 4 dispatches.
    x5 = issue_at(t, "department", reporter=p.resident)
    IssueEvent.objects.create(
        issue=x5, actor=boss, kind=IssueEvent.Kind.DISPATCHED, to_status=Status.SUBMITTED,
        to_level=x5.level, data={"department": t.department.name},
    )  # fmt: skip
    # Outside: filed before the period (dispatched and returned), and another subdistrict.
    old = issue_at(t, "subdistrict", reporter=p.resident)
    old.created_at = timezone.now() - timedelta(days=40)
    old.save(update_fields=["created_at"])
    workflow.dispatch(issue=old, actor=boss, department=t.department)
    workflow.return_dispatch(issue=old, actor=p.department_staff, reason=_reason())
    far = issue_at(t, "subdistrict", grid=t.far_grid, reporter=p.resident)
    workflow.dispatch(issue=far, actor=p.far_staff, department=t.other_department)
    return housing


def test_returns_and_sub_tasks_per_department(territory, people, routing, period):
    t, p = territory, people
    city = stats.load_unit(p.department_staff, "department", t.department.pk, period).figures
    assert (city.returned, city.dispatches_received) == (1, 4)
    assert city.return_rate == pytest.approx(25.0)
    assert (city.tasks_on_time, city.tasks_due) == (0, 2)
    assert city.task_on_time_rate == pytest.approx(0.0)
    housing = stats.load_unit(p.subdistrict_staff, "department", routing.pk, period).figures
    assert (housing.returned, housing.dispatches_received) == (1, 2)
    assert (housing.tasks_on_time, housing.tasks_due) == (1, 1)
    assert housing.task_on_time_rate == pytest.approx(100.0)
    # The subdistrict: all its departments together.
    whole = stats.load_unit(p.subdistrict_staff, "subdistrict", t.subdistrict.pk, period)
    assert (whole.figures.returned, whole.figures.dispatches_received) == (2, 6)
    assert (whole.figures.tasks_on_time, whole.figures.tasks_due) == (1, 3)
    # The department ranking: one row each, the same counts as the department's own page.
    rows = {r.name: r.figures for r in stats.rankings(whole, period)["departments"]}
    assert (rows["城管"].returned, rows["城管"].dispatches_received) == (1, 4)
    assert (rows["城管"].tasks_on_time, rows["城管"].tasks_due) == (0, 2)
    assert (rows["住建"].returned, rows["住建"].dispatches_received) == (1, 2)
    assert rows["住建"].task_on_time_rate == pytest.approx(100.0)
    # Another subdistrict's department is counted there only.
    far = stats.load_unit(p.far_staff, "department", t.other_department.pk, period).figures
    assert (far.returned, far.dispatches_received, far.tasks_due) == (0, 1, 0)


def test_the_period_and_filters_read_the_issues_filed(territory, people, routing, period):
    t, p = territory, people
    wider = stats.Filters(start=period.start - timedelta(days=30), end=period.end)
    city = stats.load_unit(p.department_staff, "department", t.department.pk, wider).figures
    # The issue filed before the period comes in with its dispatch and its return.
    assert (city.returned, city.dispatches_received) == (2, 5)
    other = stats.Filters(start=period.start, end=period.end, source=Source.HOTLINE)
    city = stats.load_unit(p.department_staff, "department", t.department.pk, other).figures
    assert (city.returned, city.dispatches_received, city.tasks_due) == (0, 0, 0)
    assert city.return_rate is None and city.task_on_time_rate is None


def test_no_dispatch_gives_no_return_rate(territory, people, period):
    f = stats.load_unit(
        people.department_staff, "department", territory.department.pk, period
    ).figures
    assert (f.dispatches_received, f.returned, f.tasks_due) == (0, 0, 0)
    assert f.return_rate is None and f.task_on_time_rate is None


def test_extensions_granted_and_pending(territory, people, period):
    t, p = territory, people
    until = timezone.localdate() + timedelta(days=10)

    def asked(actor=p.worker, **fields):
        issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident, **fields)
        return workflow.request_extension(issue=issue, actor=actor, until=until, reason="等材料")

    asked()  # pending
    workflow.approve_extension(issue=asked(), actor=p.community_staff)  # granted
    workflow.refuse_extension(issue=asked(), actor=p.community_staff, reason="无需延期")
    # Pending, but resolved since: nothing left to extend.
    workflow.resolve(issue=asked(), actor=p.worker, note="已修复")
    # Pending in the other community.
    asked(actor=staff_on(t.cousin_grid, username="cousinworker"), grid=t.cousin_grid)
    issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)  # never asked
    grid = stats.load_unit(p.worker, "grid", t.grid.pk, period).figures
    assert (grid.extended, grid.extension_pending) == (1, 1)
    whole = stats.load_unit(p.subdistrict_staff, "subdistrict", t.subdistrict.pk, period)
    assert (whole.figures.extended, whole.figures.extension_pending) == (1, 2)
    rows = {r.pk: r.figures for r in stats.rankings(whole, period)["ranking"]}
    assert (rows[t.community.pk].extended, rows[t.community.pk].extension_pending) == (1, 1)
    assert rows[t.other_community.pk].extension_pending == 1


def test_satisfaction_by_channel(territory, people, period):
    t, p = territory, people

    def resolved(**fields):
        return issue_at(t, "grid", status=Status.RESOLVED, resolved_by=p.worker, **fields)

    def called(**fields):
        return resolved(
            source=Source.HOTLINE, reporter=None, caller_name="李先生",
            caller_phone="13800138000", **fields,
        )  # fmt: skip

    # Online: one satisfied, one dissatisfied (reopened): 1 of 2.
    workflow.evaluate(
        issue=resolved(reporter=p.resident), actor=p.resident, satisfaction="satisfied"
    )
    workflow.evaluate(
        issue=resolved(reporter=p.resident),
        actor=p.resident,
        satisfaction=Satisfaction.DISSATISFIED,
        reason="还是不亮",
    )
    # Call-back: satisfied, basically satisfied, dissatisfied (reopened): 2 of 3; an
    # unanswered call is no evaluation.
    staff = p.community_staff
    workflow.callback(issue=called(), actor=staff, outcome=Satisfaction.SATISFIED)
    workflow.callback(issue=called(), actor=staff, outcome=Satisfaction.BASICALLY_SATISFIED)
    workflow.callback(
        issue=called(), actor=staff, outcome=Satisfaction.DISSATISFIED, said="没人来修"
    )
    workflow.callback(issue=called(), actor=staff, outcome=workflow.UNREACHABLE)
    f = stats.load_unit(p.worker, "grid", t.grid.pk, period).figures
    assert (f.satisfied_online, f.evaluated_online + f.reopens_online) == (1, 2)
    assert f.satisfaction_online_rate == pytest.approx(50.0)
    assert (f.satisfied_callback, f.evaluated_callback + f.reopens_callback) == (2, 3)
    assert f.satisfaction_callback_rate == pytest.approx(200 / 3)
    # The overall rate counts both channels, and only them.
    assert (f.satisfied, f.evaluations) == (3, 5)
    assert f.satisfaction_rate == pytest.approx(60.0)


def test_supervised_and_resolved_after_supervision(territory, people, period):
    t, p = territory, people
    # Supervised with a note, then resolved: counted.
    first = issue_at(t, "community", status=Status.IN_PROGRESS, reporter=p.resident)
    workflow.supervise_note(issue=first, actor=p.subdistrict_staff, note="三日内办结")
    workflow.resolve(issue=first, actor=p.community_staff, note="已办结")
    # Supervised, still running: not (yet).
    second = issue_at(t, "community", status=Status.IN_PROGRESS, reporter=p.resident)
    workflow.supervise_note(issue=second, actor=p.subdistrict_staff, note="加快办理")
    # Resolved before the supervision it carries (the sweep's flag, then a reopen and a
    # new resolution would move it): not after; and an old flag without its time: not
    # known, so not counted.
    now = timezone.now()
    issue_at(
        t, "subdistrict", status=Status.CLOSED, reporter=None, is_supervised=True,
        supervised_at=now - H, resolved_at=now - 2 * H,
    )  # fmt: skip
    issue_at(
        t, "subdistrict", status=Status.CLOSED, reporter=None, is_supervised=True,
        resolved_at=now - H,
    )  # fmt: skip
    f = stats.load_unit(p.subdistrict_staff, "subdistrict", t.subdistrict.pk, period).figures
    assert (f.supervised, f.supervised_resolved) == (4, 1)
    first.refresh_from_db()
    assert first.supervised_at is not None and first.resolved_at > first.supervised_at


def test_resolved_issues_left_unverified_too_long(territory, people, period, settings):
    t, p = territory, people
    settings.UNVERIFIED_DAYS = 3
    now = timezone.now()

    def resolved(days, **fields):
        values = dict(
            status=Status.RESOLVED, source=Source.PATROL, reporter=p.worker2,
            resolved_by=p.worker, resolved_at=now - timedelta(days=days),
        )  # fmt: skip
        values.update(fields)
        return issue_at(t, "grid", **values)

    oldest = resolved(6, title="井盖缺失")
    hotline = resolved(4, source=Source.HOTLINE, reporter=None, caller_phone="13800138000")
    resolved(1)  # not yet
    resolved(5, source=Source.RESIDENT, reporter=p.resident)  # the resident evaluates
    resolved(5, grid=t.far_grid)  # another subdistrict
    unit = stats.load_unit(p.community_staff, "community", t.community.pk, period)
    assert unit.figures.unverified_stale == 2
    assert [row["tracking_number"] for row in unit.unverified] == [
        oldest.tracking_number,
        hotline.tracking_number,
    ]
    assert unit.unverified[0]["title"] == "井盖缺失"
    assert abs(unit.unverified[0]["resolved_at"] - oldest.resolved_at) < timedelta(seconds=1)
    # The same rule as the sweep's list, in the unit.
    from issues.sweep import stale_unverified

    assert {i.pk for i in stale_unverified(now).filter(community=t.community)} == {
        oldest.pk,
        hotline.pk,
    }
    # A longer wait allowed: only the oldest is left.
    settings.UNVERIFIED_DAYS = 5
    unit = stats.load_unit(p.community_staff, "community", t.community.pk, period)
    assert unit.figures.unverified_stale == 1
    # A person's page lists those they handle, as the viewer sees them.
    worker = stats.load_unit(p.worker, "worker", p.worker.pk, period)
    assert worker.figures.unverified_stale == 1
    assert [row["pk"] for row in worker.unverified] == [oldest.pk]


def test_the_list_of_unverified_issues_is_short_and_the_count_whole(
    territory, people, period, settings
):
    settings.UNVERIFIED_DAYS = 3
    now = timezone.now()
    for n in range(stats.UNVERIFIED_LIST_ROWS + 3):
        IssueFactory(
            grid=territory.grid, status=Status.RESOLVED, source=Source.PATROL,
            reporter=people.worker2, resolved_by=people.worker,
            resolved_at=now - timedelta(days=4, minutes=n), created_at=now - timedelta(days=5),
        )  # fmt: skip
    unit = stats.load_unit(people.worker, "grid", territory.grid.pk, period)
    assert unit.figures.unverified_stale == stats.UNVERIFIED_LIST_ROWS + 3
    assert len(unit.unverified) == stats.UNVERIFIED_LIST_ROWS
    times = [row["resolved_at"] for row in unit.unverified]
    assert times == sorted(times)
