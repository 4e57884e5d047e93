"""A lookup by primary key whose SQL is compiled once (config/compiled.py), as the building
field of the filing forms uses it: the same objects as the ORM's, one query, and the
same refusals."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from config.compiled import CompiledLookup
from grids.forms import BuildingField, buildings_with_units
from grids.models import Building

from .factories import BuildingFactory


def _fields(obj) -> dict:
    return {name: value for name, value in vars(obj).items() if name != "_state"}


def test_a_compiled_lookup_makes_what_the_orm_makes_in_one_query(
    territory, django_assert_num_queries
):
    building = BuildingFactory(
        grid=territory.sibling_grid,
        address="东门",
        latitude=Decimal("36.616891"),
        longitude=Decimal("117.123456"),
        stated_community=territory.other_community,
    )
    lookup = CompiledLookup(Building, buildings_with_units)
    expected = buildings_with_units().get(pk=building.pk)
    statements = []
    for key in (building.pk, str(building.pk)):  # compiled the first time, kept after
        with django_assert_num_queries(1) as queries:
            found = lookup.get(key)
            # The grid and its community came with the building.
            grid, community = found.grid, found.grid.community
        assert _fields(found) == _fields(expected)
        assert _fields(grid) == _fields(expected.grid)
        assert _fields(community) == _fields(expected.grid.community)
        assert grid.get_deferred_fields() == expected.grid.get_deferred_fields() == {"boundary"}
        assert isinstance(found.latitude, Decimal)
        assert not found._state.adding and found._state.db == "default"
        statements.append(queries.captured_queries[0]["sql"])
    assert statements[0] == statements[1]  # the same SQL, the key aside
    assert community.pk == territory.community.pk


def test_keys_no_row_could_have_find_nothing_without_asking_the_database(
    territory, django_assert_num_queries
):
    lookup = CompiledLookup(Building, buildings_with_units)
    BuildingFactory(grid=territory.grid)
    for key in ("abc", "1.5", "", None, str(2**63), -(2**63) - 1):
        with django_assert_num_queries(0), pytest.raises(Building.DoesNotExist):
            lookup.get(key)
    missing = Building.objects.order_by("-pk").first().pk + 1
    with django_assert_num_queries(1), pytest.raises(Building.DoesNotExist):
        lookup.get(missing)


def test_the_building_field_takes_a_building_and_refuses_anything_else(territory):
    building = BuildingFactory(grid=territory.grid)
    field = BuildingField()
    assert field.clean(str(building.pk)) == building
    assert field.clean(building).grid.community == territory.community
    assert BuildingField(required=False).clean("") is None
    for value in ("abc", str(building.pk + 1000), "12\x00"):
        with pytest.raises(ValidationError) as refused:
            field.clean(value)
        assert refused.value.code in ("invalid_choice", "null_characters_not_allowed")


def test_a_lookup_by_a_unique_field_in_written_order_makes_what_the_orm_makes(
    territory, django_assert_num_queries
):
    from issues.models import Issue

    from .factories import issue_at

    issue = issue_at(territory, "community")
    related = Issue.objects.select_related("category", "grid", "community", "reporter").defer(
        "grid__boundary"
    )
    lookup = CompiledLookup(Issue, lambda: related, field="tracking_number", written_order=True)
    expected = related.get(pk=issue.pk)
    for _round in range(2):  # compiled the first time, kept after
        with django_assert_num_queries(1):
            found = lookup.get(issue.tracking_number)
            assert (found.category, found.grid, found.community) == (
                expected.category,
                expected.grid,
                expected.community,
            )
        assert _fields(found) == _fields(expected)
        assert _fields(found.grid) == _fields(expected.grid)
        assert found.get_deferred_fields() == expected.get_deferred_fields()
    # A number nobody was given finds nothing, in one query.
    with django_assert_num_queries(1), pytest.raises(Issue.DoesNotExist):
        lookup.get(issue.tracking_number[:-1] + ("1" if issue.tracking_number[-1] != "1" else "2"))


def test_a_lookup_by_a_field_that_is_not_unique_is_refused(db):
    from issues.models import Issue

    with pytest.raises(ValueError, match="not unique"):
        CompiledLookup(Issue, Issue.objects.all, field="title")


def test_compiled_rows_are_what_the_orm_lists_in_its_order(
    territory, people, django_assert_num_queries
):
    from config.compiled import CompiledRows
    from issues.models import IssueEvent

    from .factories import issue_at

    issue, other = issue_at(territory), issue_at(territory)
    for kind, actor in (("filed", None), ("accepted", people.worker), ("commented", None)):
        IssueEvent.objects.create(issue=issue, kind=kind, actor=actor)
    IssueEvent.objects.create(issue=other, kind="filed")
    ordered = IssueEvent.objects.select_related("actor").order_by("-created_at", "-id")
    timeline = CompiledRows(IssueEvent, lambda: ordered, field="issue")
    expected = list(ordered.filter(issue=issue))
    assert len(expected) == 3
    for key in (issue.pk, str(issue.pk)):  # compiled the first time, kept after
        with django_assert_num_queries(1):
            found = timeline.rows(key)
            actors = [event.actor for event in found]  # came with the rows
        assert [_fields(event) for event in found] == [_fields(event) for event in expected]
        assert actors == [event.actor for event in expected]
    # A key no row has finds none in one query; one no row could have, without a query.
    with django_assert_num_queries(1):
        assert timeline.rows(max(issue.pk, other.pk) + 1) == []
    for key in ("abc", None, 2**63):
        with django_assert_num_queries(0):
            assert timeline.rows(key) == []
