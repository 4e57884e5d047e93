"""The workflow (DESIGN.md §5): every (status, action) pair, then each action's own rules."""

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from grids.models import Department
from issues import workflow
from issues.models import (
    DEFAULT_SLA_HOURS,
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
from issues.transitions import TRANSITIONS, Action
from issues.workflow import WorkflowError
from participation.models import Claim, PartnerUnit
from tests.factories import CategoryFactory, IssueFactory, ResidentFactory, UserFactory

S, A, K = Status, Action, IssueEvent.Kind

# DESIGN.md §5 written out by hand: (status, person action) -> status. A pair that is absent
# is refused. TRANSITIONS must say the same (test_transitions_table_matches_design).
EXPECTED_FLOW = {
    (S.SUBMITTED, A.ACCEPT): S.IN_PROGRESS,
    (S.SUBMITTED, A.ASSIGN): S.SUBMITTED,
    (S.IN_PROGRESS, A.ASSIGN): S.IN_PROGRESS,
    (S.SUBMITTED, A.COMMENT): S.SUBMITTED,
    (S.IN_PROGRESS, A.COMMENT): S.IN_PROGRESS,
    (S.SUSPENDED, A.COMMENT): S.SUSPENDED,
    (S.RESOLVED, A.COMMENT): S.RESOLVED,
    (S.SUBMITTED, A.ESCALATE): S.SUBMITTED,
    (S.IN_PROGRESS, A.ESCALATE): S.SUBMITTED,
    (S.SUBMITTED, A.DISPATCH): S.SUBMITTED,
    (S.IN_PROGRESS, A.DISPATCH): S.SUBMITTED,
    (S.IN_PROGRESS, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.RESUME): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RESOLVE): S.RESOLVED,
    (S.RESOLVED, A.EVALUATE): S.CLOSED,
    (S.RESOLVED, A.REOPEN): S.IN_PROGRESS,
    (S.RESOLVED, A.VERIFY): S.CLOSED,
    (S.SUBMITTED, A.REJECT): S.REJECTED,
    (S.IN_PROGRESS, A.REJECT): S.REJECTED,
    # An administrator corrects the report's details in any status.
    **{(status, A.EDIT): status for status in S},
    # 退单: the department hands a wrong dispatch back to the subdistrict's intake.
    (S.SUBMITTED, A.RETURN): S.SUBMITTED,
    (S.IN_PROGRESS, A.RETURN): S.SUBMITTED,
    # 延期: asked and decided while the issue runs; the status stands.
    (S.SUBMITTED, A.REQUEST_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, A.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.SUBMITTED, A.APPROVE_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, A.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.SUBMITTED, A.REFUSE_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, A.REFUSE_EXTENSION): S.IN_PROGRESS,
    # 联办: dispatched like a dispatch; sub-tasks are finished while the issue is open.
    (S.SUBMITTED, A.DISPATCH_JOINT): S.SUBMITTED,
    (S.IN_PROGRESS, A.DISPATCH_JOINT): S.SUBMITTED,
    (S.SUBMITTED, A.COMPLETE_TASK): S.SUBMITTED,
    (S.IN_PROGRESS, A.COMPLETE_TASK): S.IN_PROGRESS,
    (S.SUSPENDED, A.COMPLETE_TASK): S.SUSPENDED,
    (S.SUBMITTED, A.CANCEL_TASK): S.SUBMITTED,
    (S.IN_PROGRESS, A.CANCEL_TASK): S.IN_PROGRESS,
    (S.SUSPENDED, A.CANCEL_TASK): S.SUSPENDED,
    # 回访: the caller's answer closes a resolved issue; an unanswered call leaves it there.
    (S.RESOLVED, A.CALLBACK): S.CLOSED,
    (S.RESOLVED, A.CALLBACK_MISSED): S.RESOLVED,
    # 督办: words (and perhaps a deadline) for the unit handling an open issue.
    (S.SUBMITTED, A.SUPERVISE_NOTE): S.SUBMITTED,
    (S.IN_PROGRESS, A.SUPERVISE_NOTE): S.IN_PROGRESS,
    (S.SUSPENDED, A.SUPERVISE_NOTE): S.SUSPENDED,
    # 志愿服务: opened and offered while the issue waits or is handled; helpers decided on,
    # their notes and partners added while it is open; hours confirmed afterwards too.
    **{(s, a): s for s in (S.SUBMITTED, S.IN_PROGRESS) for a in (A.OPEN_TO_VOLUNTEERS, A.CLAIM)},
    **{
        (s, a): s
        for s in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED)
        for a in (
            A.CLOSE_TO_VOLUNTEERS,
            A.ACCEPT_CLAIM,
            A.DECLINE_CLAIM,
            A.HELPER_NOTE,
            A.ADD_PARTNER,
        )
    },
    **{
        (s, A.CONFIRM_HOURS): s
        for s in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED, S.RESOLVED, S.CLOSED)
    },
}

# Who handles an issue at each level when the tests need "the staff of the current unit".
UNIT_STAFF = {
    Level.GRID: "worker",
    Level.COMMUNITY: "community_staff",
    Level.SUBDISTRICT: "subdistrict_staff",
}


def make_issue(t, p, status, *, level=Level.GRID, source=Source.RESIDENT, **fields) -> Issue:
    """A row in ``status`` with the fields that status implies, in ``t.grid``."""
    now = timezone.now()
    staff = getattr(p, UNIT_STAFF[level])
    values = dict(
        grid=t.grid,
        category=t.category,
        source=source,
        reporter={Source.RESIDENT: p.resident, Source.PATROL: p.worker, Source.HOTLINE: None}[
            source
        ],
        level=level,
        status=status,
        level_entered_at=now - timedelta(hours=1),
        due_at=now + timedelta(hours=47),
    )
    if status in (S.IN_PROGRESS, S.SUSPENDED, S.RESOLVED, S.CLOSED):
        values.update(assignee=staff, accepted_at=now - timedelta(minutes=50))
    if status == S.SUSPENDED:
        values.update(suspended_at=now - timedelta(minutes=10))
    if status in (S.RESOLVED, S.CLOSED):
        values.update(resolved_at=now - timedelta(minutes=5), resolved_by=staff)
    if status in (S.CLOSED, S.REJECTED):
        values.update(closed_at=now - timedelta(minutes=1))
    values.update(fields)
    return IssueFactory(**values)


def row(issue) -> dict:
    """Everything stored about the issue, to prove a refused action changed nothing."""
    return Issue.objects.filter(pk=issue.pk).values().get()


def assert_due(due_at, hours, before, after):
    assert before + timedelta(hours=hours) <= due_at <= after + timedelta(hours=hours)


def assert_refused(call, issue, *, code=None):
    """The action raises WorkflowError and leaves the row and its history untouched."""
    before, events = row(issue), IssueEvent.objects.filter(issue=issue).count()
    with pytest.raises(WorkflowError) as excinfo:
        call()
    assert row(issue) == before
    assert IssueEvent.objects.filter(issue=issue).count() == events
    if code is not None:
        assert excinfo.value.code == code
    assert str(excinfo.value.message)
    return excinfo.value


# --- every (status, action) pair ----------------------------------------------------------


def _no_fields(t, p) -> dict:
    return {}


def _no_setup(issue, t, p) -> None:
    return None


@dataclass
class Case:
    """How to attempt one action with an actor whose role permits it."""

    actor: str
    call: Callable
    kind: str
    level: str = Level.GRID
    source: str = Source.RESIDENT
    to_level: str | None = None  # None: the level does not change
    # What else the issue needs for the action to apply (fields(t, p) -> dict), and what
    # goes with it beyond its row (setup(issue, t, p): sub-tasks).
    fields: Callable = _no_fields
    setup: Callable = _no_setup


def sister_department(t) -> Department:
    """A second department of the issue's subdistrict (a co-handler in 联办)."""
    return Department.objects.get_or_create(subdistrict=t.subdistrict, name="市场监管")[0]


def joint_tasks(issue, t, p) -> None:
    """The issue is handled jointly: the lead (``t.department``) and a co-handler."""
    for department, role in ((t.department, IssueTask.Role.LEAD), (sister_department(t), "co")):
        IssueTask.objects.create(issue=issue, department=department, role=role, due_at=issue.due_at)


def open_task(issue, department) -> IssueTask | None:
    return IssueTask.objects.filter(issue=issue, department=department).first()


def in_days(days: int):
    return timezone.localdate() + timedelta(days=days)


def volunteer(t, p):
    """A volunteer living in the issue's grid (``p.volunteer``)."""
    if not hasattr(p, "volunteer"):
        p.volunteer = ResidentFactory(
            username="volunteer", is_volunteer=True, home_building__grid=t.grid
        )
    return p.volunteer


def offered(state):
    """setup: the volunteer's offer of help, in ``state``."""

    def setup(issue, t, p):
        Claim.objects.create(issue=issue, helper=volunteer(t, p), state=state)

    return setup


def the_claim(issue):
    return Claim.objects.get(issue=issue)


def partner(issue, t, p):
    PartnerUnit.objects.get_or_create(community=t.community, name="物业服务中心党支部")


# A hotline call with a number to call back (回访).
CALLER = {"caller_name": "李女士", "caller_phone": "13800000000"}


CASES = {
    A.ACCEPT: Case(
        "worker", lambda i, u, t, p, **kw: workflow.accept(**kw, issue=i, actor=u), K.ACCEPTED
    ),
    A.ASSIGN: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.assign(**kw, issue=i, actor=u, assignee=p.worker2),
        K.ASSIGNED,
    ),
    A.COMMENT: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.comment(**kw, issue=i, actor=u, note="已到现场查看"),
        K.COMMENTED,
    ),
    A.ESCALATE: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.escalate(**kw, issue=i, actor=u, reason="需要社区协调"),
        K.ESCALATED,
        to_level=Level.COMMUNITY,
    ),
    A.DISPATCH: Case(
        "subdistrict_staff",
        lambda i, u, t, p, **kw: workflow.dispatch(**kw, issue=i, actor=u, department=t.department),
        K.DISPATCHED,
        level=Level.SUBDISTRICT,
    ),
    A.SUSPEND: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.suspend(**kw, issue=i, actor=u, reason="等待业主回家"),
        K.SUSPENDED,
    ),
    A.RESUME: Case(
        "worker", lambda i, u, t, p, **kw: workflow.resume(**kw, issue=i, actor=u), K.RESUMED
    ),
    A.RESOLVE: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.resolve(**kw, issue=i, actor=u, note="已更换灯泡"),
        K.RESOLVED,
    ),
    A.EVALUATE: Case(
        "resident",
        lambda i, u, t, p, **kw: workflow.evaluate(
            **kw, issue=i, actor=u, satisfaction=Satisfaction.SATISFIED
        ),
        K.EVALUATED,
    ),
    A.REOPEN: Case(
        "resident",
        lambda i, u, t, p, **kw: workflow.evaluate(
            **kw, issue=i, actor=u, satisfaction=Satisfaction.DISSATISFIED, reason="灯还是不亮"
        ),
        K.REOPENED,
    ),
    # A patrol report has no resident to evaluate it; a second worker verifies the fix.
    A.VERIFY: Case(
        "worker2",
        lambda i, u, t, p, **kw: workflow.verify(**kw, issue=i, actor=u),
        K.VERIFIED,
        source=Source.PATROL,
    ),
    A.REJECT: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.reject(**kw, issue=i, actor=u, reason="不属于本网格职责"),
        K.REJECTED,
    ),
    A.EDIT: Case(
        "admin",
        lambda i, u, t, p, **kw: workflow.edit_details(
            **kw, issue=i, actor=u, title="小区东门路灯不亮"
        ),
        K.EDITED,
    ),
    A.RETURN: Case(
        "department_staff",
        lambda i, u, t, p, **kw: workflow.return_dispatch(
            **kw,
            issue=i,
            actor=u,
            reason=ReturnReason.objects.get_or_create(name="非本部门职责")[0],
        ),
        K.RETURNED,
        level=Level.SUBDISTRICT,
        fields=lambda t, p: {"department": t.department},
    ),
    A.REQUEST_EXTENSION: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.request_extension(
            **kw, issue=i, actor=u, until=in_days(10), reason="需要等待配件"
        ),
        K.EXTENSION_REQUESTED,
    ),
    A.APPROVE_EXTENSION: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.approve_extension(**kw, issue=i, actor=u),
        K.EXTENSION_APPROVED,
        fields=lambda t, p: {"extension_until": timezone.now() + timedelta(days=10)},
    ),
    A.REFUSE_EXTENSION: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.refuse_extension(
            **kw, issue=i, actor=u, reason="请按期办结"
        ),
        K.EXTENSION_REFUSED,
        fields=lambda t, p: {"extension_until": timezone.now() + timedelta(days=10)},
    ),
    A.DISPATCH_JOINT: Case(
        "subdistrict_staff",
        lambda i, u, t, p, **kw: workflow.dispatch_joint(
            **kw,
            issue=i,
            actor=u,
            lead=t.department,
            co_handlers=[sister_department(t)],
            instruction="城管牵头，市场监管配合",
        ),
        K.JOINT_DISPATCHED,
        level=Level.SUBDISTRICT,
    ),
    A.COMPLETE_TASK: Case(
        "department_staff",
        lambda i, u, t, p, **kw: workflow.complete_task(
            **kw, issue=i, actor=u, task=open_task(i, t.department), note="已清理占道"
        ),
        K.TASK_COMPLETED,
        level=Level.SUBDISTRICT,
        fields=lambda t, p: {"department": t.department, "open_task_count": 2},
        setup=joint_tasks,
    ),
    A.CANCEL_TASK: Case(
        "subdistrict_staff",
        lambda i, u, t, p, **kw: workflow.cancel_task(
            **kw, issue=i, actor=u, task=open_task(i, sister_department(t)), reason="无需配合"
        ),
        K.TASK_CANCELLED,
        level=Level.SUBDISTRICT,
        fields=lambda t, p: {"department": t.department, "open_task_count": 2},
        setup=joint_tasks,
    ),
    # A hotline caller is called back by the community (not the worker who fixed it).
    A.CALLBACK: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.callback(
            **kw, issue=i, actor=u, outcome=Satisfaction.SATISFIED
        ),
        K.CALLED_BACK,
        source=Source.HOTLINE,
        fields=lambda t, p: CALLER,
    ),
    A.CALLBACK_MISSED: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.callback(
            **kw, issue=i, actor=u, outcome=workflow.UNREACHABLE
        ),
        K.CALLBACK_MISSED,
        source=Source.HOTLINE,
        fields=lambda t, p: CALLER,
    ),
    A.SUPERVISE_NOTE: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.supervise_note(
            **kw, issue=i, actor=u, note="请本周内办结"
        ),
        K.SUPERVISION_NOTE,
    ),
    A.OPEN_TO_VOLUNTEERS: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.open_to_volunteers(**kw, issue=i, actor=u),
        K.OPENED_TO_VOLUNTEERS,
    ),
    A.CLOSE_TO_VOLUNTEERS: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.close_to_volunteers(
            **kw, issue=i, actor=u, reason="已有人手"
        ),
        K.CLOSED_TO_VOLUNTEERS,
        fields=lambda t, p: {"open_to_volunteers": True},
    ),
    A.CLAIM: Case(
        "volunteer",
        lambda i, u, t, p, **kw: workflow.claim(**kw, issue=i, actor=u, offer="周末有空"),
        K.CLAIMED,
        fields=lambda t, p: {"open_to_volunteers": True},
        setup=lambda issue, t, p: volunteer(t, p),
    ),
    A.ACCEPT_CLAIM: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.accept_claim(**kw, issue=i, actor=u, claim=the_claim(i)),
        K.CLAIM_ACCEPTED,
        fields=lambda t, p: {"open_to_volunteers": True, "pending_claims": 1},
        setup=offered(Claim.State.OFFERED),
    ),
    A.DECLINE_CLAIM: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.decline_claim(
            **kw, issue=i, actor=u, claim=the_claim(i), reason="人手已够"
        ),
        K.CLAIM_DECLINED,
        fields=lambda t, p: {"open_to_volunteers": True, "pending_claims": 1},
        setup=offered(Claim.State.OFFERED),
    ),
    A.HELPER_NOTE: Case(
        "volunteer",
        lambda i, u, t, p, **kw: workflow.helper_note(**kw, issue=i, actor=u, note="已清扫"),
        K.HELPER_NOTE,
        fields=lambda t, p: {"open_to_volunteers": True, "hours_to_confirm": 1},
        setup=offered(Claim.State.ACCEPTED),
    ),
    A.CONFIRM_HOURS: Case(
        "worker",
        lambda i, u, t, p, **kw: workflow.confirm_hours(
            **kw, issue=i, actor=u, claim=the_claim(i), hours=2
        ),
        K.HOURS_CONFIRMED,
        fields=lambda t, p: {"hours_to_confirm": 1},
        setup=offered(Claim.State.DONE),
    ),
    A.ADD_PARTNER: Case(
        "community_staff",
        lambda i, u, t, p, **kw: workflow.add_partner(
            **kw, issue=i, actor=u, partner=PartnerUnit.objects.get(community=t.community)
        ),
        K.PARTNER_ADDED,
        setup=partner,
    ),
}


def test_transitions_table_matches_design():
    table = {key: to for key, to in TRANSITIONS.items() if key[1] in Action.PERSON_ACTIONS}
    assert table == EXPECTED_FLOW


def test_every_person_action_has_a_case():
    assert set(CASES) == set(Action.PERSON_ACTIONS)


@pytest.mark.parametrize("action", [a.value for a in Action.PERSON_ACTIONS])
@pytest.mark.parametrize("status", Status.values)
def test_status_action_pair(territory, people, status, action):
    t, p = territory, people
    case = CASES[action]
    issue = make_issue(t, p, status, level=case.level, source=case.source, **case.fields(t, p))
    case.setup(issue, t, p)
    if case.actor == "admin":
        p.admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    actor = getattr(p, case.actor)
    expected = EXPECTED_FLOW.get((status, action))

    def attempt():
        return case.call(issue, actor, t, p)

    if expected is None:
        assert_refused(attempt, issue, code="bad_state")
        return

    result = attempt()
    stored = Issue.objects.get(pk=issue.pk)
    assert result.status == stored.status == expected
    assert stored.level == (case.to_level or case.level)
    event = IssueEvent.objects.get(issue=issue)  # exactly one
    assert event.kind == case.kind
    assert event.actor == actor
    assert (event.from_status, event.to_status) == (status, expected)
    assert (event.from_level, event.to_level) == (case.level, stored.level)
    assert (stored.suspended_at is not None) == (expected == S.SUSPENDED)


# --- escalate -----------------------------------------------------------------------------


def test_escalate_climbs_one_level_with_a_fresh_deadline(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.IN_PROGRESS, severity=Severity.URGENT)
    before = timezone.now()
    workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")
    after = timezone.now()
    issue.refresh_from_db()
    assert (issue.status, issue.level) == (S.SUBMITTED, Level.COMMUNITY)
    assert issue.assignee is None
    assert issue.escalation_count == 1
    assert before <= issue.level_entered_at <= after
    assert_due(issue.due_at, DEFAULT_SLA_HOURS[(Severity.URGENT, Level.COMMUNITY)], before, after)
    # The reason is for the staff who take it over; the reporter sees that it climbed.
    event = issue.events.get()
    assert (event.internal_note, event.note, event.is_public) == ("需要社区协调", "", True)

    # The community, now the current unit, escalates on to the subdistrict.
    before = timezone.now()
    workflow.escalate(issue=issue, actor=p.community_staff, reason="需要街道协调")
    after = timezone.now()
    issue.refresh_from_db()
    assert issue.level == Level.SUBDISTRICT
    assert issue.escalation_count == 2
    assert_due(issue.due_at, DEFAULT_SLA_HOURS[(Severity.URGENT, Level.SUBDISTRICT)], before, after)

    # Nothing is above the subdistrict: it dispatches instead.
    assert_refused(
        lambda: workflow.escalate(issue=issue, actor=p.subdistrict_staff, reason="再上报"),
        issue,
        code="bad_state",
    )


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_escalate_requires_a_reason(territory, people, reason):
    issue = make_issue(territory, people, S.SUBMITTED)
    assert_refused(
        lambda: workflow.escalate(issue=issue, actor=people.worker, reason=reason),
        issue,
        code="reason_required",
    )


def test_escalate_only_by_the_current_unit(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED)
    for outsider in (p.sibling_worker, p.community_staff, p.subdistrict_staff, p.resident):
        assert_refused(
            lambda outsider=outsider: workflow.escalate(issue=issue, actor=outsider, reason="x"),
            issue,
            code="forbidden",
        )


# --- dispatch -----------------------------------------------------------------------------


def test_dispatch_hands_a_subdistrict_issue_to_its_department(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.IN_PROGRESS, level=Level.SUBDISTRICT)
    before = timezone.now()
    workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.department)
    issue.refresh_from_db()
    assert issue.status == S.SUBMITTED
    assert issue.level == Level.SUBDISTRICT
    assert issue.department == t.department
    assert issue.assignee is None
    assert issue.dispatched_at >= before
    # The department is now the current unit: it accepts, the subdistrict no longer does.
    workflow.accept(issue=issue, actor=p.department_staff)
    issue.refresh_from_db()
    assert (issue.status, issue.assignee) == (S.IN_PROGRESS, p.department_staff)


@pytest.mark.parametrize("level", [Level.GRID, Level.COMMUNITY])
def test_dispatch_only_at_subdistrict_level(territory, people, level):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED, level=level)
    assert_refused(
        lambda: workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.department),
        issue,
        code="bad_state",
    )


def test_dispatch_only_to_a_department_of_the_same_subdistrict(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED, level=Level.SUBDISTRICT)
    assert_refused(
        lambda: workflow.dispatch(
            issue=issue, actor=p.subdistrict_staff, department=t.other_department
        ),
        issue,
        code="bad_department",
    )


@pytest.mark.parametrize(
    "who", ["worker", "community_staff", "far_staff", "department_staff", "resident"]
)
def test_dispatch_only_by_subdistrict_staff(territory, people, who):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED, level=Level.SUBDISTRICT)
    assert_refused(
        lambda: workflow.dispatch(issue=issue, actor=getattr(p, who), department=t.department),
        issue,
        code="forbidden",
    )


# --- suspend and resume -------------------------------------------------------------------


def test_suspend_requires_a_reason(territory, people):
    issue = make_issue(territory, people, S.IN_PROGRESS)
    assert_refused(
        lambda: workflow.suspend(issue=issue, actor=people.worker, reason=" "),
        issue,
        code="reason_required",
    )


def test_suspended_time_moves_the_deadline(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.IN_PROGRESS)
    due = issue.due_at
    before = timezone.now()
    workflow.suspend(issue=issue, actor=p.worker, reason="等待业主回家")
    issue.refresh_from_db()
    assert issue.status == S.SUSPENDED
    assert before <= issue.suspended_at <= timezone.now()
    assert issue.due_at == due  # the clock stops; the deadline moves on resume

    # Five hours pass while suspended.
    Issue.objects.filter(pk=issue.pk).update(suspended_at=issue.suspended_at - timedelta(hours=5))
    workflow.resume(issue=issue, actor=p.worker)
    issue.refresh_from_db()
    assert issue.status == S.IN_PROGRESS
    assert issue.suspended_at is None
    assert timedelta(hours=5) <= issue.due_at - due <= timedelta(hours=5, seconds=30)
    assert 5 * 3600 <= issue.suspended_seconds <= 5 * 3600 + 30

    # A second pause adds to the total.
    workflow.suspend(issue=issue, actor=p.worker, reason="再次等待")
    Issue.objects.filter(pk=issue.pk).update(suspended_at=timezone.now() - timedelta(hours=2))
    first_total, due = issue.suspended_seconds, issue.due_at
    workflow.resume(issue=issue, actor=p.worker)
    issue.refresh_from_db()
    assert timedelta(hours=2) <= issue.due_at - due <= timedelta(hours=2, seconds=30)
    assert 2 * 3600 <= issue.suspended_seconds - first_total <= 2 * 3600 + 30
    assert [e.kind for e in issue.events.all()] == [K.SUSPENDED, K.RESUMED] * 2


# --- accept -------------------------------------------------------------------------------


def test_accept_takes_the_issue_and_keeps_the_deadline(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED)
    due = issue.due_at
    workflow.accept(issue=issue, actor=p.worker)
    issue.refresh_from_db()
    assert (issue.status, issue.assignee) == (S.IN_PROGRESS, p.worker)
    assert issue.accepted_at is not None
    assert issue.due_at == due


def test_accept_with_changed_severity_recomputes_the_deadline(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED)
    entered = issue.level_entered_at
    other = CategoryFactory(name="安全隐患")
    workflow.accept(issue=issue, actor=p.worker, category=other, severity=Severity.URGENT)
    issue.refresh_from_db()
    assert issue.severity == Severity.URGENT
    assert issue.category == other
    # The clock at this level started when the issue arrived, not when it was accepted.
    assert issue.due_at == entered + timedelta(
        hours=DEFAULT_SLA_HOURS[(Severity.URGENT, Level.GRID)]
    )


def test_accept_refuses_an_unknown_severity(territory, people):
    issue = make_issue(territory, people, S.SUBMITTED)
    assert_refused(
        lambda: workflow.accept(issue=issue, actor=people.worker, severity="cosmic"),
        issue,
        code="bad_severity",
    )


def test_assign_only_to_a_colleague_on_the_unit(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED)
    for stranger in (p.sibling_worker, p.community_staff, p.resident):
        assert_refused(
            lambda stranger=stranger: workflow.assign(
                issue=issue, actor=p.worker, assignee=stranger
            ),
            issue,
            code="bad_assignee",
        )
    workflow.assign(issue=issue, actor=p.worker, assignee=p.worker2)
    issue.refresh_from_db()
    assert (issue.status, issue.assignee) == (S.SUBMITTED, p.worker2)
    assert issue.events.get().is_public is False


# --- evaluate, reopen, verify -------------------------------------------------------------


@pytest.mark.parametrize("satisfaction", [Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
def test_evaluate_closes_with_satisfaction(territory, people, satisfaction):
    t, p = territory, people
    issue = make_issue(t, p, S.RESOLVED)
    workflow.evaluate(issue=issue, actor=p.resident, satisfaction=satisfaction)
    issue.refresh_from_db()
    assert issue.status == S.CLOSED
    assert issue.satisfaction == satisfaction
    assert issue.closed_at is not None


def test_evaluate_dissatisfied_requires_a_reason(territory, people):
    issue = make_issue(territory, people, S.RESOLVED)
    assert_refused(
        lambda: workflow.evaluate(
            issue=issue, actor=people.resident, satisfaction=Satisfaction.DISSATISFIED
        ),
        issue,
        code="reason_required",
    )


def test_evaluate_dissatisfied_reopens_at_the_same_level(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.RESOLVED, level=Level.COMMUNITY, severity=Severity.URGENT)
    before = timezone.now()
    workflow.evaluate(
        issue=issue, actor=p.resident, satisfaction=Satisfaction.DISSATISFIED, reason="还是漏水"
    )
    after = timezone.now()
    issue.refresh_from_db()
    assert (issue.status, issue.level) == (S.IN_PROGRESS, Level.COMMUNITY)
    assert issue.reopen_count == 1
    assert issue.resolved_at is None and issue.resolved_by is None
    assert issue.closed_at is None
    assert_due(issue.due_at, DEFAULT_SLA_HOURS[(Severity.URGENT, Level.COMMUNITY)], before, after)
    event = issue.events.get()
    assert (event.kind, event.note) == (K.REOPENED, "还是漏水")

    # Resolved again and dissatisfied again: the count goes on.
    workflow.resolve(issue=issue, actor=p.community_staff, note="重新修理")
    workflow.evaluate(
        issue=issue, actor=p.resident, satisfaction=Satisfaction.DISSATISFIED, reason="仍未解决"
    )
    issue.refresh_from_db()
    assert issue.reopen_count == 2


@pytest.mark.parametrize("who", ["other_resident", "worker", "community_staff"])
@pytest.mark.parametrize("satisfaction", Satisfaction.values)
def test_only_the_reporting_resident_evaluates(territory, people, who, satisfaction):
    issue = make_issue(territory, people, S.RESOLVED)
    assert_refused(
        lambda: workflow.evaluate(
            issue=issue, actor=getattr(people, who), satisfaction=satisfaction, reason="不满意"
        ),
        issue,
        code="forbidden",
    )


def test_evaluate_refuses_an_unknown_satisfaction(territory, people):
    issue = make_issue(territory, people, S.RESOLVED)
    assert_refused(
        lambda: workflow.evaluate(issue=issue, actor=people.resident, satisfaction="meh"),
        issue,
        code="bad_satisfaction",
    )


def test_verify_is_refused_for_the_resolver(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.RESOLVED, source=Source.PATROL)  # resolved by p.worker
    assert_refused(lambda: workflow.verify(issue=issue, actor=p.worker), issue, code="forbidden")
    workflow.verify(issue=issue, actor=p.worker2)
    issue.refresh_from_db()
    assert issue.status == S.CLOSED
    assert issue.closed_at is not None
    assert issue.satisfaction == ""


def test_verify_is_refused_when_a_resident_will_evaluate(territory, people):
    issue = make_issue(territory, people, S.RESOLVED)  # reported by a resident
    assert_refused(
        lambda: workflow.verify(issue=issue, actor=people.worker2), issue, code="bad_state"
    )


def test_verify_a_hotline_issue_without_reporter(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.RESOLVED, source=Source.HOTLINE, caller_name="李女士")
    workflow.verify(issue=issue, actor=p.worker2)
    issue.refresh_from_db()
    assert issue.status == S.CLOSED
    # A resident cannot evaluate what they did not report.
    other = make_issue(t, p, S.RESOLVED, source=Source.HOTLINE, caller_name="王先生")
    assert_refused(
        lambda: workflow.evaluate(
            issue=other, actor=p.resident, satisfaction=Satisfaction.SATISFIED
        ),
        other,
        code="bad_state",
    )


# --- reject and duplicates ----------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "  "])
def test_reject_requires_a_reason(territory, people, reason):
    issue = make_issue(territory, people, S.SUBMITTED)
    assert_refused(
        lambda: workflow.reject(issue=issue, actor=people.worker, reason=reason),
        issue,
        code="reason_required",
    )


def test_reject_with_a_reason(territory, people):
    issue = make_issue(territory, people, S.IN_PROGRESS)
    workflow.reject(issue=issue, actor=people.worker, reason="属于物业职责")
    issue.refresh_from_db()
    assert issue.status == S.REJECTED
    assert issue.closed_at is not None
    assert issue.duplicate_of is None
    event = issue.events.get()
    assert (event.kind, event.note) == (K.REJECTED, "属于物业职责")


def test_duplicate_points_at_the_original(territory, people):
    t, p = territory, people
    original = make_issue(t, p, S.IN_PROGRESS)
    copy = make_issue(t, p, S.SUBMITTED)
    workflow.reject(issue=copy, actor=p.worker, duplicate_of=original)
    copy.refresh_from_db()
    assert copy.status == S.REJECTED
    assert copy.duplicate_of == original
    event = copy.events.get()
    assert event.kind == K.DUPLICATE
    assert event.data == {"duplicate_of": original.tracking_number}
    original.refresh_from_db()
    assert original.status == S.IN_PROGRESS  # the original is untouched


def test_duplicate_refuses_itself(territory, people):
    issue = make_issue(territory, people, S.SUBMITTED)
    assert_refused(
        lambda: workflow.reject(issue=issue, actor=people.worker, duplicate_of=issue),
        issue,
        code="bad_duplicate",
    )


def test_duplicate_refuses_a_duplicate_as_original(territory, people):
    t, p = territory, people
    original = make_issue(t, p, S.IN_PROGRESS)
    first_copy = make_issue(t, p, S.SUBMITTED)
    second_copy = make_issue(t, p, S.SUBMITTED)
    workflow.reject(issue=first_copy, actor=p.worker, duplicate_of=original)
    # ``first_copy`` is the object the caller loaded before it was marked: the rule must
    # read the database, not trust the caller's copy.
    error = assert_refused(
        lambda: workflow.reject(issue=second_copy, actor=p.worker, duplicate_of=first_copy),
        second_copy,
        code="bad_duplicate",
    )
    assert original.tracking_number in error.message
    workflow.reject(issue=second_copy, actor=p.worker, duplicate_of=original)
    assert Issue.objects.filter(duplicate_of=original).count() == 2


def test_an_original_with_duplicates_cannot_become_a_duplicate(territory, people):
    t, p = territory, people
    original = make_issue(t, p, S.IN_PROGRESS)
    copy = make_issue(t, p, S.SUBMITTED)
    other = make_issue(t, p, S.SUBMITTED)
    workflow.reject(issue=copy, actor=p.worker, duplicate_of=original)
    assert_refused(
        lambda: workflow.reject(issue=original, actor=p.worker, duplicate_of=other),
        original,
        code="bad_duplicate",
    )


def test_duplicate_refuses_an_original_in_another_subdistrict(territory, people):
    t, p = territory, people
    far = IssueFactory(grid=t.far_grid, category=t.category)
    issue = make_issue(t, p, S.SUBMITTED)
    assert_refused(
        lambda: workflow.reject(issue=issue, actor=p.worker, duplicate_of=far),
        issue,
        code="bad_duplicate",
    )


# --- comments -----------------------------------------------------------------------------


def test_internal_comment_refused_for_the_resident(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.IN_PROGRESS)
    assert_refused(
        lambda: workflow.comment(issue=issue, actor=p.resident, note="内部", is_public=False),
        issue,
        code="forbidden",
    )
    workflow.comment(issue=issue, actor=p.resident, note="什么时候修？")
    workflow.comment(issue=issue, actor=p.worker, note="业主电话已核实", is_public=False)
    assert [(e.actor, e.is_public) for e in issue.events.all()] == [
        (p.resident, True),
        (p.worker, False),
    ]
    assert Issue.objects.get(pk=issue.pk).status == S.IN_PROGRESS


def test_comment_requires_text_and_someone_who_sees_the_issue(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED)
    assert_refused(
        lambda: workflow.comment(issue=issue, actor=p.worker, note="  "),
        issue,
        code="reason_required",
    )
    for stranger in (p.other_resident, p.sibling_worker, p.far_staff):
        assert_refused(
            lambda stranger=stranger: workflow.comment(issue=issue, actor=stranger, note="你好"),
            issue,
            code="forbidden",
        )


# --- filing -------------------------------------------------------------------------------


def file(actor, *, category, source=Source.RESIDENT, **kwargs):
    kwargs.setdefault("title", "路灯不亮")
    kwargs.setdefault("description", "3号楼前路灯不亮")
    return workflow.file_issue(actor=actor, source=source, category=category, **kwargs)


def test_file_issue_by_a_resident(territory, people):
    t, p = territory, people
    before = timezone.now()
    issue = file(p.resident, category=t.category, building=p.resident.home_building)
    after = timezone.now()
    issue.refresh_from_db()
    assert (issue.status, issue.level) == (S.SUBMITTED, Level.GRID)
    assert (issue.grid, issue.community, issue.subdistrict) == (t.grid, t.community, t.subdistrict)
    assert issue.building == p.resident.home_building
    assert (issue.reporter, issue.source) == (p.resident, Source.RESIDENT)
    assert issue.severity == Severity.MINOR  # the category's default
    assert_due(issue.due_at, DEFAULT_SLA_HOURS[(Severity.MINOR, Level.GRID)], before, after)
    assert before <= issue.level_entered_at <= after
    event = issue.events.get()
    assert (event.kind, event.actor, event.to_status, event.to_level) == (
        K.FILED,
        p.resident,
        S.SUBMITTED,
        Level.GRID,
    )


def test_tracking_number_is_unique_and_readable(territory, people):
    t, p = territory, people
    first = file(p.resident, category=t.category, grid=t.grid)
    second = file(p.other_resident, category=t.category, grid=t.sibling_grid)
    numbers = [first.tracking_number, second.tracking_number]
    assert numbers[0] != numbers[1]
    today = f"{timezone.localdate():%Y%m%d}"
    for issue in (first, second):
        # The date it was filed (Beijing time) and a serial: readable over the phone.
        assert re.fullmatch(r"\d{14,20}", issue.tracking_number)
        assert issue.tracking_number.startswith(today)
        assert Issue.objects.get(tracking_number=issue.tracking_number) == issue


def test_a_resident_files_in_any_grid(territory, people):
    t, p = territory, people
    issue = file(p.resident, category=t.category, grid=t.far_grid)
    assert (issue.community, issue.subdistrict) == (t.far_grid.community, t.other_subdistrict)


def test_severity_defaults_to_the_category_and_sets_the_deadline(territory, people):
    t, p = territory, people
    urgent = CategoryFactory(name="燃气泄漏", default_severity=Severity.URGENT)
    before = timezone.now()
    issue = file(p.resident, category=urgent, grid=t.grid)
    after = timezone.now()
    assert issue.severity == Severity.URGENT
    assert_due(issue.due_at, DEFAULT_SLA_HOURS[(Severity.URGENT, Level.GRID)], before, after)


def test_patrol_only_in_own_grid(territory, people):
    t, p = territory, people
    issue = file(p.worker, category=t.category, source=Source.PATROL, grid=t.grid)
    assert (issue.source, issue.reporter) == (Source.PATROL, p.worker)
    assert not issue.has_resident_reporter
    count = Issue.objects.count()
    for actor, grid in [
        (p.worker, t.sibling_grid),
        (p.resident, t.grid),
        (p.community_staff, t.grid),
    ]:
        with pytest.raises(WorkflowError) as excinfo:
            file(actor, category=t.category, source=Source.PATROL, grid=grid)
        assert excinfo.value.code == "forbidden"
    assert Issue.objects.count() == count


def test_hotline_by_community_staff_has_no_reporter(territory, people):
    t, p = territory, people
    issue = file(
        p.community_staff,
        category=t.category,
        source=Source.HOTLINE,
        grid=t.sibling_grid,
        caller_name="李女士",
        caller_phone="13800000000",
    )
    assert issue.reporter is None
    assert (issue.caller_name, issue.grid, issue.level) == ("李女士", t.sibling_grid, Level.GRID)
    assert issue.events.get().actor == p.community_staff


def test_hotline_refusals(territory, people):
    t, p = territory, people
    count = Issue.objects.count()
    for actor, grid, caller, code in [
        (p.worker, t.grid, "李女士", "forbidden"),
        (p.other_community_staff, t.grid, "李女士", "forbidden"),
        (p.resident, t.grid, "李女士", "forbidden"),
        (p.community_staff, t.grid, "  ", "reason_required"),
    ]:
        with pytest.raises(WorkflowError) as excinfo:
            file(actor, category=t.category, source=Source.HOTLINE, grid=grid, caller_name=caller)
        assert excinfo.value.code == code
    assert Issue.objects.count() == count


def test_filing_refuses_bad_input(territory, people):
    t, p = territory, people
    count = Issue.objects.count()
    for kwargs, code in [
        ({"building": p.resident.home_building, "grid": t.sibling_grid}, "bad_building"),
        ({}, "no_grid"),
        ({"grid": t.grid, "title": " "}, "reason_required"),
        ({"grid": t.grid, "description": ""}, "reason_required"),
        ({"grid": t.grid, "severity": "cosmic"}, "bad_severity"),
    ]:
        with pytest.raises(WorkflowError) as excinfo:
            file(p.resident, category=t.category, **kwargs)
        assert excinfo.value.code == code, kwargs
    assert Issue.objects.count() == count
    assert not IssueEvent.objects.exists()


# --- deadlines come from the database -----------------------------------------------------


def test_sla_policy_edits_change_due_at(territory, people):
    t, p = territory, people
    SlaPolicy.objects.update_or_create(
        severity=Severity.MINOR, level=Level.GRID, defaults={"unit": SlaUnit.HOURS, "amount": 5}
    )
    SlaPolicy.objects.update_or_create(
        severity=Severity.MINOR,
        level=Level.COMMUNITY,
        defaults={"unit": SlaUnit.HOURS, "amount": 7},
    )
    before = timezone.now()
    issue = file(p.resident, category=t.category, grid=t.grid)
    after = timezone.now()
    assert_due(issue.due_at, 5, before, after)

    before = timezone.now()
    workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")
    after = timezone.now()
    issue.refresh_from_db()
    assert_due(issue.due_at, 7, before, after)


# --- an administrator's corrections -------------------------------------------------------


def test_edit_details_records_before_and_after_internally(territory, people):
    t, p = territory, people
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    issue = make_issue(t, p, S.CLOSED, source=Source.HOTLINE, caller_name="李先生")
    before = row(issue)
    workflow.edit_details(
        issue=issue, actor=admin, title="  东门路灯不亮 ", caller_name="李先生", address="东门"
    )
    after = row(issue)
    assert (after["title"], after["address"], after["caller_name"]) == (
        "东门路灯不亮",
        "东门",
        "李先生",
    )
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"title", "address", "updated_at"}
    event = issue.events.get()
    assert (event.kind, event.actor, event.is_public) == (K.EDITED, admin, False)
    assert (event.from_status, event.to_status) == (S.CLOSED, S.CLOSED)
    assert event.data == {
        "before": {"title": before["title"], "address": ""},
        "after": {"title": "东门路灯不亮", "address": "东门"},
    }


@pytest.mark.parametrize(
    ("who", "details", "code"),
    [
        ("worker", {"title": "新标题"}, "forbidden"),
        ("admin", {"title": "  "}, "reason_required"),
        ("admin", {"severity": Severity.URGENT}, "not_editable"),
        ("admin", {"status": S.CLOSED}, "not_editable"),
        ("admin", {}, "unchanged"),
    ],
)
def test_edit_details_refuses(territory, people, who, details, code):
    t, p = territory, people
    p.admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    issue = make_issue(t, p, S.IN_PROGRESS)
    details = details or {"title": issue.title}
    assert_refused(
        lambda: workflow.edit_details(issue=issue, actor=getattr(p, who), **details),
        issue,
        code=code,
    )


# --- who reads a staff note ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "words"),
    [
        (S.SUBMITTED, workflow.accept, "note"),
        (S.IN_PROGRESS, workflow.suspend, "reason"),
        (S.SUSPENDED, workflow.resume, "note"),
        (S.IN_PROGRESS, workflow.escalate, "reason"),
    ],
)
def test_instructions_between_staff_stay_internal(territory, people, status, action, words):
    t, p = territory, people
    issue = make_issue(t, p, status)
    action(issue=issue, actor=p.worker, **{words: "业主联系不上，下周再查"})
    event = issue.events.get()
    assert event.is_public  # the reporter sees that it happened ...
    assert (event.note, event.internal_note) == ("", "业主联系不上，下周再查")  # ... not the words
    # An optional message is what the reporter reads.
    other = make_issue(t, p, status)
    action(
        issue=other, actor=p.worker, message="已安排维修人员，请留意电话。",
        **{words: "业主联系不上，下周再查"},
    )  # fmt: skip
    event = other.events.get()
    assert (event.note, event.internal_note) == (
        "已安排维修人员，请留意电话。",
        "业主联系不上，下周再查",
    )


def test_dispatch_instructions_are_internal(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.SUBMITTED, level=Level.SUBDISTRICT)
    workflow.dispatch(
        issue=issue, actor=p.subdistrict_staff, department=t.department, note="请三日内清理"
    )
    event = issue.events.get()
    assert (event.is_public, event.note, event.internal_note) == (True, "", "请三日内清理")


def test_the_resolution_note_is_public(territory, people):
    t, p = territory, people
    issue = make_issue(t, p, S.IN_PROGRESS)
    workflow.resolve(issue=issue, actor=p.worker, note="已更换灯泡")
    event = issue.events.get()
    assert (event.is_public, event.note, event.internal_note) == (True, "已更换灯泡", "")


# --- a resent form changes nothing --------------------------------------------------------


@pytest.mark.parametrize("action", [a.value for a in Action.PERSON_ACTIONS])
def test_a_resent_form_is_recorded_once(territory, people, action):
    t, p = territory, people
    case = CASES[action]
    status = next(s for (s, a) in EXPECTED_FLOW if a == action)
    if case.actor == "admin":
        p.admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    issue = make_issue(t, p, status, level=case.level, source=case.source, **case.fields(t, p))
    case.setup(issue, t, p)
    actor, token = getattr(p, case.actor), uuid.uuid4()
    case.call(issue, actor, t, p, submission_token=token)
    after_first = row(issue)
    # Sent again (a double click, the browser's resend): nothing changes, and no error.
    again = case.call(Issue.objects.get(pk=issue.pk), actor, t, p, submission_token=token)
    assert row(issue) == after_first
    assert again.status == after_first["status"]
    assert IssueEvent.objects.filter(issue=issue).count() == 1
    # The same form sent by someone else is refused.
    assert_refused(
        lambda: case.call(issue, p.other_resident, t, p, submission_token=token),
        issue,
        code="token_used",
    )
