"""Every change of an issue's state (DESIGN.md §5), one function per action. The only other
code that writes status, level, assignee or department is the deadline sweep
(``issues.sweep``): it applies the same ``TRANSITIONS`` to whole batches, set-based.

Shape of every action: guard → one transaction → lock the row (``select_for_update``, and a
conditional ``UPDATE … WHERE status = <expected>`` so SQLite is safe too) → mutate → exactly
one ``IssueEvent`` → ``event_recorded`` sent in the same transaction (notifications are
written with the action; what talks to the world, mail and webhooks, waits for the commit).
A refused action raises ``WorkflowError`` with a translatable message and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from functools import reduce
from operator import or_

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from config import compiled
from grids import geo, units
from grids.models import Subdistrict

from . import permissions, rollups
from .models import (
    OPEN_STATUSES,
    Category,
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    Photo,
    ReturnReason,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    Status,
    Support,
)
from .photos import CleanPhoto
from .tracking import new_number as new_tracking_number
from .transitions import ESCALATES_TO, Action, next_status

# Sent inside the transaction that recorded events, once per action or sweep batch, so what
# a receiver writes commits with them or not at all (a crash between the two loses
# nothing): kwargs ``event_ids`` (a list of IssueEvent ids) and ``happened`` (the set of
# their (kind, to_level, whether the system did it), or None when the sender did not hold
# the events: the sweep writes them in SQL). A receiver that writes does so in a savepoint
# (``transaction.atomic()``), so its failure is logged and undoes only its own rows, never
# the action; one that reaches outside (mail, webhooks) does it ``on_commit``.
# Notifications and webhooks listen to it.
event_recorded = Signal()


class WorkflowError(Exception):
    """An action that the workflow refuses; ``message`` is translated and safe to show."""

    def __init__(self, message: str, code: str = "refused"):
        super().__init__(message)
        self.message = message
        self.code = code


# The events of actions composed into one (filed, accepted and resolved on the spot), held
# to be announced together when the whole of it is done; None outside such a composition.
_held_events: ContextVar[list | None] = ContextVar("held_events", default=None)


@contextmanager
def _announced_together():
    """Actions run inside this announce their events once, at its end (still in the
    transaction): receivers see the issue as the whole composition leaves it, so an issue
    settled on the spot never arrives anywhere as new work."""
    if _held_events.get() is not None:  # already inside one
        yield
        return
    token = _held_events.set([])
    try:
        yield
        events = _held_events.get()
    finally:
        _held_events.reset(token)
    _announce(events)


def _announce(events: Iterable[IssueEvent | int]) -> None:
    """Send ``event_recorded`` in the transaction that wrote these events: the events an
    action holds (what happened is told with them, so no receiver reads them back) or the
    ids of events written in SQL."""
    events = list(events)
    held = _held_events.get()
    if held is not None:
        held.extend(events)
        return
    if not events:
        return
    event_ids = [getattr(event, "pk", event) for event in events]
    happened = (
        {(event.kind, event.to_level, event.actor_id is None) for event in events}
        if all(isinstance(event, IssueEvent) for event in events)
        else None
    )
    # send_robust: a failing receiver never breaks the action; the receivers log their own
    # failures, and their savepoints have undone what they wrote.
    event_recorded.send_robust(sender=IssueEvent, event_ids=event_ids, happened=happened)


def due_after(*, severity: str, level: str, start, sla=None, left=None) -> timezone.datetime:
    """The one deadline function. Arriving at a level starts its clock: the policy of
    (severity, level), in hours or in working days on the official calendar
    (``issues.workdays``). ``left`` is the clock time still to run when not the whole
    policy: a resumed issue gets back what it had left when suspended. ``sla`` is
    ``SlaPolicy.table()`` when the caller (the sweep, for a whole batch) already read it."""
    sla = SlaPolicy.table() if sla is None else sla
    return sla.deadline(severity, level, start, left)


def _require(value: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise WorkflowError(message, code="reason_required")
    return value


def _save_photos(issue: Issue, event: IssueEvent, photos: Iterable[CleanPhoto], actor) -> None:
    for photo in photos:
        image, thumbnail = photo.as_files()
        Photo.objects.create(
            issue=issue,
            event=event,
            image=image,
            thumbnail=thumbnail or "",
            uploaded_by=actor,
            width=photo.width,
            height=photo.height,
        )


def _act(
    issue: Issue,
    *,
    actor,
    action: str,
    kind: str,
    note: str = "",
    internal_note: str = "",
    is_public: bool = True,
    changes: Callable[[Issue, timezone.datetime], dict] | None = None,
    check: Callable[[Issue], None] | None = None,
    data: dict | None = None,
    photos: Iterable[CleanPhoto] = (),
    submission_token: uuid.UUID | None = None,
    after: Callable[[Issue, IssueEvent, timezone.datetime], None] | None = None,
) -> Issue:
    """Run one action: the mechanics every public function shares.

    ``check(locked)`` refuses with a ``WorkflowError`` before anything is written;
    ``changes(locked, now)`` gives the issue's new values; ``after(locked, event, now)``
    writes what belongs with the action beyond the issue row (sub-tasks), in the same
    transaction.

    ``note`` is read by whoever sees the event (the reporter too, when it is public);
    ``internal_note`` by staff only. ``submission_token`` is the token the form carried:
    when this person already acted with it on this issue, the resent form changes nothing
    and the issue is returned as it is.
    """
    with transaction.atomic():
        try:
            locked = Issue.objects.select_for_update().get(pk=issue.pk)
        except Issue.DoesNotExist:
            raise WorkflowError(_("This issue no longer exists."), code="missing") from None
        if submission_token is not None and _already_sent(locked, actor, submission_token):
            return locked
        if next_status(action, locked) is None:
            raise WorkflowError(
                _("“%(action)s” is not possible while the issue is %(status)s.")
                % {"action": Action(action).label, "status": locked.get_status_display()},
                code="bad_state",
            )
        # Every action here is a person's (the sweep writes its own batches), so there is
        # always someone whose permission is checked.
        if actor is None or not permissions.can(actor, action, locked):
            raise WorkflowError(
                _("You may not “%(action)s” this issue.") % {"action": Action(action).label},
                code="forbidden",
            )
        if check is not None:
            check(locked)
        now = timezone.now()
        to_status = next_status(action, locked)
        values = changes(locked, now) if changes else {}
        values["status"] = to_status
        values["updated_at"] = now
        from_status, from_level = locked.status, locked.level
        updated = Issue.objects.filter(pk=locked.pk, status=from_status).update(**values)
        if updated != 1:  # someone else changed it first
            raise WorkflowError(
                _("Someone else changed this issue just now; please reload it."), code="conflict"
            )
        computed = [name for name, value in values.items() if hasattr(value, "resolve_expression")]
        for name, value in values.items():
            if name not in computed:
                setattr(locked, name, value)
        if computed:  # values the database computed (a counter + 1): read them back
            locked.refresh_from_db(fields=computed)
        event = IssueEvent.objects.create(
            issue=locked,
            actor=actor,
            kind=kind,
            from_status=from_status,
            to_status=locked.status,
            from_level=from_level,
            to_level=locked.level,
            note=note,
            internal_note=internal_note,
            is_public=is_public,
            data=data or {},
            created_at=now,
            submission_token=submission_token,
        )
        _save_photos(locked, event, photos, actor)
        if after is not None:
            after(locked, event, now)
        # The figures of the issue's day and grid (now, or noted for the catch-up).
        rollups.changed_issue(locked)
        _announce([event])
    return locked


def _already_sent(issue: Issue, actor, submission_token) -> bool:
    """Whether this form was already acted on (a double click, a resent page). Another
    person's token is refused: a form is not shared."""
    sent = (
        IssueEvent.objects.filter(issue_id=issue.pk, submission_token=submission_token)
        .values_list("actor_id", flat=True)
        .first()
    )
    if sent is None:
        return False
    if actor is None or sent != actor.pk:
        raise WorkflowError(
            _("This form was already sent. Open the issue again to act on it."),
            code="token_used",
        )
    return True


# --- filing -------------------------------------------------------------------------------


def file_issue(
    *,
    actor,
    source: str,
    category: Category,
    title: str,
    description: str,
    grid=None,
    building=None,
    address: str = "",
    severity: str | None = None,
    latitude=None,
    longitude=None,
    caller_name: str = "",
    caller_phone: str = "",
    photos: Iterable[CleanPhoto] = (),
    submission_token: uuid.UUID | None = None,
    answers: dict | None = None,
    api_client=None,
) -> Issue:
    """File a new issue at GRID level, SUBMITTED, with its clock started.

    Residents (and volunteers) file for any building; grid workers file patrol reports in
    their own grids; community and subdistrict staff file hotline calls for their area.

    ``submission_token`` is the token the filing form carried: a double-click or a resent
    form files one issue, not two. When this reporter already filed with the token, that
    issue is returned unchanged (and its photos are not stored again); another person's
    token is refused.

    Another system files with source API as ``api_client`` (an ``ApiClient``, no person:
    the event's actor is empty), into the subdistricts it serves. ``answers`` are the
    category's extra questions, already checked by ``issues.questions``.
    """
    latitude, longitude = _point(latitude, longitude)
    if building is not None:
        if grid is not None and building.grid_id != grid.pk:
            raise WorkflowError(_("That building is not in the chosen grid."), code="bad_building")
        grid = building.grid
        if latitude is None and building.latitude is not None:
            latitude, longitude = building.latitude, building.longitude
    elif grid is None and latitude is not None:
        grid = _grid_at_point(latitude, longitude)
    if grid is None:
        raise WorkflowError(_("Choose the building or grid where the problem is."), code="no_grid")
    if api_client is not None:
        allowed = source == Source.API and permissions.client_may_file(api_client, grid)
    else:
        allowed = permissions.can_file_in_grid(actor, grid, source)
    if not allowed:
        raise WorkflowError(_("You may not file this kind of report here."), code="forbidden")
    title = _require(title, _("A title is required."))
    description = _require(description, _("A description is required."))
    if source == Source.HOTLINE:
        caller_name = _require(caller_name, _("The caller's name is required."))
    severity = severity or category.default_severity
    if severity not in Severity.values:
        raise WorkflowError(_("Unknown severity."), code="bad_severity")
    reporter = actor if source in (Source.RESIDENT, Source.VOLUNTEER, Source.PATROL) else None
    # The filing is written at once, and the unique constraints on the token and on the
    # tracking number refuse a second row (its transaction is then rolled back whole): a
    # form sent twice, even at the same moment, files one issue, and a number already
    # given that day (one of ten million) is drawn again. Nothing is read first: almost no
    # filing is either.
    for attempt in range(NUMBER_DRAWS):
        try:
            return _create_issue(
                actor=actor,
                reporter=reporter,
                source=source,
                category=category,
                title=title,
                description=description,
                severity=severity,
                grid=grid,
                building=building,
                address=address,
                latitude=latitude,
                longitude=longitude,
                caller_name=caller_name,
                caller_phone=caller_phone,
                photos=photos,
                submission_token=submission_token,
                answers=answers or {},
                api_client=api_client,
            )
        except IntegrityError:
            existing = _filed_with_token(submission_token, actor) if submission_token else None
            if existing is not None:
                return existing
            if attempt == NUMBER_DRAWS - 1:
                raise


def _point(latitude, longitude):
    """A filed point: both coordinates or neither, WGS-84, stored to 6 decimals (~0.1 m)."""
    if latitude in (None, "") and longitude in (None, ""):
        return None, None
    try:
        lat, lng = float(latitude), float(longitude)
    except (TypeError, ValueError):
        lat = lng = float("nan")
    if not geo.in_china(lat, lng):  # also false for NaN and for one coordinate missing
        raise WorkflowError(_("That point on the map is not valid."), code="bad_point")
    return geo.as_decimal(lat), geo.as_decimal(lng)


def _grid_at_point(latitude, longitude):
    """Routing by point: the grid holding it, or a refusal naming the area we serve."""
    grid = geo.grid_at(latitude, longitude)
    if grid is None:
        names = "、".join(Subdistrict.objects.order_by("code").values_list("name", flat=True)[:3])
        message = (
            _("This place is outside %(area)s's grids. Move the pin, or choose a building.")
            % {"area": names}
            if names
            else _("This place is outside every grid.")
        )
        raise WorkflowError(message, code="outside_grids")
    return grid


# How many tracking numbers a filing draws before giving up. With N numbers given in a
# day, a draw is taken with odds N in ten million: three in a row do not happen.
NUMBER_DRAWS = 3


def _filed_with_token(submission_token, actor) -> Issue | None:
    """The issue this person already filed with this form, if any (asked once the unique
    token refused a second copy). Who filed it is read off its FILED event: a hotline issue
    has a caller, not a reporter."""
    existing = Issue.objects.filter(submission_token=submission_token).first()
    if existing is None:
        return None
    filed_by_actor = (
        actor is not None
        and existing.events.filter(kind=IssueEvent.Kind.FILED, actor_id=actor.pk).exists()
    )
    if not filed_by_actor:
        raise WorkflowError(
            _("This form was already sent. Open the form again to file a new report."),
            code="token_used",
        )
    return existing


def _create_issue(
    *,
    actor,
    reporter,
    source,
    category,
    title,
    description,
    severity,
    grid,
    building,
    address,
    latitude,
    longitude,
    caller_name,
    caller_phone,
    photos,
    submission_token,
    answers,
    api_client,
) -> Issue:
    now = timezone.now()
    first_deadline = due_after(severity=severity, level=Level.GRID, start=now)
    with transaction.atomic():
        issue = Issue(
            tracking_number=new_tracking_number(now),
            title=title,
            description=description,
            category=category,
            severity=severity,
            source=source,
            reporter=reporter,
            caller_name=caller_name,
            caller_phone=caller_phone,
            grid=grid,
            community_id=grid.community_id,
            subdistrict_id=grid.community.subdistrict_id,
            building=building,
            address=address,
            latitude=latitude,
            longitude=longitude,
            level=Level.GRID,
            status=Status.SUBMITTED,
            due_at=first_deadline,
            response_due_at=first_deadline,
            level_entered_at=now,
            created_at=now,
            submission_token=submission_token,
            answers=answers,
        )
        event = IssueEvent(
            issue=issue,
            actor=actor,
            kind=IssueEvent.Kind.FILED,
            to_status=Status.SUBMITTED,
            to_level=Level.GRID,
            note="",
            data={"api_client": api_client.name} if api_client is not None else {},
            created_at=now,
        )
        # The figures of the issue's day and grid: noted in the same statement.
        noting = rollups.Noting([rollups.key_of(issue)])
        compiled.create_together(issue, event, also=noting.statements)
        noting.sent()
        _save_photos(issue, event, photos, actor)
        _announce([event])
    return issue


# --- staff actions on the current unit ---------------------------------------------------


def accept(
    *,
    issue: Issue,
    actor,
    category: Category | None = None,
    severity: str | None = None,
    note: str = "",
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """受理: take the issue on, confirming its category and severity (triage).

    A changed severity recomputes the deadline at the present level from when it arrived.
    The ``note`` is for staff; the optional ``message`` is for the reporter.
    """
    if severity is not None and severity not in Severity.values:
        raise WorkflowError(_("Unknown severity."), code="bad_severity")

    def changes(locked, now):
        values = {"assignee": actor, "accepted_at": locked.accepted_at or now}
        new_severity = severity or locked.severity
        if category is not None:
            values["category"] = category
        if new_severity != locked.severity:
            values["severity"] = new_severity
            values["due_at"] = due_after(
                severity=new_severity, level=locked.level, start=locked.level_entered_at
            )
        return values

    return _act(
        issue,
        actor=actor,
        action=Action.ACCEPT,
        kind=IssueEvent.Kind.ACCEPTED,
        note=message,
        internal_note=note,
        changes=changes,
        submission_token=submission_token,
        data={
            "category": category.name if category else None,
            "severity": severity,
        },
    )


def assign(
    *, issue: Issue, actor, assignee, note: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """Hand the issue to a colleague holding a post on the same unit (staff only)."""

    def check(locked):
        if not permissions.assignable_users(locked).filter(pk=assignee.pk).exists():
            raise WorkflowError(
                _("%(name)s holds no post on the unit handling this issue.") % {"name": assignee},
                code="bad_assignee",
            )

    return _act(
        issue,
        actor=actor,
        action=Action.ASSIGN,
        kind=IssueEvent.Kind.ASSIGNED,
        note=note,
        is_public=False,
        check=check,
        changes=lambda locked, now: {"assignee": assignee},
        data={"assignee": assignee.username},
        submission_token=submission_token,
    )


def comment(
    *,
    issue: Issue,
    actor,
    note: str,
    is_public: bool = True,
    photos: Iterable[CleanPhoto] = (),
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """A note on the timeline; internal notes are for staff only."""
    note = _require(note, _("Write a comment."))

    def check(locked):
        if not is_public and not permissions.can_see_internal(actor, locked):
            raise WorkflowError(_("Only staff may write internal notes."), code="forbidden")

    return _act(
        issue,
        actor=actor,
        action=Action.COMMENT,
        kind=IssueEvent.Kind.COMMENTED,
        note=note,
        is_public=is_public,
        check=check,
        photos=photos,
        submission_token=submission_token,
    )


def escalation_changes(*, level: str, severity: str, now, sla: dict) -> dict:
    """What escalating (上报) changes on an issue at ``level`` with ``severity``, declared
    once: it climbs one level, waits there unassigned, and the new level's clock starts.

    The workflow applies it to one issue (``escalate``); the sweep applies the same
    declaration to a whole batch in one UPDATE, as CASEs over (level, severity), so the two
    cannot drift apart. ``sla`` is ``SlaPolicy.table()``. The new status is not here: it is
    read off ``TRANSITIONS`` by both.
    """
    new_level = ESCALATES_TO[level]
    return {
        "level": new_level,
        "assignee": None,
        "due_at": due_after(severity=severity, level=new_level, start=now, sla=sla),
        "level_entered_at": now,
        "escalation_count": F("escalation_count") + 1,
        # A pending extension was asked of the level left behind: it lapses.
        "extension_until": None,
    }


def escalate(
    *,
    issue: Issue,
    actor,
    reason: str,
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """上报: what this level cannot settle climbs one level, with a reason for the staff
    who take it over; the optional ``message`` is for the reporter."""
    reason = _require(reason, _("Say why the issue is escalated."))
    sla = SlaPolicy.table()
    return _act(
        issue,
        actor=actor,
        action=Action.ESCALATE,
        kind=IssueEvent.Kind.ESCALATED,
        note=message,
        internal_note=reason,
        changes=lambda locked, now: escalation_changes(
            level=locked.level, severity=locked.severity, now=now, sla=sla
        ),
        submission_token=submission_token,
    )


def dispatch(
    *,
    issue: Issue,
    actor,
    department,
    note: str = "",
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """派单: the subdistrict hands the issue to one of its functional departments. The
    ``note`` (instructions) is for staff; the optional ``message`` is for the reporter."""

    def check(locked):
        if department.subdistrict_id != locked.subdistrict_id:
            raise WorkflowError(
                _("That department does not serve this subdistrict."), code="bad_department"
            )

    return _act(
        issue,
        actor=actor,
        action=Action.DISPATCH,
        kind=IssueEvent.Kind.DISPATCHED,
        note=message,
        internal_note=note,
        check=check,
        changes=lambda locked, now: {
            "department": department,
            "assignee": None,
            "dispatched_at": now,
            "extension_until": None,  # asked of the unit that no longer handles it
        },
        data={"department": department.name, "department_id": department.pk},
        submission_token=submission_token,
    )


def suspend(
    *,
    issue: Issue,
    actor,
    reason: str,
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """挂起: pause the issue and its clock, with a reason for staff; the optional
    ``message`` is for the reporter."""
    reason = _require(reason, _("Say why the issue is suspended."))
    return _act(
        issue,
        actor=actor,
        action=Action.SUSPEND,
        kind=IssueEvent.Kind.SUSPENDED,
        note=message,
        internal_note=reason,
        changes=lambda locked, now: {"suspended_at": now},
        submission_token=submission_token,
    )


def resume(
    *,
    issue: Issue,
    actor,
    note: str = "",
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """Resume a suspended issue: its clock runs again with the time it had left when it
    was suspended (working time, for a working-day deadline). The ``note`` is for staff;
    the optional ``message`` is for the reporter."""
    sla = SlaPolicy.table()

    def changes(locked, now):
        paused = now - locked.suspended_at
        left = sla.time_left(
            locked.severity, locked.level, at=locked.suspended_at, due=locked.due_at
        )
        return {
            "suspended_at": None,
            "due_at": due_after(
                severity=locked.severity, level=locked.level, start=now, sla=sla, left=left
            ),
            "suspended_seconds": locked.suspended_seconds + int(paused.total_seconds()),
        }

    return _act(
        issue,
        actor=actor,
        action=Action.RESUME,
        kind=IssueEvent.Kind.RESUMED,
        note=message,
        internal_note=note,
        changes=changes,
        submission_token=submission_token,
    )


def resolve(
    *,
    issue: Issue,
    actor,
    note: str,
    photos: Iterable[CleanPhoto] = (),
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """办结: the problem is fixed; say how (after-photos optional). The note is public: the
    reporter reads it and evaluates the result."""
    note = _require(note, _("Say how the issue was resolved."))
    return _act(
        issue,
        actor=actor,
        action=Action.RESOLVE,
        kind=IssueEvent.Kind.RESOLVED,
        note=note,
        photos=photos,
        # Done: a pending extension request is moot (not revived if it is reopened).
        changes=lambda locked, now: {
            "resolved_at": now,
            "resolved_by": actor,
            "extension_until": None,
        },
        submission_token=submission_token,
    )


def evaluate(
    *,
    issue: Issue,
    actor,
    satisfaction: str,
    reason: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """评价: the reporting resident closes the issue (满意 / 基本满意), or, dissatisfied
    and saying why, sends it back to be handled again at the same level (不满意重办)."""
    if satisfaction not in Satisfaction.values:
        raise WorkflowError(_("Choose how satisfied you are."), code="bad_satisfaction")
    if satisfaction == Satisfaction.DISSATISFIED:
        reason = _require(reason, _("Say why you are not satisfied."))
        return _act(
            issue,
            actor=actor,
            action=Action.REOPEN,
            kind=IssueEvent.Kind.REOPENED,
            note=reason,
            changes=lambda locked, now: _reopen_changes(locked, now),
            data={"satisfaction": satisfaction},
            submission_token=submission_token,
        )
    return _act(
        issue,
        actor=actor,
        action=Action.EVALUATE,
        kind=IssueEvent.Kind.EVALUATED,
        note=reason,
        changes=lambda locked, now: {"satisfaction": satisfaction, "closed_at": now},
        data={"satisfaction": satisfaction},
        submission_token=submission_token,
    )


def _reopen_changes(locked, now) -> dict:
    """不满意重办: handled again at the same level, with a fresh clock."""
    return {
        "reopen_count": locked.reopen_count + 1,
        "resolved_at": None,
        "resolved_by": None,
        "due_at": due_after(severity=locked.severity, level=locked.level, start=now),
        "level_entered_at": now,
    }


def verify(
    *, issue: Issue, actor, note: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """核查: someone else confirms a fix that its reporter does not evaluate (the rule book
    says who: ``permissions.may_verify``). The note on what was checked is for staff."""
    return _act(
        issue,
        actor=actor,
        action=Action.VERIFY,
        kind=IssueEvent.Kind.VERIFIED,
        internal_note=note,
        changes=lambda locked, now: {"closed_at": now},
        submission_token=submission_token,
    )


def reject(
    *,
    issue: Issue,
    actor,
    reason: str = "",
    duplicate_of: Issue | None = None,
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """不予受理, with a reason; or mark as a duplicate of another issue. The reason is
    public: the reporter reads why."""
    if duplicate_of is None:
        reason = _require(reason, _("Say why the issue is rejected."))

    def check(locked):
        if duplicate_of is None:
            return
        if duplicate_of.pk == locked.pk:
            raise WorkflowError(_("An issue cannot duplicate itself."), code="bad_duplicate")
        if locked.duplicates.exists():
            # Chains would hide the original from those pointing here.
            raise WorkflowError(
                _("Other issues are marked as duplicates of this one, so it stays the original."),
                code="bad_duplicate",
            )
        # Read the original as stored now: the caller's copy may predate its own marking.
        original = Issue.objects.select_related("duplicate_of").filter(pk=duplicate_of.pk).first()
        if original is None:
            raise WorkflowError(_("This issue no longer exists."), code="missing")
        if original.duplicate_of_id is not None:
            raise WorkflowError(
                _("Point at the original issue %(number)s instead.")
                % {"number": original.duplicate_of.tracking_number},
                code="bad_duplicate",
            )
        if original.subdistrict_id != locked.subdistrict_id:
            raise WorkflowError(
                _("The original issue must be in the same subdistrict."), code="bad_duplicate"
            )

    return _act(
        issue,
        actor=actor,
        action=Action.REJECT,
        kind=IssueEvent.Kind.DUPLICATE if duplicate_of else IssueEvent.Kind.REJECTED,
        note=reason,
        check=check,
        changes=lambda locked, now: {"duplicate_of": duplicate_of, "closed_at": now},
        data={"duplicate_of": duplicate_of.tracking_number} if duplicate_of else None,
        submission_token=submission_token,
    )


# --- the closed loop: 退单, 延期, 联办, 回访, 督办 ----------------------------------------------

# The longest extension anyone may ask for at once.
MAX_EXTENSION_DAYS = 90


def return_dispatch(
    *,
    issue: Issue,
    actor,
    reason: ReturnReason | None,
    note: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """退单: a department returns an issue outside its duties to the subdistrict, which
    dispatches it again. The issue waits at the subdistrict's intake (待受理, no department)
    and its clock runs on; open sub-tasks of a joint dispatch are cancelled with it, and
    an extension the department asked for is withdrawn (the subdistrict could neither
    decide it nor ask for its own while it stood). The
    reason (from the list the admin keeps) and the note are for staff; the return counts
    against the department (退单率)."""
    if reason is None:
        raise WorkflowError(_("Choose why the issue is returned."), code="reason_required")
    note = (note or "").strip()
    # Filled in from the locked row, before the event that holds it is written.
    data: dict = {"reason": reason.name}

    def check(locked):
        data["department"] = locked.department.name
        data["department_id"] = locked.department_id

    def after(locked, event, now):
        IssueTask.objects.filter(issue_id=locked.pk, state=IssueTask.State.OPEN).update(
            state=IssueTask.State.CANCELLED, finished_at=now, finished_by=actor
        )

    return _act(
        issue,
        actor=actor,
        action=Action.RETURN,
        kind=IssueEvent.Kind.RETURNED,
        internal_note=note,  # the reason is in the event's data, from the admin's list
        is_public=False,
        check=check,
        changes=lambda locked, now: {
            "department": None,
            "assignee": None,
            "return_count": F("return_count") + 1,
            "open_task_count": 0,
            # The department's pending extension request goes back with the issue.
            "extension_until": None,
        },
        after=after,
        data=data,
        submission_token=submission_token,
    )


def _deadline_on(day, *, later_than, message_past: str):
    """A deadline set by date: the close of working hours that day, later than the present
    deadline and not beyond ``MAX_EXTENSION_DAYS`` from now."""
    if day is None:
        raise WorkflowError(_("Choose the new deadline."), code="date_required")
    deadline = SlaPolicy.table().calendar.close_of(day)
    now = timezone.now()
    if deadline <= max(now, later_than):
        raise WorkflowError(message_past, code="bad_date")
    if deadline > now + timedelta(days=MAX_EXTENSION_DAYS):
        raise WorkflowError(
            _("A new deadline is at most %(days)s days away.") % {"days": MAX_EXTENSION_DAYS},
            code="bad_date",
        )
    return deadline


def request_extension(
    *, issue: Issue, actor, until, reason: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """延期申请: the acting unit asks for more time, to the end of working hours on
    ``until`` (a date), saying why. The level above decides (``approve_extension``,
    ``refuse_extension``); until then the deadline stands and no second request is made."""
    reason = _require(reason, _("Say why more time is needed."))
    data: dict = {}

    def check(locked):
        deadline = _deadline_on(
            until,
            later_than=locked.due_at,
            message_past=_("The new deadline must be later than the present one."),
        )
        data["until"] = deadline.isoformat()
        data["due_at"] = locked.due_at.isoformat()

    def changes(locked, now):
        return {"extension_until": timezone.datetime.fromisoformat(data["until"])}

    return _act(
        issue,
        actor=actor,
        action=Action.REQUEST_EXTENSION,
        kind=IssueEvent.Kind.EXTENSION_REQUESTED,
        internal_note=reason,
        is_public=False,
        check=check,
        changes=changes,
        data=data,
        submission_token=submission_token,
    )


def approve_extension(
    *, issue: Issue, actor, note: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """Approve a pending extension: the deadline moves to the date asked for."""
    data: dict = {}

    def check(locked):
        data["until"] = locked.extension_until.isoformat()
        data["due_at"] = locked.due_at.isoformat()

    return _act(
        issue,
        actor=actor,
        action=Action.APPROVE_EXTENSION,
        kind=IssueEvent.Kind.EXTENSION_APPROVED,
        internal_note=note,
        is_public=False,
        check=check,
        changes=lambda locked, now: {
            "due_at": locked.extension_until,
            "extension_until": None,
            "extension_count": F("extension_count") + 1,
        },
        data=data,
        submission_token=submission_token,
    )


def refuse_extension(
    *, issue: Issue, actor, reason: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """Refuse a pending extension, saying why: the deadline stands."""
    reason = _require(reason, _("Say why the extension is refused."))
    data: dict = {}

    def check(locked):
        data["until"] = locked.extension_until.isoformat()

    return _act(
        issue,
        actor=actor,
        action=Action.REFUSE_EXTENSION,
        kind=IssueEvent.Kind.EXTENSION_REFUSED,
        internal_note=reason,
        is_public=False,
        check=check,
        changes=lambda locked, now: {"extension_until": None},
        data=data,
        submission_token=submission_token,
    )


def dispatch_joint(
    *,
    issue: Issue,
    actor,
    lead,
    co_handlers: Iterable,
    instruction: str,
    due=None,
    message: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """联办 (吹哨报到): the subdistrict dispatches a hard issue to a lead department, which
    holds the issue, and co-handling departments. Each of them gets a sub-task with the
    instruction and a due date (``due``, a date: the close of working hours that day;
    by default the issue's own deadline), in its own queue. The lead resolves the issue
    once every sub-task is done or cancelled."""
    instruction = _require(instruction, _("Say what each department is to do."))
    co_handlers = list(co_handlers)
    departments = [lead, *co_handlers]
    if not co_handlers:
        raise WorkflowError(_("Choose at least one co-handling department."), code="no_co_handlers")
    if len({d.pk for d in departments}) != len(departments):
        raise WorkflowError(
            _("Each department takes part once; the lead is not also a co-handler."),
            code="bad_department",
        )
    data: dict = {
        "department": lead.name,
        "department_id": lead.pk,
        "co_handlers": [d.name for d in co_handlers],
    }
    task_due: dict = {}

    def check(locked):
        if any(d.subdistrict_id != locked.subdistrict_id for d in departments):
            raise WorkflowError(
                _("That department does not serve this subdistrict."), code="bad_department"
            )
        task_due["at"] = (
            locked.due_at
            if due is None
            else _deadline_on(
                due,
                later_than=timezone.now(),
                message_past=_("The sub-tasks' due date must be in the future."),
            )
        )
        data["due_at"] = task_due["at"].isoformat()

    def after(locked, event, now):
        IssueTask.objects.bulk_create(
            IssueTask(
                issue_id=locked.pk,
                department=department,
                role=IssueTask.Role.LEAD if department is lead else IssueTask.Role.CO,
                instruction=instruction,
                due_at=task_due["at"],
                created_at=now,
            )
            for department in departments
        )

    return _act(
        issue,
        actor=actor,
        action=Action.DISPATCH_JOINT,
        kind=IssueEvent.Kind.JOINT_DISPATCHED,
        note=message,
        internal_note=instruction,
        check=check,
        changes=lambda locked, now: {
            "department": lead,
            "assignee": None,
            "dispatched_at": now,
            "extension_until": None,
            "open_task_count": len(departments),
        },
        after=after,
        data=data,
        submission_token=submission_token,
    )


def _finish_task(issue, actor, task, *, action, kind, state, note, submission_token):
    data: dict = {}

    def check(locked):
        if task is None or task.issue_id != locked.pk:
            raise WorkflowError(_("Choose the sub-task."), code="bad_task")
        current = IssueTask.objects.select_for_update().filter(pk=task.pk).first()
        if current is None or current.state != IssueTask.State.OPEN:
            raise WorkflowError(_("That sub-task is no longer open."), code="bad_task")
        if action == Action.COMPLETE_TASK and not (
            actor.is_superuser or current.department_id in permissions.scope_of(actor).departments
        ):
            raise WorkflowError(_("That sub-task is another department's."), code="forbidden")
        data.update(
            task=current.pk,
            department=task.department.name,
            department_id=current.department_id,
            role=current.role,
            on_time=timezone.now() <= current.due_at,
        )

    def after(locked, event, now):
        IssueTask.objects.filter(pk=task.pk).update(
            state=state, note=note, finished_at=now, finished_by=actor
        )

    return _act(
        issue,
        actor=actor,
        action=action,
        kind=kind,
        internal_note=note,
        is_public=False,
        check=check,
        changes=lambda locked, now: {"open_task_count": F("open_task_count") - 1},
        after=after,
        data=data,
        submission_token=submission_token,
    )


def complete_task(
    *, issue: Issue, actor, task: IssueTask, note: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """A department completes its sub-task of a joint issue, saying what it did."""
    note = _require(note, _("Say what your department did."))
    return _finish_task(
        issue,
        actor,
        task,
        action=Action.COMPLETE_TASK,
        kind=IssueEvent.Kind.TASK_COMPLETED,
        state=IssueTask.State.DONE,
        note=note,
        submission_token=submission_token,
    )


def cancel_task(
    *, issue: Issue, actor, task: IssueTask, reason: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """The subdistrict cancels a sub-task that is no longer needed, saying why."""
    reason = _require(reason, _("Say why the sub-task is cancelled."))
    return _finish_task(
        issue,
        actor,
        task,
        action=Action.CANCEL_TASK,
        kind=IssueEvent.Kind.TASK_CANCELLED,
        state=IssueTask.State.CANCELLED,
        note=reason,
        submission_token=submission_token,
    )


# What a caller may answer on a call-back, besides the three satisfaction levels.
UNREACHABLE = "unreachable"


def callback(
    *,
    issue: Issue,
    actor,
    outcome: str,
    said: str = "",
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """回访: staff call back the caller of a hotline or API report and record the answer.
    满意 / 基本满意 close the issue with that satisfaction; 不满意 (with what they said)
    reopens it exactly as a resident's 不满意 does; "not reachable" is counted, and after
    ``CALLBACK_TRIES`` unanswered calls the issue is verified instead."""
    said = (said or "").strip()
    if outcome == UNREACHABLE:
        return _act(
            issue,
            actor=actor,
            action=Action.CALLBACK_MISSED,
            kind=IssueEvent.Kind.CALLBACK_MISSED,
            internal_note=said,
            is_public=False,
            changes=lambda locked, now: {"callback_attempts": F("callback_attempts") + 1},
            data={"outcome": UNREACHABLE, "channel": "callback"},
            submission_token=submission_token,
        )
    if outcome not in Satisfaction.values:
        raise WorkflowError(_("Choose what the caller answered."), code="bad_satisfaction")
    if outcome == Satisfaction.DISSATISFIED:
        said = _require(said, _("Write down why the caller is not satisfied."))
        return _act(
            issue,
            actor=actor,
            action=Action.REOPEN,
            kind=IssueEvent.Kind.REOPENED,
            note=said,
            changes=lambda locked, now: _reopen_changes(locked, now),
            data={"satisfaction": outcome, "channel": "callback"},
            submission_token=submission_token,
        )
    return _act(
        issue,
        actor=actor,
        action=Action.CALLBACK,
        kind=IssueEvent.Kind.CALLED_BACK,
        note=said,
        changes=lambda locked, now: {"satisfaction": outcome, "closed_at": now},
        data={"satisfaction": outcome, "channel": "callback"},
        submission_token=submission_token,
    )


def supervise_note(
    *,
    issue: Issue,
    actor,
    note: str,
    until=None,
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """督办: those who supervise the acting unit (its subdistrict, or the level above it)
    put the issue under supervision with words for the unit, and, if ``until`` (a date) is
    given, a new deadline at the close of working hours that day. The acting unit sees the
    latest note highlighted on the issue."""
    note = _require(note, _("Write what the unit is to do."))
    data: dict = {}

    def check(locked):
        if until is not None:
            deadline = _deadline_on(
                until,
                later_than=timezone.now(),
                message_past=_("The new deadline must be in the future."),
            )
            data["due_at"] = deadline.isoformat()

    def changes(locked, now):
        values = {"is_supervised": True, "supervised_at": locked.supervised_at or now}
        if "due_at" in data:
            values["due_at"] = timezone.datetime.fromisoformat(data["due_at"])
        return values

    return _act(
        issue,
        actor=actor,
        action=Action.SUPERVISE_NOTE,
        kind=IssueEvent.Kind.SUPERVISION_NOTE,
        internal_note=note,
        is_public=False,
        check=check,
        changes=changes,
        data=data,
        submission_token=submission_token,
    )


# --- an administrator's corrections ----------------------------------------------------

# What the report says, which an administrator may correct; everything else about an issue
# changes through the actions above.
EDITABLE_DETAILS = ("title", "description", "address", "caller_name", "caller_phone")


# --- 党建引领, 志愿服务: party members and volunteers take part -------------------------------


def open_to_volunteers(
    *, issue: Issue, actor, note: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """The unit handling a small matter opens it to the volunteers and party members of
    its grid, who may then offer to help (认领). On the public timeline."""
    return _act(
        issue,
        actor=actor,
        action=Action.OPEN_TO_VOLUNTEERS,
        kind=IssueEvent.Kind.OPENED_TO_VOLUNTEERS,
        note=(note or "").strip(),
        changes=lambda locked, now: {"open_to_volunteers": True},
        submission_token=submission_token,
    )


def close_to_volunteers(
    *, issue: Issue, actor, reason: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """Withdraw a small matter from the volunteers: offers still waiting are declined with
    the reason; helpers already accepted go on with their part."""
    from participation.models import Claim

    reason = _require(reason, _("Say why no more help is needed."))

    def after(locked, event, now):
        Claim.objects.filter(issue_id=locked.pk, state=Claim.State.OFFERED).update(
            state=Claim.State.DECLINED, decided_at=now, decided_by=actor, decision_note=reason
        )

    return _act(
        issue,
        actor=actor,
        action=Action.CLOSE_TO_VOLUNTEERS,
        kind=IssueEvent.Kind.CLOSED_TO_VOLUNTEERS,
        internal_note=reason,
        changes=lambda locked, now: {"open_to_volunteers": False, "pending_claims": 0},
        after=after,
        submission_token=submission_token,
    )


def claim(
    *, issue: Issue, actor, offer: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """认领: a participant of the issue's grid offers to help, saying how; the unit handling
    it accepts or declines. Not on the reporter's timeline until accepted."""
    from participation.models import Claim

    offer = (offer or "").strip()

    def after(locked, event, now):
        Claim.objects.create(
            issue=locked, helper=actor, state=Claim.State.OFFERED, offer=offer, created_at=now
        )

    return _act(
        issue,
        actor=actor,
        action=Action.CLAIM,
        kind=IssueEvent.Kind.CLAIMED,
        internal_note=offer,
        is_public=False,
        changes=lambda locked, now: {"pending_claims": F("pending_claims") + 1},
        after=after,
        data={"helper_id": actor.pk},
        submission_token=submission_token,
    )


def _locked_claim(claim, locked: Issue, states, message: str):
    """The claim, locked, if it is the issue's and in one of ``states``."""
    from participation.models import Claim

    current = None
    if claim is not None and claim.issue_id == locked.pk:
        current = Claim.objects.select_for_update().filter(pk=claim.pk).first()
    if current is None or current.state not in states:
        raise WorkflowError(message, code="bad_claim")
    return current


def _decide_claim(issue, actor, claim, *, accept: bool, note: str, submission_token):
    from participation.models import Claim

    data: dict = {}

    def check(locked):
        current = _locked_claim(
            claim, locked, (Claim.State.OFFERED,), _("That offer is no longer waiting.")
        )
        data.update(claim_id=current.pk, helper_id=current.helper_id)

    def after(locked, event, now):
        Claim.objects.filter(pk=data["claim_id"]).update(
            state=Claim.State.ACCEPTED if accept else Claim.State.DECLINED,
            decided_at=now,
            decided_by=actor,
            decision_note=note,
        )

    return _act(
        issue,
        actor=actor,
        action=Action.ACCEPT_CLAIM if accept else Action.DECLINE_CLAIM,
        kind=IssueEvent.Kind.CLAIM_ACCEPTED if accept else IssueEvent.Kind.CLAIM_DECLINED,
        internal_note=note,
        # The reporter learns that a volunteer helps, not who was turned down.
        is_public=accept,
        check=check,
        changes=lambda locked, now: {
            "pending_claims": F("pending_claims") - 1,
            **({"hours_to_confirm": F("hours_to_confirm") + 1} if accept else {}),
        },
        after=after,
        data=data,
        submission_token=submission_token,
    )


def accept_claim(
    *, issue: Issue, actor, claim, note: str = "", submission_token: uuid.UUID | None = None
) -> Issue:
    """The unit handling the issue accepts a helper; ``note`` tells them what to do."""
    return _decide_claim(
        issue,
        actor,
        claim,
        accept=True,
        note=(note or "").strip(),
        submission_token=submission_token,
    )


def decline_claim(
    *, issue: Issue, actor, claim, reason: str, submission_token: uuid.UUID | None = None
) -> Issue:
    """The unit handling the issue declines an offer of help, saying why (the helper
    reads it)."""
    reason = _require(reason, _("Say why the offer is declined."))
    return _decide_claim(
        issue, actor, claim, accept=False, note=reason, submission_token=submission_token
    )


def helper_note(
    *,
    issue: Issue,
    actor,
    note: str,
    photos: Iterable[CleanPhoto] = (),
    done: bool = False,
    submission_token: uuid.UUID | None = None,
) -> Issue:
    """An accepted helper reports progress on the public timeline, with photos; ``done``
    marks their part done. The grid worker still resolves the issue."""
    from participation.models import Claim

    note = _require(note, _("Say what you did."))

    def after(locked, event, now):
        if done:
            Claim.objects.filter(
                issue_id=locked.pk, helper_id=actor.pk, state=Claim.State.ACCEPTED
            ).update(state=Claim.State.DONE, done_at=now)

    return _act(
        issue,
        actor=actor,
        action=Action.HELPER_NOTE,
        kind=IssueEvent.Kind.HELPER_NOTE,
        note=note,
        photos=photos,
        after=after,
        data={"helper_id": actor.pk, "done": bool(done)},
        submission_token=submission_token,
    )


def confirm_hours(
    *, issue: Issue, actor, claim, hours, note: str = "", submission_token=None
) -> Issue:
    """The unit handling the issue confirms a helper's service time (志愿服务时长), in half
    hours; once per contribution. Confirmed contributions make the service record."""
    from participation.models import HOURS_STEP, MAX_HOURS, Claim

    data: dict = {}
    if hours is None or not (HOURS_STEP <= hours <= MAX_HOURS) or hours % HOURS_STEP:
        raise WorkflowError(
            _("Give the hours in half hours, from %(low)s to %(high)s.")
            % {"low": HOURS_STEP, "high": MAX_HOURS},
            code="bad_hours",
        )

    def check(locked):
        current = _locked_claim(
            claim, locked, Claim.HELPING, _("That helper's time cannot be confirmed.")
        )
        if current.hours_confirmed_at is not None:
            raise WorkflowError(_("That helper's time is already confirmed."), code="bad_claim")
        data.update(claim_id=current.pk, helper_id=current.helper_id, hours=str(hours))

    def after(locked, event, now):
        Claim.objects.filter(pk=data["claim_id"]).update(
            hours=hours, hours_confirmed_at=now, hours_confirmed_by=actor
        )

    return _act(
        issue,
        actor=actor,
        action=Action.CONFIRM_HOURS,
        kind=IssueEvent.Kind.HOURS_CONFIRMED,
        internal_note=(note or "").strip(),
        is_public=False,
        check=check,
        changes=lambda locked, now: {"hours_to_confirm": F("hours_to_confirm") - 1},
        after=after,
        data=data,
        submission_token=submission_token,
    )


def add_partner(*, issue: Issue, actor, partner, note: str = "", submission_token=None) -> Issue:
    """红色合伙人: community staff list one of the community's partner units as co-handler
    of the issue; the partner's name is on the public timeline."""
    from participation.models import IssuePartner

    data: dict = {}

    def check(locked):
        if (
            partner is None
            or partner.community_id != locked.community_id
            or not partner.is_active
            or IssuePartner.objects.filter(issue_id=locked.pk, partner_id=partner.pk).exists()
        ):
            raise WorkflowError(
                _("Choose an active partner unit of the community not yet on this issue."),
                code="bad_partner",
            )
        data.update(partner_id=partner.pk, partner=partner.name)

    def after(locked, event, now):
        IssuePartner.objects.create(issue=locked, partner=partner, added_by=actor, added_at=now)

    return _act(
        issue,
        actor=actor,
        action=Action.ADD_PARTNER,
        kind=IssueEvent.Kind.PARTNER_ADDED,
        note=(note or "").strip(),
        check=check,
        after=after,
        data=data,
        submission_token=submission_token,
    )


def edit_details(*, issue: Issue, actor, submission_token: uuid.UUID | None = None, **details):
    """Correct what the report says (its title, description, address, caller's name and
    phone): an administrator's edit, in any status, on the record as one internal event
    holding each changed value before and after. Nothing else about the issue changes."""
    unknown = set(details) - set(EDITABLE_DETAILS)
    if unknown:
        raise WorkflowError(
            _("These details cannot be changed here: %(fields)s.")
            % {"fields": ", ".join(sorted(unknown))},
            code="not_editable",
        )
    details = {name: (value or "").strip() for name, value in details.items()}
    for name in ("title", "description"):
        if name in details:
            _require(details[name], _("The title and the description cannot be empty."))
    # Filled in from the locked row, before the event that holds it is written.
    record: dict = {"before": {}, "after": {}}

    def check(locked):
        for name, value in details.items():
            if getattr(locked, name) != value:
                record["before"][name] = getattr(locked, name)
                record["after"][name] = value
        if not record["after"]:
            raise WorkflowError(_("Nothing was changed."), code="unchanged")

    def changes(locked, now):
        return dict(record["after"])

    return _act(
        issue,
        actor=actor,
        action=Action.EDIT,
        kind=IssueEvent.Kind.EDITED,
        is_public=False,
        check=check,
        changes=changes,
        data=record,
        submission_token=submission_token,
    )


# --- 附议 (+1) ----------------------------------------------------------------------------


def support(*, issue: Issue, actor) -> Issue:
    """附议: "this is my problem too". The person's support is counted on the issue (once
    per person), and from then on they are told of its progress like its reporter. The
    event is internal: the reporter's timeline never names other residents."""
    with transaction.atomic():
        locked = permissions.supportable_issues(actor).select_for_update().filter(pk=issue.pk)
        locked = locked.first()
        if locked is None:
            raise WorkflowError(
                _("This issue can no longer be supported: it is settled, too old or your own."),
                code="forbidden",
            )
        if Support.objects.filter(issue=locked, user=actor).exists():
            raise WorkflowError(_("You already support this issue."), code="already_supported")
        now = timezone.now()
        Support.objects.create(issue=locked, user=actor, created_at=now)
        Issue.objects.filter(pk=locked.pk).update(support_count=F("support_count") + 1)
        locked.refresh_from_db(fields=["support_count"])
        event = IssueEvent.objects.create(
            issue=locked,
            actor=actor,
            kind=IssueEvent.Kind.SUPPORTED,
            from_status=locked.status,
            to_status=locked.status,
            from_level=locked.level,
            to_level=locked.level,
            is_public=False,
            data={"support_count": locked.support_count},
            created_at=now,
        )
        _announce([event])
    return locked


# --- patrol ------------------------------------------------------------------------------


def file_settled_on_spot(
    *,
    actor,
    category: Category,
    title: str,
    description: str,
    note: str,
    grid=None,
    building=None,
    address: str = "",
    severity: str | None = None,
    latitude=None,
    longitude=None,
    photos: Iterable[CleanPhoto] = (),
    after_photos: Iterable[CleanPhoto] = (),
    submission_token: uuid.UUID | None = None,
    answers: dict | None = None,
) -> Issue:
    """就地解决: a grid worker on patrol finds a small matter and settles it there and then.

    The record is the same as if it had gone the long way: filed (source PATROL, with the
    photos taken on finding it), accepted by the worker, resolved with a note and the
    after-photos: three events, written in one transaction, so all of it is kept or none.
    The resolution note is checked first, so a missing note stores nothing at all. A form
    sent twice (same ``submission_token``) records it once: the second time the issue
    already settled is returned as it is.
    """
    note = _require(note, _("Say how the issue was resolved."))
    with transaction.atomic(), _announced_together():
        issue = file_issue(
            actor=actor,
            source=Source.PATROL,
            category=category,
            title=title,
            description=description,
            grid=grid,
            building=building,
            address=address,
            severity=severity,
            latitude=latitude,
            longitude=longitude,
            photos=photos,
            submission_token=submission_token,
            answers=answers,
        )
        if issue.status != Status.SUBMITTED:  # filed with this token before, and handled
            return issue
        issue = accept(issue=issue, actor=actor)
        return resolve(issue=issue, actor=actor, note=note, photos=after_photos)


# --- the territory changes under open issues ----------------------------------------------

MOVE_CHUNK = 2000  # issues per UPDATE (SQLite limits the parameters of one statement)


def follow_unit_move(*, unit, actor=None) -> int:
    """A grid moved to another community, or a community to another subdistrict: its open
    issues follow the move, so the new units' staff see and act on them and the old ones no
    longer act. Closed and rejected issues keep the units that handled them (the figures of
    the past stay where the work was done). Runs inside the caller's transaction (the unit's
    save, ``grids.units.save_unit``).

    Set-based: the moved issues are locked and read in one query, each gets one internal
    ``MOVED`` event (actor: the administrator, when known) in one bulk INSERT, and one
    UPDATE per chunk sets their ``community``/``subdistrict``. An issue whose current unit
    was one of the old units loses its assignee, who held a post there, not on the new unit.
    Returns how many issues moved.
    """
    kind = units.of_unit(unit)
    above = kind.ancestors()
    parents = (
        kind.model.objects.filter(pk=unit.pk)
        .values(*(f"{kind.path_to(a)}_id" for a in above))
        .get()
    )
    new = {a.id_field: parents[f"{kind.path_to(a)}_id"] for a in above}
    stale = Issue.objects.filter(**{kind.id_field: unit.pk}, status__in=OPEN_STATUSES).exclude(
        **new
    )
    with transaction.atomic(savepoint=False):
        rows = list(
            stale.select_for_update()
            .order_by("pk")
            .values(
                "pk",
                "status",
                "level",
                "department_id",
                "assignee_id",
                "grid_id",
                "created_at",
                *new,
            )
        )
        if not rows:
            return 0
        names = {
            a.key: dict(
                a.model.objects.filter(
                    pk__in={r[a.id_field] for r in rows} | {new[a.id_field]}
                ).values_list("pk", "name")
            )
            for a in above
        }
        now = timezone.now()
        events = []
        for r in rows:
            moved = {
                a.key: [names[a.key].get(r[a.id_field], ""), names[a.key][new[a.id_field]]]
                for a in above
                if r[a.id_field] != new[a.id_field]
            }
            handler = units.current_kind(level=r["level"], department_id=r["department_id"])
            data = {"moved": moved, "unit": unit.name}
            if handler.key in moved and r["assignee_id"] is not None:
                data["assignee_cleared"] = True
            events.append(
                IssueEvent(
                    issue_id=r["pk"],
                    actor=actor,
                    kind=IssueEvent.Kind.MOVED,
                    from_status=r["status"],
                    to_status=r["status"],
                    from_level=r["level"],
                    to_level=r["level"],
                    is_public=False,
                    data=data,
                    created_at=now,
                )
            )
        created = IssueEvent.objects.bulk_create(events, batch_size=MOVE_CHUNK)
        # The issue's handler was one of the old units: its assignee held a post there.
        lost_handler = reduce(
            or_,
            (
                Q(department__isnull=True, level=a.key) & ~Q(**{a.id_field: new[a.id_field]})
                for a in above
            ),
        )
        ids = [r["pk"] for r in rows]
        for start in range(0, len(ids), MOVE_CHUNK):
            Issue.objects.filter(pk__in=ids[start : start + MOVE_CHUNK]).update(
                **new,
                assignee=Case(When(lost_handler, then=None), default=F("assignee")),
                updated_at=now,
            )
        rollups.changed_rows(rows)
        _announce(created)
    return len(rows)
