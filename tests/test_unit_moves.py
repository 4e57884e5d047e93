"""Moving a grid to another community, or a community to another subdistrict: open issues
follow the move (one internal event each), closed ones keep the units that handled them."""

import pytest
from django.conf import settings
from django.urls import reverse

from grids.models import Community, Grid
from grids.units import save_unit
from issues import permissions
from issues.models import Issue, IssueEvent, Status
from issues.transitions import Action
from tests.factories import UserFactory, issue_at
from tests.test_admin_import import import_file, preview

OPEN = [Status.SUBMITTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED]
DONE = [Status.CLOSED, Status.REJECTED]


@pytest.fixture
def admin_en(client, db):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.root = root
    return client


@pytest.fixture
def issues(territory, people):
    """Issues of ``territory.grid``: open ones at every position, and finished ones."""
    t = territory
    open_issues = {
        "grid": issue_at(t, "grid", status=Status.IN_PROGRESS, assignee=people.worker),
        "community": issue_at(
            t, "community", status=Status.IN_PROGRESS, assignee=people.community_staff
        ),
        "subdistrict": issue_at(t, "subdistrict", status=Status.SUBMITTED),
        "department": issue_at(t, "department", status=Status.SUBMITTED),
        "suspended": issue_at(t, "community", status=Status.SUSPENDED),
        "resolved": issue_at(t, "grid", status=Status.RESOLVED),
    }
    done = [issue_at(t, "community", status=status) for status in DONE]
    elsewhere = issue_at(t, "community", grid=t.sibling_grid)
    return type("Issues", (), dict(open=open_issues, done=done, elsewhere=elsewhere))


def grid_form(grid, community) -> dict:
    return {
        "community": community.pk,
        "name": grid.name,
        "code": grid.code,
        "buildings-TOTAL_FORMS": 0,
        "buildings-INITIAL_FORMS": 0,
        "buildings-MIN_NUM_FORMS": 0,
        "buildings-MAX_NUM_FORMS": 1000,
    }


def community_form(community, subdistrict) -> dict:
    grids = list(community.grids.order_by("pk"))
    data = {
        "subdistrict": subdistrict.pk,
        "name": community.name,
        "code": community.code,
        "grids-TOTAL_FORMS": len(grids),
        "grids-INITIAL_FORMS": len(grids),
        "grids-MIN_NUM_FORMS": 0,
        "grids-MAX_NUM_FORMS": 1000,
    }
    for i, grid in enumerate(grids):
        data |= {
            f"grids-{i}-id": grid.pk,
            f"grids-{i}-name": grid.name,
            f"grids-{i}-code": grid.code,
            f"grids-{i}-community": community.pk,
        }
    return data


def moved_events():
    return IssueEvent.objects.filter(kind=IssueEvent.Kind.MOVED)


def assert_followed(issues, *, community, subdistrict, actor):
    """Every open issue is now in the new units, with one internal event by ``actor``;
    finished issues and other grids' issues are untouched."""
    for issue in issues.open.values():
        issue.refresh_from_db()
        assert (issue.community_id, issue.subdistrict_id) == (community.pk, subdistrict.pk)
    events = list(moved_events())
    assert sorted(e.issue_id for e in events) == sorted(i.pk for i in issues.open.values())
    assert all(e.actor_id == actor.pk and not e.is_public for e in events)
    assert all(e.from_status == e.to_status and e.from_level == e.to_level for e in events)
    for issue in [*issues.done, issues.elsewhere]:
        before = (issue.community_id, issue.subdistrict_id, issue.status)
        issue.refresh_from_db()
        assert (issue.community_id, issue.subdistrict_id, issue.status) == before


def test_a_grid_moved_in_the_admin_takes_its_open_issues_to_the_new_community(
    admin_en, territory, people, issues
):
    t = territory
    url = reverse("admin:grids_grid_change", args=[t.grid.pk])
    response = admin_en.post(url, grid_form(t.grid, t.other_community))
    assert response.status_code == 302, response.context["errors"]
    assert Grid.objects.get(pk=t.grid.pk).community_id == t.other_community.pk
    assert_followed(
        issues, community=t.other_community, subdistrict=t.subdistrict, actor=admin_en.root
    )

    at_community = Issue.objects.get(pk=issues.open["community"].pk)
    # The old community's staff still see where their grid's issue went, but no longer act;
    # the new community's staff see it and act on it.
    old, new = people.community_staff, people.other_community_staff
    for person in (old, new):
        permissions.forget_scope(person)
    assert not permissions.can(old, Action.ACCEPT, at_community)
    assert not permissions.can(old, Action.RESOLVE, at_community)
    assert permissions.can(new, Action.ACCEPT, at_community) is False  # in progress already
    assert permissions.can(new, Action.RESOLVE, at_community)
    assert permissions.visible_issues(new).filter(pk=at_community.pk).exists()
    new_queue = Issue.objects.filter(permissions.acting_condition(permissions.scope_of(new)))
    assert at_community in new_queue
    # The assignee held a post on the old community: the issue waits for a new one.
    assert at_community.assignee_id is None
    # The grid worker walks the same grid: their issue and their assignment stay.
    assert Issue.objects.get(pk=issues.open["grid"].pk).assignee_id == people.worker.pk
    event = moved_events().get(issue=at_community)
    assert event.data["moved"] == {"community": [t.community.name, t.other_community.name]}
    assert event.data["assignee_cleared"] is True


def test_a_grid_imported_under_another_community_takes_its_open_issues_along(
    admin_en, territory, people, issues
):
    t = territory
    far_community = t.far_grid.community
    csv = f"code,name,community_code\n{t.grid.code},{t.grid.name},{far_community.code}\n"
    # The check changes nothing.
    preview(admin_en, "grid", csv)
    assert not moved_events().exists()
    assert Grid.objects.get(pk=t.grid.pk).community_id == t.community.pk

    import_file(admin_en, "grid", csv)  # checked, confirmed and imported by the task
    assert Grid.objects.get(pk=t.grid.pk).community_id == far_community.pk
    assert_followed(
        issues, community=far_community, subdistrict=t.other_subdistrict, actor=admin_en.root
    )
    event = moved_events().get(issue=issues.open["subdistrict"])
    assert event.data["moved"] == {
        "community": [t.community.name, far_community.name],
        "subdistrict": [t.subdistrict.name, t.other_subdistrict.name],
    }
    far = people.far_staff
    permissions.forget_scope(far)
    at_subdistrict = Issue.objects.get(pk=issues.open["subdistrict"].pk)
    assert permissions.can(far, Action.ACCEPT, at_subdistrict)
    assert not permissions.can(people.subdistrict_staff, Action.ACCEPT, at_subdistrict)


def test_a_community_moved_in_the_admin_takes_its_open_issues_to_the_new_subdistrict(
    admin_en, territory, people, issues
):
    t = territory
    url = reverse("admin:grids_community_change", args=[t.community.pk])
    response = admin_en.post(url, community_form(t.community, t.other_subdistrict))
    assert response.status_code == 302, response.context["errors"]
    # The sibling grid's issue belongs to the moved community too.
    issues.open["sibling"] = issues.elsewhere
    issues.elsewhere = issue_at(t, "community", grid=t.cousin_grid)
    moved = Issue.objects.filter(pk__in=[i.pk for i in issues.open.values()])
    assert set(moved.values_list("subdistrict_id", flat=True)) == {t.other_subdistrict.pk}
    assert set(moved.values_list("community_id", flat=True)) == {t.community.pk}
    assert moved_events().count() == len(issues.open)
    assert set(moved_events().values_list("actor_id", flat=True)) == {admin_en.root.pk}
    for issue in issues.done:
        issue.refresh_from_db()
        assert issue.subdistrict_id == t.subdistrict.pk
    at_subdistrict = Issue.objects.get(pk=issues.open["subdistrict"].pk)
    assert not permissions.can(people.subdistrict_staff, Action.ACCEPT, at_subdistrict)
    permissions.forget_scope(people.far_staff)
    assert permissions.can(people.far_staff, Action.ACCEPT, at_subdistrict)
    # The community's own staff keep acting on the issues at their community.
    at_community = Issue.objects.get(pk=issues.open["community"].pk)
    assert permissions.can(people.community_staff, Action.RESOLVE, at_community)
    assert at_community.assignee_id == people.community_staff.pk


def test_a_community_imported_under_another_subdistrict_takes_its_open_issues_along(
    admin_en, territory, people, issues
):
    t = territory
    row = f"{t.community.code},{t.community.name},{t.other_subdistrict.code}"
    csv = f"code,name,subdistrict_code\n{row}\n"
    import_file(admin_en, "community", csv)
    assert Community.objects.get(pk=t.community.pk).subdistrict_id == t.other_subdistrict.pk
    open_ids = [i.pk for i in issues.open.values()] + [issues.elsewhere.pk]
    assert set(Issue.objects.filter(pk__in=open_ids).values_list("subdistrict_id", flat=True)) == {
        t.other_subdistrict.pk
    }
    assert sorted(moved_events().values_list("issue_id", flat=True)) == sorted(open_ids)
    for issue in issues.done:
        issue.refresh_from_db()
        assert issue.subdistrict_id == t.subdistrict.pk


def test_saving_a_unit_without_moving_it_writes_nothing(admin_en, territory, issues):
    t = territory
    url = reverse("admin:grids_grid_change", args=[t.grid.pk])
    form = grid_form(t.grid, t.community) | {"name": "新名字"}
    assert admin_en.post(url, form).status_code == 302
    csv = f"code,name,community_code\n{t.grid.code},又一个名字,{t.community.code}\n"
    import_file(admin_en, "grid", csv)
    assert not moved_events().exists()
    assert Grid.objects.get(pk=t.grid.pk).name == "又一个名字"


def test_a_move_is_set_based(territory, django_assert_max_num_queries):
    t = territory
    for _ in range(30):
        issue_at(t, "community")
    t.grid.community = t.far_grid.community
    # A savepoint; lock and read the unit, save it, read its parents, lock and read the
    # issues, the units' names (two kinds), one INSERT of the events, one UPDATE; the
    # daily rollups of the moved issues (lock their keys on PostgreSQL, read the ids of
    # their issues, a DELETE and an INSERT for each of the three tables, and for their
    # months; the subdistricts they named before and name now, locked, and a DELETE and an
    # INSERT for their days and outcomes; their months and the city's outcomes: taken away
    # and added back, then added up, reading the newest row's id for each, the city's
    # whole slice rewritten; JIT turned off and back on PostgreSQL); the notifications'
    # savepoint (a move tells no one); release: the same for any number of issues (41 on
    # PostgreSQL, 39 on SQLite).
    with django_assert_max_num_queries(41):
        assert save_unit(t.grid) is True
    assert moved_events().count() == 30
    assert moved_events().filter(actor__isnull=True).count() == 30


def test_the_moved_event_is_shown_to_staff_in_words(client, territory, people, issues):
    t = territory
    t.grid.community = t.other_community
    save_unit(t.grid, actor=people.subdistrict_staff)
    client.force_login(people.other_community_staff)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    issue = issues.open["community"]
    page = client.get(reverse("staff_issue_detail", args=[issue.tracking_number])).content.decode()
    assert "Moved with its grid or community" in page
    assert f"{t.community.name} → {t.other_community.name}" in page
    # Internal: the reporting resident's timeline does not show it.
    assert not IssueEvent.objects.filter(kind=IssueEvent.Kind.MOVED, is_public=True).exists()
