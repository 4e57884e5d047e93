"""Issues about to go overdue: the sweep warns the staff of the current unit
once per deadline, set-based, without writing history."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import choices, workflow
from issues.models import Issue, IssueEvent, Level, Notification, Status
from issues.sweep import run_sweep
from tests.factories import IssueFactory, issue_at

DUE_SOON = Notification.Reason.DUE_SOON


@pytest.fixture
def now():
    return timezone.now()


def warned(user=None):
    notes = Notification.objects.filter(reason=DUE_SOON)
    if user is not None:
        notes = notes.filter(user=user)
    return sorted(notes.values_list("user__username", "issue__tracking_number"))


@pytest.mark.parametrize(
    "position, told",
    [
        ("grid", {"gridworker", "gridworker2"}),
        ("community", {"community"}),
        ("subdistrict", {"subdistrict", "subdistrict2"}),
        ("department", {"department"}),
    ],
)
def test_the_current_units_staff_are_warned(territory, people, now, position, told):
    issue = issue_at(
        territory, position, reporter=people.resident, due_at=now + timedelta(minutes=30)
    )

    result = run_sweep(now=now)

    assert result.warned == 1
    assert warned() == sorted((name, issue.tracking_number) for name in told)
    issue.refresh_from_db()
    assert issue.warned_due_at == issue.due_at
    note = Notification.objects.filter(reason=DUE_SOON).first()
    assert (note.event, note.is_read, note.created_at) == (None, False, now)


def test_a_warning_writes_no_history_and_changes_nothing_else(territory, people, now):
    issue = issue_at(
        territory,
        status=Status.IN_PROGRESS,
        reporter=people.resident,
        assignee=people.worker,
        due_at=now + timedelta(minutes=59),
    )
    before = Issue.objects.filter(pk=issue.pk).values().get()
    run_sweep(now=now)
    after = Issue.objects.filter(pk=issue.pk).values().get()
    assert after.pop("warned_due_at") == issue.due_at
    before.pop("warned_due_at")
    assert after == before  # status, level, updated_at… untouched
    assert not IssueEvent.objects.exists()


def test_warned_once_per_deadline(territory, people, now):
    issue = issue_at(territory, reporter=people.resident, due_at=now + timedelta(minutes=40))
    assert run_sweep(now=now).warned == 1
    assert run_sweep(now=now + timedelta(minutes=1)).warned == 0
    assert len(warned(people.worker)) == 1
    # The deadline moves (suspended and resumed, say): the new deadline is warned about too.
    Issue.objects.filter(pk=issue.pk).update(due_at=now + timedelta(minutes=50))
    assert run_sweep(now=now + timedelta(minutes=2)).warned == 1
    assert len(warned(people.worker)) == 2


def test_the_warning_follows_the_issue_up(territory, people, now):
    """Escalated with less than an hour on its new clock: the new unit is warned."""
    issue = issue_at(territory, reporter=people.resident, due_at=now + timedelta(minutes=30))
    run_sweep(now=now)
    workflow.escalate(issue=issue, actor=people.worker, reason="上报")
    Issue.objects.filter(pk=issue.pk).update(due_at=now + timedelta(minutes=45))
    run_sweep(now=now + timedelta(minutes=1))
    assert [n for n, _ in warned()] == ["community", "gridworker", "gridworker2"]


@pytest.mark.parametrize(
    "status, due_in, fields",
    [
        (Status.SUBMITTED, timedelta(minutes=61), {}),  # more than an hour left
        (Status.SUBMITTED, timedelta(hours=1), {}),  # exactly an hour: not yet
        (Status.SUBMITTED, -timedelta(minutes=1), {}),  # already overdue: the sweep escalates
        (Status.SUSPENDED, timedelta(minutes=30), {}),  # the clock is stopped
        (Status.RESOLVED, timedelta(minutes=30), {}),
        (Status.CLOSED, timedelta(minutes=30), {}),
        (Status.REJECTED, timedelta(minutes=30), {}),
    ],
)
def test_who_is_not_warned(territory, people, now, status, due_in, fields):
    issue_at(
        territory,
        "subdistrict",
        status=status,
        reporter=people.resident,
        due_at=now + due_in,
        is_supervised=True,
        **fields,
    )
    assert run_sweep(now=now).warned == 0
    assert not Notification.objects.filter(reason=DUE_SOON).exists()


def test_due_now_is_still_warned(territory, people, now):
    issue_at(territory, reporter=people.resident, due_at=now)
    assert run_sweep(now=now).warned == 1


def test_inactive_staff_are_not_warned(territory, people, now):
    people.worker2.is_active = False
    people.worker2.save()
    issue_at(territory, reporter=people.resident, due_at=now + timedelta(minutes=5))
    run_sweep(now=now)
    assert [n for n, _ in warned()] == ["gridworker"]


def _due_soon_in_bulk(t, p, n, now, level=Level.GRID):
    Issue.objects.bulk_create(
        IssueFactory.build(
            grid=t.grid,
            community=t.community,
            subdistrict=t.subdistrict,
            category=t.category,
            reporter=p.resident,
            level=level,
            due_at=now + timedelta(seconds=30 + i),
            level_entered_at=now - timedelta(hours=47),
        )
        for i in range(n)
    )


def test_queries_do_not_grow_with_the_number_of_issues(territory, people, now):
    t, p = territory, people
    choices.sla_policies()  # steady state: the deadlines come from the cache
    _due_soon_in_bulk(t, p, 10, now)
    _due_soon_in_bulk(t, p, 10, now, level=Level.COMMUNITY)
    with CaptureQueriesContext(connection) as few:
        assert run_sweep(now=now).warned == 20
    _due_soon_in_bulk(t, p, 500, now + timedelta(minutes=2))
    _due_soon_in_bulk(t, p, 500, now + timedelta(minutes=2), level=Level.COMMUNITY)
    with CaptureQueriesContext(connection) as many:
        assert run_sweep(now=now).warned == 1000

    def shapes(ctx):
        # On SQLite Django splits a bulk INSERT to stay under the variable limit.
        return [
            re.sub(r'"s\d+_x\d+"', "savepoint", q["sql"][:60])
            for q in ctx.captured_queries
            if not q["sql"].startswith("INSERT")
        ]

    assert shapes(many) == shapes(few)
    # One digest per person and unit: 2 workers of the grid and the community's staff
    # member, each about 510 issues (both runs have the same time, so they are one run).
    digests = Notification.objects.filter(reason=DUE_SOON)
    assert sorted(digests.values_list("user__username", "issue_count")) == [
        ("community", 510),
        ("gridworker", 510),
        ("gridworker2", 510),
    ]


def test_small_batches_warn_each_issue_once(territory, people, now):
    _due_soon_in_bulk(territory, people, 7, now)
    assert run_sweep(now=now, batch_size=3).warned == 7
    # Three batches of one run make one digest per person, counting all seven.
    digests = Notification.objects.filter(reason=DUE_SOON)
    assert sorted(digests.values_list("user__username", "issue_count", "issue")) == [
        ("gridworker", 7, None),
        ("gridworker2", 7, None),
    ]


def test_the_summary_line_counts_the_warnings(territory, people):
    issue_at(territory, reporter=people.resident, due_at=timezone.now() + timedelta(minutes=20))
    out = StringIO()
    call_command("escalate_overdue", stdout=out)
    assert re.fullmatch(
        r"sweep: escalated 0, put under supervision 0, closed unevaluated 0, "
        r"warned due within the hour 1 in \d+\.\d\ds\n",
        out.getvalue(),
    )
