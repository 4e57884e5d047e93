"""Who may see and do what: the one rule book (DESIGN.md §6).

- A resident sees and acts on their own issues, and only the public part of the timeline.
- Staff see every issue whose grid, community or subdistrict is a unit they hold a post on
  (department staff: issues dispatched to their department). Seeing is wider than acting:
  they act only where they hold a post on the issue's *current unit* (its grid, community
  or subdistrict according to its level, or its department once dispatched).
- Internal notes and reporters' phone numbers are for staff only.

Every view fetches through ``visible_issues`` and asks ``can``; templates never re-derive a
rule. A user's posts are read once per user object (one query) and remembered on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from grids.models import Post

from .models import Issue, Level
from .transitions import Action, action_allowed_by_flow


@dataclass(frozen=True)
class Scope:
    """The units a user holds posts on, as id sets."""

    grids: frozenset = field(default_factory=frozenset)
    communities: frozenset = field(default_factory=frozenset)
    subdistricts: frozenset = field(default_factory=frozenset)
    departments: frozenset = field(default_factory=frozenset)

    @property
    def is_staff_anywhere(self) -> bool:
        return bool(self.grids or self.communities or self.subdistricts or self.departments)


def scope_of(user) -> Scope:
    """The user's posts as id sets; one query, remembered on the user object."""
    if not getattr(user, "is_authenticated", False):
        return Scope()
    cached = getattr(user, "_issue_scope", None)
    if cached is not None:
        return cached
    ids: dict[str, set] = {
        "grids": set(),
        "communities": set(),
        "subdistricts": set(),
        "departments": set(),
    }
    for grid, community, subdistrict, department in Post.objects.filter(
        user_id=user.pk, user__is_active=True
    ).values_list("grid_id", "community_id", "subdistrict_id", "department_id"):
        for key, value in (
            ("grids", grid),
            ("communities", community),
            ("subdistricts", subdistrict),
            ("departments", department),
        ):
            if value is not None:
                ids[key].add(value)
    scope = Scope(**{key: frozenset(value) for key, value in ids.items()})
    user._issue_scope = scope
    return scope


def forget_scope(user) -> None:
    """Drop the remembered posts (after a post is added or removed)."""
    user.__dict__.pop("_issue_scope", None)


def is_staff_user(user) -> bool:
    """Holds at least one post (or is a superuser)."""
    return bool(getattr(user, "is_superuser", False)) or scope_of(user).is_staff_anywhere


def visible_issues(user) -> QuerySet[Issue]:
    """Every issue this user may see, as a queryset (no query runs until it is used)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Issue.objects.none()
    if user.is_superuser:
        return Issue.objects.all()
    return Issue.objects.filter(Q(reporter_id=user.pk) | staff_issue_condition(user))


def sees_as_staff(user, issue: Issue) -> bool:
    """Staff who see this issue through one of their posts (so see internal notes)."""
    if getattr(user, "is_superuser", False):
        return True
    scope = scope_of(user)
    return (
        issue.grid_id in scope.grids
        or issue.community_id in scope.communities
        or issue.subdistrict_id in scope.subdistricts
        or (issue.department_id is not None and issue.department_id in scope.departments)
    )


# The field naming each level's unit; Issue and Post use the same names.
LEVEL_UNIT_FIELD = {
    Level.GRID: "grid_id",
    Level.COMMUNITY: "community_id",
    Level.SUBDISTRICT: "subdistrict_id",
}
# Which of a Scope's id sets holds the units of each such field.
SCOPE_SET = {
    "grid_id": "grids",
    "community_id": "communities",
    "subdistrict_id": "subdistricts",
    "department_id": "departments",
}


def current_unit_field(*, level: str, department_id) -> str:
    """The field (on Issue and on Post) naming the unit now handling an issue: its
    department once dispatched, otherwise its grid, community or subdistrict by level."""
    return "department_id" if department_id is not None else LEVEL_UNIT_FIELD[level]


def acts_on_current_unit(user, issue: Issue) -> bool:
    """Holds a post on the unit now handling the issue."""
    field = current_unit_field(level=issue.level, department_id=issue.department_id)
    return getattr(issue, field) in getattr(scope_of(user), SCOPE_SET[field])


def acting_condition(scope: Scope) -> Q:
    """Issues whose *current unit* is one of the scope's units, as a query condition.

    The queryset form of ``permissions.acts_on_current_unit`` (tests check they agree):
    the department once dispatched, otherwise the grid, community or subdistrict by level.
    Each branch is served by one of the partial ``issue_open_<unit>_due`` indexes.
    """
    branches = []
    if scope.grids:
        branches.append(Q(department__isnull=True, level=Level.GRID, grid_id__in=scope.grids))
    if scope.communities:
        branches.append(
            Q(department__isnull=True, level=Level.COMMUNITY, community_id__in=scope.communities)
        )
    if scope.subdistricts:
        branches.append(
            Q(
                department__isnull=True,
                level=Level.SUBDISTRICT,
                subdistrict_id__in=scope.subdistricts,
            )
        )
    if scope.departments:
        branches.append(Q(department_id__in=scope.departments))
    if not branches:
        return Q(pk__isnull=True)  # no post (a superuser): nothing is theirs to act on
    # Built without a neutral starting term, so the database sees only the unit branches
    # and can walk the matching index in deadline order.
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


def coordinates_subdistrict(user, issue: Issue) -> bool:
    """Subdistrict staff (综治中心) of the issue's subdistrict, who dispatch to departments."""
    return issue.subdistrict_id in scope_of(user).subdistricts


def is_reporting_resident(user, issue: Issue) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and issue.has_resident_reporter
        and issue.reporter_id == user.pk
    )


def _who_may(user, action: str, issue: Issue) -> bool:
    if action in (Action.EVALUATE, Action.REOPEN):
        return is_reporting_resident(user, issue)
    if action == Action.COMMENT:
        return issue.reporter_id == user.pk or sees_as_staff(user, issue)
    if action == Action.DISPATCH:
        return coordinates_subdistrict(user, issue)
    if action == Action.RESOLVE:
        return acts_on_current_unit(user, issue) or (
            issue.assignee_id is not None and issue.assignee_id == user.pk
        )
    if action == Action.VERIFY:
        return acts_on_current_unit(user, issue) and issue.resolved_by_id != user.pk
    if action in (
        Action.ACCEPT,
        Action.ASSIGN,
        Action.ESCALATE,
        Action.SUSPEND,
        Action.RESUME,
        Action.REJECT,
    ):
        return acts_on_current_unit(user, issue)
    # The sweep's own actions (supervise, auto-close) are never a person's.
    return False


# What a superuser may do from the admin on any issue: the staff's actions. The flow table
# still applies to them; evaluating belongs to the reporting resident and the sweep's own
# actions to the sweep.
SUPERUSER_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.ASSIGN,
        Action.COMMENT,
        Action.ESCALATE,
        Action.DISPATCH,
        Action.SUSPEND,
        Action.RESUME,
        Action.RESOLVE,
        Action.VERIFY,
        Action.REJECT,
    }
)


def can(user, action: str, issue: Issue) -> bool:
    """May this user do this action on this issue now? The flow table and the role rule."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not action_allowed_by_flow(action, issue):
        return False
    if user.is_superuser and action in SUPERUSER_ACTIONS:
        # Verification is a second pair of eyes, even for an administrator.
        return action != Action.VERIFY or issue.resolved_by_id != user.pk
    return _who_may(user, action, issue)


def allowed_actions(user, issue: Issue) -> list[str]:
    """The actions to offer this user on this issue, in table order."""
    return [action for action in Action.PERSON_ACTIONS if can(user, action, issue)]


def can_see_internal(user, issue: Issue) -> bool:
    """Internal notes are for staff who see the issue through a post."""
    return sees_as_staff(user, issue)


def can_see_reporter_phone(user, issue: Issue) -> bool:
    """The reporter's phone number is for the staff of the unit handling the issue."""
    return getattr(user, "is_superuser", False) or acts_on_current_unit(user, issue)


def can_file_in_grid(user, grid, source: str) -> bool:
    """Residents file in any grid; patrol reports in one's own grids; hotline calls by
    community or subdistrict staff over that grid."""
    from .models import Source

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    scope = scope_of(user)
    if source == Source.RESIDENT:
        return True
    if source == Source.VOLUNTEER:
        return bool(user.is_volunteer)
    if source == Source.PATROL:
        return grid.pk in scope.grids
    if source in (Source.HOTLINE, Source.API):
        return (
            grid.community_id in scope.communities
            or grid.community.subdistrict_id in scope.subdistricts
        )
    return False


def client_may_file(client, grid) -> bool:
    """An integrating system files into the subdistricts it serves, if it may write."""
    return (
        client.is_active
        and client.may_write
        and client.jurisdictions.filter(pk=grid.community.subdistrict_id).exists()
    )


def assignable_users(issue: Issue):
    """Colleagues who hold a post on the issue's current unit."""
    from grids.models import User

    field = current_unit_field(level=issue.level, department_id=issue.department_id)
    return (
        User.objects.filter(**{f"posts__{field}": getattr(issue, field)}, is_active=True)
        .distinct()
        .order_by("username")
    )


# --- the dashboard: which units' figures a person may see ---------------------------------


def unit_access(user, kind: str) -> Q | None:
    """Which units of ``kind`` the dashboard shows this user, as a condition on the unit
    model; ``None`` means all of them (superusers). A staff member sees the units they hold
    posts on and everything below: subdistrict → its communities → their grids, and the
    subdistrict's departments; department staff their department."""
    if user.is_superuser:
        return None
    s = scope_of(user)
    if kind == "subdistrict":
        return Q(pk__in=s.subdistricts)
    if kind == "community":
        return Q(pk__in=s.communities) | Q(subdistrict_id__in=s.subdistricts)
    if kind == "grid":
        return (
            Q(pk__in=s.grids)
            | Q(community_id__in=s.communities)
            | Q(community__subdistrict_id__in=s.subdistricts)
        )
    if kind == "department":
        return Q(pk__in=s.departments) | Q(subdistrict_id__in=s.subdistricts)
    raise ValueError(kind)


def may_see_unit(user, kind: str, obj) -> bool:
    """The same rule as ``unit_access`` for a unit already loaded (parents selected)."""
    if user.is_superuser:
        return True
    s = scope_of(user)
    if kind == "subdistrict":
        return obj.pk in s.subdistricts
    if kind == "community":
        return obj.pk in s.communities or obj.subdistrict_id in s.subdistricts
    if kind == "grid":
        return (
            obj.pk in s.grids
            or obj.community_id in s.communities
            or obj.community.subdistrict_id in s.subdistricts
        )
    if kind == "department":
        return obj.pk in s.departments or obj.subdistrict_id in s.subdistricts
    return False


def staff_issue_condition(user) -> Q | None:
    """Issues the user sees as staff (through a post), as a query condition; ``None``
    means all (superuser). Only the unit kinds they hold posts on appear in it."""
    if user.is_superuser:
        return None
    scope = scope_of(user)
    condition = Q(pk__in=[])  # no post: nothing (dropped from an OR by the ORM)
    for unit_field, ids in SCOPE_SET.items():
        if getattr(scope, ids):
            condition |= Q(**{f"{unit_field}__in": getattr(scope, ids)})
    return condition
