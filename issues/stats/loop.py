"""The closed loop's figures that are not on the issue row: a department's dispatches and
returns (退单, from the events), its joint-handling sub-tasks (联办, from ``IssueTask``), and
the resolved issues left unverified too long (待核查超期, ``issues.sweep.stale_unverified``).

Each is counted over the unit's issues filed in the period (and matching the filters),
like every other figure, and none costs a query of its own: for the unit, they are scalar
subqueries in the statement that loads it (``load_unit``); for a subdistrict's departments,
parts of the ranking's ``UNION ALL`` (``ranking_parts``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from grids.models import Department

from ..models import IssueEvent, IssueTask
from ..permissions import staff_issue_condition
from .filters import Filters
from .sql import JsonRows, count_of

# A dispatch the department receives: alone, or as the lead of a joint dispatch (the lead
# holds the issue, and only the holder returns it; a co-handler's part is its sub-task).
DISPATCH_KINDS = [IssueEvent.Kind.DISPATCHED, IssueEvent.Kind.JOINT_DISPATCHED]
ROUTING_KINDS = [*DISPATCH_KINDS, IssueEvent.Kind.RETURNED]

# The sub-tasks' counts, stored in the rollups but the last (``tasks_open_late``).
TASK_KEYS = ("tasks_done", "tasks_on_time", "tasks_open_late")
# The counts the daily rollups keep (from events and sub-tasks), and the units that have
# them: a department, and its subdistrict (all its departments).
STORED_KEYS = ("dispatches_received", "returned", "tasks_done", "tasks_on_time")
UNIT_KINDS = ("subdistrict", "department", "city")

# The resolved issues left unverified too long, listed on the unit's page (the count and
# the CSV have them all).
UNVERIFIED_LIST_ROWS = 20


def event_department_id():
    """The department a dispatch or return event names (``data.department_id``)."""
    return Cast(KeyTextTransform("department_id", "data"), BigIntegerField())


def event_department_name():
    """The department's name as the event recorded it; events recorded before the id was
    kept name the department only (names are unique within a subdistrict)."""
    return Cast(KeyTextTransform("department", "data"), CharField())


def _routing_events(issue_condition: Q):
    return IssueEvent.objects.filter(issue_condition, kind__in=ROUTING_KINDS)


# Sub-tasks judged are the ones done, and the ones still open past their due time (late).
# Cancelled ones and open ones not yet due are left out.


def _tasks_open_late(now: datetime) -> Q:
    return Q(state=IssueTask.State.OPEN, due_at__lt=now)


def _tasks_on_time() -> Q:
    return Q(state=IssueTask.State.DONE, finished_at__lte=F("due_at"))


def routing_aggregates() -> dict:
    """Over routing events: the dispatches a department received, and its returns."""
    return {
        "dispatches_received": Count("pk", filter=Q(kind__in=DISPATCH_KINDS)),
        "returned": Count("pk", filter=Q(kind=IssueEvent.Kind.RETURNED)),
    }


def task_aggregates() -> dict:
    """Over sub-tasks: those done, and those done by their due time. (Open ones past it
    depend on the moment: ``tasks_open_late``, counted live over open sub-tasks.)"""
    return {
        "tasks_done": Count("pk", filter=Q(state=IssueTask.State.DONE)),
        "tasks_on_time": Count("pk", filter=_tasks_on_time()),
    }


def event_department():
    """The department a routing event names: by id, or (events recorded before the id
    was kept) by name within the issue's subdistrict. For an events queryset annotated
    with ``named_department=event_department_name()``."""
    by_name = Department.objects.filter(
        subdistrict_id=OuterRef("issue__subdistrict_id"), name=OuterRef("named_department")
    ).values("pk")[:1]
    return Coalesce(event_department_id(), Subquery(by_name, output_field=BigIntegerField()))


def unit_annotations(kind: str, filters: Filters, *, now: datetime) -> dict:
    """The department counts of a subdistrict (all its departments) or of a department, as
    scalar subqueries on the unit's row (``OuterRef`` to it), or of the whole city (every
    department); nothing for other kinds."""
    if kind == "city":
        events = _routing_events(filters.condition("issue__"))
        tasks = IssueTask.objects.filter(filters.condition("issue__"))
    elif kind == "subdistrict":
        issues = Q(issue__subdistrict_id=OuterRef("pk"))
        events = _routing_events(issues & filters.condition("issue__"))
        tasks = IssueTask.objects.filter(issues & filters.condition("issue__"))
    elif kind == "department":
        issues = Q(issue__subdistrict_id=OuterRef("subdistrict_id"))
        events = (
            _routing_events(issues & filters.condition("issue__"))
            .annotate(department_ref=event_department_id(), department_name=event_department_name())
            .filter(
                Q(department_ref=OuterRef("pk"))
                | Q(department_ref__isnull=True, department_name=OuterRef("name"))
            )
        )
        # The department's sub-tasks of its subdistrict's issues, like its other figures.
        tasks = IssueTask.objects.filter(
            issues & filters.condition("issue__"), department_id=OuterRef("pk")
        )
    else:
        return {}
    return {
        "dispatches_received": count_of(events.filter(kind__in=DISPATCH_KINDS)),
        "returned": count_of(events.filter(kind=IssueEvent.Kind.RETURNED)),
        "tasks_done": count_of(tasks.filter(state=IssueTask.State.DONE)),
        "tasks_on_time": count_of(tasks.filter(_tasks_on_time())),
        **live_task_annotations(tasks, now=now),
    }


def live_unit_annotations(kind: str, filters: Filters, *, now: datetime) -> dict:
    """Of ``unit_annotations``, only what depends on "now" (the rest is in the rollups)."""
    found = unit_annotations(kind, filters, now=now)
    return {key: found[key] for key in ("tasks_open_late",) if key in found}


def live_task_annotations(tasks, *, now: datetime) -> dict:
    """The sub-tasks still open past their due time, among ``tasks``: counted live, over
    open sub-tasks only."""
    return {"tasks_open_late": count_of(tasks.filter(_tasks_open_late(now)))}


def unverified(user, issues: Q, filters: Filters, *, now: datetime):
    """The unit's filtered issues that ``stale_unverified`` lists (the sweep's rule, in one
    place), as the user sees them as staff, oldest first."""
    # Imported here: the sweep keeps the rollups, which import the figures.
    from ..sweep import stale_unverified

    rows = stale_unverified(now).filter(issues & filters.condition())
    visible = staff_issue_condition(user)
    return rows if visible is None else rows.filter(visible)


def unverified_annotations(user, issues: Q, filters: Filters, *, now: datetime) -> dict:
    """The unit's issues left unverified too long, as a scalar subquery of the statement
    that loads the unit: the oldest few, each carrying how many there are in all (one
    pass over them, where a count and a list took two). ``read_unverified`` takes them
    out of the loaded row."""
    rows = unverified(user, issues, filters, now=now).annotate(total=Window(Count("pk")))
    columns = ("id", "tracking_number", "title", "resolved_at", "total")
    return {"unverified_list": JsonRows(rows.values(*columns)[:UNVERIFIED_LIST_ROWS])}


def _aware(value) -> datetime | None:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment, UTC)  # SQLite keeps UTC without an offset
    return moment


def read_unverified(row: dict) -> list[dict]:
    """The list ``unverified_annotations`` put in a loaded row, oldest first (pk, tracking
    number, title, resolved at); its count goes into the row as ``unverified_stale``. A
    row loaded without them (the public figures) is left as it is."""
    if "unverified_list" not in row:
        return []
    found = json.loads(row.pop("unverified_list") or "[]")
    row["unverified_stale"] = found[0]["total"] if found else 0
    rows = [
        {
            "pk": item["id"],
            "tracking_number": item["tracking_number"],
            "title": item["title"],
            "resolved_at": _aware(item["resolved_at"]),
        }
        for item in found
    ]
    rows.sort(key=lambda item: (item["resolved_at"], item["pk"]))
    return rows


def ranking_parts(issue_rows, *, department_column: str, columns: list[str], empty: dict, now):
    """The parts of a subdistrict's ranking query that count its departments' loop: the
    routing events of its filtered issues grouped by the department they name, and the
    sub-tasks grouped by department. ``columns`` are the union's columns; ``empty`` typed
    NULLs for every column a part does not fill. An event that names its department only
    by name (recorded before the id was kept) carries it in ``child_name``, which the
    ranking matches to the department rows of the same query."""
    no_value = {column: value for column, value in empty.items() if column in columns}
    events = (
        IssueEvent.objects.filter(issue__in=issue_rows, kind__in=ROUTING_KINDS)
        .values(
            **{department_column: event_department_id()},
            child_name=event_department_name(),
        )
        .annotate(
            **{
                key: value
                for key, value in no_value.items()
                if key not in (department_column, "child_name", "dispatches_received", "returned")
            },
            **routing_aggregates(),
        )
        .values(*columns)
        .order_by()
    )
    tasks = (
        IssueTask.objects.filter(issue__in=issue_rows)
        .values(**{department_column: F("department_id")})
        .annotate(
            **{
                key: value
                for key, value in no_value.items()
                if key not in (department_column, *TASK_KEYS)
            },
            **task_aggregates(),
            tasks_open_late=Count("pk", filter=_tasks_open_late(now)),
        )
        .values(*columns)
        .order_by()
    )
    return [events, tasks]
