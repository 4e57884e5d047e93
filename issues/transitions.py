"""The workflow as data (DESIGN.md §5): read the table here, not in the functions.

``TRANSITIONS[(status, action)]`` is the status an action leads to; a pair that is absent is
refused. ``CONDITIONS`` adds the few rules that depend on more than the status (the level,
who reported). ``issues.workflow`` enforces both, and ``issues.permissions.allowed_actions``
reads the same table, so the buttons a page offers and what the server accepts agree.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Level, Status


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
}

# What is not settled at a level climbs one level.
ESCALATES_TO: dict[str, str] = {Level.GRID: Level.COMMUNITY, Level.COMMUNITY: Level.SUBDISTRICT}

CONDITIONS = {
    # Escalation climbs from grid and community only; the subdistrict dispatches instead.
    Action.ESCALATE: lambda issue: issue.level in ESCALATES_TO,
    Action.DISPATCH: lambda issue: issue.level == Level.SUBDISTRICT,
    Action.SUPERVISE: lambda issue: issue.level == Level.SUBDISTRICT and not issue.is_supervised,
    # A resident reporter evaluates; with none (or when the reporter is staff of the unit
    # that resolved it), someone else verifies.
    Action.EVALUATE: lambda issue: _reporter_evaluates(issue),
    Action.REOPEN: lambda issue: _reporter_evaluates(issue),
    Action.AUTO_CLOSE: lambda issue: _reporter_evaluates(issue),
    Action.VERIFY: lambda issue: not _reporter_evaluates(issue),
}


def _reporter_evaluates(issue) -> bool:
    # The rule book decides who closes the loop (it reads this table, so imported here).
    from .permissions import reporter_evaluates

    return reporter_evaluates(issue)


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
