"""Who is told what, written in the action's own transaction (listens to
``workflow.event_recorded``): an action that commits has told everyone, one that rolls
back has told no one.

- The resident who reported an issue is told when it is accepted, escalated, dispatched,
  resolved, rejected, or commented on publicly by someone else: a notification, and an
  email when they gave an address and confirmed it.
- Everyone holding a post on a unit is told when an issue arrives there: filed in their
  grid, escalated to their community or subdistrict, returned to their subdistrict by a
  department (退单), dispatched to their department, or given to it as a sub-task of a
  joint dispatch (联办: the lead and each co-handling department).
- What the deadline sweep brings to a unit is told as a *digest*: one notice per staff
  member per unit per sweep run, "12 issues arrived overdue from the grid level", that
  opens the queue on exactly those issues; likewise the issues due within the hour
  (``warn_due_soon``). A person acting is still told about per issue, and so are residents.

Set-based: the notifications for a whole batch of events (one action, or a sweep batch of
thousands) are written by a few ``INSERT … SELECT`` statements joining the events to the
issues and the posts (the digests count the issues per unit, then meet the posts), so the
database does the fan-out and no Python object is built per notification; the number of
statements does not depend on the number of events. The notices are written in a
savepoint: a failure here is logged and undoes only them, never the action that caused it.
Emails leave the request: the ids of the notifications to mail are enqueued as a task
(issues/tasks.py), which sends them and retries the ones that fail.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.compiled import prepared_cursor
from config.savepoints import undone_on_failure
from grids import units
from grids.models import Post, User

from .models import (
    RESIDENT_SOURCES,
    RUNNING_STATUSES,
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    Notification,
    Support,
)
from .transitions import ESCALATES_TO
from .workflow import event_recorded

log = logging.getLogger(__name__)

Kind = IssueEvent.Kind
# Events the reporting resident hears about.
REPORTER_KINDS = [
    Kind.ACCEPTED,
    Kind.ESCALATED,
    Kind.DISPATCHED,
    Kind.RESOLVED,
    Kind.REJECTED,
    Kind.DUPLICATE,
    Kind.COMMENTED,
]
CHUNK = 5000
# The sweep is the only one that escalates without an actor (every workflow action has a
# person behind it): its escalations are the arrivals of overdue issues, told as digests.
SWEEP_ESCALATION = "e.kind = %s AND e.actor_id IS NULL"


def _in(values) -> tuple[str, list]:
    values = list(values)
    return ", ".join(["%s"] * len(values)), values


def _one_of(column: str, ids) -> tuple[str, list]:
    """``column`` is one of ``ids`` (a batch's thousands), as an SQL condition and its
    parameters. (An ``IN`` list of literals: PostgreSQL hashes it; an ``= ANY(array)``
    parameter is searched row by row when the planner, misled by a batch's brand-new rows,
    scans another index.)"""
    placeholders, params = _in(ids)
    return f"{column} IN ({placeholders})", params


# One action's few events come back in the same few shapes, whose statements the server
# keeps planned (``prepared_cursor``); a sweep batch's thousands make a new text each time.
PREPARED_EVENTS = 8


def _cursor(event_ids):
    if len(event_ids) <= PREPARED_EVENTS:
        return prepared_cursor(connection)
    return connection.cursor()


def _tables() -> dict:
    return {
        "note": Notification._meta.db_table,
        "event": IssueEvent._meta.db_table,
        "issue": Issue._meta.db_table,
        "post": Post._meta.db_table,
        "user": User._meta.db_table,
        "support": Support._meta.db_table,
        "task": IssueTask._meta.db_table,
    }


def _insert_reporter_notes(event_ids: list[int]) -> int:
    """The reporting resident, for public events someone else caused."""
    ids, id_params = _one_of("e.id", event_ids)
    kinds, kind_params = _in(REPORTER_KINDS)
    sources, source_params = _in(RESIDENT_SOURCES)
    sql = """
        INSERT INTO {note} (user_id, issue_id, event_id, reason, is_read, created_at)
        SELECT i.reporter_id, e.issue_id, e.id, %s, %s, e.created_at
        FROM {event} e JOIN {issue} i ON i.id = e.issue_id
        WHERE {ids} AND e.kind IN ({kinds}) AND e.is_public = %s
          AND i.reporter_id IS NOT NULL AND i.source IN ({sources})
          AND (e.actor_id IS NULL OR e.actor_id <> i.reporter_id)
    """.format(ids=ids, kinds=kinds, sources=sources, **_tables())
    params = [Notification.Reason.YOUR_ISSUE, False, *id_params, *kind_params, True]
    with _cursor(event_ids) as cursor:
        cursor.execute(sql, params + source_params)
        return cursor.rowcount


def _insert_supporter_notes(event_ids: list[int]) -> int:
    """People who supported an issue (附议) hear what its reporter hears."""
    ids, id_params = _one_of("e.id", event_ids)
    kinds, kind_params = _in(REPORTER_KINDS)
    sql = """
        INSERT INTO {note} (user_id, issue_id, event_id, reason, is_read, created_at)
        SELECT s.user_id, e.issue_id, e.id, %s, %s, e.created_at
        FROM {event} e JOIN {support} s ON s.issue_id = e.issue_id
        WHERE {ids} AND e.kind IN ({kinds}) AND e.is_public = %s
          AND (e.actor_id IS NULL OR e.actor_id <> s.user_id)
    """.format(ids=ids, kinds=kinds, **_tables())
    params = [Notification.Reason.SUPPORTED_ISSUE, False, *id_params, *kind_params, True]
    with _cursor(event_ids) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _what_happened(event_ids: list[int]) -> set[tuple[str, str, bool]]:
    """(kind, level, whether the system did it) of these events, in one query: which of
    the statements below can find anything to write, so the others are not run. A batch's
    events have consecutive ids (one INSERT), so their range is read by the primary key;
    another writer's events in between could only make a statement run that finds nothing.
    """
    low, high = min(event_ids), max(event_ids)
    if high - low < 2 * len(event_ids):
        ids, id_params = "e.id BETWEEN %s AND %s", [low, high]
    else:
        ids, id_params = _one_of("e.id", event_ids)
    sql = "SELECT DISTINCT e.kind, e.to_level, e.actor_id IS NULL FROM {event} e WHERE {ids}"
    with _cursor(event_ids) as cursor:
        cursor.execute(sql.format(ids=ids, **_tables()), id_params)
        return {(kind, level, bool(system)) for kind, level, system in cursor.fetchall()}


# The events that bring an issue to the unit of a level (the sweep's escalations aside).
LEVEL_ARRIVALS = (Kind.FILED, Kind.ESCALATED, Kind.RETURNED)


def _insert_arrival_notes(event_ids: list[int], happened) -> int:
    """Everyone holding a post on the unit an issue has just arrived at (not the actor)."""
    ids, id_params = _one_of("e.id", event_ids)
    # (which events, the post column that must match the issue's column): an issue
    # arrives at a department by dispatch, at the unit of a level by filing or escalation,
    # back at the subdistrict when a department returns it (its event's level is always
    # the subdistrict's). The sweep's escalations are told as digests instead.
    # Only the kinds of unit some of these events reach are asked about.
    kinds = {kind for kind, _level, _system in happened}
    levels = {
        level
        for kind, level, system in happened
        if kind in LEVEL_ARRIVALS and not (kind == Kind.ESCALATED and system)
    }
    arrivals = [
        ("e.kind = %s", [Kind.DISPATCHED], kind.id_field)
        if kind is units.DEPARTMENT
        else (
            f"e.kind IN (%s, %s, %s) AND e.to_level = %s AND NOT ({SWEEP_ESCALATION})",
            [*LEVEL_ARRIVALS, kind.key, Kind.ESCALATED],
            kind.id_field,
        )
        for kind in units.KINDS.values()
        if (Kind.DISPATCHED in kinds if kind is units.DEPARTMENT else kind.key in levels)
    ]
    joins = {
        column: "JOIN {post} p ON p.{column} = i.{column}".format(column=column, **_tables())
        for _condition, _params, column in arrivals
    }
    # A joint dispatch reaches every department given a sub-task by it (the lead's too):
    # the sub-tasks it wrote carry the event's time.
    if Kind.JOINT_DISPATCHED in kinds:
        column = units.DEPARTMENT.id_field
        arrivals.append(("e.kind = %s", [Kind.JOINT_DISPATCHED], "joint"))
        joins["joint"] = (
            "JOIN {task} t ON t.issue_id = e.issue_id AND t.created_at = e.created_at "
            "JOIN {post} p ON p.{column} = t.{column}"
        ).format(column=column, **_tables())
    if not arrivals:
        return 0
    selects, params = [], []
    for condition, condition_params, join in arrivals:
        selects.append(
            """
            SELECT {distinct} p.user_id, e.issue_id, e.id, %s, %s, e.created_at
            FROM {event} e
            JOIN {issue} i ON i.id = e.issue_id
            {join}
            JOIN {user} u ON u.id = p.user_id AND u.is_active = %s
            WHERE {ids} AND {condition}
              AND i.status IN (%s, %s)
              AND (e.actor_id IS NULL OR e.actor_id <> p.user_id)
            """.format(
                # One note each, even for someone on two of the departments.
                distinct="DISTINCT" if join == "joint" else "",
                ids=ids,
                join=joins[join],
                condition=condition,
                **_tables(),
            )
        )
        # Only while the issue still waits for the unit (not one settled on the spot).
        params += [Notification.Reason.NEW_AT_UNIT, False, True, *id_params, *condition_params]
        params += RUNNING_STATUSES
    sql = "INSERT INTO {note} (user_id, issue_id, event_id, reason, is_read, created_at) ".format(
        **_tables()
    ) + " UNION ALL ".join(selects)
    with _cursor(event_ids) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# --- digests ----------------------------------------------------------------------------

DIGEST_COLUMNS = "user_id, issue_id, event_id, reason, is_read, created_at, issue_count, from_level"


def _upsert_digests(kind: units.UnitKind, per_unit: str, params: list, *, reason) -> int:
    """Write a digest for everyone holding a post on the units ``per_unit`` names (one row
    per unit and time: ``unit``, ``created_at``, ``issue_count``, ``from_level``, and the
    ``issue_id`` and ``event_id`` of its one issue when there is just one). The issues are
    counted per unit before they meet the posts: a batch of thousands is grouped into a few
    hundred units first, whatever plan the database picks for the join to the staff.

    A digest already there for the same person, unit, reason and time, written by an earlier
    batch of the same sweep run, takes the new issues into its count (and, now about
    several, names no single issue): one notice per person and unit for the whole run, and
    its link lists all of them."""
    column = kind.id_field
    # (The WHERE clause also keeps SQLite from reading ON CONFLICT as a join's ON.)
    sql = f"""
        INSERT INTO {{note}} ({DIGEST_COLUMNS}, {column})
        SELECT p.user_id, a.issue_id, a.event_id, %s, %s, a.created_at, a.issue_count,
          a.from_level, a.unit
        FROM ({per_unit}) a
        JOIN {{post}} p ON p.{column} = a.unit
        JOIN {{user}} u ON u.id = p.user_id
        WHERE u.is_active = %s
        ON CONFLICT (user_id, {column}, reason, created_at) WHERE {column} IS NOT NULL
        DO UPDATE SET issue_count = {{note}}.issue_count + excluded.issue_count,
            issue_id = NULL, event_id = NULL, is_read = %s
    """.format(**_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, [reason, False, *params, True, False])
        return cursor.rowcount


def _insert_arrival_digests(event_ids: list[int], happened) -> int:
    """Everyone holding a post on a unit the sweep escalated issues to: one digest per
    person and unit for the batch, counting the issues (those still waiting for the unit).
    A digest of one issue names it, and its event."""
    ids, id_params = _one_of("e.id", event_ids)
    running, running_params = _in(RUNNING_STATUSES)
    levels = {level for kind, level, system in happened if kind == Kind.ESCALATED and system}
    created = 0
    for level in sorted(levels & set(ESCALATES_TO.values())):
        per_unit = """
            SELECT i.{column} AS unit, e.created_at AS created_at,
              COUNT(DISTINCT e.issue_id) AS issue_count,
              CASE WHEN COUNT(DISTINCT e.issue_id) = 1 THEN MIN(e.issue_id) END AS issue_id,
              CASE WHEN COUNT(DISTINCT e.issue_id) = 1 THEN MIN(e.id) END AS event_id,
              MIN(e.from_level) AS from_level
            FROM {event} e
            JOIN {issue} i ON i.id = e.issue_id
            WHERE {ids} AND {sweep} AND e.to_level = %s
              AND i.status IN ({running})
            GROUP BY i.{column}, e.created_at
        """.format(
            column=units.KINDS[level].id_field,
            ids=ids,
            sweep=SWEEP_ESCALATION,
            running=running,
            **_tables(),
        )
        params = [*id_params, Kind.ESCALATED, level, *running_params]
        created += _upsert_digests(
            units.KINDS[level], per_unit, params, reason=Notification.Reason.NEW_AT_UNIT
        )
    return created


def warn_due_soon(issue_ids: list[int], *, kinds, now) -> int:
    """Everyone holding a post on the unit now handling these issues (due within the hour,
    read by the sweep) is warned: one digest per person and unit, at ``now``. ``kinds`` are
    the kinds of unit handling them (the others are not asked about). Returns how many
    notifications were written or added to."""
    ids, id_params = _one_of("i.id", issue_ids)
    created = 0
    for kind in units.KINDS.values():
        if kind not in kinds:
            continue
        if kind is units.DEPARTMENT:
            handled, handled_params = "i.department_id IS NOT NULL", []
        else:
            handled, handled_params = "i.department_id IS NULL AND i.level = %s", [kind.key]
        per_unit = """
            SELECT i.{column} AS unit, %s AS created_at, COUNT(DISTINCT i.id) AS issue_count,
              CASE WHEN COUNT(DISTINCT i.id) = 1 THEN MIN(i.id) END AS issue_id,
              CAST(NULL AS BIGINT) AS event_id, '' AS from_level
            FROM {issue} i
            WHERE {ids} AND {handled}
            GROUP BY i.{column}
        """.format(column=kind.id_field, ids=ids, handled=handled, **_tables())
        params = [connection.ops.adapt_datetimefield_value(now), *id_params, *handled_params]
        created += _upsert_digests(kind, per_unit, params, reason=Notification.Reason.DUE_SOON)
    return created


def digest_headline(note: Notification) -> str:
    """What a digest says, in the reader's language: "12 issues arrived overdue from the
    grid level"."""
    count = note.issue_count
    if note.reason == Notification.Reason.DUE_SOON:
        text = ngettext(
            "%(count)d issue is due within the hour",
            "%(count)d issues are due within the hour",
            count,
        )
    elif note.from_level == Level.GRID:
        text = ngettext(
            "%(count)d issue arrived overdue from the grid level",
            "%(count)d issues arrived overdue from the grid level",
            count,
        )
    elif note.from_level == Level.COMMUNITY:
        text = ngettext(
            "%(count)d issue arrived overdue from the community level",
            "%(count)d issues arrived overdue from the community level",
            count,
        )
    else:
        text = ngettext(
            "%(count)d issue arrived overdue", "%(count)d issues arrived overdue", count
        )
    return text % {"count": count}


def notify(event_ids: list[int], happened=None) -> int:
    """Write the notifications for these events and enqueue the emails; returns how many.
    (Which events concern whom is decided in the SQL, by their kind.) ``happened`` is
    what ``_what_happened`` would read of them, when the caller holds the events. Each
    chunk is undone alone if it fails (``config.savepoints``: a savepoint inside the
    caller's transaction, its own transaction outside one); the emails are enqueued when
    that commits."""
    created = 0
    given = happened if len(event_ids) <= CHUNK else None
    for start in range(0, len(event_ids), CHUNK):
        chunk = event_ids[start : start + CHUNK]
        mailed = []
        with undone_on_failure():
            happened = given if given is not None else _what_happened(chunk)
            told = 0  # residents
            if {kind for kind, _level, _system in happened} & set(REPORTER_KINDS):
                told = _insert_reporter_notes(chunk) + _insert_supporter_notes(chunk)
            created += _insert_arrival_notes(chunk, happened)
            created += _insert_arrival_digests(chunk, happened)
            created += told
            if told:
                mailed = _mailed(chunk)
        if mailed:
            _email_once_committed(mailed)
    return created


def _emailed(notes):
    """The notifications that are mailed: to residents who confirmed an address;
    ``User.notification_email`` says the same for one person."""
    return notes.filter(
        reason__in=[Notification.Reason.YOUR_ISSUE, Notification.Reason.SUPPORTED_ISSUE],
        user__email__gt="",
        user__confirmed_email=F("user__email"),
    )


def _mailed(event_ids: list[int]) -> list[int]:
    """The notifications of these events that go by email (one query)."""
    return list(
        _emailed(Notification.objects.filter(event_id__in=event_ids))
        .order_by("id")
        .values_list("id", flat=True)
    )


def _email_once_committed(notification_ids: list[int]) -> None:
    """Enqueue these emails once the notifications are committed: the action never waits
    for, or fails because of, mail."""
    from .tasks import enqueue, send_notification_emails

    transaction.on_commit(lambda: enqueue(send_notification_emails, notification_ids), robust=True)


def _message(note) -> EmailMessage:
    issue, event = note.issue, note.event
    subject = _("Your issue %(number)s: %(what)s") % {
        "number": issue.tracking_number,
        "what": event.get_kind_display(),
    }
    body = _(
        "Your issue “%(title)s” (%(number)s) was updated: %(what)s.\n"
        "%(note)s\n\nSign in to see its timeline and to evaluate the result."
    ) % {
        "title": issue.title,
        "number": issue.tracking_number,
        "what": event.get_kind_display(),
        "note": event.note,
    }
    return EmailMessage(subject, body, to=[note.user.email])


def send_emails(notification_ids: list[int]) -> tuple[int, list[int], Exception | None]:
    """Send the emails of these notifications (those still due one: an address changed
    since is not written to); returns how many were sent, the ids that failed and the last
    error. Each is sent on its own over one connection, so a retry sends only the failed."""
    notes = list(
        _emailed(Notification.objects.filter(id__in=notification_ids))
        .select_related("user", "issue", "event")
        .order_by("id")
    )
    if not notes:
        return 0, [], None
    sent, failed, error = 0, [], None
    # Mail goes out in the default language (zh-hans): it has no request to read one from.
    with translation.override(settings.LANGUAGE_CODE):
        messages = [(note.pk, _message(note)) for note in notes]
    mail = get_connection(fail_silently=False)
    try:
        mail.open()
    except Exception as exc:  # the mail server is down: all of them wait for the retry
        return 0, [pk for pk, _msg in messages], exc
    try:
        for pk, message in messages:
            try:
                mail.send_messages([message])
            except Exception as exc:
                failed.append(pk)
                error = exc
            else:
                sent += 1
    finally:
        try:
            mail.close()
        except Exception:  # the messages were handed over; a failing QUIT loses none
            log.warning("could not close the mail connection", exc_info=True)
    return sent, failed, error


@receiver(event_recorded, dispatch_uid="issues_notify")
def _on_events(sender, event_ids, happened=None, **kwargs):
    try:
        notify(event_ids, happened)
    except Exception:
        log.exception("could not create notifications for %d events", len(event_ids))
        raise
