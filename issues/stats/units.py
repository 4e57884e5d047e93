"""The dashboard's units (subdistrict, community, grid, department, worker): loading one
with its figures, its breadcrumb, who may see it, and where a user starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import F, FilteredRelation, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grids.models import Community, Department, Grid, Post, Subdistrict

from ..models import Issue
from ..permissions import may_see_unit, scope_of, staff_issue_condition, unit_access
from .figures import Figures, figure_aggregates, median_aggregates
from .filters import Filters

# --- units and who may see them ---------------------------------------------------------

KINDS = ("subdistrict", "community", "grid", "department", "worker")
UNIT_MODELS = {
    "subdistrict": Subdistrict,
    "community": Community,
    "grid": Grid,
    "department": Department,
}
# Issue fields that tie an issue to a unit of each kind.
ISSUE_FIELD = {
    "subdistrict": "subdistrict_id",
    "community": "community_id",
    "grid": "grid_id",
    "department": "department_id",
}
KIND_LABELS = {
    "subdistrict": _("Subdistrict"),
    "community": _("Community"),
    "grid": _("Grid"),
    "department": _("Department"),
    "worker": _("Staff member"),
}


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


@dataclass
class Unit:
    """One unit on the dashboard, with its figures over the filtered issues."""

    kind: str
    pk: int
    name: str
    issues: Q  # which issues are the unit's (before the filters)
    figures: Figures
    parents: list[Crumb] = field(default_factory=list)

    @property
    def kind_label(self):
        return KIND_LABELS[self.kind]

    def rows(self, filters: Filters):
        """The unit's filtered issues as a queryset (for trend and recurrence)."""
        return Issue.objects.filter(self.issues & filters.condition())


# Parent fields read with the unit's own row, for the breadcrumb and the scope check.
_PARENT_VALUES = {
    "subdistrict": [],
    "community": ["subdistrict_id", "subdistrict__name"],
    "grid": [
        "community_id",
        "community__name",
        "community__subdistrict_id",
        "community__subdistrict__name",
    ],
    "department": ["subdistrict_id", "subdistrict__name"],
}


# Where each unit's subdistrict is, from the unit's row.
_SUBDISTRICT_OF = {
    "community": "subdistrict_id",
    "grid": "community__subdistrict_id",
    "department": "subdistrict_id",
}


def _crumbs(user, kind: str, row: dict) -> list[Crumb]:
    s = scope_of(user)
    superuser = user.is_superuser
    if kind in ("community", "department"):
        sid = row["subdistrict_id"]
        return [
            Crumb("subdistrict", sid, row["subdistrict__name"], superuser or sid in s.subdistricts)
        ]
    if kind == "grid":
        sid, cid = row["community__subdistrict_id"], row["community_id"]
        return [
            Crumb(
                "subdistrict",
                sid,
                row["community__subdistrict__name"],
                superuser or sid in s.subdistricts,
            ),
            Crumb(
                "community",
                cid,
                row["community__name"],
                superuser or cid in s.communities or sid in s.subdistricts,
            ),
        ]
    return []


def load_unit(
    user, kind: str, pk: int, filters: Filters, *, now: datetime | None = None, access: bool = True
) -> Unit | None:
    """The unit with its figures, or None if it does not exist or the user may not see it.

    For a territorial unit or a department this is ONE query: the unit's row, restricted to
    the user's scope in SQL, LEFT JOINed to its filtered issues and aggregated. A worker
    takes two (their posts, then the aggregate over the issues they handle that the viewer
    sees as staff). ``access=False`` skips the scope check (the public page).
    """
    now = now or timezone.now()
    if kind == "worker":
        return _load_worker(user, pk, filters, now=now)
    model = UNIT_MODELS.get(kind)
    if model is None:
        return None
    units = model.objects.filter(pk=pk)
    if access:
        condition = unit_access(user, kind)
        if condition is not None:
            units = units.filter(condition)
    issues = Q(**{ISSUE_FIELD[kind]: pk})
    joined = filters.condition("issues__")
    if kind != "subdistrict":
        # Redundant (an issue's subdistrict follows its grid; a department serves one
        # subdistrict), but it lets the database use the (subdistrict, created_at) index.
        joined &= Q(issues__subdistrict_id=F(_SUBDISTRICT_OF[kind]))
    rows = Issue.objects.filter(issues & filters.condition())
    row = next(
        iter(
            units.annotate(f=FilteredRelation("issues", condition=joined))
            .values("pk", "name", *_PARENT_VALUES[kind])
            .annotate(
                **figure_aggregates(now=now, prefix="f__"),
                **median_aggregates(rows, prefix="f__"),
            )
            .order_by()
        ),
        None,
    )
    if row is None:
        return None
    subdistrict_id = row["pk" if kind == "subdistrict" else _SUBDISTRICT_OF[kind]]
    if kind != "subdistrict":
        issues &= Q(subdistrict_id=subdistrict_id)
    return Unit(
        kind=kind,
        pk=row["pk"],
        name=row["name"],
        issues=issues,
        figures=Figures(row),
        parents=_crumbs(user, kind, row) if access else [],
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
        or any(may_see_unit(user, post.UNIT_FIELD[post.role], post.unit) for post in posts)
    ):
        return None
    person = posts[0].user
    issues = handler_condition(pk)
    visible = staff_issue_condition(user)
    if visible is not None:
        issues &= visible
    rows = Issue.objects.filter(issues & filters.condition())
    raw = rows.aggregate(**figure_aggregates(now=now), **median_aggregates(rows))
    parents = []
    for post in posts:
        kind = Post.UNIT_FIELD[post.role]
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
    )


def top_units(user) -> list[tuple[str, int, str]]:
    """The highest units the user holds posts on (kind, pk, name), where the dashboard
    starts; a unit below another of their units is left out. Superusers: every
    subdistrict. A few small queries on the unit tables, never on issues."""
    if user.is_superuser:
        return [("subdistrict", s.pk, s.name) for s in Subdistrict.objects.all()]
    s = scope_of(user)
    units = []
    if s.subdistricts:
        units += [
            ("subdistrict", x.pk, x.name) for x in Subdistrict.objects.filter(pk__in=s.subdistricts)
        ]
    if s.communities:
        units += [
            ("community", x.pk, x.name)
            for x in Community.objects.filter(pk__in=s.communities).exclude(
                subdistrict_id__in=s.subdistricts
            )
        ]
    if s.grids:
        units += [
            ("grid", x.pk, x.name)
            for x in Grid.objects.filter(pk__in=s.grids)
            .exclude(community_id__in=s.communities)
            .exclude(community__subdistrict_id__in=s.subdistricts)
        ]
    if s.departments:
        units += [
            ("department", x.pk, x.name)
            for x in Department.objects.filter(pk__in=s.departments).exclude(
                subdistrict_id__in=s.subdistricts
            )
        ]
    return units
