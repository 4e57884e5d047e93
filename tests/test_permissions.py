"""Who sees what and who may do what (DESIGN.md §6): role × issue position × action.

The expectations are written out by hand from the design, not recomputed from the rules
under test.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from issues import permissions, workflow
from issues.models import Issue, Level, Source, Status
from issues.permissions import allowed_actions, can, visible_issues
from issues.transitions import Action
from tests.factories import DepartmentFactory, IssueFactory, UserFactory, post_for, staff_on

A = Action
ACC, ASG, COM, ESC, DIS = A.ACCEPT, A.ASSIGN, A.COMMENT, A.ESCALATE, A.DISPATCH
SUS, RSM, RES, EVA, REO, VER, REJ = (
    A.SUSPEND,
    A.RESUME,
    A.RESOLVE,
    A.EVALUATE,
    A.REOPEN,
    A.VERIFY,
    A.REJECT,
)
# The closed loop: return (退单), extension (延期), joint dispatch (联办), supervision (督办).
RET, XR, DJ, SN = A.RETURN, A.REQUEST_EXTENSION, A.DISPATCH_JOINT, A.SUPERVISE_NOTE
# The unit handling a small matter opens it to the volunteers of its grid (志愿服务).
OTV = A.OPEN_TO_VOLUNTEERS
# The issue's community lists a partner unit (红色合伙人) as co-handler, wherever it stands.
AP = A.ADD_PARTNER

ROLES = [
    "resident",  # reported the issue
    "other_resident",
    "worker",  # grid worker of the issue's grid
    "sibling_worker",  # grid worker of another grid in the same community
    "community_staff",  # the issue's community
    "other_community_staff",  # another community of the same subdistrict
    "subdistrict_staff",  # the issue's subdistrict
    "far_staff",  # another subdistrict
    "department_staff",  # the department the issue is dispatched to (position "department")
    "sister_department_staff",  # another department of the same subdistrict
    "other_department_staff",  # a department of another subdistrict
]

NOTHING: set = set()
ONLY_COMMENT = {COM}
# The current unit's staff on a SUBMITTED / IN_PROGRESS issue below the subdistrict.
# The handling unit asks the level above for more time; it never decides its own request.
HANDLER_SUBMITTED = {ACC, ASG, COM, ESC, REJ, XR, OTV}
HANDLER_IN_PROGRESS = {ASG, COM, ESC, SUS, RES, REJ, XR, OTV}
# The level above the handling unit, and the subdistrict over everything in it, supervise.
SUPERVISOR = {COM, SN}

# (role, position): (sees it, actions while SUBMITTED, actions while IN_PROGRESS).
# Positions: "grid" = at GRID level in its grid; "community" = escalated to COMMUNITY;
# "subdistrict" = escalated to SUBDISTRICT; "department" = dispatched to a department.
MATRIX = {
    # At the grid: the grid worker handles it; above, staff follow it and may comment.
    ("resident", "grid"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("other_resident", "grid"): (False, NOTHING, NOTHING),
    ("worker", "grid"): (True, HANDLER_SUBMITTED, HANDLER_IN_PROGRESS),
    ("sibling_worker", "grid"): (False, NOTHING, NOTHING),
    ("community_staff", "grid"): (True, SUPERVISOR | {AP}, SUPERVISOR | {AP}),
    ("other_community_staff", "grid"): (False, NOTHING, NOTHING),
    ("subdistrict_staff", "grid"): (True, SUPERVISOR, SUPERVISOR),
    ("far_staff", "grid"): (False, NOTHING, NOTHING),
    ("department_staff", "grid"): (False, NOTHING, NOTHING),
    ("sister_department_staff", "grid"): (False, NOTHING, NOTHING),
    ("other_department_staff", "grid"): (False, NOTHING, NOTHING),
    # Escalated to the community: the grid worker still sees it but no longer acts.
    ("resident", "community"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("other_resident", "community"): (False, NOTHING, NOTHING),
    ("worker", "community"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("sibling_worker", "community"): (False, NOTHING, NOTHING),
    ("community_staff", "community"): (
        True,
        HANDLER_SUBMITTED | {AP},
        HANDLER_IN_PROGRESS | {AP},
    ),
    ("other_community_staff", "community"): (False, NOTHING, NOTHING),
    ("subdistrict_staff", "community"): (True, SUPERVISOR, SUPERVISOR),
    ("far_staff", "community"): (False, NOTHING, NOTHING),
    ("department_staff", "community"): (False, NOTHING, NOTHING),
    ("sister_department_staff", "community"): (False, NOTHING, NOTHING),
    ("other_department_staff", "community"): (False, NOTHING, NOTHING),
    # At the subdistrict: no escalation above it; it dispatches instead.
    ("resident", "subdistrict"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("other_resident", "subdistrict"): (False, NOTHING, NOTHING),
    ("worker", "subdistrict"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("sibling_worker", "subdistrict"): (False, NOTHING, NOTHING),
    ("community_staff", "subdistrict"): (True, {COM, AP}, {COM, AP}),
    ("other_community_staff", "subdistrict"): (False, NOTHING, NOTHING),
    ("subdistrict_staff", "subdistrict"): (
        True,
        {ACC, ASG, COM, DIS, REJ, XR, DJ, SN, OTV},
        {ASG, COM, DIS, SUS, RES, REJ, XR, DJ, SN, OTV},
    ),
    ("far_staff", "subdistrict"): (False, NOTHING, NOTHING),
    ("department_staff", "subdistrict"): (False, NOTHING, NOTHING),
    ("sister_department_staff", "subdistrict"): (False, NOTHING, NOTHING),
    ("other_department_staff", "subdistrict"): (False, NOTHING, NOTHING),
    # Dispatched: the department handles it, or returns it; the subdistrict may only
    # re-dispatch it (alone or jointly) and supervise it.
    ("resident", "department"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("other_resident", "department"): (False, NOTHING, NOTHING),
    ("worker", "department"): (True, ONLY_COMMENT, ONLY_COMMENT),
    ("sibling_worker", "department"): (False, NOTHING, NOTHING),
    ("community_staff", "department"): (True, {COM, AP}, {COM, AP}),
    ("other_community_staff", "department"): (False, NOTHING, NOTHING),
    ("subdistrict_staff", "department"): (True, {COM, DIS, DJ, SN}, {COM, DIS, DJ, SN}),
    ("far_staff", "department"): (False, NOTHING, NOTHING),
    ("department_staff", "department"): (
        True,
        {ACC, ASG, COM, REJ, RET, XR, OTV},
        {ASG, COM, SUS, RES, REJ, RET, XR, OTV},
    ),
    ("sister_department_staff", "department"): (False, NOTHING, NOTHING),
    ("other_department_staff", "department"): (False, NOTHING, NOTHING),
}

POSITIONS = {
    # position: (level, dispatched, who holds it while IN_PROGRESS)
    "grid": (Level.GRID, False, "worker"),
    "community": (Level.COMMUNITY, False, "community_staff"),
    "subdistrict": (Level.SUBDISTRICT, False, "subdistrict_staff"),
    "department": (Level.SUBDISTRICT, True, "department_staff"),
}


@pytest.fixture
def cast(territory, people):
    """``people`` plus staff of a second department in the same subdistrict."""
    sister = DepartmentFactory(subdistrict=territory.subdistrict, name="市场监管")
    people.sister_department_staff = staff_on(sister, username="sisterdepartment")
    return people


def issue_at(t, p, position, status, **fields) -> Issue:
    level, dispatched, holder = POSITIONS[position]
    now = timezone.now()
    values = dict(
        grid=t.grid,
        category=t.category,
        source=Source.RESIDENT,
        reporter=p.resident,
        level=level,
        status=status,
        department=t.department if dispatched else None,
        dispatched_at=now if dispatched else None,
        escalation_count=[Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT].index(level),
    )
    if status != Status.SUBMITTED:
        values.update(assignee=getattr(p, holder), accepted_at=now)
    values.update(fields)
    return IssueFactory(**values)


def test_matrix_is_complete():
    assert set(MATRIX) == {(role, position) for role in ROLES for position in POSITIONS}


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.IN_PROGRESS])
@pytest.mark.parametrize(("role", "position"), list(MATRIX))
def test_role_by_position(territory, cast, role, position, status):
    sees, when_submitted, when_in_progress = MATRIX[(role, position)]
    expected = when_submitted if status == Status.SUBMITTED else when_in_progress
    issue = issue_at(territory, cast, position, status)
    user = getattr(cast, role)

    assert visible_issues(user).filter(pk=issue.pk).exists() == sees
    assert {a for a in Action.PERSON_ACTIONS if can(user, a, issue)} == expected
    # The buttons a page offers are the same answer, in table order.
    assert allowed_actions(user, issue) == [a for a in Action.PERSON_ACTIONS if a in expected]
    # The sweep's own actions are never a person's.
    assert not can(user, A.SUPERVISE, issue)
    assert not can(user, A.AUTO_CLOSE, issue)


# (who, source, status): actions, for an issue at GRID level in the own grid. A resident
# reporter evaluates; with none, a worker other than the resolver (p.worker) verifies.
LATER_STATES = {
    ("resident", Source.RESIDENT, Status.RESOLVED): {COM, EVA, REO},
    ("other_resident", Source.RESIDENT, Status.RESOLVED): NOTHING,
    ("worker", Source.RESIDENT, Status.RESOLVED): {COM},
    ("worker2", Source.RESIDENT, Status.RESOLVED): {COM},
    ("community_staff", Source.RESIDENT, Status.RESOLVED): {COM},
    ("resident", Source.PATROL, Status.RESOLVED): NOTHING,
    ("worker", Source.PATROL, Status.RESOLVED): {COM},
    ("worker2", Source.PATROL, Status.RESOLVED): {COM, VER},
    ("sibling_worker", Source.PATROL, Status.RESOLVED): NOTHING,
    ("community_staff", Source.PATROL, Status.RESOLVED): {COM},
    ("resident", Source.RESIDENT, Status.SUSPENDED): {COM},
    ("worker", Source.RESIDENT, Status.SUSPENDED): {COM, RSM},
    ("worker2", Source.RESIDENT, Status.SUSPENDED): {COM, RSM},
    ("community_staff", Source.RESIDENT, Status.SUSPENDED): {COM, SN, AP},
    ("resident", Source.RESIDENT, Status.CLOSED): NOTHING,
    ("worker", Source.RESIDENT, Status.CLOSED): NOTHING,
    ("resident", Source.RESIDENT, Status.REJECTED): NOTHING,
    ("worker", Source.RESIDENT, Status.REJECTED): NOTHING,
    ("subdistrict_staff", Source.RESIDENT, Status.REJECTED): NOTHING,
}


@pytest.mark.parametrize(("who", "source", "status"), list(LATER_STATES))
def test_later_states(territory, people, who, source, status):
    t, p = territory, people
    now = timezone.now()
    fields = {}
    if status == Status.SUSPENDED:
        fields["suspended_at"] = now
    if status in (Status.RESOLVED, Status.CLOSED):
        fields.update(resolved_at=now, resolved_by=p.worker)
    if status in (Status.CLOSED, Status.REJECTED):
        fields["closed_at"] = now
    reporter = p.resident if source == Source.RESIDENT else p.worker
    issue = issue_at(t, p, "grid", status, source=source, reporter=reporter, **fields)
    user = getattr(p, who)
    assert set(allowed_actions(user, issue)) == LATER_STATES[(who, source, status)]


def test_grid_worker_follows_an_issue_after_it_climbs_but_no_longer_acts(territory, people):
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident,
        source=Source.RESIDENT,
        category=t.category,
        title="楼道堆物",
        description="消防通道被占",
        grid=t.grid,
    )
    issue = workflow.accept(issue=issue, actor=p.worker)
    assert can(p.worker, ESC, issue)
    issue = workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")

    assert visible_issues(p.worker).filter(pk=issue.pk).exists()
    assert allowed_actions(p.worker, issue) == [COM]
    with pytest.raises(workflow.WorkflowError) as excinfo:
        workflow.accept(issue=issue, actor=p.worker)
    assert excinfo.value.code == "forbidden"
    assert allowed_actions(p.community_staff, issue) == [ACC, ASG, COM, ESC, REJ, XR, OTV, AP]

    issue = workflow.escalate(issue=issue, actor=p.community_staff, reason="需要街道协调")
    issue = workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.department)
    for follower in (p.worker, p.community_staff, p.subdistrict_staff, p.department_staff):
        assert visible_issues(follower).filter(pk=issue.pk).exists()
    assert allowed_actions(p.worker, issue) == [COM]
    assert allowed_actions(p.community_staff, issue) == [COM, AP]


# (who, position): (sees internal notes, sees the reporter's phone)
PRIVATE = {
    ("resident", "grid"): (False, False),
    ("other_resident", "grid"): (False, False),
    ("worker", "grid"): (True, True),
    ("sibling_worker", "grid"): (False, False),
    ("community_staff", "grid"): (True, False),
    ("subdistrict_staff", "grid"): (True, False),
    ("far_staff", "grid"): (False, False),
    ("worker", "community"): (True, False),
    ("community_staff", "community"): (True, True),
    ("department_staff", "grid"): (False, False),
    ("department_staff", "department"): (True, True),
    ("sister_department_staff", "department"): (False, False),
    ("subdistrict_staff", "department"): (True, False),
    ("resident", "department"): (False, False),
}


@pytest.mark.parametrize(("who", "position"), list(PRIVATE))
def test_internal_notes_and_phone_numbers_are_for_staff(territory, cast, who, position):
    issue = issue_at(territory, cast, position, Status.IN_PROGRESS)
    user = getattr(cast, who)
    assert (
        permissions.can_see_internal(user, issue),
        permissions.can_see_reporter_phone(user, issue),
    ) == PRIVATE[(who, position)]


def test_anonymous_and_inactive_users_see_and_do_nothing(territory, people):
    t, p = territory, people
    issue = issue_at(t, p, "grid", Status.SUBMITTED)
    p.worker.is_active = False
    p.worker.save(update_fields=["is_active"])
    for user in (AnonymousUser(), p.worker):
        assert not visible_issues(user).exists()
        assert allowed_actions(user, issue) == []


def test_superuser_sees_everything(territory, people):
    t, p = territory, people
    issues = [
        issue_at(t, p, "grid", Status.SUBMITTED),
        IssueFactory(grid=t.far_grid, category=t.category),
    ]
    admin = UserFactory(username="root", is_superuser=True, is_staff=True)
    assert set(visible_issues(admin)) == set(issues)
    assert all(permissions.can_see_internal(admin, i) for i in issues)


def test_other_subdistrict_issues_stay_there(territory, people):
    t, p = territory, people
    far = IssueFactory(grid=t.far_grid, category=t.category)
    assert visible_issues(p.far_staff).filter(pk=far.pk).exists()
    for user in (p.subdistrict_staff, p.community_staff, p.worker, p.department_staff):
        assert not visible_issues(user).filter(pk=far.pk).exists()
        assert allowed_actions(user, far) == []


def test_a_post_added_later_is_seen_after_forget_scope(territory, people):
    t, p = territory, people
    issue = IssueFactory(grid=t.sibling_grid, category=t.category)
    user = p.worker
    assert not visible_issues(user).filter(pk=issue.pk).exists()
    post_for(user, t.sibling_grid)  # forgets the remembered scope
    assert visible_issues(user).filter(pk=issue.pk).exists()
    assert ACC in allowed_actions(user, issue)


def test_the_posts_of_a_person_no_longer_active_give_them_nothing(territory, people):
    """Posts count only while their holder is active: read afresh, someone made inactive
    (even by an update that sends no signal) holds no unit, and so sees and does nothing
    as staff; their other posts are kept for when they come back."""
    t, p = territory, people
    issue = IssueFactory(grid=t.grid, category=t.category)
    post_for(p.worker, t.department)
    scope = permissions.scope_of(type(p.worker).objects.get(pk=p.worker.pk))
    assert scope.grids == {t.grid.pk} and scope.departments == {t.department.pk}
    type(p.worker).objects.filter(pk=p.worker.pk).update(is_active=False)
    inactive = type(p.worker).objects.get(pk=p.worker.pk)
    assert permissions.scope_of(inactive) == permissions.Scope()
    assert not permissions.is_staff_user(inactive)
    assert allowed_actions(inactive, issue) == []
    assert p.worker.posts.count() == 2


@pytest.mark.parametrize("issue_count", [1, 30])
def test_visible_issues_runs_a_bounded_number_of_queries(
    territory, people, django_assert_num_queries, issue_count
):
    t, p = territory, people
    for i in range(issue_count):
        IssueFactory(grid=[t.grid, t.sibling_grid, t.cousin_grid][i % 3], category=t.category)
    # Several posts at once: the posts are still read in one query.
    user = staff_on(t.grid, username="multi")
    post_for(user, t.other_community)
    post_for(user, t.department)
    user = type(user).objects.get(pk=user.pk)  # nothing remembered yet

    with django_assert_num_queries(2):  # the posts, then the issues
        seen = list(visible_issues(user))
    assert len(seen) == len([i for i in range(issue_count) if i % 3 != 1])
    with django_assert_num_queries(1):  # the posts are remembered on the user
        list(visible_issues(user))
    with django_assert_num_queries(0):  # and `can` runs no query at all
        for issue in seen:
            allowed_actions(user, issue)

    resident = type(p.resident).objects.get(pk=p.resident.pk)
    with django_assert_num_queries(2):
        list(visible_issues(resident))


def test_visible_issues_is_lazy(territory, people, django_assert_num_queries):
    user = type(people.worker).objects.get(pk=people.worker.pk)
    with django_assert_num_queries(1):  # reading the posts; the issues are not fetched yet
        queryset = visible_issues(user)
    assert str(queryset.query)  # still a plain queryset views can filter and paginate
    past = timezone.now() - timedelta(days=1)
    with django_assert_num_queries(1):
        assert not queryset.filter(created_at__lt=past).exists()


# --- closing the loop: nobody rates their own work, and nobody is left unable to close ---


def _resolved(t, p, *, reporter, resolver, source=Source.RESIDENT, position="grid", **fields):
    return issue_at(
        t, p, position, Status.RESOLVED,
        source=source, reporter=reporter, assignee=resolver, resolved_by=resolver,
        resolved_at=timezone.now(), **fields,
    )  # fmt: skip


def test_staff_filing_as_a_resident_never_closes_their_own_loop(territory, people):
    """A grid worker reports through the resident form, then accepts and resolves it."""
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.worker,
        source=Source.RESIDENT,
        category=t.category,
        title="楼道灯坏",
        description="三楼楼道灯不亮",
        grid=t.grid,
    )
    issue = workflow.accept(issue=issue, actor=p.worker)
    issue = workflow.resolve(issue=issue, actor=p.worker, note="已更换灯泡")

    assert not permissions.reporter_evaluates(issue)
    assert allowed_actions(p.worker, issue) == [COM]  # no evaluation, no verification
    for satisfaction in ("satisfied", "dissatisfied"):
        with pytest.raises(workflow.WorkflowError):
            workflow.evaluate(issue=issue, actor=p.worker, satisfaction=satisfaction, reason="x")
    # A colleague verifies it instead, as for a patrol report.
    assert allowed_actions(p.worker2, issue) == [COM, VER]
    issue = workflow.verify(issue=issue, actor=p.worker2)
    assert (issue.status, issue.satisfaction) == (Status.CLOSED, "")


def test_a_colleague_of_the_resolver_cannot_evaluate_either(territory, people):
    t, p = territory, people
    issue = _resolved(t, p, reporter=p.worker2, resolver=p.worker)
    assert not can(p.worker2, EVA, issue) and not can(p.worker2, REO, issue)
    # Neither the resolver nor the reporter verifies; nobody else holds a post on the grid,
    # so the community does.
    assert not can(p.worker, VER, issue) and not can(p.worker2, VER, issue)
    assert can(p.community_staff, VER, issue)


def test_a_resident_with_no_post_on_the_resolving_unit_evaluates(territory, people):
    t, p = territory, people
    genuine = _resolved(t, p, reporter=p.resident, resolver=p.worker)
    # Community staff living in the grid: they hold no post on the grid that resolved it.
    neighbour = _resolved(t, p, reporter=p.community_staff, resolver=p.worker)
    for issue, reporter in ((genuine, p.resident), (neighbour, p.community_staff)):
        assert permissions.reporter_evaluates(issue)
        assert can(reporter, EVA, issue) and can(reporter, REO, issue)
        assert not can(p.worker2, VER, issue)


def test_one_worker_grid_patrol_report_is_verified_by_its_community(territory, people):
    t, p = territory, people
    # sibling_worker is the only worker of sibling_grid.
    issue = _resolved(
        t, p, reporter=p.sibling_worker, resolver=p.sibling_worker, source=Source.PATROL,
        grid=t.sibling_grid,
    )  # fmt: skip
    assert not can(p.sibling_worker, VER, issue)
    assert can(p.community_staff, VER, issue)
    for outsider in (p.other_community_staff, p.subdistrict_staff, p.worker, p.far_staff):
        assert not can(outsider, VER, issue)
    issue = workflow.verify(issue=issue, actor=p.community_staff)
    assert issue.status == Status.CLOSED

    # With a second worker on the grid, verifying stays in the grid.
    second = staff_on(t.sibling_grid, username="siblingworker2")
    other = _resolved(
        t, p, reporter=p.sibling_worker, resolver=p.sibling_worker, source=Source.PATROL,
        grid=t.sibling_grid,
    )  # fmt: skip
    assert can(second, VER, other)
    assert not can(p.community_staff, VER, other)
    # A colleague whose account is closed does not count.
    second.is_active = False
    second.save(update_fields=["is_active"])
    other = Issue.objects.get(pk=other.pk)
    assert can(p.community_staff, VER, other)


@pytest.mark.parametrize(
    ("position", "resolver", "above", "not_above"),
    [
        ("community", "community_staff", "subdistrict_staff", "worker"),
        ("department", "department_staff", "subdistrict_staff", "community_staff"),
        ("subdistrict", "subdistrict_staff", None, "community_staff"),
    ],
)
def test_verification_falls_to_the_level_above(
    territory, cast, position, resolver, above, not_above
):
    t, p = territory, cast
    if position == "subdistrict":  # the territory has two subdistrict staff: leave one
        p.subdistrict_staff2.posts.all().delete()
    hotline = _resolved(
        t, p, position=position, reporter=None, resolver=getattr(p, resolver),
        source=Source.HOTLINE,
    )  # fmt: skip
    assert not can(getattr(p, resolver), VER, hotline)
    assert not can(getattr(p, not_above), VER, hotline)
    if above:
        assert can(getattr(p, above), VER, hotline)
    else:  # the top: an administrator verifies
        admin = UserFactory(username="root", is_superuser=True, is_staff=True)
        assert can(admin, VER, hotline)


def test_the_sweep_condition_agrees_with_the_rule(territory, cast, django_assert_num_queries):
    t, p = territory, cast
    issues = [
        _resolved(t, p, reporter=p.resident, resolver=p.worker),
        _resolved(t, p, reporter=p.worker, resolver=p.worker),
        _resolved(t, p, reporter=p.worker2, resolver=p.worker),
        _resolved(t, p, reporter=p.community_staff, resolver=p.worker),
        _resolved(t, p, reporter=p.community_staff, resolver=p.community_staff,
                  position="community"),
        _resolved(t, p, reporter=p.department_staff, resolver=p.department_staff,
                  position="department"),
        _resolved(t, p, reporter=p.subdistrict_staff, resolver=p.department_staff,
                  position="department"),
        _resolved(t, p, reporter=p.worker, resolver=p.worker, source=Source.PATROL),
        _resolved(t, p, reporter=None, resolver=p.worker, source=Source.HOTLINE),
        _resolved(t, p, reporter=p.resident, resolver=None, source=Source.VOLUNTEER),
    ]  # fmt: skip
    by_rule = {i.pk for i in issues if permissions.reporter_evaluates(i)}
    by_query = set(
        Issue.objects.filter(permissions.reporter_evaluates_condition()).values_list(
            "pk", flat=True
        )
    )
    assert by_query == by_rule
    assert by_rule == {issues[0].pk, issues[3].pk, issues[6].pk, issues[9].pk}
    # A list page reads the same answer with its rows, and asks nothing more per row.
    listed = list(permissions.with_reporter_posts(Issue.objects.order_by("pk")))
    with django_assert_num_queries(0):
        by_list = {i.pk for i in listed if permissions.reporter_evaluates(i)}
    assert by_list == by_rule
