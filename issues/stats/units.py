"""The dashboard's units (subdistrict, community, grid, department, worker): loading one
with its figures, its breadcrumb, who may see it, and where a user starts."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce

from django.db.models import F, FilteredRelation, OuterRef, Q, TextField
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.compiled import KeptAtMoment
from grids import units
from grids.models import Post, Subdistrict

from ..models import (
    ROLLUP_SUMS,
    ROLLUP_VALUES,
    DailyRollup,
    DailyTotal,
    Issue,
    MonthlyTotal,
    SubdistrictDay,
    SubdistrictMonth,
)
from ..permissions import may_see_unit, scope_of, staff_issue_condition, unit_access
from . import loop
from .figures import LIVE_KEYS, Figures, figure_aggregates, live_condition, median_aggregates
from .filters import Filters
from .sql import Scalar, SumColumns, count_of, parse_sums

# The rollup columns that are counts (the rest are sums of seconds).
ROLLUP_COUNT_COLUMNS = frozenset(ROLLUP_VALUES) - frozenset(ROLLUP_SUMS)

# --- units and who may see them ---------------------------------------------------------

# The dashboard's kinds: the territory's units (``grids.units``), and a person.
KINDS = (*units.KINDS, "worker")
WORKER_LABEL = _("Staff member")
# And the whole city: every subdistrict, for superusers (no post is held above a
# subdistrict). Its own page (``dashboard/city/``), not one of the kinds above.
CITY = "city"
CITY_NAME = _("The whole city")
CITY_LABEL = _("Every subdistrict")


def kind_label(kind: str):
    if kind == CITY:
        return CITY_LABEL
    return WORKER_LABEL if kind == "worker" else units.KINDS[kind].label


def handler_condition(user_id: int, prefix: str = "") -> Q:
    """Issues a person handles: resolved by them, or (not yet resolved) assigned to them."""
    return Q(**{f"{prefix}resolved_by_id": user_id}) | Q(
        **{f"{prefix}resolved_by__isnull": True, f"{prefix}assignee_id": user_id}
    )


@dataclass
class Crumb:
    kind: str
    pk: int
    name: str
    linked: bool

    @property
    def url(self) -> str:
        return unit_url(self.kind, self.pk)


def unit_url(kind: str, pk: int) -> str:
    """A unit's dashboard page (the whole city's has its own)."""
    if kind == CITY:
        return reverse("dashboard_city")
    return reverse("dashboard_unit", args=[kind, pk])


@dataclass
class Unit:
    """One unit on the dashboard, with its figures over the filtered issues."""

    kind: str
    pk: int
    name: str
    issues: Q  # which issues are the unit's (before the filters)
    figures: Figures
    parents: list[Crumb] = field(default_factory=list)
    # The oldest of its resolved issues left unverified too long (``loop.unverified``):
    # pk, tracking_number, title, resolved_at; ``figures.unverified_stale`` counts them all.
    unverified: list[dict] = field(default_factory=list)
    # Figures read from the daily rollups (the rankings and the trend follow), or counted
    # live over the issues (the oracle; a worker's figures always are).
    rollup: bool = False

    @property
    def kind_label(self):
        return kind_label(self.kind)

    def rows(self, filters: Filters):
        """The unit's filtered issues as a queryset (for trend and recurrence)."""
        return Issue.objects.filter(self.issues & filters.condition())


def _parent_values(kind: units.UnitKind) -> list[str]:
    """Parent fields read with the unit's own row, for the breadcrumb and the scope check."""
    paths = [kind.path_to(ancestor) for ancestor in kind.ancestors()]
    return [value for path in paths for value in (f"{path}_id", f"{path}__name")]


def _subdistrict_path(kind: units.UnitKind) -> str:
    """Where a unit's subdistrict is, from the unit's row."""
    if kind.parent is None:
        return "pk"
    return f"{kind.path_to(kind.ancestors()[-1])}_id"


def _crumbs(user, kind: units.UnitKind, row: dict) -> list[Crumb]:
    """The unit's parents from the top; each links when the user may see it."""
    scope = scope_of(user)
    crumbs, covered = [], user.is_superuser
    if user.is_superuser:
        crumbs.append(Crumb(CITY, 0, str(CITY_NAME), True))
    for ancestor in reversed(kind.ancestors()):
        path = kind.path_to(ancestor)
        pk = row[f"{path}_id"]
        # A parent is visible through a post on it or on any unit above it.
        covered = covered or pk in scope.ids(ancestor)
        crumbs.append(Crumb(ancestor.key, pk, row[f"{path}__name"], covered))
    return crumbs


def rollup_sources(filters: Filters, *, by_subdistrict: bool = False) -> list[tuple[type, Q]]:
    """Where the figures of the filtered issues are added up from, as (table, condition on
    its rows) pairs whose rows together count each day of the period once: the daily
    rollups by category, severity and source when one is chosen; otherwise the monthly
    totals of the calendar months wholly inside the period (a grid's month in one row) and
    the daily totals of its other days (a grid's day in one row). With ``by_subdistrict``
    (the figures of a subdistrict or of the whole city, not of its parts) the totals are a
    subdistrict's month and day, in the slice the filters choose."""
    if filters.narrowed and not by_subdistrict:
        return [(DailyRollup, filters.rollup_condition())]
    if by_subdistrict:
        day_table, month_table, chosen = SubdistrictDay, SubdistrictMonth, filters.slice_chosen()
    else:
        day_table, month_table, chosen = DailyTotal, MonthlyTotal, Q()
    months = filters.whole_months
    if months is None:
        return [(day_table, chosen & Q(day__gte=filters.start, day__lte=filters.end))]
    first, stop = months
    days = [
        Q(day__gte=low, day__lt=high)
        for low, high in ((filters.start, first), (stop, filters.end + timedelta(days=1)))
        if low < high
    ]
    sources = [(month_table, chosen & Q(day__gte=first, day__lt=stop))]
    if days:
        sources.append((day_table, chosen & reduce(operator.or_, days)))
    return sources


def add_sums(found: list[dict]) -> dict:
    """Sums read from several sources added up, column by column (None where every source
    had nothing)."""
    total = {}
    for sums in found:
        for column, value in sums.items():
            if value is not None:
                total[column] = (total.get(column) or 0) + value
            else:
                total.setdefault(column, None)
    return total


def rollup_sums(sources: list[tuple[type, Q]], keys: list[str], rows: Q | None = None) -> dict:
    """For each source (``rollup_sources``), the sums of its ``rows`` (all of them: None)
    matching the source's condition, as a scalar subquery ({name: subquery});
    ``read_sums`` reads them back."""
    rows = rows or Q()
    return {
        f"rollup_sums_{n}": Scalar(
            model.objects.filter(rows & condition).order_by().values(sums=SumColumns(keys)),
            output_field=TextField(),
        )
        for n, (model, condition) in enumerate(sources)
    }


def read_sums(row: dict, sums: dict, keys: list[str]) -> None:
    """Replace the ``rollup_sums`` subqueries' values in a loaded row by their columns,
    added up over the sources."""
    row.update(
        add_sums([parse_sums(row.pop(name), keys, counts=ROLLUP_COUNT_COLUMNS) for name in sums])
    )


def _rollup_keys(kind: str, *, access: bool) -> list[str]:
    """The rollup columns a unit's page reads: the loop's counts from events and sub-tasks
    are a subdistrict's and a department's, and for staff only (as the live figures)."""
    loop_counts = access and kind in loop.UNIT_KINDS
    return [key for key in ROLLUP_VALUES if loop_counts or key not in loop.STORED_KEYS]


def live_counts(issues: Q, filters: Filters, *, now: datetime) -> dict:
    """The counts that depend on ``now`` (``LIVE_KEYS``), as scalar subqueries over the
    unit's open issues (``issues`` may refer to the unit's row with ``OuterRef``)."""
    rows = Issue.objects.filter(issues & filters.condition())
    return {key: count_of(rows.filter(live_condition(key, now=now))) for key in LIVE_KEYS}


def load_unit(
    user,
    kind: str,
    pk: int,
    filters: Filters,
    *,
    now: datetime | None = None,
    access: bool = True,
    rollup: bool = False,
) -> Unit | None:
    """The unit with its figures, or None if it does not exist or the user may not see it.

    For a territorial unit or a department this is ONE query: the unit's row, restricted to
    the user's scope in SQL, LEFT JOINed to its filtered issues and aggregated. A worker
    takes two (their posts, then the aggregate over the issues they handle that the viewer
    sees as staff). The loop's counts that are not on the issue rows (a department's
    returns and sub-tasks, the issues left unverified too long, with the oldest few) are
    scalar subqueries of the same statement. ``access=False`` skips the scope check and
    everything that is for staff only (the public page).

    ``rollup=True`` reads the figures from the daily rollups instead of the issues: the
    unit's rollup rows of the period added up in a scalar subquery per source
    (``rollup_sources``: the monthly totals of its whole months and the daily totals of its
    other days, or the rollups by category, severity and source when one is chosen), with
    the counts that depend on "now" counted live over its open issues in the same
    statement. Still one query, whose cost follows the rollup rows and the open issues,
    not the issues filed. Medians then come from the rollups' histograms
    (``Figures.histogram_median``). A worker's figures are always counted live.
    """
    now = now or timezone.now()
    if kind == "worker":
        return _load_worker(user, pk, filters, now=now)
    if kind == CITY:
        return _load_city(user, filters, now=now, rollup=rollup)
    if rollup:
        return _load_from_rollups(user, kind, pk, filters, now=now, access=access)
    unit_kind = units.KINDS.get(kind)
    if unit_kind is None:
        return None
    candidates = unit_kind.model.objects.filter(pk=pk)
    if access:
        condition = unit_access(user, kind)
        if condition is not None:
            candidates = candidates.filter(condition)
    issues = Q(**{unit_kind.id_field: pk})
    joined = filters.condition("issues__")
    subdistrict_path = _subdistrict_path(unit_kind)
    if kind != "subdistrict":
        # Redundant (an issue's subdistrict follows its grid; a department serves one
        # subdistrict), but it lets the database use the (subdistrict, created_at) index.
        joined &= Q(issues__subdistrict_id=F(subdistrict_path))
    rows = Issue.objects.filter(issues & filters.condition())
    staff_only = {}
    if access:
        staff_only = {
            **loop.unit_annotations(kind, filters, now=now),
            **loop.unverified_annotations(user, issues, filters, now=now),
        }
    row = next(
        iter(
            candidates.annotate(f=FilteredRelation("issues", condition=joined))
            .values("pk", "name", *_parent_values(unit_kind))
            .annotate(
                **figure_aggregates(now=now, prefix="f__"),
                **median_aggregates(rows, prefix="f__"),
                **staff_only,
            )
            .order_by()
        ),
        None,
    )
    if row is None:
        return None
    unverified = loop.read_unverified(row)
    if kind != "subdistrict":
        issues &= Q(subdistrict_id=row[subdistrict_path])
    return Unit(
        kind=kind,
        pk=row["pk"],
        name=row["name"],
        issues=issues,
        figures=Figures(row),
        parents=_crumbs(user, unit_kind, row) if access else [],
        unverified=unverified,
    )


_KEPT = KeptAtMoment()


def _load_from_rollups(
    user, kind: str, pk: int, filters: Filters, *, now: datetime, access: bool
) -> Unit | None:
    unit_kind = units.KINDS.get(kind)
    if unit_kind is None:
        return None
    candidates = unit_kind.model.objects.filter(pk=pk)
    if access:
        condition = unit_access(user, kind)
        if condition is not None:
            candidates = candidates.filter(condition)
    unit_rows = Q(**{unit_kind.id_field: OuterRef("pk")})
    subdistrict_path = _subdistrict_path(unit_kind)
    if kind != "subdistrict":
        # As for the live figures: a unit's issues are in its subdistrict.
        unit_rows &= Q(subdistrict_id=OuterRef(subdistrict_path))
    keys = _rollup_keys(kind, access=access)
    # A subdistrict's own figures from its own totals (a day or a month a row).
    sources = rollup_sources(filters, by_subdistrict=kind == "subdistrict")
    sums = rollup_sums(sources, keys, unit_rows)
    issues = Q(**{unit_kind.id_field: pk})

    def statement(now: datetime):
        staff_only = {}
        if access:
            staff_only = {
                **loop.live_unit_annotations(kind, filters, now=now),
                **loop.unverified_annotations(user, issues, filters, now=now),
            }
        return (
            candidates.values("pk", "name", *_parent_values(unit_kind))
            .annotate(**sums, **live_counts(unit_rows, filters, now=now), **staff_only)
            .order_by()
        )

    # Its SQL is written once per unit, period and viewer's posts (``KeptAtMoment``), the
    # moment put in afresh on each run: what the viewer may see follows from their posts.
    viewer = None
    if access:
        viewer = True if user.is_superuser else scope_of(user)
    found = _KEPT.rows(unit_kind.model, (kind, pk, filters, viewer), now, statement)
    row = found[0] if found else None
    if row is None:
        return None
    read_sums(row, sums, keys)
    unverified = loop.read_unverified(row)
    if kind != "subdistrict":
        issues &= Q(subdistrict_id=row[subdistrict_path])
    return Unit(
        kind=kind,
        pk=row["pk"],
        name=row["name"],
        issues=issues,
        figures=Figures(row),
        parents=_crumbs(user, unit_kind, row) if access else [],
        unverified=unverified,
        rollup=True,
    )


def _load_city(user, filters: Filters, *, now: datetime, rollup: bool) -> Unit | None:
    """The whole city, for superusers only: one statement of scalar subqueries adding up
    the subdistricts' rollup rows and counting what depends on "now" over open issues
    (``rollup``), or one aggregate over all the period's issues (the oracle).
    The loop's counts and the issues left unverified too long as for a subdistrict."""
    if not user.is_superuser:
        return None

    def staff_only(now: datetime) -> dict:
        return {
            **loop.unverified_annotations(user, Q(), filters, now=now),
            **(loop.live_unit_annotations if rollup else loop.unit_annotations)(
                CITY, filters, now=now
            ),
        }

    if rollup:
        keys = _rollup_keys(CITY, access=True)
        sums = rollup_sums(rollup_sources(filters, by_subdistrict=True), keys)

        def statement(now: datetime):
            # Scalar subqueries read beside the first subdistrict (none: the city is
            # empty); each live count walks the index of its own deadline.
            scalars = {**live_counts(Q(), filters, now=now), **sums, **staff_only(now)}
            return Subdistrict.objects.annotate(**scalars).values(*scalars).order_by()[:1]

        # Its SQL is written once per period (``KeptAtMoment``), as for the other units.
        found = _KEPT.rows(Subdistrict, (CITY, filters), now, statement)
        row = found[0] if found else {name: None for name in sums}
        read_sums(row, sums, keys)
    else:
        issues = Issue.objects.filter(filters.condition())
        row = issues.aggregate(
            **figure_aggregates(now=now), **median_aggregates(issues), **staff_only(now)
        )
    return Unit(
        kind=CITY,
        pk=0,
        name=str(CITY_NAME),
        issues=Q(),
        figures=Figures(row),
        unverified=loop.read_unverified(row),
        rollup=rollup,
    )


def _load_worker(user, pk: int, filters: Filters, *, now: datetime) -> Unit | None:
    posts = list(
        Post.objects.filter(user_id=pk, user__is_active=True).select_related(
            "user", "grid__community__subdistrict", "community__subdistrict", "department"
        )
    )
    if not posts:
        return None
    if not (
        user.is_superuser
        or user.pk == pk
        or any(may_see_unit(user, units.of_role(post.role).key, post.unit) for post in posts)
    ):
        return None
    person = posts[0].user
    issues = handler_condition(pk)
    visible = staff_issue_condition(user)
    if visible is not None:
        issues &= visible
    rows = Issue.objects.filter(issues & filters.condition())
    raw = rows.aggregate(
        **figure_aggregates(now=now),
        **median_aggregates(rows),
        **loop.unverified_annotations(user, issues, filters, now=now),
    )
    unverified = loop.read_unverified(raw)
    parents = []
    for post in posts:
        kind = units.of_role(post.role).key
        parents.append(
            Crumb(kind, post.unit.pk, post.unit.name, may_see_unit(user, kind, post.unit))
        )
    return Unit(
        kind="worker",
        pk=pk,
        name=person.display_name,
        issues=issues,
        figures=Figures(raw),
        parents=parents,
        unverified=unverified,
    )


def top_units(user) -> list[tuple[str, int, str]]:
    """The highest units the user holds posts on (kind, pk, name), where the dashboard
    starts; a unit below another of their units is left out. Superusers: every
    subdistrict, after the whole city. A few small queries on the unit tables, never on
    issues."""
    if user.is_superuser:
        return [(CITY, 0, str(CITY_NAME))] + [
            ("subdistrict", s.pk, s.name) for s in Subdistrict.objects.all()
        ]
    scope = scope_of(user)
    found = []
    for kind in units.KINDS.values():
        if not scope.ids(kind):
            continue
        held = kind.model.objects.filter(pk__in=scope.ids(kind))
        for ancestor in kind.ancestors():
            held = held.exclude(**{f"{kind.path_to(ancestor)}_id__in": scope.ids(ancestor)})
        found += [(kind.key, x.pk, x.name) for x in held]
    return found
