"""The workflow as data (DESIGN.md §5): read the table here, not in the functions.

``TRANSITIONS[(status, action)]`` is the status an action leads to; a pair that is absent is
refused. ``CONDITIONS`` adds the few rules that depend on more than the status (the level,
who reported). ``issues.workflow`` enforces both, and ``issues.permissions.allowed_actions``
reads the same table, so the buttons a page offers and what the server accepts agree.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Level, Severity, Status


class Action(models.TextChoices):
    ACCEPT = "accept", _("Accept")
    ASSIGN = "assign", _("Assign")
    COMMENT = "comment", _("Comment")
    ESCALATE = "escalate", _("Escalate")
    DISPATCH = "dispatch", _("Dispatch to department")
    SUSPEND = "suspend", _("Suspend")
    RESUME = "resume", _("Resume")
    RESOLVE = "resolve", _("Resolve")
    EVALUATE = "evaluate", _("Evaluate")
    REOPEN = "reopen", _("Dissatisfied: handle again")
    VERIFY = "verify", _("Verify and close")
    REJECT = "reject", _("Reject")
    EDIT = "edit", _("Correct details")
    # The closed loop as the 12345 platforms run it.
    RETURN = "return", _("Return to the subdistrict")  # 退单
    REQUEST_EXTENSION = "request_extension", _("Request an extension")  # 延期申请
    APPROVE_EXTENSION = "approve_extension", _("Approve the extension")
    REFUSE_EXTENSION = "refuse_extension", _("Refuse the extension")
    DISPATCH_JOINT = "dispatch_joint", _("Dispatch for joint handling")  # 联办
    COMPLETE_TASK = "complete_task", _("Complete a sub-task")
    CANCEL_TASK = "cancel_task", _("Cancel a sub-task")
    CALLBACK = "callback", _("Record a call-back")  # 回访
    CALLBACK_MISSED = "callback_missed", _("Call-back not answered")
    SUPERVISE_NOTE = "supervise_note", _("Supervise with a note")  # 督办
    # Party members and volunteers (党建引领, 志愿服务) take part in a grid's small matters.
    OPEN_TO_VOLUNTEERS = "open_to_volunteers", _("Open to volunteers")
    CLOSE_TO_VOLUNTEERS = "close_to_volunteers", _("Withdraw from volunteers")
    CLAIM = "claim", _("Offer to help")  # 认领
    ACCEPT_CLAIM = "accept_claim", _("Accept a helper")
    DECLINE_CLAIM = "decline_claim", _("Decline a helper")
    HELPER_NOTE = "helper_note", _("Add a helper's note")
    CONFIRM_HOURS = "confirm_hours", _("Confirm service hours")  # 志愿服务时长
    ADD_PARTNER = "add_partner", _("Add a partner unit")  # 红色合伙人
    # Only the deadline sweep does these.
    SUPERVISE = "supervise", _("Put under supervision")
    AUTO_CLOSE = "auto_close", _("Close without evaluation")


Action.PERSON_ACTIONS = [a for a in Action if a not in (Action.SUPERVISE, Action.AUTO_CLOSE)]

S = Status
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.SUBMITTED, Action.ACCEPT): S.IN_PROGRESS,
    (S.SUBMITTED, Action.ASSIGN): S.SUBMITTED,
    (S.IN_PROGRESS, Action.ASSIGN): S.IN_PROGRESS,
    (S.SUBMITTED, Action.COMMENT): S.SUBMITTED,
    (S.IN_PROGRESS, Action.COMMENT): S.IN_PROGRESS,
    (S.SUSPENDED, Action.COMMENT): S.SUSPENDED,
    (S.RESOLVED, Action.COMMENT): S.RESOLVED,
    (S.SUBMITTED, Action.ESCALATE): S.SUBMITTED,
    (S.IN_PROGRESS, Action.ESCALATE): S.SUBMITTED,
    (S.SUBMITTED, Action.DISPATCH): S.SUBMITTED,
    (S.IN_PROGRESS, Action.DISPATCH): S.SUBMITTED,
    (S.IN_PROGRESS, Action.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, Action.RESUME): S.IN_PROGRESS,
    (S.IN_PROGRESS, Action.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Action.EVALUATE): S.CLOSED,
    (S.RESOLVED, Action.REOPEN): S.IN_PROGRESS,
    (S.RESOLVED, Action.VERIFY): S.CLOSED,
    (S.RESOLVED, Action.AUTO_CLOSE): S.CLOSED,
    (S.SUBMITTED, Action.REJECT): S.REJECTED,
    (S.IN_PROGRESS, Action.REJECT): S.REJECTED,
    # An administrator corrects what the report says, in any status; it stays where it is.
    **{(status, Action.EDIT): status for status in S},
    (S.SUBMITTED, Action.SUPERVISE): S.SUBMITTED,
    (S.IN_PROGRESS, Action.SUPERVISE): S.IN_PROGRESS,
    # 退单: a department sends a wrong dispatch back to the subdistrict's intake.
    (S.SUBMITTED, Action.RETURN): S.SUBMITTED,
    (S.IN_PROGRESS, Action.RETURN): S.SUBMITTED,
    # 延期: asked by the acting unit, decided by the level above; the status stands.
    (S.SUBMITTED, Action.REQUEST_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, Action.REQUEST_EXTENSION): S.IN_PROGRESS,
    (S.SUBMITTED, Action.APPROVE_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, Action.APPROVE_EXTENSION): S.IN_PROGRESS,
    (S.SUBMITTED, Action.REFUSE_EXTENSION): S.SUBMITTED,
    (S.IN_PROGRESS, Action.REFUSE_EXTENSION): S.IN_PROGRESS,
    # 联办: a lead department and co-handlers, each with a sub-task.
    (S.SUBMITTED, Action.DISPATCH_JOINT): S.SUBMITTED,
    (S.IN_PROGRESS, Action.DISPATCH_JOINT): S.SUBMITTED,
    **{
        (status, Action.COMPLETE_TASK): status
        for status in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED)
    },
    **{
        (status, Action.CANCEL_TASK): status for status in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED)
    },
    # 回访: the caller's answer closes it, or (不满意: REOPEN) sends it back to be handled.
    (S.RESOLVED, Action.CALLBACK): S.CLOSED,
    (S.RESOLVED, Action.CALLBACK_MISSED): S.RESOLVED,
    # 督办: words and a new deadline from those who supervise the acting unit.
    **{
        (status, Action.SUPERVISE_NOTE): status
        for status in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED)
    },
    # Participants: offered while the issue is waiting or being handled; their notes and the
    # helpers' decisions while it is open (suspended too); hours are confirmed afterwards.
    **{
        (status, action): status
        for status in (S.SUBMITTED, S.IN_PROGRESS)
        for action in (Action.OPEN_TO_VOLUNTEERS, Action.CLAIM)
    },
    **{
        (status, action): status
        for status in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED)
        for action in (
            Action.CLOSE_TO_VOLUNTEERS,
            Action.ACCEPT_CLAIM,
            Action.DECLINE_CLAIM,
            Action.HELPER_NOTE,
            Action.ADD_PARTNER,
        )
    },
    **{
        (status, Action.CONFIRM_HOURS): status
        for status in (S.SUBMITTED, S.IN_PROGRESS, S.SUSPENDED, S.RESOLVED, S.CLOSED)
    },
}

# What is not settled at a level climbs one level.
ESCALATES_TO: dict[str, str] = {Level.GRID: Level.COMMUNITY, Level.COMMUNITY: Level.SUBDISTRICT}

CONDITIONS = {
    # Escalation climbs from grid and community only; the subdistrict dispatches instead.
    Action.ESCALATE: lambda issue: issue.level in ESCALATES_TO,
    Action.DISPATCH: lambda issue: issue.level == Level.SUBDISTRICT and not issue.open_task_count,
    Action.DISPATCH_JOINT: lambda issue: (
        issue.level == Level.SUBDISTRICT and not issue.open_task_count
    ),
    Action.RETURN: lambda issue: issue.department_id is not None,
    Action.REQUEST_EXTENSION: lambda issue: issue.extension_until is None,
    Action.APPROVE_EXTENSION: lambda issue: issue.extension_until is not None,
    Action.REFUSE_EXTENSION: lambda issue: issue.extension_until is not None,
    Action.COMPLETE_TASK: lambda issue: issue.open_task_count > 0,
    Action.CANCEL_TASK: lambda issue: issue.open_task_count > 0,
    # The lead resolves a jointly handled issue once every sub-task is done or cancelled;
    # nor is it rejected while one is open (it would stay in the co-handlers' queues).
    Action.RESOLVE: lambda issue: not issue.open_task_count,
    Action.REJECT: lambda issue: not issue.open_task_count,
    Action.CALLBACK: lambda issue: _called_back(issue),
    Action.CALLBACK_MISSED: lambda issue: _called_back(issue),
    Action.SUPERVISE: lambda issue: issue.level == Level.SUBDISTRICT and not issue.is_supervised,
    # Small matters only (小事), opened once; a helper offers while it is open.
    Action.OPEN_TO_VOLUNTEERS: lambda issue: (
        issue.severity == Severity.MINOR and not issue.open_to_volunteers
    ),
    Action.CLOSE_TO_VOLUNTEERS: lambda issue: issue.open_to_volunteers,
    Action.CLAIM: lambda issue: issue.open_to_volunteers,
    Action.ACCEPT_CLAIM: lambda issue: issue.pending_claims > 0,
    Action.DECLINE_CLAIM: lambda issue: issue.pending_claims > 0,
    Action.CONFIRM_HOURS: lambda issue: issue.hours_to_confirm > 0,
    # A resident reporter evaluates; with none (or when the reporter is staff of the unit
    # that resolved it), someone else verifies.
    Action.EVALUATE: lambda issue: _reporter_evaluates(issue),
    # 不满意 reopens: the reporting resident's, or the caller's answer on a call-back.
    Action.REOPEN: lambda issue: _reporter_evaluates(issue) or _called_back(issue),
    Action.AUTO_CLOSE: lambda issue: _reporter_evaluates(issue),
    # A caller with a number is asked (回访) first; verification closes it when nobody
    # answers after the tries, or when there is nobody to call.
    Action.VERIFY: lambda issue: not _reporter_evaluates(issue) and not _called_back(issue),
}


def _reporter_evaluates(issue) -> bool:
    # The rule book decides who closes the loop (it reads this table, so imported here).
    from .permissions import reporter_evaluates

    return reporter_evaluates(issue)


def _called_back(issue) -> bool:
    from .permissions import is_called_back

    return is_called_back(issue)


def next_status(action: str, issue) -> str | None:
    """Where the action leads from the issue's present state, or None if it is refused."""
    target = TRANSITIONS.get((issue.status, action))
    if target is None:
        return None
    condition = CONDITIONS.get(action)
    if condition is not None and not condition(issue):
        return None
    return target


def action_allowed_by_flow(action: str, issue) -> bool:
    return next_status(action, issue) is not None
