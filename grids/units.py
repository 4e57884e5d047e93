"""The territory's hierarchy, declared once: the unit kinds and who handles an issue now.

Four kinds of unit: the subdistrict (街道) above its communities (社区) above their grids
(网格), and the subdistrict's functional departments (职能部门). For each kind this module
says its model, the field naming such a unit (the same name on ``Issue`` and on ``Post``),
its parent kind, its label, the id set of ``issues.permissions.Scope`` that holds a
person's units of the kind, and the post role that holds it. Everything that needs "the
parent path", "the unit handling an issue" or "the units below a person's posts" asks here
(the rule book, the dashboard, the admin, notifications, the sweep), so the hierarchy
cannot drift between them.

The current-unit rule: an issue is handled by its department once dispatched, otherwise by
the unit of its level (``Issue.level`` takes the values of the territorial kinds' keys).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import F, Q
from django.db.models.lookups import Exact, IsNull
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True, eq=False)  # one object per kind: compared and hashed by identity
class UnitKind:
    key: str  # also the issue level handled by this kind's units (territorial kinds)
    model_name: str
    field: str  # the foreign key naming such a unit, on Issue and on Post
    parent_key: str | None
    label: Promise
    plural_label: Promise
    scope_set: str  # the id set of ``permissions.Scope``
    role: str  # ``Post.Role`` value of the post held on such a unit
    is_level: bool  # an issue climbs through this kind (grid → community → subdistrict)

    def __str__(self) -> str:
        return self.key

    @property
    def id_field(self) -> str:
        return f"{self.field}_id"

    @property
    def model(self):
        return apps.get_model("grids", self.model_name)

    @property
    def parent(self) -> UnitKind | None:
        return KINDS[self.parent_key] if self.parent_key else None

    def ancestors(self) -> list[UnitKind]:
        """The kinds above, nearest first (a grid: community, subdistrict)."""
        found, kind = [], self.parent
        while kind is not None:
            found.append(kind)
            kind = kind.parent
        return found

    def path_to(self, ancestor: UnitKind) -> str:
        """The lookup from a unit of this kind to its ``ancestor`` ("community__subdistrict")."""
        path = []
        for kind in self.ancestors():
            path.append(kind.field)
            if kind is ancestor:
                return "__".join(path)
        raise ValueError(f"{ancestor} is not above {self}")

    def children(self) -> list[UnitKind]:
        """The kinds whose parent this is, in declaration order."""
        return [kind for kind in KINDS.values() if kind.parent_key == self.key]


_DECLARED = (
    UnitKind(
        key="subdistrict",
        model_name="Subdistrict",
        field="subdistrict",
        parent_key=None,
        label=_("Subdistrict"),
        plural_label=_("Subdistricts"),
        scope_set="subdistricts",
        role="subdistrict_staff",
        is_level=True,
    ),
    UnitKind(
        key="community",
        model_name="Community",
        field="community",
        parent_key="subdistrict",
        label=_("Community"),
        plural_label=_("Communities"),
        scope_set="communities",
        role="community_staff",
        is_level=True,
    ),
    UnitKind(
        key="grid",
        model_name="Grid",
        field="grid",
        parent_key="community",
        label=_("Grid"),
        plural_label=_("Grids"),
        scope_set="grids",
        role="grid_worker",
        is_level=True,
    ),
    UnitKind(
        key="department",
        model_name="Department",
        field="department",
        parent_key="subdistrict",
        label=_("Department"),
        plural_label=_("Departments"),
        scope_set="departments",
        role="department_staff",
        is_level=False,
    ),
)

# Every kind by key, from the top of the hierarchy down (departments last).
KINDS: dict[str, UnitKind] = {kind.key: kind for kind in _DECLARED}
DEPARTMENT = KINDS["department"]
_BY_ROLE = {kind.role: kind for kind in _DECLARED}
_BY_MODEL = {kind.model_name: kind for kind in _DECLARED}


def of_role(role: str) -> UnitKind:
    """The kind of unit a post of this role names."""
    return _BY_ROLE[role]


def of_unit(unit) -> UnitKind:
    """The kind of a unit object (a Grid, a Community…) or of a unit model."""
    model = unit if isinstance(unit, type) else type(unit)
    return _BY_MODEL[model.__name__]


def post_values(unit) -> dict:
    """The role and unit field of a post on ``unit`` (``Post(user=…, **post_values(unit))``)."""
    kind = of_unit(unit)
    return {"role": kind.role, kind.field: unit}


# --- the unit handling an issue now ---------------------------------------------------------


def current_kind(*, level: str, department_id) -> UnitKind:
    """The kind of unit now handling an issue: its department once dispatched, otherwise
    the unit of its level."""
    return DEPARTMENT if department_id is not None else KINDS[level]


def current_unit(issue) -> tuple[UnitKind, int]:
    """The unit now handling an issue (or a row with ``level`` and the unit id fields), as
    (kind, id)."""
    get = issue.get if isinstance(issue, dict) else lambda name: getattr(issue, name)
    kind = current_kind(level=get("level"), department_id=get("department_id"))
    return kind, get(kind.id_field)


def at_position(kind: UnitKind, ref=F) -> Q:
    """Issues whose current unit is of this kind (``current_kind`` as a query condition):
    dispatched to a department, or at the level of ``kind``. ``ref=OuterRef`` says it of
    the outer query's issue, inside a subquery."""
    if kind is DEPARTMENT:
        return Q(IsNull(ref("department"), False))
    return Q(IsNull(ref("department"), True), Exact(ref("level"), kind.key))


def current_unit_condition(ids_of) -> Q:
    """Issues whose current unit is one of the given units, as a query condition:
    ``ids_of(kind)`` gives the ids of each kind (empty kinds are left out). With no units at
    all it matches nothing. Each branch is served by one of the partial
    ``issue_open_<unit>_due`` indexes."""
    branches = []
    for kind in KINDS.values():
        ids = ids_of(kind)
        if not ids:
            continue
        branches.append(at_position(kind) & Q(**{f"{kind.id_field}__in": ids}))
    return _any_of(branches)


# --- units at or below a set of units --------------------------------------------------------


def _any_of(branches: list[Q]) -> Q:
    """The branches OR-ed, built without a neutral starting term, so the database sees only
    the unit branches and can walk the matching index; none at all matches nothing."""
    if not branches:
        return Q(pk__isnull=True)
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


def above_current_unit_condition(ids_of) -> Q:
    """Issues whose current unit sits directly below one of the given units (a grid's
    community, a community's subdistrict, a department's subdistrict), as a query
    condition: the issues those units supervise and approve for. With none: nothing."""
    branches = []
    for kind in KINDS.values():
        parent = kind.parent
        if parent is None or not ids_of(parent):
            continue
        branches.append(at_position(kind) & Q(**{f"{parent.id_field}__in": ids_of(parent)}))
    return _any_of(branches)


def at_or_below(kind: UnitKind, ids_of) -> Q:
    """Units of ``kind`` that are one of the given units or lie below one of them, as a
    condition on ``kind.model``; ``ids_of(kind)`` gives the ids of each kind."""
    condition = Q(pk__in=ids_of(kind))
    for ancestor in kind.ancestors():
        condition |= Q(**{f"{kind.path_to(ancestor)}_id__in": ids_of(ancestor)})
    return condition


def is_at_or_below(kind: UnitKind, unit, ids_of) -> bool:
    """The same rule as ``at_or_below`` for a unit already loaded (its parents selected)."""
    if unit.pk in ids_of(kind):
        return True
    for ancestor in kind.ancestors():
        if parent_id(kind, unit, ancestor) in ids_of(ancestor):
            return True
    return False


def parent_id(kind: UnitKind, unit, ancestor: UnitKind):
    """The id of ``unit``'s ``ancestor`` (its loaded parents are followed)."""
    *through, last = kind.path_to(ancestor).split("__")
    for name in through:
        unit = getattr(unit, name)
    return getattr(unit, f"{last}_id")


# --- moving a unit --------------------------------------------------------------------------


def save_unit(unit, *, actor=None) -> bool:
    """Save a unit; if it moved to another parent (a grid to another community, a community
    to another subdistrict), its open issues follow in the same transaction
    (``issues.workflow.follow_unit_move``). Every path that changes a unit's parent (the
    admin's change form, the import) saves through here. Returns whether it moved."""
    kind = of_unit(unit)
    parent = kind.parent
    with transaction.atomic():
        before = None
        if parent is not None and unit.pk is not None:
            # Locked, so two administrators moving the same unit take turns.
            before = (
                kind.model.objects.select_for_update()
                .filter(pk=unit.pk)
                .values_list(parent.id_field, flat=True)
                .first()
            )
        unit.save()
        moved = before is not None and before != getattr(unit, parent.id_field)
        if moved:
            from issues.workflow import follow_unit_move

            follow_unit_move(unit=unit, actor=actor)
    return moved
