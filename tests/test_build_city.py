"""The benchmark city (``manage.py build_city``): a small one, checked the way the workflow
would leave it: territory that tiles, one story per issue, fields that agree with the
history, and nothing left for the sweep to do."""

import re
from collections import Counter, defaultdict
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from shapely.geometry import box

from grids import city as territory_city
from grids import geo
from grids.models import Building, Grid, Post
from issues import city, workflow
from issues.city_stories import Clock
from issues.models import (
    OPEN_STATUSES,
    Issue,
    IssueEvent,
    Level,
    Severity,
    SlaPolicy,
    Status,
)
from issues.sweep import run_sweep
from issues.tracking import LENGTH, has_valid_check_digit
from tests.conftest import requires_postgres
from tests.factories import IssueFactory

K = IssueEvent.Kind
LEVELS = [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT]
SIZE = ["--subdistricts", "2", "--communities", "2", "--grids", "3", "--buildings", "2"]


def build(*extra) -> str:
    out = StringIO()
    call_command("build_city", *SIZE, "--residents", "4", "--days", "40", *extra, stdout=out)
    return out.getvalue()


@pytest.fixture
def small_city(db):
    output = build("--issues", "400")
    return output


def test_refuses_sqlite(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("build_city", "--issues", "10", stdout=StringIO())


@requires_postgres
@pytest.mark.postgres
def test_the_territory_tiles_and_every_grid_has_a_worker(small_city):
    assert "400 issues" in small_city
    grids = list(Grid.objects.filter(code__startswith="CITY-").select_related("community"))
    assert len(grids) == 2 * 2 * 3
    assert territory_city.subdistricts().count() == 2
    for grid in grids:
        shape = geo.parse_boundary(grid.boundary)  # valid, inside China, longitude first
        assert geo.bounding_box(grid.boundary) == (
            grid.min_lat,
            grid.min_lng,
            grid.max_lat,
            grid.max_lng,
        )
        inside = shape.representative_point()
        assert geo.grid_at(inside.y, inside.x) == grid
    assert geo.overlaps(grids) == []
    assert geo.holes(grids) == []
    assert geo.misplaced_buildings(grids, Building.objects.filter(grid__in=grids)) == []
    workers = Counter(
        Post.objects.filter(role=Post.Role.GRID_WORKER, grid__in=grids).values_list(
            "grid_id", flat=True
        )
    )
    assert set(workers) == {g.pk for g in grids} and set(workers.values()) == {1}
    west, south, east, north = territory_city.extent()
    assert box(west, south, east, north).area == pytest.approx(
        sum(geo.geometry(g.boundary).area for g in grids)
    )
    accounts = territory_city.accounts()
    assert [user.username for _role, user in accounts.by_role()] == [
        "city-worker-0001",
        "city-community-0001",
        "city-subdistrict-0001",
        "city-department-0001",
    ]


@requires_postgres
@pytest.mark.postgres
def test_every_issue_agrees_with_its_history(small_city):
    now = timezone.now()
    issues = {i.pk: i for i in city.issues().select_related("grid__community")}
    assert len(issues) == 400
    numbers = [i.tracking_number for i in issues.values()]
    assert len(set(numbers)) == len(numbers)
    assert all(len(n) == LENGTH and has_valid_check_digit(n) for n in numbers)
    history = defaultdict(list)
    for event in IssueEvent.objects.filter(issue_id__in=issues).order_by("issue_id", "id"):
        history[event.issue_id].append(event)
    statuses = Counter()
    for pk, issue in issues.items():
        events = history[pk]
        kinds = Counter(e.kind for e in events)
        statuses[issue.status] += 1
        assert events[0].kind == K.FILED and kinds[K.FILED] == 1
        assert events[0].created_at == issue.created_at
        assert (events[-1].to_status, events[-1].to_level) == (issue.status, issue.level)
        for before, after in zip(events, events[1:], strict=False):
            assert before.created_at <= after.created_at <= now
            assert (after.from_status, after.from_level) == (before.to_status, before.to_level)
        assert issue.updated_at == events[-1].created_at
        assert issue.community_id == issue.grid.community_id
        assert issue.subdistrict_id == issue.grid.community.subdistrict_id
        assert issue.escalation_count == kinds[K.ESCALATED] == LEVELS.index(issue.level)
        assert issue.reopen_count == kinds[K.REOPENED]
        assert issue.is_supervised == (kinds[K.SUPERVISED] == 1)
        assert issue.response_due_at > issue.created_at
        assert (issue.department_id is not None) == (kinds[K.DISPATCHED] == 1)
        if issue.department_id:
            assert issue.level == Level.SUBDISTRICT and issue.dispatched_at is not None
        if issue.accepted_at is not None:
            assert issue.accepted_at >= issue.created_at
            assert issue.accepted_at == min(e.created_at for e in events if e.kind == K.ACCEPTED)
        if issue.status in (Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED):
            assert issue.accepted_at is not None and issue.assignee_id is not None
        if issue.status in OPEN_STATUSES:
            assert issue.closed_at is None and issue.satisfaction == ""
        if issue.status == Status.RESOLVED:
            assert issue.resolved_by_id is not None and issue.resolved_at >= issue.accepted_at
        elif issue.status != Status.CLOSED:
            assert issue.resolved_at is None
        if issue.status == Status.CLOSED:
            assert issue.created_at <= issue.accepted_at <= issue.resolved_at <= issue.closed_at
            closing = events[-1].kind
            assert closing in (K.EVALUATED, K.CALLED_BACK, K.VERIFIED, K.AUTO_CLOSED)
            assert (issue.satisfaction != "") == (closing in (K.EVALUATED, K.CALLED_BACK))
        if issue.status == Status.REJECTED:
            assert issue.closed_at == events[-1].created_at
            assert events[-1].kind in (K.REJECTED, K.DUPLICATE)
            if issue.duplicate_of_id:
                original = Issue.objects.get(pk=issue.duplicate_of_id)
                assert original.duplicate_of_id is None and original.grid_id == issue.grid_id
    # A year's mix: mostly closed, some of everything else.
    assert statuses[Status.CLOSED] > 200
    assert statuses[Status.REJECTED] > 0
    assert sum(statuses[s] for s in OPEN_STATUSES) > 0


@requires_postgres
@pytest.mark.postgres
def test_the_sweep_finds_nothing_to_do_and_the_workflow_takes_over(small_city):
    """The city is what the sweep leaves behind: a run at its moment changes nothing. And
    its issues are the workflow's: the person who holds one resolves it."""
    result = run_sweep(now=city.as_of())
    assert (result.escalated, result.supervised, result.closed, result.warned) == (0, 0, 0, 0)
    issue = city.issues().filter(status=Status.IN_PROGRESS).order_by("pk").first()
    if issue is not None:
        events = issue.events.count()
        done = workflow.resolve(issue=issue, actor=issue.assignee, note="已处理完毕。")
        assert done.status == Status.RESOLVED and done.events.count() == events + 1


@requires_postgres
@pytest.mark.postgres
def test_the_clock_gives_the_workflows_deadlines(db):
    sla = SlaPolicy.table()
    now = timezone.now()
    clock = Clock(
        sla, first=(now - timedelta(days=30)).date(), last=now.date() + timedelta(days=60)
    )
    for hours in range(0, 24 * 21, 7):
        start = now - timedelta(days=20) + timedelta(hours=hours, minutes=hours % 60)
        for severity in Severity.values:
            for level in LEVELS:
                expected = workflow.due_after(severity=severity, level=level, start=start, sla=sla)
                assert clock.deadline(severity, level, start.timestamp()) == pytest.approx(
                    expected.timestamp()
                ), (severity, level, start)


@requires_postgres
@pytest.mark.postgres
def test_a_second_run_does_nothing_and_reset_builds_again(small_city):
    assert "already there" in build("--issues", "50")
    assert city.issues().count() == 400
    # Alone in the database, the city's issues are truncated away.
    output = build("--issues", "50", "--reset")
    assert "deleted the city" in output
    assert city.issues().count() == 50
    assert territory_city.subdistricts().count() == 2
    # Beside other issues, only the city's go, row by row.
    other = IssueFactory()
    build("--issues", "30", "--reset")
    assert city.issues().count() == 30
    assert Issue.objects.filter(pk=other.pk).exists()
    assert IssueEvent.objects.filter(issue__in=city.issues()).count() >= 30


@requires_postgres
@pytest.mark.postgres
@pytest.mark.parametrize("command", ["bench_queue", "bench_map", "bench_open311"])
def test_the_page_benchmarks_measure_on_the_city_beside_a_bare_view(small_city, command):
    out = StringIO()
    call_command(command, "--city", "--repeat", "2", "--rounds", "2", stdout=out)
    every = [line for line in out.getvalue().splitlines() if "of bare" in line]
    # (The queue's lines each have the empty signed-in layout's under them.)
    floors = [line for line in every if "the layout alone, signed in" in line]
    lines = [line for line in every if line not in floors]
    assert lines and all("| bare" in line for line in lines)
    if command == "bench_map":  # the widest view too: an administrator's, the whole city
        assert [line for line in lines if line.startswith("city administrator")]
        shapes = [line for line in lines if "KB as stored" in line]  # and the grid layer
        assert len(shapes) == 3 and all(", 1 queries" in line for line in shapes), shapes
        # and the public map's points, for the same three boxes, beside one query
        public = out.getvalue().split("public map points")[1].splitlines()
        assert "counting the cells afresh" in public[1], public
        assert len([line for line in public if "of bare" in line]) == 3, public
    assert len(floors) == (4 if command == "bench_queue" else 0), floors
    if command == "bench_queue":  # the staff's issue pages and a resident's pages too
        assert len([line for line in lines if ", issue page" in line]) == 4, lines
        assert [line for line in lines if "my issues" in line], lines
        assert [line for line in lines if "newest issue's page" in line], lines
    assert city.issues().count() == 400


@requires_postgres
@pytest.mark.postgres
def test_the_sweep_benchmark_leaves_the_city_as_it_was(small_city):
    before = Counter(city.issues().values_list("status", "level"))
    events = IssueEvent.objects.count()
    indexes = _issue_indexes()
    out = StringIO()
    call_command("bench_sweep", "--city", "--issues", "60", stdout=out)
    assert "second run: changed 0" in out.getvalue()
    assert "bare set-based SQL, lean schema" in out.getvalue()
    # The floor of the real rows is measured with the issues' indexes dropped, and rolled
    # back: every index is still there.
    assert re.search(r"without the issues' secondary indexes [\d.]+ s", out.getvalue())
    assert _issue_indexes() == indexes and len(indexes) > 10, indexes
    assert Counter(city.issues().values_list("status", "level")) == before
    assert IssueEvent.objects.count() == events
    result = run_sweep(now=city.as_of())
    assert (result.escalated, result.supervised, result.closed, result.warned) == (0, 0, 0, 0)


def _issue_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s", [Issue._meta.db_table]
        )
        return {name for (name,) in cursor.fetchall()}
