"""Concurrent actors and sweeps on PostgreSQL row locks (DESIGN.md §5: "two concurrent
actors cannot both win"; the sweep is "safe to run on several hosts at once").

Each test runs real threads, each on its own database connection, released at the barrier
together. Threads close their connection when done, or the test database could not be
dropped at the end of the session.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from issues import workflow
from issues.models import Issue, IssueEvent, Level, Source, Status
from issues.sweep import run_sweep
from tests.conftest import requires_postgres
from tests.factories import IssueFactory

pytestmark = [requires_postgres, pytest.mark.django_db(transaction=True)]

K = IssueEvent.Kind
TIMEOUT = 20


def run_together(*functions):
    """Start every function at the same moment, each in its own thread and connection.

    Returns one ``("ok", value)`` or ``("error", exception)`` per function, in order.
    """
    barrier = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait(timeout=TIMEOUT)
            outcomes[index] = ("ok", function())
        except Exception as error:  # reported to the test, which decides
            outcomes[index] = ("error", error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, f), daemon=True) for i, f in enumerate(functions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes


def overdue_issue(t, p, *, status=Status.SUBMITTED, **fields):
    now = timezone.now()
    values = dict(
        grid=t.grid,
        category=t.category,
        source=Source.RESIDENT,
        reporter=p.resident,
        status=status,
        level=Level.GRID,
        due_at=now - timedelta(hours=1),
        level_entered_at=now - timedelta(hours=49),
    )
    if status == Status.IN_PROGRESS:
        values.update(assignee=p.worker, accepted_at=now - timedelta(hours=48))
    values.update(fields)
    return IssueFactory(**values)


def test_two_workers_accept_the_same_issue(territory, people):
    t, p = territory, people
    for _ in range(3):
        issue = overdue_issue(t, p, due_at=timezone.now() + timedelta(hours=48))

        outcomes = run_together(
            lambda pk=issue.pk: workflow.accept(issue=Issue.objects.get(pk=pk), actor=p.worker),
            lambda pk=issue.pk: workflow.accept(issue=Issue.objects.get(pk=pk), actor=p.worker2),
        )

        kinds = sorted(kind for kind, _ in outcomes)
        assert kinds == ["error", "ok"], outcomes
        winner = 0 if outcomes[0][0] == "ok" else 1
        loser_error = outcomes[1 - winner][1]
        assert isinstance(loser_error, workflow.WorkflowError), loser_error
        assert loser_error.code in ("bad_state", "conflict")
        issue.refresh_from_db()
        assert issue.status == Status.IN_PROGRESS
        assert issue.assignee == [p.worker, p.worker2][winner]
        event = issue.events.get()  # exactly one
        assert (event.kind, event.actor) == (K.ACCEPTED, issue.assignee)


def test_resolve_racing_the_sweep_leaves_a_consistent_history(territory, people):
    t, p = territory, people
    seen = Counter()
    for _ in range(4):
        issue = overdue_issue(t, p, status=Status.IN_PROGRESS)

        resolved, swept = run_together(
            lambda pk=issue.pk: workflow.resolve(
                issue=Issue.objects.get(pk=pk), actor=p.worker, note="已处理"
            ),
            run_sweep,
        )

        assert swept[0] == "ok", swept
        issue.refresh_from_db()
        events = list(issue.events.all())
        assert events, "nothing happened"
        assert (issue.status, issue.level) == (events[-1].to_status, events[-1].to_level)
        if resolved[0] == "ok":
            # The person won: the sweep skipped the locked row or found it resolved.
            assert [e.kind for e in events] == [K.RESOLVED]
            assert (issue.status, issue.level) == (Status.RESOLVED, Level.GRID)
            assert swept[1].escalated == 0
            seen["resolved"] += 1
        else:
            # The sweep won: the person was told, and nothing of theirs was written.
            assert isinstance(resolved[1], workflow.WorkflowError), resolved
            assert [e.kind for e in events] == [K.ESCALATED]
            assert (issue.status, issue.level) == (Status.SUBMITTED, Level.COMMUNITY)
            assert issue.resolved_at is None and issue.assignee is None
            assert swept[1].escalated == 1
            seen["escalated"] += 1
    assert sum(seen.values()) == 4


def test_sweep_skips_a_locked_row_and_takes_it_next_run(territory, people):
    t, p = territory, people
    issue = overdue_issue(t, p, status=Status.IN_PROGRESS)
    locked, release = threading.Event(), threading.Event()

    def hold_the_row():
        try:
            with transaction.atomic():
                Issue.objects.select_for_update().get(pk=issue.pk)
                locked.set()
                release.wait(timeout=TIMEOUT)  # a person still filling in the form
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_row, daemon=True)
    holder.start()
    try:
        assert locked.wait(timeout=TIMEOUT)
        started = timezone.now()
        result = run_sweep()
        # Skipped, not waited for: the sweep does not queue behind a person.
        assert timezone.now() - started < timedelta(seconds=5)
    finally:
        release.set()
        holder.join(timeout=TIMEOUT)
    assert not holder.is_alive()

    assert result.escalated == 0
    issue.refresh_from_db()
    assert (issue.status, issue.level) == (Status.IN_PROGRESS, Level.GRID)
    assert not issue.events.exists()

    assert run_sweep().escalated == 1
    issue.refresh_from_db()
    assert (issue.status, issue.level) == (Status.SUBMITTED, Level.COMMUNITY)
    assert issue.events.get().kind == K.ESCALATED


def test_two_sweeps_escalate_each_issue_exactly_once(territory, people):
    t, p = territory, people
    now = timezone.now()
    Issue.objects.bulk_create(
        IssueFactory.build(
            grid=t.grid,
            category=t.category,
            reporter=p.resident,
            due_at=now - timedelta(minutes=1 + i),
            level_entered_at=now - timedelta(hours=50),
        )
        for i in range(200)
    )

    first, second = run_together(lambda: run_sweep(batch_size=20), lambda: run_sweep(batch_size=20))

    assert first[0] == second[0] == "ok", (first, second)
    assert first[1].escalated + second[1].escalated == 200
    assert Issue.objects.filter(level=Level.COMMUNITY, status=Status.SUBMITTED).count() == 200
    per_issue = Counter(
        IssueEvent.objects.filter(kind=K.ESCALATED).values_list("issue_id", flat=True)
    )
    assert len(per_issue) == 200
    assert set(per_issue.values()) == {1}
    assert IssueEvent.objects.count() == 200
