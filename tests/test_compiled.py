"""SQL compiled once (config/compiled.py): a lookup by primary key, as the building field
of the filing forms uses it (the same objects as the ORM's, one query, and the same
refusals), rows by a field, and rows written together, as a filing writes its issue and
its first event."""

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.db.models import Count, Max, Model
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.compiled import (
    _NOT_KEPT,
    CompiledLookup,
    KeptAtMoment,
    create_together,
    prepared_cursor,
)
from grids.forms import BuildingField, buildings_with_units
from grids.models import Building, Grid
from issues.models import Issue, IssueEvent, Level, Severity, Source, Status

from .factories import BuildingFactory, ResidentFactory, issue_at


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


# --- rows written together ------------------------------------------------------------


def _filing(territory, number: str, now=None):
    """A new issue with every kind of column set, and its first event: unsaved."""
    reporter = ResidentFactory()
    now = now or timezone.now()
    issue = Issue(
        tracking_number=number,
        title="路灯不亮",
        description="晚上小区路灯不亮。",
        category=territory.category,
        severity=Severity.MINOR,
        source=Source.RESIDENT,
        reporter=reporter,
        grid=territory.grid,
        community=territory.community,
        subdistrict=territory.subdistrict,
        latitude=Decimal("36.616891"),
        longitude=Decimal("117.123456"),
        level=Level.GRID,
        status=Status.SUBMITTED,
        due_at=now + timedelta(hours=48),
        level_entered_at=now,
        created_at=now,
        submission_token=uuid.uuid4(),
        answers={"楼层": 3},
    )
    event = IssueEvent(
        issue=issue,
        actor=reporter,
        kind=IssueEvent.Kind.FILED,
        to_status=Status.SUBMITTED,
        to_level=Level.GRID,
        data={"api_client": "测试"},
        created_at=now,
    )
    return issue, event


def _columns(obj, *left_out) -> dict:
    obj = type(obj).objects.get(pk=obj.pk)
    return {
        field.attname: getattr(obj, field.attname)
        for field in obj._meta.concrete_fields
        if field.name not in ("id", *left_out)
    }


def test_rows_written_together_are_the_rows_save_writes(territory, django_assert_num_queries):
    now = timezone.now()
    issue, event = _filing(territory, "T0000000001", now)
    expected_issue, expected_event = _filing(territory, "T0000000002", now)
    expected_issue.reporter = expected_event.actor = issue.reporter
    expected_issue.save()
    expected_event.issue = expected_issue
    expected_event.save()
    note = (
        f"UPDATE {Grid._meta.db_table} SET name = %s WHERE id = %s",
        ["改名", territory.grid.pk],
    )
    on_postgresql = connection.vendor == "postgresql"
    with django_assert_num_queries(1 if on_postgresql else 3):
        create_together(issue, event, also=[note])
    assert issue.pk and event.pk and event.issue_id == issue.pk and event.issue is issue
    assert not issue._state.adding and not event._state.adding
    # The time of writing (``auto_now``) is the field's, as save() sets it.
    assert issue.updated_at >= now and Issue.objects.get(pk=issue.pk).updated_at == issue.updated_at
    differ = ("tracking_number", "submission_token", "issue", "updated_at")
    assert _columns(issue, *differ) == _columns(expected_issue, *differ)
    assert _columns(event, *differ) == _columns(expected_event, *differ)
    assert IssueEvent.objects.get(pk=event.pk).issue_id == issue.pk
    assert Grid.objects.get(pk=territory.grid.pk).name == "改名"  # the statement ran too


@pytest.mark.django_db(transaction=True)
def test_rows_written_together_are_written_all_or_not_at_all(territory):
    issue, event = _filing(territory, "T0000000003")
    # A statement that fails as it runs, after both rows: a column that may not be empty.
    failing = (f"UPDATE {Grid._meta.db_table} SET name = NULL WHERE id = %s", [territory.grid.pk])
    with pytest.raises(IntegrityError):
        create_together(issue, event, also=[failing])
    assert not Issue.objects.filter(tracking_number="T0000000003").exists()
    assert not IssueEvent.objects.filter(created_at=event.created_at).exists()


def test_only_rows_that_refer_to_the_first_are_written_with_it(territory):
    issue, _event = _filing(territory, "T0000000004")
    other, other_event = _filing(territory, "T0000000005")
    with pytest.raises(ValueError, match="does not refer"):
        create_together(issue, other_event)
    assert not Issue.objects.filter(tracking_number__in=["T0000000004", "T0000000005"]).exists()


@pytest.mark.parametrize("model", [Issue, IssueEvent])
def test_nothing_listens_for_the_saves_a_filing_no_longer_sends(model):
    # A filing writes its issue and first event without save(), so without its signals or
    # a save() of the model's own: either would silently miss every filing. Actions are
    # told through ``workflow.event_recorded`` instead.
    assert model.save is Model.save, f"{model.__name__} has a save() of its own"
    for signal in (pre_save, post_save):
        assert not signal.has_listeners(model), f"{signal} of {model.__name__}"


# --- a query kept per key, the moment put in afresh ------------------------------------


def _late_by_status(now):
    """What is late at ``now``, by status, with the latest deadline missed."""
    return (
        Issue.objects.filter(due_at__lt=now)
        .values("status")
        .annotate(n=Count("pk"), latest=Max("due_at"))
        .order_by("status")
    )


def test_a_kept_query_reads_what_the_orm_reads_at_each_moment(territory):
    now = timezone.now()
    for hours in (1, 2, 2, 5):
        issue_at(territory, status=Status.SUBMITTED, due_at=now - timedelta(hours=hours))
    issue_at(territory, status=Status.IN_PROGRESS, due_at=now + timedelta(hours=3))
    kept = KeptAtMoment()
    for moment in (now, now + timedelta(hours=4), now - timedelta(hours=3), now):
        got = kept.rows(Issue, "late", moment, _late_by_status)
        assert got == list(_late_by_status(moment)), moment
        assert all(isinstance(row["latest"], datetime) for row in got)  # converted as the ORM does
    assert got and set(got[0]) == {"status", "n", "latest"}
    (entry,) = next(iter(kept._kept.values())).values()
    assert entry is not _NOT_KEPT
    # The moment was found among the parameters and is put in afresh.
    assert len(entry[2]) == 1


def test_a_kept_query_is_written_once_per_key(territory, monkeypatch):
    kept = KeptAtMoment()
    built = []

    def build(moment):
        built.append(moment)
        return _late_by_status(moment)

    now = timezone.now()
    kept.rows(Issue, "late", now, build)
    assert len(built) == 2  # for the moment asked, and for another one to compare with
    for minutes in range(5):
        kept.rows(Issue, "late", now + timedelta(minutes=minutes), build)
    assert len(built) == 2
    kept.rows(Issue, "another key", now, build)
    assert len(built) == 4


def test_a_moment_shifted_by_a_fixed_time_is_put_in_afresh_too(territory):
    now = timezone.now()
    issue_at(territory, status=Status.SUBMITTED, due_at=now - timedelta(minutes=90))

    def a_week_and_an_hour_before(moment):
        late = _late_by_status(moment - timedelta(hours=1))
        return late.filter(created_at__gte=moment - timedelta(days=7))

    kept = KeptAtMoment()
    for moment in (now, now - timedelta(hours=1), now + timedelta(days=9), now):
        got = kept.rows(Issue, "shifted", moment, a_week_and_an_hour_before)
        assert got == list(a_week_and_an_hour_before(moment)), moment
    (entry,) = next(iter(kept._kept.values())).values()
    assert entry is not _NOT_KEPT
    assert sorted(shift for _at, _adapted, shift in entry[2]) == [
        -timedelta(days=7),
        -timedelta(hours=1),
    ]


def test_a_query_that_follows_the_moment_otherwise_is_not_kept_and_still_right(territory):
    now = timezone.now()
    issue_at(territory, status=Status.SUBMITTED, due_at=now - timedelta(minutes=90))

    def since_the_day_began(moment):
        return _late_by_status(moment.replace(hour=0, minute=0, second=0, microsecond=0))

    kept = KeptAtMoment()
    for moment in (now, now + timedelta(days=1), now):
        got = kept.rows(Issue, "day", moment, since_the_day_began)
        assert got == list(since_the_day_began(moment))
    (entry,) = next(iter(kept._kept.values())).values()
    assert entry is _NOT_KEPT


def test_no_more_keys_are_kept_than_the_bound(territory):
    kept = KeptAtMoment(size=3)
    now = timezone.now()
    for key in range(5):
        kept.rows(Issue, key, now, _late_by_status)
    assert list(next(iter(kept._kept.values()))) == [2, 3, 4]


def test_the_dashboard_rankings_are_kept_for_rollups_and_live(territory, people):
    """The rankings' SQL follows the moment only where it can be put in afresh: were a
    part to depend on "now" otherwise, the rankings would be written afresh on every page."""
    from issues import stats
    from issues.stats.rankings import _KEPT as kept_rankings

    issue_at(territory, status=Status.SUBMITTED, due_at=timezone.now() - timedelta(hours=1))
    filters = stats.Filters.default()
    for kind, pk in (
        ("subdistrict", territory.subdistrict.pk),
        ("community", territory.community.pk),
    ):
        for rollup in (True, False):
            unit = stats.load_unit(people.subdistrict_staff, kind, pk, filters, rollup=rollup)
            stats.rankings(unit, filters)
            entries = [
                entry
                for kept in kept_rankings._kept.values()
                for key, entry in kept.items()
                if key == (unit.kind, unit.pk, unit.issues, unit.rollup, filters)
            ]
            assert entries and entries[0] is not _NOT_KEPT, (kind, rollup)


def test_a_prepared_cursor_runs_the_statement_on_any_database(territory):
    """On PostgreSQL the server keeps its plan (tests/test_postgresql_engine.py); on any
    database it runs the statement and reads its rows, logged as any query."""
    grid = territory.grid
    sql = "SELECT name FROM grids_grid WHERE id = %s"
    with CaptureQueriesContext(connection) as queries:
        for _ in range(8):
            with prepared_cursor(connection) as cursor:
                cursor.execute(sql, [grid.pk])
                assert cursor.fetchall() == [(grid.name,)]
    assert len(queries) == 8
