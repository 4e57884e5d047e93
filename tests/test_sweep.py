"""The deadline sweep (DESIGN.md §5): set-based, one level per run, idempotent."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import choices, workflow
from issues.models import Issue, IssueEvent, Level, Severity, SlaUnit, Source, Status
from issues.sweep import run_sweep
from tests.factories import IssueFactory

K = IssueEvent.Kind


@pytest.fixture
def now():
    return timezone.now()


def issue(t, p, *, now, status=Status.SUBMITTED, level=Level.GRID, overdue=True, **fields):
    """An issue in ``t.grid`` whose deadline passed an hour before ``now`` (or is ahead)."""
    values = dict(
        grid=t.grid,
        category=t.category,
        reporter=p.resident,
        source=Source.RESIDENT,
        status=status,
        level=level,
        due_at=now + timedelta(hours=-1 if overdue else 3),
        level_entered_at=now - timedelta(hours=49),
    )
    if status in (Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED):
        values.update(assignee=p.worker, accepted_at=now - timedelta(hours=48))
    if status == Status.SUSPENDED:
        values["suspended_at"] = now - timedelta(hours=2)
    if status in (Status.RESOLVED, Status.CLOSED):
        values.update(resolved_at=now - timedelta(hours=1), resolved_by=p.worker)
    if status in (Status.CLOSED, Status.REJECTED):
        values["closed_at"] = now - timedelta(minutes=30)
    values.update(fields)
    return IssueFactory(**values)


def row(obj) -> dict:
    return Issue.objects.filter(pk=obj.pk).values().get()


def test_escalates_overdue_issues_one_level(territory, people, now):
    t, p = territory, people
    submitted = issue(t, p, now=now, severity=Severity.URGENT)
    in_progress = issue(t, p, now=now, status=Status.IN_PROGRESS, escalation_count=0)
    at_community = issue(t, p, now=now, level=Level.COMMUNITY, severity=Severity.DIFFICULT)

    result = run_sweep(now=now)

    assert (result.escalated, result.supervised, result.closed) == (3, 0, 0)
    for obj, from_status, from_level, to_level in [
        (submitted, Status.SUBMITTED, Level.GRID, Level.COMMUNITY),
        (in_progress, Status.IN_PROGRESS, Level.GRID, Level.COMMUNITY),
        (at_community, Status.SUBMITTED, Level.COMMUNITY, Level.SUBDISTRICT),
    ]:
        obj.refresh_from_db()
        assert (obj.status, obj.level) == (Status.SUBMITTED, to_level)
        assert obj.assignee is None
        # The new level's clock from now, in hours or working days as its policy says.
        assert obj.due_at == workflow.due_after(severity=obj.severity, level=to_level, start=now)
        assert obj.level_entered_at == now
        assert obj.escalation_count == 1
        assert not obj.is_supervised
        event = obj.events.get()
        assert event.kind == K.ESCALATED
        assert event.actor is None
        assert (event.from_status, event.to_status) == (from_status, Status.SUBMITTED)
        assert (event.from_level, event.to_level) == (from_level, to_level)
        assert event.created_at == now


def test_one_level_per_run_however_late(territory, people, now):
    t, p = territory, people
    ancient = issue(t, p, now=now, due_at=now - timedelta(days=60))
    run_sweep(now=now)
    ancient.refresh_from_db()
    assert ancient.level == Level.COMMUNITY
    assert ancient.due_at == workflow.due_after(
        severity=Severity.MINOR, level=Level.COMMUNITY, start=now
    )
    # Just before the community's deadline nothing moves ...
    assert run_sweep(now=ancient.due_at - timedelta(minutes=1)).escalated == 0
    # ... and when it passes too, the next run climbs one more level.
    later = ancient.due_at + timedelta(minutes=1)
    assert run_sweep(now=later).escalated == 1
    ancient.refresh_from_db()
    assert ancient.level == Level.SUBDISTRICT
    assert ancient.escalation_count == 2
    assert [e.to_level for e in ancient.events.all()] == [Level.COMMUNITY, Level.SUBDISTRICT]


def test_second_run_changes_nothing(territory, people, now):
    t, p = territory, people
    issues = [
        issue(t, p, now=now),
        issue(t, p, now=now, status=Status.IN_PROGRESS, level=Level.COMMUNITY),
        issue(t, p, now=now, level=Level.SUBDISTRICT),
        issue(t, p, now=now, status=Status.RESOLVED, resolved_at=now - timedelta(days=8)),
    ]
    first = run_sweep(now=now)
    assert (first.escalated, first.supervised, first.closed) == (2, 1, 1)
    rows = [row(i) for i in issues]
    events = IssueEvent.objects.count()

    again = run_sweep(now=now + timedelta(seconds=30))

    assert (again.escalated, again.supervised, again.closed) == (0, 0, 0)
    assert [row(i) for i in issues] == rows
    assert IssueEvent.objects.count() == events


def test_leaves_alone_what_it_must_not_touch(territory, people, now):
    t, p = territory, people
    untouched = [
        issue(t, p, now=now, overdue=False),  # not due yet
        issue(t, p, now=now, status=Status.IN_PROGRESS, overdue=False),
        issue(t, p, now=now, status=Status.SUSPENDED),  # the clock is stopped
        issue(t, p, now=now, status=Status.SUSPENDED, level=Level.SUBDISTRICT),
        issue(t, p, now=now, status=Status.RESOLVED),  # resolved an hour ago
        issue(t, p, now=now, status=Status.RESOLVED, resolved_at=now - timedelta(days=6)),
        issue(t, p, now=now, status=Status.CLOSED),
        issue(t, p, now=now, status=Status.REJECTED),
        issue(t, p, now=now, level=Level.SUBDISTRICT, is_supervised=True),  # flagged before
    ]
    rows = [row(i) for i in untouched]

    result = run_sweep(now=now)

    assert (result.escalated, result.supervised, result.closed) == (0, 0, 0)
    assert [row(i) for i in untouched] == rows
    assert not IssueEvent.objects.exists()


def test_supervises_issues_overdue_at_the_subdistrict_once(territory, people, now):
    t, p = territory, people
    top = issue(t, p, now=now, status=Status.IN_PROGRESS, level=Level.SUBDISTRICT)
    dispatched = issue(t, p, now=now, level=Level.SUBDISTRICT, department=t.department)
    # Escalated to the subdistrict in this very run: it has a fresh deadline, no flag yet.
    arriving = issue(t, p, now=now, level=Level.COMMUNITY)

    result = run_sweep(now=now)

    assert (result.escalated, result.supervised) == (1, 2)
    for obj, status in [(top, Status.IN_PROGRESS), (dispatched, Status.SUBMITTED)]:
        obj.refresh_from_db()
        assert obj.is_supervised
        assert (obj.status, obj.level) == (status, Level.SUBDISTRICT)
        event = obj.events.get()
        assert (event.kind, event.actor) == (K.SUPERVISED, None)
        assert (event.from_status, event.to_status) == (status, status)
        assert event.from_level == event.to_level == Level.SUBDISTRICT
    top.refresh_from_db()
    assert top.assignee == p.worker  # supervision changes nobody's work, only the flag
    arriving.refresh_from_db()
    assert (arriving.level, arriving.is_supervised) == (Level.SUBDISTRICT, False)

    assert run_sweep(now=now + timedelta(minutes=1)).supervised == 0
    assert top.events.count() == 1
    assert dispatched.events.count() == 1


def test_closes_resolved_issues_left_unevaluated_for_seven_days(territory, people, now):
    t, p = territory, people
    stale = issue(t, p, now=now, status=Status.RESOLVED, resolved_at=now - timedelta(days=8))
    volunteer = issue(
        t, p, now=now, status=Status.RESOLVED, source=Source.VOLUNTEER,
        resolved_at=now - timedelta(days=7, minutes=1),
    )  # fmt: skip
    # Nobody will evaluate these: a second staff member verifies them instead.
    patrol = issue(
        t, p, now=now, status=Status.RESOLVED, source=Source.PATROL, reporter=p.worker,
        resolved_at=now - timedelta(days=30),
    )  # fmt: skip
    hotline = issue(
        t, p, now=now, status=Status.RESOLVED, source=Source.HOTLINE, reporter=None,
        resolved_at=now - timedelta(days=30),
    )  # fmt: skip
    # Filed through the resident form by the worker who then resolved it (or by a
    # colleague): nobody rates their own work, so it waits for verification too.
    own = issue(
        t, p, now=now, status=Status.RESOLVED, reporter=p.worker,
        resolved_at=now - timedelta(days=30),
    )  # fmt: skip
    colleague = issue(
        t, p, now=now, status=Status.RESOLVED, reporter=p.worker2,
        resolved_at=now - timedelta(days=30),
    )  # fmt: skip
    patrol_row, hotline_row = row(patrol), row(hotline)
    own_row, colleague_row = row(own), row(colleague)

    result = run_sweep(now=now)

    assert result.closed == 2
    assert (row(own), row(colleague)) == (own_row, colleague_row)
    for obj in (stale, volunteer):
        obj.refresh_from_db()
        assert obj.status == Status.CLOSED
        assert obj.satisfaction == ""
        assert obj.closed_at == now
        event = obj.events.get()
        assert (event.kind, event.actor) == (K.AUTO_CLOSED, None)
        assert (event.from_status, event.to_status) == (Status.RESOLVED, Status.CLOSED)
    assert (row(patrol), row(hotline)) == (patrol_row, hotline_row)
    assert not patrol.events.exists() and not hotline.events.exists()


def test_small_batches_still_escalate_each_issue_once(territory, people, now):
    t, p = territory, people
    issues = [issue(t, p, now=now, due_at=now - timedelta(minutes=i + 1)) for i in range(10)]
    assert run_sweep(now=now, batch_size=3).escalated == 10
    assert {row(i)["level"] for i in issues} == {Level.COMMUNITY}
    assert IssueEvent.objects.filter(kind=K.ESCALATED).count() == 10


def test_sla_policy_edits_apply_to_the_sweep(territory, people, now):
    from issues.models import SlaPolicy

    t, p = territory, people
    SlaPolicy.objects.update_or_create(
        severity=Severity.MINOR,
        level=Level.COMMUNITY,
        defaults={"unit": SlaUnit.HOURS, "amount": 3},
    )
    obj = issue(t, p, now=now)
    run_sweep(now=now)
    obj.refresh_from_db()
    assert obj.due_at == now + timedelta(hours=3)


def _overdue_in_bulk(t, p, n, now):
    Issue.objects.bulk_create(
        IssueFactory.build(
            grid=t.grid,
            category=t.category,
            reporter=p.resident,
            due_at=now - timedelta(minutes=1 + i % 500),
            level_entered_at=now - timedelta(hours=50),
        )
        for i in range(n)
    )


def _sweep_statements(now):
    with CaptureQueriesContext(connection) as ctx:
        result = run_sweep(now=now)
    event_table = IssueEvent._meta.db_table
    inserts = [
        q
        for q in ctx.captured_queries
        if q["sql"].startswith((f'INSERT INTO "{event_table}"', f"INSERT INTO {event_table}"))
    ]
    return result, len(ctx.captured_queries) - len(inserts), len(inserts)


def test_query_count_does_not_grow_with_the_number_of_overdue_issues(territory, people, now):
    t, p = territory, people
    choices.sla_policies()  # steady state: the deadlines come from the cache
    _overdue_in_bulk(t, p, 10, now)
    result, other_10, inserts_10 = _sweep_statements(now)
    assert result.escalated == 10

    _overdue_in_bulk(t, p, 1000, now)  # the first ten are no longer overdue
    result, other_1000, inserts_1000 = _sweep_statements(now)
    assert result.escalated == 1000

    assert other_1000 == other_10
    # The events of a batch go in one INSERT … SELECT, on every database.
    assert inserts_10 == inserts_1000 == 1
    assert Issue.objects.filter(level=Level.COMMUNITY).count() == 1010
    assert IssueEvent.objects.filter(kind=K.ESCALATED).count() == 1010


def test_with_its_notifications_the_sweep_runs_as_many_queries_for_1000_as_for_10(
    territory, people, now, django_capture_on_commit_callbacks
):
    """The notifications included: the community's staff hear of a run's arrivals in one
    digest each, and each resident of their own issue, in the same statements whatever the
    number of issues (once one notification per staff member per issue, ~2 per issue)."""
    from issues import choices
    from issues.models import Notification

    t, p = territory, people

    def sweep(at, n):
        before = Notification.objects.count()
        with CaptureQueriesContext(connection) as ctx:
            with django_capture_on_commit_callbacks(execute=True):
                assert run_sweep(now=at).escalated == n
        return len(ctx.captured_queries), Notification.objects.count() - before

    choices.any_webhook_client()  # steady state: the cached flags are read, not queried
    choices.sla_policies()  # and so are the deadlines
    _overdue_in_bulk(t, p, 10, now)
    queries_10, notes_10 = sweep(now, 10)
    later = now + timedelta(minutes=1)
    _overdue_in_bulk(t, p, 1000, later)  # the first ten are no longer overdue
    queries_1000, notes_1000 = sweep(later, 1000)

    assert queries_1000 == queries_10
    # The resident: one per issue; the community's one staff member: one per run.
    assert (notes_10, notes_1000) == (10 + 1, 1000 + 1)
    staff = Notification.objects.filter(user=p.community_staff).order_by("created_at")
    assert list(staff.values_list("issue_count", "created_at")) == [(10, now), (1000, later)]


def test_command_prints_a_summary(territory, people, now):
    t, p = territory, people
    issue(t, p, now=now - timedelta(minutes=5))
    issue(t, p, now=now, status=Status.RESOLVED, resolved_at=now - timedelta(days=10))
    out = StringIO()
    call_command("escalate_overdue", stdout=out)
    assert re.fullmatch(
        r"sweep: escalated 1, put under supervision 0, closed unevaluated 1 in \d+\.\d\ds\n",
        out.getvalue(),
    )
    out = StringIO()
    call_command("escalate_overdue", stdout=out)
    assert out.getvalue().startswith("sweep: escalated 0, put under supervision 0, closed ")


@pytest.mark.parametrize("args", [["--loop", "0"], ["--loop", "-5"], ["--batch-size", "0"]])
def test_command_rejects_bad_arguments(db, args):
    with pytest.raises(CommandError):
        call_command("escalate_overdue", *args, stdout=StringIO())


@pytest.mark.django_db(transaction=True)
def test_loop_runs_the_sweep_each_round_until_stopped(territory, people, monkeypatch):
    """--loop SECONDS sweeps, sleeps, sweeps again; an interrupt ends it cleanly. (In
    autocommit, as in production: between rounds the loop recycles its connection.)"""
    from issues.management.commands import escalate_overdue

    rounds = []

    def sleep(seconds):
        rounds.append(seconds)
        if len(rounds) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(escalate_overdue.time, "sleep", sleep)
    out = StringIO()
    call_command("escalate_overdue", "--loop", "30", stdout=out)
    assert rounds == [30, 30]
    assert out.getvalue().count("sweep: escalated") == 2


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.IN_PROGRESS])
@pytest.mark.parametrize("level", [Level.GRID, Level.COMMUNITY])
@pytest.mark.parametrize("severity", Severity.values)
def test_the_workflow_and_the_sweep_escalate_alike(
    territory, people, monkeypatch, status, level, severity
):
    """One issue escalated by a person, its twin by the sweep, at the same instant: the
    rows end up the same, and so do the events but for who did it and why."""
    t, p = territory, people
    instant = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: instant)  # the clock, not our code
    handler = p.worker if level == Level.GRID else p.community_staff
    twins = [
        issue(
            t, p, now=instant, status=status, level=level, severity=severity,
            title="路灯不亮", escalation_count=1, created_at=instant - timedelta(days=1),
            assignee=handler if status == Status.IN_PROGRESS else None,
        )
        for _ in range(2)
    ]  # fmt: skip
    by_person, by_sweep = twins

    workflow.escalate(issue=by_person, actor=handler, reason="需要上级协调")
    assert run_sweep(now=instant).escalated == 1  # the twin only: the other is no longer due

    differ = {"id", "tracking_number"}
    person_row = {k: v for k, v in row(by_person).items() if k not in differ}
    sweep_row = {k: v for k, v in row(by_sweep).items() if k not in differ}
    assert person_row == sweep_row
    assert person_row["level"] != level and person_row["escalation_count"] == 2
    assert person_row["assignee_id"] is None and person_row["level_entered_at"] == instant

    def event(obj):
        return obj.events.values(
            "kind", "from_status", "to_status", "from_level", "to_level", "is_public",
            "created_at",
        ).get()  # fmt: skip

    assert event(by_person) == event(by_sweep)
    assert (by_person.events.get().actor, by_sweep.events.get().actor) == (handler, None)
