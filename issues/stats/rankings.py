"""The ranking tables: a unit's child units (or the people handling its issues) with
their figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import (
    BigIntegerField,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Max,
    OuterRef,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.compiled import KeptAtMoment
from grids import units
from grids.models import Post

from ..models import ROLLUP_VALUES, IssueTask
from .figures import (
    COUNT_KEYS,
    LIVE_KEYS,
    RANKING_AGGREGATES,
    Figures,
    figure_aggregates,
    live_condition,
)
from .filters import Filters
from .loop import ranking_parts as loop_ranking_parts
from .units import CITY, KINDS, Unit, rollup_sources

# --- rankings of child units -------------------------------------------------------------

_KEPT = KeptAtMoment()

# The loop's counts a subdistrict's department rows add (from events and sub-tasks).
LOOP_RANKING_KEYS = (
    "dispatches_received",
    "returned",
    "tasks_done",
    "tasks_on_time",
    "tasks_open_late",
)


def _child_tables(kind: str) -> list[tuple[str, str]]:
    """What each kind ranks, as (table name, child kind): a unit's child units (the first
    kind is "the" ranking, a subdistrict's departments are their own table), or, for a unit
    with no children, the people handling its issues; nothing for a person."""
    if kind not in units.KINDS:
        return []
    children = units.KINDS[kind].children()
    if not children:
        return [("ranking", "worker")]
    return [("ranking" if n == 0 else f"{c.key}s", c.key) for n, c in enumerate(children)]


CHILD_TABLES = {
    **{kind: _child_tables(kind) for kind in KINDS},
    # The whole city ranks its subdistricts.
    CITY: [("ranking", "subdistrict")],
}


@dataclass
class RankingRow:
    kind: str
    pk: int | None
    name: str
    figures: Figures
    linked: bool = True

    def value(self, key: str):
        if key == "name":
            return self.name
        return self.figures.value(key)


def rankings(unit: Unit, filters: Filters, *, now: datetime | None = None) -> dict:
    """{table name: [RankingRow]} for the unit's children, in one query: every child unit
    (a child without issues has empty rates), or every person handling the unit's issues.
    Sorted by name here; the page re-sorts by the column asked for.

    For child units the query is a UNION ALL of the child lists (names, and a row for every
    child) and ONE scan of the unit's issues grouped by all child kinds at once (for a
    subdistrict: by community and department, a few dozen groups), which are then added up
    per child."""
    now = now or timezone.now()
    tables = CHILD_TABLES[unit.kind]
    if not tables:
        return {}
    if tables[0][1] == "worker":
        return {"ranking": _worker_rows(unit, filters, now)}
    kinds = [kind for _, kind in tables]
    declared = [units.KINDS[kind] for kind in kinds]
    id_columns = [f"id{n}" for n in range(len(kinds))]
    # A subdistrict ranks its departments by the loop too (returns, sub-tasks).
    loop = "department" in kinds
    counted = [*RANKING_AGGREGATES, *(LOOP_RANKING_KEYS if loop else ())]
    columns = ["part", *id_columns, "child_name", *counted]
    # Typed NULLs: PostgreSQL reads two untyped NULL columns in a UNION as text.
    no_id = Cast(Value(None), output_field=BigIntegerField())
    empty = {
        key: Cast(
            Value(None), output_field=BigIntegerField() if key in COUNT_KEYS else FloatField()
        )
        for key in counted
    }

    def union(now: datetime):
        """The UNION of the child lists and the data parts, at the moment ``now``."""
        parts = [
            (
                kind.model.objects.filter(**{kind.parent.id_field: unit.pk})
                if kind.parent is not None
                else kind.model.objects.all()  # the city's subdistricts
            )
            .annotate(
                part=Value(kind.key),
                **{column: F("pk") if n == k else no_id for n, column in enumerate(id_columns)},
                child_name=F("name"),
                **empty,
            )
            .values(*columns)
            .order_by()
            for k, kind in enumerate(declared)
        ]
        by_child = {
            column: F(kind.id_field) for column, kind in zip(id_columns, declared, strict=True)
        }

        def data_part(rows, by, counts: dict):
            """One part of the union: ``rows`` grouped by ``by``, filling ``counts``."""
            return (
                rows.values(**by)
                .annotate(
                    part=Value(""),
                    **{column: no_id for column in id_columns if column not in by},
                    child_name=Value(None, output_field=CharField()),
                    **counts,
                    **{key: value for key, value in empty.items() if key not in counts},
                )
                .values(*columns)
                .order_by()
            )

        if unit.rollup:
            # The rollup rows grouped by child, and the counts that depend on "now" over the
            # unit's open issues (and open sub-tasks), grouped the same way.
            stored = [key for key in counted if key in ROLLUP_VALUES]
            parts += [
                data_part(
                    model.objects.filter(unit.issues & condition),
                    by_child,
                    {key: Sum(key) for key in stored},
                )
                for model, condition in rollup_sources(filters, by_subdistrict=unit.kind == CITY)
            ]
            # A part per count, each reading only its own issues through the index of its
            # deadline (not every open issue of the unit).
            parts += [
                data_part(
                    unit.rows(filters).filter(live_condition(key, now=now)),
                    by_child,
                    {key: Count("pk")},
                )
                for key in LIVE_KEYS
            ]
            if loop:
                department_column = id_columns[kinds.index("department")]
                late_tasks = IssueTask.objects.filter(
                    _prefixed(unit.issues, "issue__") & filters.condition("issue__")
                ).filter(state=IssueTask.State.OPEN, due_at__lt=now)
                parts.append(
                    data_part(
                        late_tasks,
                        {department_column: F("department_id")},
                        {"tasks_open_late": Count("pk")},
                    )
                )
        else:
            parts.append(
                data_part(
                    unit.rows(filters),
                    by_child,
                    figure_aggregates(now=now, keys=RANKING_AGGREGATES),
                )
            )
        if loop and not unit.rollup:
            department_column = id_columns[kinds.index("department")]
            parts += loop_ranking_parts(
                unit.rows(filters),
                department_column=department_column,
                columns=columns,
                empty={
                    "part": Value(""),
                    **{column: no_id for column in id_columns},
                    "child_name": Value(None, output_field=CharField()),
                    **empty,
                },
                now=now,
            )
        return parts[0].union(*parts[1:], all=True)

    # Its SQL is written once per unit and period (``KeptAtMoment``), the moment put in
    # afresh on each run.
    found = _KEPT.rows(
        declared[0].model, (unit.kind, unit.pk, unit.issues, unit.rollup, filters), now, union
    )
    names: dict[tuple, str] = {}
    sums: dict[tuple, dict] = {}
    data_rows = []
    for row in found:
        if row["part"]:
            kind = row["part"]
            names[(kind, row[id_columns[kinds.index(kind)]])] = row["child_name"]
        else:
            data_rows.append(row)
    # Events recorded before the department's id was kept name it (unique in the
    # subdistrict).
    by_name = {name: pk for (kind, pk), name in names.items() if kind == "department"}
    for row in data_rows:
        for column, kind in zip(id_columns, kinds, strict=True):
            pk = row[column]
            if pk is None and kind == "department" and row["child_name"]:
                pk = by_name.get(row["child_name"])
            if pk is None:
                continue
            total = sums.setdefault((kind, pk), {})
            # The loop's counts are a department's (a rollup row of a dispatch also names
            # the issue's community, which has no such figure).
            for key in counted if kind == "department" else RANKING_AGGREGATES:
                total[key] = total.get(key, 0) + (row[key] or 0)
    result = {name: [] for name, _ in tables}
    table_of = {kind: name for name, kind in tables}
    for (kind, pk), name in names.items():
        result[table_of[kind]].append(RankingRow(kind, pk, name, Figures(sums.get((kind, pk), {}))))
    for rows in result.values():
        rows.sort(key=lambda r: (r.name, r.pk))
    return result


def _prefixed(condition: Q, prefix: str) -> Q:
    """A condition on issue fields, on the same fields through ``prefix``."""
    copy = Q(*condition.children, _connector=condition.connector, _negated=condition.negated)
    copy.children = [
        _prefixed(child, prefix) if isinstance(child, Q) else (f"{prefix}{child[0]}", child[1])
        for child in condition.children
    ]
    return copy


def _worker_rows(unit: Unit, filters: Filters, now: datetime) -> list[RankingRow]:
    """People handling the unit's issues, one GROUP BY over the issues. A row links to the
    person's page when they hold a post on this grid or department."""
    post_on_unit = Post.objects.filter(
        user_id=OuterRef("handler"), **{units.KINDS[unit.kind].id_field: unit.pk}
    )
    query = (
        unit.rows(filters)
        .values(handler=Coalesce("resolved_by_id", "assignee_id"))
        .annotate(
            username=Max(Coalesce("resolved_by__username", "assignee__username")),
            full_name=Max(Coalesce("resolved_by__first_name", "assignee__first_name")),
            holds_post=Exists(post_on_unit),
            **figure_aggregates(now=now, keys=RANKING_AGGREGATES),
        )
        .order_by()
    )
    rows = []
    for row in query:
        if row["handler"] is None:
            name, linked = str(_("Not yet assigned")), False
        else:
            # As User.display_name says it everywhere else on the site.
            name = row["full_name"].strip() or row["username"]
            linked = bool(row["holds_post"])
        rows.append(RankingRow("worker", row["handler"], name, Figures(row), linked=linked))
    rows.sort(key=lambda r: (r.pk is None, r.name))
    return rows
