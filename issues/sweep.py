"""The deadline sweep (DESIGN.md §5), set-based.

Four passes, each in batches; a batch is one transaction of a bounded number of queries
(lock and read the batch, one UPDATE, one bulk INSERT of events or notifications), never
one per issue:

1. escalate every running issue past its deadline below SUBDISTRICT exactly one level;
2. put running issues overdue at SUBDISTRICT under supervision, once;
3. close RESOLVED issues whose resident reporter left them unevaluated for AUTO_CLOSE_DAYS;
4. warn the staff of the current unit about running issues due within the hour (once per
   deadline; no event, since nothing about the issue changes).

The staff of a unit hear of what a run brought them as digests, one notice per person and
unit ("12 issues arrived overdue from the grid level"; ``issues.notifications``), written
by one ``INSERT … SELECT … GROUP BY`` per kind of unit for each batch; residents are still
told about their own issues one by one.

It also counts the resolved issues left unverified for ``UNVERIFIED_DAYS`` (one query;
``stale_unverified`` lists them). Deadlines come from ``workflow.due_after``, in hours or
working days, computed once per (level, severity) per batch, so the calendar adds no query
per issue.

The new status of each pass is read from ``TRANSITIONS``, like every other action. Rows
are locked with ``FOR UPDATE SKIP LOCKED``, so two hosts running the sweep at once split
the work, and a row a person is changing right now is left for the next run. Suspended
issues are never touched. Running it twice in a row changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.utils import timezone

from grids import units

from . import notifications, rollups
from .models import (
    RUNNING_STATUSES,
    Issue,
    IssueEvent,
    Level,
    Severity,
    SlaPolicy,
    Status,
)
from .permissions import reporter_evaluates_condition
from .transitions import ESCALATES_TO, TRANSITIONS, Action
from .workflow import _announce, escalation_changes

BATCH_SIZE = 5000
# Staff are warned when a running issue's deadline is this close.
DUE_SOON = timedelta(hours=1)


@dataclass
class SweepResult:
    escalated: int = 0
    supervised: int = 0
    closed: int = 0
    warned: int = 0
    # Resolved issues nobody has verified for UNVERIFIED_DAYS (reported, not changed).
    unverified: int = 0
    # Grid-days whose rollups were brought up to date at the end (issues.rollups.catch_up).
    caught_up: int = 0

    def __str__(self):
        summary = (
            f"escalated {self.escalated}, put under supervision {self.supervised}, "
            f"closed unevaluated {self.closed}"
        )
        if self.warned:
            summary += f", warned due within the hour {self.warned}"
        if self.unverified:
            summary += f"; resolved but unverified for {settings.UNVERIFIED_DAYS}+ days: "
            summary += str(self.unverified)
        if self.caught_up:
            summary += f"; dashboard figures updated for {self.caught_up} grid-days"
        return summary


def _lock_batch(queryset, *, order_by, batch_size):
    """Lock and read one batch; rows other transactions hold are skipped, not waited for.

    (SQLite has no row locks; there the IMMEDIATE transaction holds the database's write
    lock from its first statement, which serialises the sweep against every writer.)
    """
    if connection.vendor == "postgresql":
        # The sweep is idempotent: if the server crashed before this commit reached the
        # disk, the next run would redo the batch. So it need not wait for the flush.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True, of=("self",))
    # The rollup key too (grid, filing time), for the batch's figures.
    fields = ["pk", "status", "level", "severity", "grid_id", "created_at"]
    return list(queryset.order_by(order_by, "pk").values(*fields)[:batch_size])


def _record(rows, *, kind: str, now) -> list[int]:
    """One event per issue of the batch, the actor empty: the system did it.

    Written by the database in one ``INSERT … SELECT`` from the issue rows as they are
    *before* the batch's UPDATE, so ``from_status`` and ``from_level`` are the old values,
    and the new ones are read off ``TRANSITIONS`` and ``ESCALATES_TO`` as SQL CASEs. No
    Python object is built per event. Returns the new events' ids, which the batch
    announces once its UPDATE is done, in its transaction (the digests commit with it).
    """
    action = _ACTION_OF_KIND[kind]
    params: list = [kind]
    to_status = "CASE status"
    for (status, each), target in TRANSITIONS.items():
        if each == action:
            to_status += " WHEN %s THEN %s"
            params += [status, target]
    to_status += " END"
    to_level = "level"
    if action == Action.ESCALATE:
        to_level = "CASE level" + " WHEN %s THEN %s" * len(ESCALATES_TO) + " END"
        for low, high in ESCALATES_TO.items():
            params += [low, high]
    ids = [row["pk"] for row in rows]
    params += [True, connection.ops.adapt_datetimefield_value(now), *ids]
    sql = (
        "INSERT INTO {event} (issue_id, actor_id, kind, from_status, to_status, from_level,"
        " to_level, note, is_public, data, created_at)"
        " SELECT id, NULL, %s, status, {to_status}, level, {to_level}, '', %s, '{{}}', %s"
        " FROM {issue} WHERE id IN ({ids}) RETURNING id"
    ).format(
        event=IssueEvent._meta.db_table,
        issue=Issue._meta.db_table,
        to_status=to_status,
        to_level=to_level,
        ids=", ".join(["%s"] * len(ids)),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        created = [row[0] for row in cursor.fetchall()]
    if len(created) != len(ids):  # cannot happen under the lock; refuse a wrong history
        raise RuntimeError("the sweep could not record one event per issue")
    return created


_ACTION_OF_KIND = {
    IssueEvent.Kind.ESCALATED: Action.ESCALATE,
    IssueEvent.Kind.SUPERVISED: Action.SUPERVISE,
    IssueEvent.Kind.AUTO_CLOSED: Action.AUTO_CLOSE,
}


def _per_row(declare, cases: list[dict]) -> dict:
    """A per-issue declaration of changes applied set-based. Each case is a set of field
    values (e.g. a level and a severity) that picks rows and is handed to ``declare``. A
    change alike in every case is set directly; one that differs becomes a CASE on them.
    """
    declared = [(case, declare(**case)) for case in cases]
    values = {}
    for name, first in declared[0][1].items():
        if all(changes[name] == first for _, changes in declared):
            values[name] = first
        else:
            values[name] = Case(
                *[When(**case, then=Value(changes[name])) for case, changes in declared],
                output_field=Issue._meta.get_field(name),
            )
    return values


def _escalate_batch(now, sla, batch_size) -> int:
    overdue = Issue.objects.filter(
        status__in=RUNNING_STATUSES, due_at__lt=now, level__in=list(ESCALATES_TO)
    )
    with transaction.atomic():
        rows = _lock_batch(overdue, order_by="due_at", batch_size=batch_size)
        if not rows:
            return 0
        # The workflow's own declaration of an escalation, for each (level, severity).
        changes = _per_row(
            lambda level, severity: escalation_changes(
                level=level, severity=severity, now=now, sla=sla
            ),
            [{"level": lv, "severity": sv} for lv in ESCALATES_TO for sv in Severity.values],
        )
        new_status = Case(
            *[
                When(status=s, then=Value(TRANSITIONS[(s, Action.ESCALATE)]))
                for s in RUNNING_STATUSES
            ],
            output_field=CharField(),
        )
        events = _record(rows, kind=IssueEvent.Kind.ESCALATED, now=now)
        updated = overdue.filter(pk__in=[r["pk"] for r in rows]).update(
            **changes, status=new_status, updated_at=now
        )
        if updated != len(rows):  # cannot happen under the lock; refuse to write a wrong history
            raise RuntimeError("escalation batch changed under the sweep")
        _announce(events)  # the notices, against the issues as they now are
        # The figures of the batch's days and grids (now, or noted for the catch-up).
        rollups.changed_rows(rows)
    return len(rows)


def _supervise_batch(now, batch_size) -> int:
    overdue = Issue.objects.filter(
        status__in=RUNNING_STATUSES,
        due_at__lt=now,
        level=Level.SUBDISTRICT,
        is_supervised=False,
    )
    with transaction.atomic():
        rows = _lock_batch(overdue, order_by="due_at", batch_size=batch_size)
        if not rows:
            return 0
        events = _record(rows, kind=IssueEvent.Kind.SUPERVISED, now=now)
        updated = overdue.filter(pk__in=[r["pk"] for r in rows]).update(
            is_supervised=True, supervised_at=now, updated_at=now
        )
        if updated != len(rows):
            raise RuntimeError("supervision batch changed under the sweep")
        _announce(events)  # the notices, against the issues as they now are
        # The figures of the batch's days and grids (now, or noted for the catch-up).
        rollups.changed_rows(rows)
    return len(rows)


def _close_batch(now, batch_size) -> int:
    # Only issues their reporter evaluates: the rest wait for verification (the rule book).
    stale = Issue.objects.filter(
        reporter_evaluates_condition(),
        status=Status.RESOLVED,
        resolved_at__lt=now - timedelta(days=settings.AUTO_CLOSE_DAYS),
    )
    with transaction.atomic():
        rows = _lock_batch(stale, order_by="resolved_at", batch_size=batch_size)
        if not rows:
            return 0
        events = _record(rows, kind=IssueEvent.Kind.AUTO_CLOSED, now=now)
        updated = stale.filter(pk__in=[r["pk"] for r in rows]).update(
            status=TRANSITIONS[(Status.RESOLVED, Action.AUTO_CLOSE)], closed_at=now, updated_at=now
        )
        if updated != len(rows):
            raise RuntimeError("closing batch changed under the sweep")
        _announce(events)  # the notices, against the issues as they now are
        # The figures of the batch's days and grids (now, or noted for the catch-up).
        rollups.changed_rows(rows)
    return len(rows)


def due_soon_condition(now) -> Q:
    """Running issues due within ``DUE_SOON`` from ``now``: the ones the sweep warns about
    (the staff queue lists a warning's issues by the same condition)."""
    return Q(status__in=RUNNING_STATUSES, due_at__gte=now, due_at__lt=now + DUE_SOON)


def _warn_due_soon_batch(now, batch_size) -> int:
    """Warn everyone holding a post on the current unit that issues are due within the hour.

    Running issues with ``now <= due_at < now + DUE_SOON`` are warned once per deadline:
    ``warned_due_at`` remembers the deadline warned about, so a later run skips them, and a
    deadline that moves (a resumed issue, a new severity) is warned about again. This is
    not a change of state, so no ``IssueEvent`` is written and ``updated_at`` stays: the
    only trace is the notification (reason DUE_SOON, no event), one digest per person and
    unit ("5 issues are due within the hour"). A batch costs a fixed number of queries:
    lock and read, one UPDATE, one ``INSERT … SELECT … GROUP BY`` per kind of unit.
    """
    soon = Issue.objects.filter(due_soon_condition(now)).filter(
        Q(warned_due_at__isnull=True)
        | Q(warned_due_at__lt=F("due_at"))
        | Q(warned_due_at__gt=F("due_at"))
    )
    with transaction.atomic():
        locked = soon
        if connection.features.has_select_for_update_skip_locked:
            locked = soon.select_for_update(skip_locked=True, of=("self",))
        rows = list(
            locked.order_by("due_at", "pk").values("pk", "level", "department_id")[:batch_size]
        )
        if not rows:
            return 0
        ids = [r["pk"] for r in rows]
        updated = soon.filter(pk__in=ids).update(warned_due_at=F("due_at"))
        if updated != len(rows):
            raise RuntimeError("due-soon batch changed under the sweep")
        kinds = {
            units.current_kind(level=r["level"], department_id=r["department_id"]) for r in rows
        }
        notifications.warn_due_soon(ids, kinds=kinds, now=now)
    return len(rows)


def stale_unverified(now=None):
    """Resolved issues waiting for verification (核查) or a call-back (回访) for more than
    ``UNVERIFIED_DAYS``: the ones no resident will evaluate, left in limbo. The rule book
    says who may close each (``permissions.may_verify``); this lists them, oldest first,
    so nobody forgets one."""
    now = now or timezone.now()
    return Issue.objects.filter(
        ~reporter_evaluates_condition(),
        status=Status.RESOLVED,
        resolved_at__lt=now - timedelta(days=settings.UNVERIFIED_DAYS),
    ).order_by("resolved_at", "pk")


def run_sweep(*, now=None, batch_size: int = BATCH_SIZE, catch_up: bool = True) -> SweepResult:
    """One full sweep; returns how many issues each pass changed. Last, the rollups catch
    up with every change noted so far (``catch_up``), the sweep's own and the day's: with
    the sweep running every minute, the dashboards are never further behind."""
    now = now or timezone.now()
    sla = SlaPolicy.table()
    result = SweepResult()
    # An issue escalated in this run has a fresh deadline after `now`, so it is not
    # escalated twice; the loops end when a pass finds nothing left.
    while n := _escalate_batch(now, sla, batch_size):
        result.escalated += n
    while n := _supervise_batch(now, batch_size):
        result.supervised += n
    while n := _close_batch(now, batch_size):
        result.closed += n
    # Last, so that issues escalated above (with fresh deadlines) are judged as they are now.
    while n := _warn_due_soon_batch(now, batch_size):
        result.warned += n
    result.unverified = stale_unverified(now).count()
    if catch_up:
        result.caught_up = rollups.catch_up()
    return result
