"""The closed loop (DESIGN.md §5): return (退单), extensions (延期), joint handling (联办),
call-backs (回访) and supervision with words (督办), each an action of the one table.

Every action runs in one transaction and writes one event; a refusal changes nothing, not
the issue's row, not its history, not its sub-tasks. The rule book's query forms (the
lists a page shows) agree with ``can``.
"""

from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import permissions, workflow
from issues.models import (
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    ReturnReason,
    Satisfaction,
    Severity,
    SlaPolicy,
    SlaUnit,
    Source,
    Status,
)
from issues.permissions import can, visible_issues
from issues.sweep import run_sweep, stale_unverified
from issues.transitions import Action
from issues.workflow import UNREACHABLE, WorkflowError
from tests.factories import DepartmentFactory, IssueFactory, staff_on

S, A, K = Status, Action, IssueEvent.Kind


@pytest.fixture
def cast(territory, people):
    """``people`` plus a second department of the subdistrict (a co-handler) and its staff."""
    territory.sister = DepartmentFactory(subdistrict=territory.subdistrict, name="市场监管")
    people.sister_staff = staff_on(territory.sister, username="sister")
    return people


def make(t, p, status=S.IN_PROGRESS, *, level=Level.GRID, department=None, **fields):
    """An issue in ``t.grid`` at ``level`` (dispatched to ``department`` if given)."""
    now = timezone.now()
    holder = {
        Level.GRID: p.worker,
        Level.COMMUNITY: p.community_staff,
        Level.SUBDISTRICT: p.department_staff if department else p.subdistrict_staff,
    }[level]
    values = dict(
        grid=t.grid,
        category=t.category,
        source=Source.RESIDENT,
        reporter=p.resident,
        level=level,
        department=department,
        status=status,
        level_entered_at=now - timedelta(hours=1),
        due_at=now + timedelta(hours=20),
    )
    if status != S.SUBMITTED:
        values.update(assignee=holder, accepted_at=now - timedelta(minutes=50))
    if status == S.SUSPENDED:
        values["suspended_at"] = now - timedelta(minutes=10)
    if status in (S.RESOLVED, S.CLOSED):
        values.update(resolved_at=now - timedelta(minutes=5), resolved_by=holder)
    if status in (S.CLOSED, S.REJECTED):
        values["closed_at"] = now - timedelta(minutes=1)
    values.update(fields)
    return IssueFactory(**values)


def hotline(t, p, status=S.RESOLVED, **fields):
    """A hotline call with a number to call back, resolved by the grid worker."""
    values = dict(
        source=Source.HOTLINE, reporter=None, caller_name="李女士", caller_phone="13800000000"
    )
    return make(t, p, status, **(values | fields))


def joint(t, p, status=S.IN_PROGRESS, **fields):
    """Dispatched jointly: ``t.department`` leads, ``t.sister`` co-handles; both open."""
    issue = make(t, p, status, level=Level.SUBDISTRICT, department=t.department,
                 open_task_count=2, **fields)  # fmt: skip
    for department, role in ((t.department, "lead"), (t.sister, "co")):
        IssueTask.objects.create(
            issue=issue, department=department, role=role, due_at=issue.due_at, instruction="x"
        )
    return issue


def task_of(issue, department) -> IssueTask:
    return IssueTask.objects.get(issue=issue, department=department)


def snapshot(issue) -> tuple:
    """Everything stored about the issue: its row, its events and its sub-tasks."""
    return (
        Issue.objects.filter(pk=issue.pk).values().get(),
        list(IssueEvent.objects.filter(issue=issue).values()),
        list(IssueTask.objects.filter(issue=issue).order_by("pk").values()),
    )


def refused(call, issue, code):
    before = snapshot(issue)
    with pytest.raises(WorkflowError) as excinfo:
        call()
    assert excinfo.value.code == code
    assert str(excinfo.value.message)
    assert snapshot(issue) == before
    return excinfo.value


def close_of(day):
    return timezone.make_aware(datetime.combine(day, time(17, 30)))


def in_days(days):
    return timezone.localdate() + timedelta(days=days)


def reason():
    return ReturnReason.objects.filter(is_active=True).first()


# --- 退单: return ---------------------------------------------------------------------


def test_return_sends_a_dispatch_back_to_the_subdistrict_intake(territory, cast):
    t, p = territory, cast
    issue = make(t, p, level=Level.SUBDISTRICT, department=t.department,
                 extension_until=timezone.now() + timedelta(days=5))  # fmt: skip
    due = issue.due_at
    why = reason()
    assert why is not None  # the list the admin keeps starts filled in
    workflow.return_dispatch(issue=issue, actor=p.department_staff, reason=why, note="应由物业处理")
    issue.refresh_from_db()
    assert (issue.status, issue.level, issue.department, issue.assignee) == (
        S.SUBMITTED,
        Level.SUBDISTRICT,
        None,
        None,
    )
    assert issue.return_count == 1
    assert issue.due_at == due  # the clock runs on
    assert issue.extension_until is None  # the department's request went with it
    event = issue.events.get()
    assert (event.kind, event.actor, event.is_public) == (K.RETURNED, p.department_staff, False)
    assert event.internal_note == "应由物业处理"  # the reason is in the data, from the list
    assert event.data == {
        "reason": why.name,
        "department": t.department.name,
        "department_id": t.department.pk,
    }
    # The subdistrict dispatches it again, and may ask for its own extension.
    assert can(p.subdistrict_staff, A.DISPATCH, issue)
    assert can(p.subdistrict_staff, A.REQUEST_EXTENSION, issue)
    assert not can(p.department_staff, A.ACCEPT, issue)
    workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.sister)
    workflow.return_dispatch(issue=issue, actor=p.sister_staff, reason=why)
    issue.refresh_from_db()
    assert issue.return_count == 2


def test_return_cancels_the_open_sub_tasks(territory, cast):
    t, p = territory, cast
    issue = joint(t, p)
    IssueTask.objects.filter(issue=issue, department=t.sister).update(state=IssueTask.State.DONE)
    Issue.objects.filter(pk=issue.pk).update(open_task_count=1)
    workflow.return_dispatch(issue=issue, actor=p.department_staff, reason=reason())
    issue.refresh_from_db()
    assert issue.open_task_count == 0
    lead = task_of(issue, t.department)
    assert (lead.state, lead.finished_by) == (IssueTask.State.CANCELLED, p.department_staff)
    assert lead.finished_at == issue.events.get().created_at
    assert task_of(issue, t.sister).state == IssueTask.State.DONE  # finished work stays done


@pytest.mark.parametrize(
    ("who", "where", "status", "give_reason", "code"),
    [
        ("department_staff", "department", S.IN_PROGRESS, False, "reason_required"),
        ("subdistrict_staff", "department", S.IN_PROGRESS, True, "forbidden"),
        ("sister_staff", "department", S.IN_PROGRESS, True, "forbidden"),
        ("other_department_staff", "department", S.SUBMITTED, True, "forbidden"),
        ("subdistrict_staff", "subdistrict", S.SUBMITTED, True, "bad_state"),
        ("department_staff", "department", S.RESOLVED, True, "bad_state"),
        ("department_staff", "department", S.SUSPENDED, True, "bad_state"),
    ],
)
def test_return_refusals(territory, cast, who, where, status, give_reason, code):
    t, p = territory, cast
    if where == "department":
        issue = joint(t, p, status)
    else:
        issue = make(t, p, status, level=Level.SUBDISTRICT)
    refused(
        lambda: workflow.return_dispatch(
            issue=issue, actor=getattr(p, who), reason=reason() if give_reason else None
        ),
        issue,
        code,
    )


# --- 延期: extensions ---------------------------------------------------------------


def test_an_extension_is_asked_once_then_approved_or_refused(territory, cast):
    t, p = territory, cast
    issue = make(t, p)
    due = issue.due_at
    workflow.request_extension(issue=issue, actor=p.worker, until=in_days(10), reason="等配件")
    issue.refresh_from_db()
    assert issue.extension_until == close_of(in_days(10))
    assert issue.due_at == due  # the deadline stands until decided
    event = issue.events.get()
    assert (event.kind, event.internal_note, event.is_public) == (
        K.EXTENSION_REQUESTED,
        "等配件",
        False,
    )
    assert event.data == {"until": close_of(in_days(10)).isoformat(), "due_at": due.isoformat()}

    # One request at a time.
    assert not can(p.worker, A.REQUEST_EXTENSION, issue)
    refused(
        lambda: workflow.request_extension(
            issue=issue, actor=p.worker, until=in_days(20), reason="再等等"
        ),
        issue,
        "bad_state",
    )
    # The grid does not decide its own request; the community does.
    refused(lambda: workflow.approve_extension(issue=issue, actor=p.worker), issue, "forbidden")
    refused(
        lambda: workflow.approve_extension(issue=issue, actor=p.subdistrict_staff),
        issue,
        "forbidden",
    )
    workflow.approve_extension(issue=issue, actor=p.community_staff, note="同意")
    issue.refresh_from_db()
    assert (issue.due_at, issue.extension_until, issue.extension_count) == (
        close_of(in_days(10)),
        None,
        1,
    )
    assert issue.events.last().kind == K.EXTENSION_APPROVED

    # Asked again, refused with a reason: the deadline stays where it is.
    workflow.request_extension(issue=issue, actor=p.worker, until=in_days(30), reason="还要等")
    refused(
        lambda: workflow.refuse_extension(issue=issue, actor=p.community_staff, reason=" "),
        issue,
        "reason_required",
    )
    workflow.refuse_extension(issue=issue, actor=p.community_staff, reason="请按期办结")
    issue.refresh_from_db()
    assert (issue.due_at, issue.extension_until, issue.extension_count) == (
        close_of(in_days(10)),
        None,
        1,
    )
    refuse = issue.events.last()
    assert (refuse.kind, refuse.internal_note) == (K.EXTENSION_REFUSED, "请按期办结")
    assert datetime.fromisoformat(refuse.data["until"]) == close_of(in_days(30))
    # Nothing pending: nothing to decide.
    refused(
        lambda: workflow.approve_extension(issue=issue, actor=p.community_staff),
        issue,
        "bad_state",
    )
    assert issue.events.count() == 4  # asked, approved, asked, refused: refusals write nothing


def test_a_department_asks_its_subdistrict(territory, cast):
    t, p = territory, cast
    issue = make(t, p, level=Level.SUBDISTRICT, department=t.department)
    workflow.request_extension(
        issue=issue, actor=p.department_staff, until=in_days(7), reason="需协调"
    )
    assert not can(p.community_staff, A.APPROVE_EXTENSION, issue)
    workflow.approve_extension(issue=issue, actor=p.subdistrict_staff)
    issue.refresh_from_db()
    assert issue.due_at == close_of(in_days(7))


@pytest.mark.parametrize(
    ("who", "until", "words", "code"),
    [
        ("worker", None, "等配件", "date_required"),
        ("worker", 0, "等配件", "bad_date"),  # today's close is before the deadline
        ("worker", -1, "等配件", "bad_date"),
        ("worker", 91, "等配件", "bad_date"),
        ("worker", 10, "  ", "reason_required"),
        ("community_staff", 10, "等配件", "forbidden"),
        ("resident", 10, "等配件", "forbidden"),
    ],
)
def test_extension_request_refusals(territory, cast, who, until, words, code):
    t, p = territory, cast
    issue = make(t, p, due_at=timezone.now() + timedelta(days=2))
    refused(
        lambda: workflow.request_extension(
            issue=issue,
            actor=getattr(p, who),
            until=None if until is None else in_days(until),
            reason=words,
        ),
        issue,
        code,
    )


def test_a_resolved_issue_keeps_no_pending_request(territory, cast):
    t, p = territory, cast
    issue = make(t, p)
    workflow.request_extension(issue=issue, actor=p.worker, until=in_days(10), reason="等配件")
    workflow.resolve(issue=issue, actor=p.worker, note="已修好")
    issue.refresh_from_db()
    assert issue.extension_until is None
    assert not Issue.objects.filter(permissions.extension_condition(p.community_staff)).exists()


def test_the_extension_list_agrees_with_the_rule(territory, cast):
    t, p = territory, cast
    pending = {"extension_until": timezone.now() + timedelta(days=5)}
    issues = [
        make(t, p, **pending),
        make(t, p, S.SUBMITTED, **pending),
        make(t, p, S.SUSPENDED, **pending),  # decided once it runs again
        make(t, p),
        make(t, p, level=Level.COMMUNITY, **pending),
        make(t, p, S.SUBMITTED, level=Level.SUBDISTRICT, **pending),
        make(t, p, level=Level.SUBDISTRICT, department=t.department, **pending),
        make(t, p, grid=t.far_grid, **pending),
        make(t, p, grid=t.cousin_grid, **pending),
    ]
    roles = ["worker", "community_staff", "other_community_staff", "subdistrict_staff",
             "far_staff", "department_staff", "sister_staff", "resident"]  # fmt: skip
    listed = set()
    for role in roles:
        user = getattr(p, role)
        by_rule = {i.pk for i in issues if can(user, A.APPROVE_EXTENSION, i)}
        condition = permissions.extension_condition(user)
        by_query = set(Issue.objects.filter(condition).values_list("pk", flat=True))
        assert by_query == by_rule, role
        listed |= by_query
    # Not the suspended one, nor the subdistrict's own (nobody above it but an
    # administrator), nor the other subdistrict's.
    assert listed == {issues[i].pk for i in (0, 1, 4, 6, 8)}


# --- 联办: joint handling ------------------------------------------------------------


def test_a_joint_dispatch_gives_each_department_a_task(territory, cast):
    t, p = territory, cast
    issue = make(t, p, level=Level.SUBDISTRICT)
    workflow.dispatch_joint(
        issue=issue,
        actor=p.subdistrict_staff,
        lead=t.department,
        co_handlers=[t.sister],
        instruction="城管牵头清理，市场监管查处",
        due=in_days(5),
        message="已安排多部门联合处置",
    )
    issue.refresh_from_db()
    assert (issue.status, issue.department, issue.assignee) == (S.SUBMITTED, t.department, None)
    assert issue.open_task_count == 2
    event = issue.events.get()
    assert (event.kind, event.note, event.internal_note, event.is_public) == (
        K.JOINT_DISPATCHED,
        "已安排多部门联合处置",
        "城管牵头清理，市场监管查处",
        True,
    )
    assert event.data == {
        "department": t.department.name,
        "department_id": t.department.pk,
        "co_handlers": [t.sister.name],
        "due_at": close_of(in_days(5)).isoformat(),
    }
    tasks = {task.department: task for task in IssueTask.objects.filter(issue=issue)}
    assert {d: x.role for d, x in tasks.items()} == {t.department: "lead", t.sister: "co"}
    for task in tasks.values():
        assert (task.state, task.due_at, task.created_at) == (
            IssueTask.State.OPEN,
            close_of(in_days(5)),
            event.created_at,
        )
        assert task.instruction == "城管牵头清理，市场监管查处"


def test_joint_handling_until_every_task_is_finished(territory, cast):
    t, p = territory, cast
    issue = make(t, p, level=Level.SUBDISTRICT)
    due = issue.due_at
    issue = workflow.dispatch_joint(
        issue=issue, actor=p.subdistrict_staff, lead=t.department, co_handlers=[t.sister],
        instruction="联合整治",
    )  # fmt: skip
    assert task_of(issue, t.sister).due_at == due  # by default: the issue's own deadline

    # The co-handler sees the issue through its task, and acts only on its task.
    assert visible_issues(p.sister_staff).filter(pk=issue.pk).exists()
    assert not visible_issues(p.other_department_staff).filter(pk=issue.pk).exists()
    assert permissions.sees_as_staff(p.sister_staff, issue)
    assert not can(p.sister_staff, A.ACCEPT, issue)
    assert can(p.sister_staff, A.COMPLETE_TASK, issue)
    assert can(p.sister_staff, A.COMMENT, issue)
    refused(
        lambda: workflow.complete_task(
            issue=issue, actor=p.sister_staff, task=task_of(issue, t.department), note="做完了"
        ),
        issue,
        "forbidden",
    )
    refused(
        lambda: workflow.complete_task(
            issue=issue, actor=p.sister_staff, task=task_of(issue, t.sister), note=" "
        ),
        issue,
        "reason_required",
    )

    # The lead accepts but cannot resolve while a task is open.
    issue = workflow.accept(issue=issue, actor=p.department_staff)
    assert issue.status == S.IN_PROGRESS
    assert not can(p.department_staff, A.RESOLVE, issue)
    refused(
        lambda: workflow.resolve(issue=issue, actor=p.department_staff, note="已处理"),
        issue,
        "bad_state",
    )
    refused(
        lambda: workflow.reject(issue=issue, actor=p.department_staff, reason="不受理"),
        issue,
        "bad_state",
    )

    workflow.complete_task(
        issue=issue, actor=p.sister_staff, task=task_of(issue, t.sister), note="已查处无照经营"
    )
    issue.refresh_from_db()
    assert issue.open_task_count == 1
    done = task_of(issue, t.sister)
    event = issue.events.last()
    assert (done.state, done.note, done.finished_by) == (
        IssueTask.State.DONE,
        "已查处无照经营",
        p.sister_staff,
    )
    assert done.finished_at == event.created_at and done.on_time
    assert (event.kind, event.is_public) == (K.TASK_COMPLETED, False)
    assert event.data == {
        "task": done.pk, "department": t.sister.name, "department_id": t.sister.pk,
        "role": "co", "on_time": True,
    }  # fmt: skip
    # Done once: the co-handler has nothing more to do, but still follows the issue.
    assert not can(p.sister_staff, A.COMPLETE_TASK, issue)
    refused(
        lambda: workflow.complete_task(issue=issue, actor=p.sister_staff, task=done, note="再"),
        issue,
        "forbidden",
    )
    assert visible_issues(p.sister_staff).filter(pk=issue.pk).exists()

    # The subdistrict cancels the lead's own task (no longer needed); then it resolves.
    refused(
        lambda: workflow.cancel_task(
            issue=issue, actor=p.department_staff, task=task_of(issue, t.department), reason="x"
        ),
        issue,
        "forbidden",
    )
    workflow.cancel_task(
        issue=issue,
        actor=p.subdistrict_staff,
        task=task_of(issue, t.department),
        reason="已由市场监管一并处理",
    )
    issue.refresh_from_db()
    assert issue.open_task_count == 0
    assert task_of(issue, t.department).state == IssueTask.State.CANCELLED
    assert issue.events.last().kind == K.TASK_CANCELLED
    workflow.resolve(issue=issue, actor=p.department_staff, note="联合整治完成")
    issue.refresh_from_db()
    assert issue.status == S.RESOLVED


def test_a_task_of_another_issue_is_refused(territory, cast):
    t, p = territory, cast
    issue, other = joint(t, p), joint(t, p)
    refused(
        lambda: workflow.complete_task(
            issue=issue, actor=p.sister_staff, task=task_of(other, t.sister), note="做完了"
        ),
        issue,
        "bad_task",
    )
    refused(
        lambda: workflow.cancel_task(issue=issue, actor=p.subdistrict_staff, task=None, reason="x"),
        issue,
        "bad_task",
    )
    cancelled = task_of(issue, t.sister)
    workflow.cancel_task(issue=issue, actor=p.subdistrict_staff, task=cancelled, reason="不需要")
    refused(
        lambda: workflow.cancel_task(
            issue=issue, actor=p.subdistrict_staff, task=cancelled, reason="再取消"
        ),
        issue,
        "bad_task",
    )


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("far_department", "bad_department"),
        ("no_co_handlers", "no_co_handlers"),
        ("lead_twice", "bad_department"),
        ("no_instruction", "reason_required"),
        ("past_due", "bad_date"),
        ("by_department", "forbidden"),
        ("by_community", "forbidden"),
        ("at_community", "bad_state"),
        ("already_joint", "bad_state"),
        ("suspended", "bad_state"),
    ],
)
def test_joint_dispatch_refusals_write_nothing(territory, cast, case, code):
    t, p = territory, cast
    if case == "already_joint":
        issue = joint(t, p)
    else:
        issue = make(
            t,
            p,
            S.SUSPENDED if case == "suspended" else S.IN_PROGRESS,
            level=Level.COMMUNITY if case == "at_community" else Level.SUBDISTRICT,
        )
    kwargs = dict(
        issue=issue,
        actor=p.subdistrict_staff,
        lead=t.department,
        co_handlers=[t.sister],
        instruction="联合整治",
    )
    kwargs |= {
        "far_department": {"co_handlers": [t.sister, t.other_department]},
        "no_co_handlers": {"co_handlers": []},
        "lead_twice": {"co_handlers": [t.department]},
        "no_instruction": {"instruction": "  "},
        "past_due": {"due": in_days(-1)},
        "by_department": {"actor": p.department_staff},
        "by_community": {"actor": p.community_staff},
    }.get(case, {})
    tasks = IssueTask.objects.count()
    refused(lambda: workflow.dispatch_joint(**kwargs), issue, code)
    assert IssueTask.objects.count() == tasks


def test_a_joint_dispatch_is_one_transaction(territory, cast):
    """Sub-tasks that cannot be written undo the dispatch and its event with them."""
    t, p = territory, cast
    issue = make(t, p, level=Level.SUBDISTRICT)
    # A stray open task of the lead (the counter says none): the new one collides with it.
    IssueTask.objects.create(issue=issue, department=t.department, role="lead", due_at=issue.due_at)
    before = snapshot(issue)
    with pytest.raises(IntegrityError):
        workflow.dispatch_joint(
            issue=issue, actor=p.subdistrict_staff, lead=t.department, co_handlers=[t.sister],
            instruction="联合整治",
        )  # fmt: skip
    assert snapshot(issue) == before


def test_the_task_list_agrees_with_the_rule(territory, cast):
    t, p = territory, cast
    issues = [
        joint(t, p),
        joint(t, p, S.SUBMITTED),
        joint(t, p, S.SUSPENDED),
        make(t, p, level=Level.SUBDISTRICT, department=t.department),
        make(t, p, level=Level.SUBDISTRICT, department=t.sister),
    ]
    finished = joint(t, p)
    workflow.complete_task(
        issue=finished, actor=p.sister_staff, task=task_of(finished, t.sister), note="完成"
    )
    issues.append(finished)
    returned = joint(t, p)
    workflow.return_dispatch(issue=returned, actor=p.department_staff, reason=reason())
    issues.append(returned)
    for role in ("department_staff", "sister_staff", "other_department_staff",
                 "subdistrict_staff", "worker"):  # fmt: skip
        user = getattr(p, role)
        by_rule = {i.pk for i in Issue.objects.filter(pk__in=[i.pk for i in issues])
                   if can(user, A.COMPLETE_TASK, i)}  # fmt: skip
        condition = permissions.task_condition(user)
        by_query = set(Issue.objects.filter(condition).values_list("pk", flat=True))
        assert by_query == by_rule, role
    sister_list = permissions.task_condition(p.sister_staff)
    assert set(Issue.objects.filter(sister_list).values_list("pk", flat=True)) == {
        i.pk for i in issues[:3]
    }


# --- 回访: call-backs ---------------------------------------------------------------------


@pytest.mark.parametrize("answer", [Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
def test_a_satisfied_caller_closes_the_issue(territory, cast, answer):
    t, p = territory, cast
    issue = hotline(t, p)
    workflow.callback(issue=issue, actor=p.community_staff, outcome=answer, said="挺好的")
    issue.refresh_from_db()
    event = issue.events.get()
    assert (issue.status, issue.satisfaction, issue.closed_at) == (
        S.CLOSED,
        answer,
        event.created_at,
    )
    assert (event.kind, event.note, event.is_public) == (K.CALLED_BACK, "挺好的", True)
    assert event.data == {"satisfaction": answer, "channel": "callback"}


def test_a_dissatisfied_caller_reopens_it_with_a_fresh_clock(territory, cast):
    t, p = territory, cast
    issue = hotline(t, p, level=Level.COMMUNITY, severity=Severity.URGENT,
                    resolved_by=p.worker)  # fmt: skip
    refused(
        lambda: workflow.callback(
            issue=issue, actor=p.subdistrict_staff, outcome=Satisfaction.DISSATISFIED
        ),
        issue,
        "reason_required",
    )
    workflow.callback(
        issue=issue, actor=p.subdistrict_staff, outcome=Satisfaction.DISSATISFIED, said="还在漏"
    )
    issue.refresh_from_db()
    event = issue.events.get()
    assert (issue.status, issue.level, issue.reopen_count) == (S.IN_PROGRESS, Level.COMMUNITY, 1)
    assert issue.resolved_at is None and issue.resolved_by is None
    assert issue.level_entered_at == event.created_at
    assert issue.due_at == workflow.due_after(
        severity=Severity.URGENT, level=Level.COMMUNITY, start=event.created_at
    )
    assert (event.kind, event.note) == (K.REOPENED, "还在漏")
    assert event.data == {"satisfaction": Satisfaction.DISSATISFIED, "channel": "callback"}


def test_unanswered_calls_count_until_the_issue_is_verified_instead(territory, cast, settings):
    t, p = territory, cast
    settings.CALLBACK_TRIES = 2
    issue = hotline(t, p)
    for attempt in (1, 2):
        assert can(p.community_staff, A.CALLBACK_MISSED, issue)
        workflow.callback(issue=issue, actor=p.community_staff, outcome=UNREACHABLE, said="无人接")
        issue.refresh_from_db()
        assert (issue.status, issue.callback_attempts) == (S.RESOLVED, attempt)
        event = issue.events.last()
        assert (event.kind, event.internal_note, event.is_public) == (
            K.CALLBACK_MISSED,
            "无人接",
            False,
        )
    assert not permissions.is_called_back(issue)
    for action in (A.CALLBACK, A.CALLBACK_MISSED):
        assert not can(p.community_staff, action, issue)
    refused(
        lambda: workflow.callback(
            issue=issue, actor=p.community_staff, outcome=Satisfaction.SATISFIED
        ),
        issue,
        "bad_state",
    )
    refused(
        lambda: workflow.callback(issue=issue, actor=p.community_staff, outcome=UNREACHABLE),
        issue,
        "bad_state",
    )
    assert can(p.worker2, A.VERIFY, issue)
    workflow.verify(issue=issue, actor=p.worker2, note="现场复核")
    issue.refresh_from_db()
    assert (issue.status, issue.satisfaction) == (S.CLOSED, "")


@pytest.mark.parametrize(
    ("who", "fields", "outcome", "code"),
    [
        ("worker", {}, Satisfaction.SATISFIED, "forbidden"),  # the grid fixed it
        ("worker2", {}, Satisfaction.SATISFIED, "forbidden"),
        ("other_community_staff", {}, Satisfaction.SATISFIED, "forbidden"),
        ("far_staff", {}, Satisfaction.SATISFIED, "forbidden"),
        ("department_staff", {}, UNREACHABLE, "forbidden"),
        ("community_staff", {"resolved_by_key": "community_staff"}, UNREACHABLE, "forbidden"),
        ("community_staff", {}, "meh", "bad_satisfaction"),
        ("community_staff", {"caller_phone": ""}, Satisfaction.SATISFIED, "bad_state"),
        ("community_staff", {"source": Source.RESIDENT}, Satisfaction.SATISFIED, "bad_state"),
        ("community_staff", {"status": S.IN_PROGRESS}, Satisfaction.SATISFIED, "bad_state"),
        ("community_staff", {"status": S.CLOSED}, UNREACHABLE, "bad_state"),
    ],
)
def test_callback_refusals(territory, cast, who, fields, outcome, code):
    t, p = territory, cast
    fields = dict(fields)
    status = fields.pop("status", S.RESOLVED)
    if "resolved_by_key" in fields:
        fields["resolved_by"] = getattr(p, fields.pop("resolved_by_key"))
    if fields.get("source") == Source.RESIDENT:
        fields["reporter"] = p.resident
    issue = hotline(t, p, status, **fields)
    refused(
        lambda: workflow.callback(issue=issue, actor=getattr(p, who), outcome=outcome, said="x"),
        issue,
        code,
    )


def test_the_call_back_list_agrees_with_the_rule(territory, cast):
    t, p = territory, cast
    issues = [
        hotline(t, p),
        hotline(t, p, source=Source.API),
        hotline(t, p, level=Level.COMMUNITY, resolved_by=p.worker),
        hotline(t, p, caller_phone=""),
        hotline(t, p, callback_attempts=3),
        hotline(t, p, callback_attempts=2),
        hotline(t, p, S.IN_PROGRESS),
        hotline(t, p, S.CLOSED),
        hotline(t, p, grid=t.cousin_grid),
        hotline(t, p, grid=t.far_grid),
        make(t, p, S.RESOLVED),  # a resident evaluates it
        make(t, p, S.RESOLVED, source=Source.PATROL, reporter=p.worker),
        # Resolved by the community's own staff: they do not call back their own fix.
        hotline(t, p, level=Level.COMMUNITY, resolved_by=p.community_staff),
    ]
    roles = ["worker", "worker2", "community_staff", "other_community_staff",
             "subdistrict_staff", "far_staff", "department_staff", "resident"]  # fmt: skip
    for role in roles:
        user = getattr(p, role)
        by_rule = {i.pk for i in issues if can(user, A.CALLBACK, i)}
        assert by_rule == {i.pk for i in issues if can(user, A.CALLBACK_MISSED, i)}
        condition = permissions.callback_condition(user)
        by_query = set(Issue.objects.filter(condition).values_list("pk", flat=True))
        assert by_query == by_rule, role
    community = permissions.callback_condition(p.community_staff)
    assert set(Issue.objects.filter(community).values_list("pk", flat=True)) == {
        i.pk for i in [*issues[:3], issues[5]]
    }


# --- 督办: supervision with words -----------------------------------------------------------


def test_supervision_with_words_and_a_new_deadline(territory, cast):
    t, p = territory, cast
    issue = make(t, p)
    due = issue.due_at
    workflow.supervise_note(issue=issue, actor=p.community_staff, note="请今天联系业主")
    issue.refresh_from_db()
    first = issue.events.get()
    assert (issue.is_supervised, issue.supervised_at, issue.due_at) == (
        True,
        first.created_at,
        due,
    )
    assert (first.kind, first.internal_note, first.is_public, first.data) == (
        K.SUPERVISION_NOTE,
        "请今天联系业主",
        False,
        {},
    )
    # The subdistrict too, with a deadline: the close of working hours that day.
    workflow.supervise_note(
        issue=issue, actor=p.subdistrict_staff, note="限期办结", until=in_days(3)
    )
    issue.refresh_from_db()
    assert issue.due_at == close_of(in_days(3))
    assert issue.supervised_at == first.created_at  # when supervision began
    assert issue.events.last().data == {"due_at": close_of(in_days(3)).isoformat()}
    assert issue.status == S.IN_PROGRESS


@pytest.mark.parametrize(
    ("who", "status", "words", "until", "code"),
    [
        ("community_staff", S.IN_PROGRESS, "  ", None, "reason_required"),
        ("community_staff", S.IN_PROGRESS, "限期", -1, "bad_date"),
        ("community_staff", S.IN_PROGRESS, "限期", 91, "bad_date"),
        ("worker", S.IN_PROGRESS, "限期", None, "forbidden"),
        ("other_community_staff", S.IN_PROGRESS, "限期", None, "forbidden"),
        ("far_staff", S.IN_PROGRESS, "限期", None, "forbidden"),
        ("resident", S.IN_PROGRESS, "限期", None, "forbidden"),
        ("community_staff", S.RESOLVED, "限期", None, "bad_state"),
        ("community_staff", S.CLOSED, "限期", None, "bad_state"),
    ],
)
def test_supervision_refusals(territory, cast, who, status, words, until, code):
    t, p = territory, cast
    issue = make(t, p, status)
    refused(
        lambda: workflow.supervise_note(
            issue=issue,
            actor=getattr(p, who),
            note=words,
            until=None if until is None else in_days(until),
        ),
        issue,
        code,
    )


# --- the resolved issues nobody closes ----------------------------------------------------


def test_stale_unverified_lists_the_issues_left_in_limbo(territory, cast, settings):
    t, p = territory, cast
    settings.UNVERIFIED_DAYS = 3
    now = timezone.now()
    old, recent = now - timedelta(days=4), now - timedelta(days=2)
    oldest = hotline(t, p, resolved_at=old - timedelta(hours=1))
    patrol = make(t, p, S.RESOLVED, source=Source.PATROL, reporter=p.worker, resolved_at=old)
    not_yet = [
        hotline(t, p, resolved_at=recent),
        make(t, p, S.RESOLVED, resolved_at=old),  # a resident evaluates it (or the sweep)
        hotline(t, p, S.CLOSED, resolved_at=old),
        hotline(t, p, S.IN_PROGRESS, resolved_at=None),
    ]
    assert list(stale_unverified(now)) == [oldest, patrol]
    assert run_sweep(now=now).unverified == 2
    out = StringIO()
    call_command("escalate_overdue", "--unverified", stdout=out)
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        oldest.tracking_number,
        patrol.tracking_number,
    ]
    assert all(i.tracking_number not in out.getvalue() for i in not_yet)


def _bulk(t, p, n, now):
    """``n`` overdue grid issues (→ the community's working days) and ``n`` resolved ones
    left unverified."""
    Issue.objects.bulk_create(
        [
            *(
                IssueFactory.build(
                    grid=t.grid, category=t.category, reporter=p.resident,
                    severity=[Severity.MINOR, Severity.DIFFICULT][i % 2],
                    due_at=now - timedelta(minutes=1 + i % 500),
                    level_entered_at=now - timedelta(hours=50),
                )
                for i in range(n)
            ),
            *(
                IssueFactory.build(
                    grid=t.grid, category=t.category, reporter=None, source=Source.HOTLINE,
                    status=Status.RESOLVED, resolved_at=now - timedelta(days=10),
                    due_at=now - timedelta(days=11), level_entered_at=now - timedelta(days=12),
                )
                for i in range(n)
            ),
        ]
    )  # fmt: skip


def test_the_sweep_stays_flat_with_working_day_deadlines(territory, cast):
    t, p = territory, cast
    for severity in (Severity.MINOR, Severity.DIFFICULT):
        for level, amount in ((Level.COMMUNITY, 3), (Level.SUBDISTRICT, 10)):
            SlaPolicy.objects.update_or_create(
                severity=severity, level=level,
                defaults={"unit": SlaUnit.WORKING_DAYS, "amount": amount},
            )  # fmt: skip
    now = timezone.now()
    SlaPolicy.table()  # the deadlines in the cache, as every sweep but a host's first finds them

    def sweep():
        with CaptureQueriesContext(connection) as ctx:
            result = run_sweep(now=now)
        return result, len(ctx.captured_queries)

    _bulk(t, p, 10, now)
    small, queries_10 = sweep()
    _bulk(t, p, 400, now)
    large, queries_400 = sweep()
    assert (small.escalated, small.unverified) == (10, 10)
    assert (large.escalated, large.unverified) == (400, 410)
    assert queries_400 == queries_10
    for severity in (Severity.MINOR, Severity.DIFFICULT):
        expected = workflow.due_after(severity=severity, level=Level.COMMUNITY, start=now)
        assert set(
            Issue.objects.filter(level=Level.COMMUNITY, severity=severity).values_list(
                "due_at", flat=True
            )
        ) == {expected}
