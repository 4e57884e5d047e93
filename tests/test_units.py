"""The territory's one declaration (grids/units.py) agrees with the models, and each Python
check agrees with its query-condition twin over every unit kind, level and dispatch state."""

import dataclasses

import pytest

from grids import units
from grids.models import Post
from issues import permissions
from issues.models import Issue, Level, Status
from tests.factories import issue_at


def test_the_declaration_matches_the_models():
    scope_sets = {f.name for f in dataclasses.fields(permissions.Scope)}
    assert {kind.scope_set for kind in units.KINDS.values()} == scope_sets
    assert {kind.role for kind in units.KINDS.values()} == set(Post.Role.values)
    assert [k.key for k in units.KINDS.values() if k.is_level] == sorted(
        Level.values, key=["subdistrict", "community", "grid"].index
    )
    for kind in units.KINDS.values():
        # The same field names the unit on an issue and on a post, pointing at the model.
        assert Issue._meta.get_field(kind.field).related_model is kind.model
        assert Post._meta.get_field(kind.field).related_model is kind.model
        assert units.of_unit(kind.model) is kind
        assert units.of_role(kind.role) is kind
        for ancestor in kind.ancestors():
            assert kind.model.objects.filter(**{kind.path_to(ancestor): None}).query


def test_the_parent_paths():
    grid, community, subdistrict = (units.KINDS[k] for k in ("grid", "community", "subdistrict"))
    assert grid.ancestors() == [community, subdistrict]
    assert grid.path_to(subdistrict) == "community__subdistrict"
    assert units.KINDS["department"].path_to(subdistrict) == "subdistrict"
    assert [k.key for k in subdistrict.children()] == ["community", "department"]
    with pytest.raises(ValueError):
        community.path_to(grid)


@pytest.fixture
def every_position(territory, people):
    """Issues at every level, dispatched or not (even where the flow would not dispatch),
    in every grid of both subdistricts."""
    t = territory
    issues = []
    for grid in (t.grid, t.sibling_grid, t.cousin_grid, t.far_grid):
        for level in Level.values:
            for department in (None, t.department, t.other_department):
                issues.append(
                    issue_at(t, level, grid=grid, department=department, status=Status.SUBMITTED)
                )
    return issues


def staff(people):
    return [
        people.resident,
        people.worker,
        people.sibling_worker,
        people.community_staff,
        people.other_community_staff,
        people.subdistrict_staff,
        people.far_staff,
        people.department_staff,
        people.other_department_staff,
    ]


def test_acting_and_seeing_agree_with_their_query_conditions(people, every_position):
    for user in staff(people):
        scope = permissions.scope_of(user)
        acting = set(
            Issue.objects.filter(permissions.acting_condition(scope)).values_list("pk", flat=True)
        )
        assert acting == {
            i.pk for i in every_position if permissions.acts_on_current_unit(user, i)
        }, user.username
        seeing = set(
            Issue.objects.filter(permissions.staff_issue_condition(user)).values_list(
                "pk", flat=True
            )
        )
        assert seeing == {i.pk for i in every_position if permissions.sees_as_staff(user, i)}, (
            user.username
        )
        # Acting is always within seeing.
        assert acting <= seeing


def test_the_current_unit_rule(territory, every_position):
    for issue in every_position:
        kind, unit_id = units.current_unit(issue)
        if issue.department_id is not None:
            assert (kind.key, unit_id) == ("department", issue.department_id)
        else:
            assert kind.key == issue.level
            assert unit_id == getattr(issue, f"{issue.level}_id")


def test_unit_access_agrees_with_may_see_unit(territory, people):
    for user in staff(people):
        for kind in units.KINDS.values():
            related = [kind.path_to(a) for a in kind.ancestors()]
            objects = kind.model.objects.all()
            if related:
                objects = objects.select_related(*related)
            by_query = set(
                kind.model.objects.filter(permissions.unit_access(user, kind.key)).values_list(
                    "pk", flat=True
                )
            )
            by_rule = {o.pk for o in objects if permissions.may_see_unit(user, kind.key, o)}
            assert by_query == by_rule, (user.username, kind.key)


def test_seeing_one_issue_agrees_with_the_visible_issues(people, every_position, root):
    """``sees`` (one issue already read, as the issue pages ask) and ``visible_issues``
    (the query) are the same rule: for staff of every kind, the reporter, another
    resident, a superuser, a person made inactive and nobody signed in."""
    from django.contrib.auth.models import AnonymousUser

    from tests.factories import ResidentFactory

    mine = every_position[0]
    mine.reporter = people.resident
    mine.save(update_fields=["reporter"])
    # A grid worker's own patrol report, filed where they hold no post.
    elsewhere = [i for i in every_position if i.grid_id != people.worker.posts.get().grid_id][0]
    elsewhere.reporter = people.worker
    elsewhere.save(update_fields=["reporter"])
    gone = ResidentFactory(username="gone", is_active=False)
    every_position[1].reporter = gone
    every_position[1].save(update_fields=["reporter"])
    everyone = [*staff(people), people.other_resident, root, gone, AnonymousUser()]
    for user in everyone:
        seeing = set(permissions.visible_issues(user).values_list("pk", flat=True))
        assert seeing == {i.pk for i in every_position if permissions.sees(user, i)}, str(user)
    assert permissions.sees(people.resident, mine)
    assert permissions.sees(people.worker, elsewhere)
    assert not permissions.sees(people.other_resident, mine)
    assert not any(permissions.sees(gone, i) for i in every_position)
    assert all(permissions.sees(root, i) for i in every_position)


def test_the_assignable_list_is_the_assignable_query(
    territory, people, every_position, django_assert_num_queries
):
    """The issue page's assign form reads ``assignable_list``, compiled once per kind of
    unit; the workflow checks ``assignable_users``: the same people, in the same order."""
    from tests.factories import staff_on

    staff_on(territory.grid, username="gone", is_active=False)  # not offered
    sizes = set()
    for issue in every_position:
        expected = list(permissions.assignable_users(issue))
        with django_assert_num_queries(1):
            found = permissions.assignable_list(issue)
        assert found == expected and [u.username for u in found] == [u.username for u in expected]
        sizes.add(len(found))
        assert "gone" not in [u.username for u in found]
    assert max(sizes) >= 2
