"""Who may see and do what: the one rule book (DESIGN.md §6).

- A resident sees and acts on their own issues, and only the public part of the timeline.
- Staff see every issue whose grid, community or subdistrict is a unit they hold a post on
  (department staff: issues dispatched to their department). Seeing is wider than acting:
  they act only where they hold a post on the issue's *current unit* (its grid, community
  or subdistrict according to its level, or its department once dispatched).
  A department co-handling an issue (联办) sees it through its sub-task.
- Internal notes and reporters' phone numbers are for staff only.
- The closed loop: a department returns a wrong dispatch (退单) and asks for more time
  (延期); the level above the acting unit (the subdistrict for a department) approves or
  refuses, and supervises with words (督办); subdistrict staff dispatch jointly (联办) and
  cancel a sub-task; each co-handling department completes its own; community and
  subdistrict staff call back the callers of hotline and API reports (回访).

Every view fetches through ``visible_issues`` and asks ``can``; templates never re-derive a
rule. A user's posts are read once per user object (one query) and remembered on it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connections, router
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, When

from config.compiled import CompiledRows, prepared_cursor
from grids import units
from grids.models import Post

from .models import RESIDENT_SOURCES, Issue, IssueTask, Severity, Source, Status
from .transitions import TRANSITIONS, Action, action_allowed_by_flow


@dataclass(frozen=True)
class Scope:
    """The units a user holds posts on, as id sets (one per unit kind: the kinds'
    ``scope_set`` names these fields)."""

    grids: frozenset = field(default_factory=frozenset)
    communities: frozenset = field(default_factory=frozenset)
    subdistricts: frozenset = field(default_factory=frozenset)
    departments: frozenset = field(default_factory=frozenset)

    def ids(self, kind) -> frozenset:
        """The ids of the units of this kind (``grids.units.UnitKind``) the user holds."""
        return getattr(self, kind.scope_set)

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
    kinds = list(units.KINDS.values())
    ids: dict[str, set] = {kind.scope_set: set() for kind in kinds}
    for row in _posts_of(user.pk, kinds):
        for kind, value in zip(kinds, row, strict=True):
            if value is not None:
                ids[kind.scope_set].add(value)
    scope = Scope(**{key: frozenset(value) for key, value in ids.items()})
    user._issue_scope = scope
    return scope


def _posts_of(user_id, kinds) -> list[tuple]:
    """The unit ids of each post of an active person, a column per kind of unit. Plain
    SQL, as the ORM would write it for ``Post.objects.filter(user_id=…,
    user__is_active=True).values_list(…)``: this runs on every signed-in request without a
    shared cache, and writing that query cost the ORM more than running it."""
    connection = connections[router.db_for_read(Post)]
    q = connection.ops.quote_name
    post = Post._meta
    person = post.get_field("user").related_model._meta
    holder = q(post.get_field("user").column)
    columns = ", ".join(f"p.{q(post.get_field(kind.id_field).column)}" for kind in kinds)
    sql = (
        f"SELECT {columns} FROM {q(post.db_table)} p JOIN {q(person.db_table)} u "
        f"ON u.{q(person.pk.column)} = p.{holder} "
        f"WHERE p.{holder} = %s AND u.{q(person.get_field('is_active').column)}"
    )
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [user_id])
        return cursor.fetchall()


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


def sees(user, issue: Issue) -> bool:
    """Whether this user sees this issue: ``visible_issues`` asked of one row already read
    (tests hold the two together)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return issue.reporter_id == user.pk or sees_as_staff(user, issue)


def sees_as_staff(user, issue: Issue) -> bool:
    """Staff who see this issue through one of their posts (so see internal notes), or
    through a sub-task of their department."""
    if getattr(user, "is_superuser", False):
        return True
    scope = scope_of(user)
    if any(getattr(issue, kind.id_field) in scope.ids(kind) for kind in units.KINDS.values()):
        return True
    return bool(scope.departments) and bool(_task_departments(issue) & scope.departments)


def _task_departments(issue: Issue, *, open_only: bool = False) -> frozenset:
    """The departments holding a sub-task of the issue (only open ones: ``open_only``).
    The sub-tasks are read once (one query) and remembered on the issue object while its
    open sub-tasks stay as many."""
    tasks = _cached(
        issue,
        "_task_states",
        (issue.pk, issue.open_task_count),
        lambda: frozenset(
            IssueTask.objects.filter(issue_id=issue.pk).values_list("department_id", "state")
        ),
    )
    return frozenset(
        department for department, state in tasks if not open_only or state == IssueTask.State.OPEN
    )


def holds_open_task(user, issue: Issue) -> bool:
    """Staff of a department with an open sub-task on the issue (联办)."""
    departments = scope_of(user).departments
    return bool(departments) and bool(_task_departments(issue, open_only=True) & departments)


def open_tasks_of(user, issue: Issue):
    """The open sub-tasks of the issue that this person's departments hold."""
    return IssueTask.objects.filter(
        issue_id=issue.pk, state=IssueTask.State.OPEN, department_id__in=scope_of(user).departments
    ).select_related("department")


def current_unit_field(*, level: str, department_id) -> str:
    """The field (on Issue and on Post) naming the unit now handling an issue: its
    department once dispatched, otherwise its grid, community or subdistrict by level
    (``grids.units.current_kind``)."""
    return units.current_kind(level=level, department_id=department_id).id_field


def acts_on_current_unit(user, issue: Issue) -> bool:
    """Holds a post on the unit now handling the issue."""
    kind, unit_id = units.current_unit(issue)
    return unit_id in scope_of(user).ids(kind)


def acting_condition(scope: Scope) -> Q:
    """Issues whose *current unit* is one of the scope's units, as a query condition.

    The queryset form of ``acts_on_current_unit`` (a test checks they agree over every
    level and dispatch state): the department once dispatched, otherwise the grid,
    community or subdistrict by level. A scope without posts (a superuser's) matches
    nothing: nothing is theirs to act on.
    """
    return units.current_unit_condition(scope.ids)


def is_above_current_unit(user, issue: Issue) -> bool:
    """Holds a post on the unit directly above the one handling the issue: the community of
    a grid, the subdistrict of a community or of a department. They approve its
    extensions and supervise it (``above_current_condition`` in query form)."""
    kind, _unit = units.current_unit(issue)
    above = kind.parent
    return above is not None and getattr(issue, above.id_field) in scope_of(user).ids(above)


def above_current_condition(scope: Scope) -> Q:
    """``is_above_current_unit`` as a query condition over the scope's units."""
    return units.above_current_unit_condition(scope.ids)


def supervises(user, issue: Issue) -> bool:
    """督办: the subdistrict over every issue in it, and the level above the acting unit."""
    return coordinates_subdistrict(user, issue) or is_above_current_unit(user, issue)


def coordinates_subdistrict(user, issue: Issue) -> bool:
    """Subdistrict staff (综治中心) of the issue's subdistrict, who dispatch to departments."""
    return issue.subdistrict_id in scope_of(user).subdistricts


def is_reporting_resident(user, issue: Issue) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and issue.has_resident_reporter
        and issue.reporter_id == user.pk
    )


# --- closing the loop: the reporter evaluates, or someone else verifies -------------------


def _cached(issue: Issue, name: str, key: tuple, compute):
    """Remember an answer that needs a query on the issue object, for as long as the facts
    it depends on (``key``) stay the same."""
    remembered = issue.__dict__.get(name)
    if remembered is None or remembered[0] != key:
        remembered = (key, compute())
        issue.__dict__[name] = remembered
    return remembered[1]


def reporter_evaluates(issue: Issue) -> bool:
    """Who closes a resolved issue. Its reporting resident evaluates it (满意 / 基本满意, or
    不满意 to have it handled again), and the sweep closes it unevaluated after a week,
    unless the reporter resolved it or holds a post on the unit that resolved it (the unit
    handling it now): staff may file for themselves as residents, but their own work is
    never rated by themselves or their colleagues. Such an issue, like a patrol report or a
    hotline call, is closed by verification (核查) by someone else: see ``may_verify``.

    The Python form of ``reporter_evaluates_condition``, which the sweep uses (tests keep
    the two together). Reads the reporter's posts in one query, for a resident's report
    only, remembered on the issue object; none for issues read through
    ``with_reporter_posts`` (list pages).
    """
    if not issue.has_resident_reporter:
        return False
    if issue.resolved_by_id is not None and issue.resolved_by_id == issue.reporter_id:
        return False
    if "reporter_holds_post" in issue.__dict__:  # annotated by with_reporter_posts
        return not issue.reporter_holds_post
    field = current_unit_field(level=issue.level, department_id=issue.department_id)
    unit = getattr(issue, field)
    holds_post = _cached(
        issue,
        "_reporter_holds_post",
        (issue.reporter_id, field, unit),
        lambda: Post.objects.filter(user_id=issue.reporter_id, **{field: unit}).exists(),
    )
    return not holds_post


def reporter_evaluates_condition() -> Q:
    """``reporter_evaluates`` as a query condition, for the sweep (set-based)."""
    return (
        Q(source__in=RESIDENT_SOURCES, reporter__isnull=False)
        & (Q(resolved_by__isnull=True) | ~Q(resolved_by_id=F("reporter_id")))
        & ~_reporter_holds_post_condition()
    )


def with_reporter_posts(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    """For list pages: each issue read also says whether its reporter holds a post on its
    current unit (a subquery of the same SQL), so ``reporter_evaluates``, and ``can`` for
    evaluating, run no query per row."""
    return queryset.annotate(
        reporter_holds_post=Case(
            When(_reporter_holds_post_condition(), then=True),
            default=False,
            output_field=BooleanField(),
        )
    )


def _reporter_holds_post_condition() -> Exists:
    # One EXISTS, the unit of the issue's position chosen inside it: PostgreSQL reads the
    # reporter's posts by their index, or joins them (an anti-join where it is negated),
    # where an EXISTS per kind of unit, OR-ed, made it hash every post of the city for each.
    current_unit = Q()
    for kind in units.KINDS.values():
        current_unit |= units.at_position(kind, OuterRef) & Q(
            **{kind.id_field: OuterRef(kind.id_field)}
        )
    return Exists(Post.objects.filter(current_unit, user_id=OuterRef("reporter_id")))


def _may_not_verify(issue: Issue) -> set:
    """Nobody verifies their own fix; and a reporter who filed as a resident never closes
    their own loop."""
    excluded = {issue.resolved_by_id}
    if issue.has_resident_reporter:
        excluded.add(issue.reporter_id)
    return excluded - {None}


def may_verify(user, issue: Issue) -> bool:
    """核查: a resolved issue that its reporter does not evaluate (``reporter_evaluates``)
    is confirmed by someone other than the person who resolved it (and other than a staff
    reporter): another member of the unit that resolved it; or, when nobody else holds a
    post there, staff of the level above: the community for a grid, the subdistrict for a
    community, the dispatching subdistrict for a department. So a one-worker grid's patrol
    reports are verified by its community, and no issue is left that nobody can close.
    """
    excluded = _may_not_verify(issue)
    if user.pk in excluded:
        return False
    if acts_on_current_unit(user, issue):
        return True
    # The level above the unit that resolved it (a department's: the subdistrict that
    # dispatched it); the subdistrict is the top, where an administrator verifies.
    kind, unit = units.current_unit(issue)
    above = kind.parent
    if above is None or getattr(issue, above.id_field) not in scope_of(user).ids(above):
        return False
    field = kind.id_field
    return not _cached(
        issue,
        "_unit_has_verifier",
        (field, unit, frozenset(excluded)),
        lambda: (
            Post.objects.filter(**{field: unit}, user__is_active=True)
            .exclude(user_id__in=excluded)
            .exists()
        ),
    )


# --- 回访: call-backs to those who reported by phone or through another system -------------

# Reports whose caller cannot evaluate online: they are asked on the phone.
CALLBACK_SOURCES = (Source.HOTLINE, Source.API)


def is_called_back(issue: Issue) -> bool:
    """A resolved issue whose caller is asked by phone (回访): a hotline or API report with
    a number to call, not yet unanswered ``CALLBACK_TRIES`` times (after that it is
    verified like any other). The Python form of ``callback_condition``."""
    return (
        issue.source in CALLBACK_SOURCES
        and bool(issue.caller_phone)
        and issue.callback_attempts < settings.CALLBACK_TRIES
    )


def may_call_back(user, issue: Issue) -> bool:
    """Community or subdistrict staff over the issue call back, not the person who fixed it."""
    if user.pk == issue.resolved_by_id:
        return False
    scope = scope_of(user)
    return issue.community_id in scope.communities or issue.subdistrict_id in scope.subdistricts


def callback_condition(user) -> Q:
    """The 待回访 queue: resolved issues this person may call back, in the communities and
    subdistricts of their posts, not fixed by themselves (``is_called_back`` and
    ``may_call_back``, as a query condition)."""
    scope = scope_of(user)
    area = Q(pk__isnull=True)
    if scope.communities:
        area |= Q(community_id__in=scope.communities)
    if scope.subdistricts:
        area |= Q(subdistrict_id__in=scope.subdistricts)
    return (
        Q(
            status=Status.RESOLVED,
            source__in=CALLBACK_SOURCES,
            callback_attempts__lt=settings.CALLBACK_TRIES,
        )
        & ~Q(caller_phone="")
        & ~Q(resolved_by_id=user.pk)
        & area
    )


def task_condition(user) -> Q:
    """Issues on which one of this person's departments holds an open sub-task (联办)."""
    scope = scope_of(user)
    if not scope.departments:
        return Q(pk__isnull=True)
    return Q(
        Exists(
            IssueTask.objects.filter(
                issue_id=OuterRef("pk"),
                state=IssueTask.State.OPEN,
                department_id__in=scope.departments,
            )
        )
    )


def extension_condition(user) -> Q:
    """Issues with an extension request waiting for one of this person's units to decide,
    in a status where it can be decided (a suspended issue's waits until it runs again)."""
    scope = scope_of(user)
    decidable = [status for (status, action) in TRANSITIONS if action == Action.APPROVE_EXTENSION]
    return Q(extension_until__isnull=False, status__in=decidable) & above_current_condition(scope)


# --- 党建引领, 志愿服务: party members and volunteers ---------------------------------------


@dataclass(frozen=True)
class Participation:
    """What makes a person a participant: a volunteer, or a party member whose registration
    (报到) their community confirmed; they take part in the small matters of their home
    grid."""

    is_volunteer: bool = False
    is_registered: bool = False
    home_grid: int | None = None

    @property
    def is_participant(self) -> bool:
        return self.is_volunteer or self.is_registered


def participation_of(user) -> Participation:
    """The person as a participant; one query, remembered on the user object. None for
    someone flagged neither volunteer nor party member (confirming a registration sets
    the flag), so staff asking about the participants' actions cost nothing."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Participation()
    if not (user.is_volunteer or user.is_party_member):
        return Participation()
    cached = getattr(user, "_participation", None)
    if cached is not None:
        return cached
    from grids.models import User
    from participation.models import PartyRegistration

    confirmed = PartyRegistration.objects.filter(
        user_id=OuterRef("pk"), state=PartyRegistration.State.CONFIRMED
    )
    row = (
        User.objects.filter(pk=user.pk)
        .values_list("is_volunteer", Exists(confirmed), "home_building__grid_id")
        .first()
    )
    participation = Participation(*row) if row else Participation()
    user._participation = participation
    return participation


def forget_participation(user) -> None:
    user.__dict__.pop("_participation", None)


def is_participant(user) -> bool:
    return participation_of(user).is_participant


# Where an offer of help is made: small matters still waiting or being handled.
VOLUNTEER_STATUSES = (Status.SUBMITTED, Status.IN_PROGRESS)


def volunteer_condition(user) -> Q:
    """The small matters of this participant's home grid open to volunteers now, as a
    query condition (nothing for anyone else)."""
    participation = participation_of(user)
    if not participation.is_participant or participation.home_grid is None:
        return Q(pk__in=[])
    return Q(
        open_to_volunteers=True,
        status__in=VOLUNTEER_STATUSES,
        severity=Severity.MINOR,
        grid_id=participation.home_grid,
    )


def helper_issues(user) -> QuerySet[Issue]:
    """What a participant sees as a helper: the small matters of their home grid open to
    volunteers, and every issue they offered to help with (until declined). They see the
    public part of these issues only: never the reporter, their phone or internal notes."""
    from participation.models import Claim

    if not is_participant(user):
        return Issue.objects.none()
    offered = Claim.objects.filter(
        issue_id=OuterRef("pk"), helper_id=user.pk, state__in=Claim.IN_FORCE
    )
    return Issue.objects.filter(volunteer_condition(user) | Q(Exists(offered)))


def claims_of(issue: Issue) -> tuple:
    """The issue's offers of help as (helper id, state) pairs; one query, remembered on the
    issue object until it changes (every action changes ``updated_at``)."""
    from participation.models import Claim

    return _cached(
        issue,
        "_claims",
        (issue.pk, issue.updated_at),
        lambda: tuple(
            Claim.objects.filter(issue_id=issue.pk).order_by("id").values_list("helper_id", "state")
        ),
    )


def may_claim(user, issue: Issue) -> bool:
    """A participant of the issue's grid who has no offer in force on it yet."""
    from participation.models import Claim

    participation = participation_of(user)
    if not participation.is_participant or participation.home_grid != issue.grid_id:
        return False
    return not any(
        helper == user.pk and state in Claim.IN_FORCE for helper, state in claims_of(issue)
    )


def is_accepted_helper(user, issue: Issue) -> bool:
    from participation.models import Claim

    if not participation_of(user).is_participant:
        return False
    return any(
        helper == user.pk and state == Claim.State.ACCEPTED for helper, state in claims_of(issue)
    )


def keeps_participants(user) -> bool:
    """Community and subdistrict staff keep the party members and volunteers of their
    communities (an administrator: all)."""
    scope = scope_of(user)
    return getattr(user, "is_superuser", False) or bool(scope.communities or scope.subdistricts)


def participant_communities(user):
    """The communities whose participants this person keeps: those they hold a post on, and
    those of their subdistricts (none for anyone else)."""
    from grids.models import Community

    if getattr(user, "is_superuser", False):
        return Community.objects.all()
    scope = scope_of(user)
    return Community.objects.filter(
        Q(pk__in=scope.communities) | Q(subdistrict_id__in=scope.subdistricts)
    )


def may_decide_registration(user, registration) -> bool:
    """A party member's registration (报到) is confirmed by the staff of its community (or
    an administrator)."""
    return getattr(user, "is_superuser", False) or (
        registration.community_id in scope_of(user).communities
    )


def partners_to_add(issue: Issue):
    """The community's active partner units not yet on the issue."""
    from participation.models import PartnerUnit

    return PartnerUnit.objects.filter(community_id=issue.community_id, is_active=True).exclude(
        issue_links__issue_id=issue.pk
    )


def _who_may(user, action: str, issue: Issue) -> bool:
    if action == Action.CLAIM:
        return may_claim(user, issue)
    if action == Action.HELPER_NOTE:
        return is_accepted_helper(user, issue)
    if action == Action.ADD_PARTNER:
        # 红色合伙人 partner with a community: its staff list one on an issue.
        return issue.community_id in scope_of(user).communities
    if action == Action.EVALUATE:
        return is_reporting_resident(user, issue)
    if action == Action.REOPEN:
        if is_called_back(issue):
            return may_call_back(user, issue)
        return is_reporting_resident(user, issue)
    if action in (Action.CALLBACK, Action.CALLBACK_MISSED):
        return may_call_back(user, issue)
    if action in (Action.DISPATCH_JOINT, Action.CANCEL_TASK):
        return coordinates_subdistrict(user, issue)
    if action == Action.COMPLETE_TASK:
        return holds_open_task(user, issue)
    if action in (Action.APPROVE_EXTENSION, Action.REFUSE_EXTENSION):
        return is_above_current_unit(user, issue)
    if action == Action.SUPERVISE_NOTE:
        return supervises(user, issue)
    if action == Action.COMMENT:
        return sees(user, issue)
    if action == Action.DISPATCH:
        return coordinates_subdistrict(user, issue)
    if action == Action.RESOLVE:
        return acts_on_current_unit(user, issue) or (
            issue.assignee_id is not None and issue.assignee_id == user.pk
        )
    if action == Action.VERIFY:
        return may_verify(user, issue)
    if action in (
        Action.ACCEPT,
        Action.ASSIGN,
        Action.ESCALATE,
        Action.SUSPEND,
        Action.RESUME,
        Action.REJECT,
        Action.RETURN,
        Action.REQUEST_EXTENSION,
        # The unit handling a small matter decides who helps with it, and for how long.
        Action.OPEN_TO_VOLUNTEERS,
        Action.CLOSE_TO_VOLUNTEERS,
        Action.ACCEPT_CLAIM,
        Action.DECLINE_CLAIM,
        Action.CONFIRM_HOURS,
    ):
        return acts_on_current_unit(user, issue)
    # Correcting the details is an administrator's (above); the sweep's own actions
    # (supervise, auto-close) are never a person's.
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
        Action.EDIT,
        Action.RETURN,
        Action.APPROVE_EXTENSION,
        Action.REFUSE_EXTENSION,
        Action.DISPATCH_JOINT,
        Action.CANCEL_TASK,
        Action.CALLBACK,
        Action.CALLBACK_MISSED,
        Action.SUPERVISE_NOTE,
        Action.OPEN_TO_VOLUNTEERS,
        Action.CLOSE_TO_VOLUNTEERS,
        Action.ACCEPT_CLAIM,
        Action.DECLINE_CLAIM,
        Action.CONFIRM_HOURS,
        Action.ADD_PARTNER,
    }
)


def can(user, action: str, issue: Issue) -> bool:
    """May this user do this action on this issue now? The flow table and the role rule."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not action_allowed_by_flow(action, issue):
        return False
    if user.is_superuser and (
        action in SUPERUSER_ACTIONS or (action == Action.REOPEN and is_called_back(issue))
    ):
        # Verification is a second pair of eyes, even for an administrator.
        return action != Action.VERIFY or user.pk not in _may_not_verify(issue)
    return _who_may(user, action, issue)


def allowed_actions(user, issue: Issue) -> list[str]:
    """The actions to offer this user on this issue, in table order."""
    return [action for action in Action.PERSON_ACTIONS if can(user, action, issue)]


def can_see_internal(user, issue: Issue) -> bool:
    """Internal notes are for staff who see the issue through a post."""
    return sees_as_staff(user, issue)


def can_see_reporter_phone(user, issue: Issue) -> bool:
    """The reporter's phone number is for the staff of the unit handling the issue, and for
    those who may call the caller back (回访) now."""
    return (
        getattr(user, "is_superuser", False)
        or acts_on_current_unit(user, issue)
        or can(user, Action.CALLBACK, issue)
    )


def can_file_in_grid(user, grid, source: str) -> bool:
    """Residents file in any grid; patrol reports in one's own grids; hotline calls by
    community or subdistrict staff over that grid."""
    from .models import Source

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if source == Source.RESIDENT:  # anyone signed in, so the posts are not read
        return True
    if source == Source.VOLUNTEER:
        return is_participant(user)
    scope = scope_of(user)
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
    kind, unit_id = units.current_unit(issue)
    return _people_on_units().filter(**{f"posts__{kind.id_field}": unit_id})


def assignable_list(issue: Issue) -> list:
    """``assignable_users`` as a list, read with SQL written once per kind of unit: the
    issue page's assign form draws it on every view."""
    kind, unit_id = units.current_unit(issue)
    return _assignable_rows(kind.key).rows(unit_id)


def _people_on_units():
    """Active people, each once, by login name: narrowed to a unit's posts above."""
    from grids.models import User

    return User.objects.filter(is_active=True).distinct().order_by("username")


@functools.cache
def _assignable_rows(kind: str) -> CompiledRows:
    from grids.models import User

    return CompiledRows(User, _people_on_units, field=f"posts__{units.KINDS[kind].id_field}")


# --- the dashboard: which units' figures a person may see ---------------------------------


def unit_access(user, kind: str) -> Q | None:
    """Which units of ``kind`` the dashboard shows this user, as a condition on the unit
    model; ``None`` means all of them (superusers). A staff member sees the units they hold
    posts on and everything below: subdistrict → its communities → their grids, and the
    subdistrict's departments; department staff their department."""
    if user.is_superuser:
        return None
    return units.at_or_below(units.KINDS[kind], scope_of(user).ids)


def may_see_unit(user, kind: str, obj) -> bool:
    """The same rule as ``unit_access`` for a unit already loaded (parents selected)."""
    if user.is_superuser:
        return True
    if kind not in units.KINDS:
        return False
    return units.is_at_or_below(units.KINDS[kind], obj, scope_of(user).ids)


def staff_issue_condition(user) -> Q | None:
    """Issues the user sees as staff (through a post), as a query condition; ``None``
    means all (superuser). Only the unit kinds they hold posts on appear in it."""
    if user.is_superuser:
        return None
    scope = scope_of(user)
    condition = Q(pk__in=[])  # no post: nothing (dropped from an OR by the ORM)
    for kind in units.KINDS.values():
        if scope.ids(kind):
            condition |= Q(**{f"{kind.id_field}__in": scope.ids(kind)})
    if scope.departments:  # co-handled issues (联办), through any sub-task, open or done
        condition |= Q(
            Exists(
                IssueTask.objects.filter(
                    issue_id=OuterRef("pk"), department_id__in=scope.departments
                )
            )
        )
    return condition


def can_see_photo(user, photo) -> bool:
    """A photo is seen by whoever sees its issue and the event it came with: the reporter
    the public ones, staff who see the issue all of them. Tracking by number shows none."""
    issue = photo.issue
    if not visible_issues(user).filter(pk=issue.pk).exists():
        # A helper sees the public photos of the issues they help with.
        if not helper_issues(user).filter(pk=issue.pk).exists():
            return False
    event = photo.event
    return event is None or event.is_public or can_see_internal(user, issue)


# --- 附议 (+1) ------------------------------------------------------------------------------

SUPPORT_DAYS = 30


def supportable_issues(user) -> QuerySet[Issue]:
    """Issues this person may add their support to: still being handled (not resolved,
    closed or rejected), filed in the last 30 days, and not their own report."""
    from datetime import timedelta

    from django.utils import timezone

    from .models import RUNNING_STATUSES, Status

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Issue.objects.none()
    return Issue.objects.filter(
        status__in=[*RUNNING_STATUSES, Status.SUSPENDED],
        created_at__gte=timezone.now() - timedelta(days=SUPPORT_DAYS),
    ).exclude(reporter_id=user.pk)


def may_support(user, issue: Issue) -> bool:
    """May this person support this issue now (``supportable_issues``, for one issue)?"""
    return supportable_issues(user).filter(pk=issue.pk).exists()


def grids_in_scope(scope: Scope):
    """The grids a person's posts cover: their grids, their communities' and subdistricts'
    grids, and for department staff the grids of the subdistrict the department serves."""
    from grids.models import Grid

    if not scope.is_staff_anywhere:
        return Grid.objects.none()
    condition = units.at_or_below(units.KINDS["grid"], scope.ids)
    if scope.departments:
        # A department serves its subdistrict's grids.
        condition |= Q(community__subdistrict__departments__in=scope.departments)
    return Grid.objects.filter(condition).distinct()
