"""Which index of ``issues_issue`` (and of the rollups) serves each hot query (PostgreSQL).

Each page is requested as its user would request it; its queries on the issues are then
EXPLAINed with sequential scans switched off: the test tables are small enough for a scan
to win, and the question here is which index serves the query at a city's scale. A query
that an index no longer serves (a filter changed, an index dropped) fails here, by name.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues.models import DailyRollup, Issue, Level, Status
from issues.stats import Filters
from issues.sweep import run_sweep
from participation import stats as participation_stats
from tests.conftest import requires_postgres
from tests.factories import IssueFactory

pytestmark = requires_postgres

ISSUES = f'FROM "{Issue._meta.db_table}"'


@pytest.fixture
def many(territory, people):
    """Some hundred issues over the territory, open and closed, most with a point."""
    t, p = territory, people
    now = timezone.now()
    grids = [t.grid, t.sibling_grid, t.cousin_grid]
    statuses = [Status.SUBMITTED, Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED]
    for n in range(240):
        grid = grids[n % 3]
        IssueFactory(
            grid=grid,
            category=t.category,
            reporter=p.resident if n % 4 == 0 else None,
            status=statuses[n % 4],
            level=[Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT][n // 3 % 3],
            due_at=now + timedelta(hours=n - 120),
            latitude=Decimal("36.620") + Decimal(n) / 10000,
            longitude=Decimal("117.130") + Decimal(n) / 10000,
        )
    with connection.cursor() as cursor:
        # Rebuilt first: rows that earlier tests on this database wrote and rolled back
        # leave index pages behind, and the planner weighs index sizes.
        cursor.execute(f"REINDEX TABLE {Issue._meta.db_table}")
        cursor.execute(f"ANALYZE {Issue._meta.db_table}")
    return t


def indexes_of(sql: str) -> set[str]:
    """The indexes the plan of ``sql`` reads, sequential scans being off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        try:
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            (plan,) = cursor.fetchone()
        finally:
            cursor.execute("SET LOCAL enable_seqscan = on")
    found, stack = set(), [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        if "Index Name" in node:
            found.add(node["Index Name"])
        stack += node.get("Plans", [])
    return found


def issue_queries(client, url, **params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries if ISSUES in q["sql"]]


def served_by(queries: list[str], must_contain: str) -> set[str]:
    """The indexes of the one query that contains ``must_contain``."""
    found = [q for q in queries if must_contain in q]
    assert len(found) == 1, "\n".join(q[:300] + " … " + q[-200:] for q in queries)
    return indexes_of(found[0])


def test_the_grid_workers_queue_reads_its_grids_open_issues_by_deadline(client, many, people):
    client.force_login(people.worker)
    queries = issue_queries(client, reverse("staff_queue"))
    # The tabs' counts from the index alone, then the page by deadline.
    counts = served_by(queries, 'AS "submitted"')
    assert counts and counts <= {"issue_act_grid_due", "issue_open_grid_due"}, counts
    page = served_by(queries, "LIMIT")
    assert page & {"issue_act_grid_due", "issue_open_grid_due"}, page


def test_the_subdistricts_queue_reads_its_open_issues_by_deadline(client, many, people):
    client.force_login(people.subdistrict_staff)
    queries = issue_queries(client, reverse("staff_queue"))
    counts = served_by(queries, 'AS "submitted"')
    assert counts and counts <= {"issue_act_subdistrict_due", "issue_open_subdistrict_due"}, counts
    page = served_by(queries, "LIMIT")
    assert page & {"issue_act_subdistrict_due", "issue_open_subdistrict_due"}, page


def test_the_staff_maps_markers_read_the_units_open_issues_or_the_open_points(client, many, people):
    """The bounded count and the points alike: the unit's open issues (the box filtering
    them) or the open points in the box, whichever the planner finds cheaper; never a walk
    by filing time, where the model's order once sent the count."""
    client.force_login(people.subdistrict_staff)
    box = "117.12,36.61,117.16,36.65"
    queries = issue_queries(client, reverse("staff_map_markers"), bbox=box)
    plans = [indexes_of(sql) for sql in queries]
    served = {"issue_open_subdistrict_due", "issue_open_point"}
    assert len(plans) == 2, plans
    assert all(used & served and "issue_created" not in used for used in plans), plans


def test_the_public_maps_cell_counts_read_the_point_indexes_alone(client, many):
    """The public map's counts per cell of every public point (kept a minute in each
    process): the open points and the recently closed ones counted in one grouped query
    each, from their own partial index, reading nothing the index does not carry (the
    point and the category), so no row is visited; and the closing time bounds the
    closed ones' range, so the count stays within 30 days of closures however long the
    city has run."""
    many.category.is_public = True
    many.category.save()
    queries = issue_queries(client, reverse("public_map_points"), bbox="116,36,118,38")
    grouped = [sql for sql in queries if "GROUP BY" in sql]
    assert len(grouped) == 2, queries
    # (At a city's scale the open points' index; on these few rows another of the open.)
    served = [{"issue_open_point", "issue_open_subdistrict_due"}, {"issue_closed_point"}]
    for sql, indexes in zip(grouped, served, strict=True):
        assert indexes_of(sql) & indexes, sql
        columns = set(re.findall(r'"issues_issue"\."(\w+)"', sql))
        assert columns <= {"latitude", "longitude", "category_id", "status", "closed_at"}, sql
        assert "COUNT(*)" in sql, sql  # not of the id, which the index does not carry


def test_the_public_maps_points_come_from_the_point_indexes(client, many):
    """A view that is not crowded reads its points from the open points' index and the
    recently closed points' (never a walk by filing time for the newest first)."""
    many.category.is_public = True
    many.category.save()
    client.get(reverse("public_map_points"), {"bbox": "116,36,118,38"})  # the cells, kept
    queries = issue_queries(client, reverse("public_map_points"), bbox="117.13,36.62,117.14,36.63")
    assert len(queries) == 1, queries
    used = indexes_of(queries[0])
    assert {"issue_open_point", "issue_closed_point"} <= used, used
    assert "issue_created" not in used, used


def test_the_open311_list_reads_the_newest_issues_off_their_filing_time(client, many):
    queries = issue_queries(client, "/open311/v2/requests.json")
    assert "issue_created" in served_by(queries, "ORDER BY"), queries


def test_a_residents_issues_come_from_their_own_index(client, many, people):
    client.force_login(people.resident)
    queries = issue_queries(client, reverse("my_issues"))
    assert any("issue_reporter_created" in indexes_of(sql) for sql in queries), queries


def test_the_sweep_finds_overdue_issues_by_deadline(many):
    with CaptureQueriesContext(connection) as queries:
        run_sweep()
    locks = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert locks
    assert "issue_running_due" in indexes_of(locks[0]), locks[0]


def test_a_workers_figures_read_what_they_resolved_or_hold_by_their_own_indexes(
    client, many, people
):
    """A staff member's dashboard: issues they resolved, or hold unresolved. Each arm of
    the condition has its partial index; none reads the open issues by deadline (no query
    does: the index that did was dropped)."""
    Issue.objects.filter(pk__in=Issue.objects.values("pk")[:20]).update(assignee=people.worker)
    client.force_login(people.worker)
    url = reverse("dashboard_unit", args=["worker", people.worker.pk])
    served = set().union(*(indexes_of(sql) for sql in issue_queries(client, url)))
    assert {"issue_assignee_created", "issue_resolver_created"} <= served, served


def test_deleting_a_person_finds_the_issues_they_hold_by_index(many, people):
    """The foreign keys whose own indexes are switched off are still served: a person's
    deletion asks which issues they hold, and the partial index of held issues answers."""
    sql = str(Issue.objects.filter(assignee_id=people.worker.pk).only("pk").query)
    assert "issue_assignee_created" in indexes_of(sql)


@pytest.mark.parametrize("kind", ["subdistrict", None])
def test_what_volunteers_reported_is_read_from_the_volunteer_rows_alone(many, kind):
    """The participation figures count volunteers' reports from the rollups: for a
    subdistrict or the whole city, by the partial indexes of the volunteer rows, not
    through the rest of a year's rows (a twentieth of them are volunteers')."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DailyRollup._meta.db_table}")
    unit_id = many.subdistrict.pk if kind else None
    with CaptureQueriesContext(connection) as queries:
        participation_stats.figures(kind, unit_id, Filters.default())
    (sql,) = [q["sql"] for q in queries.captured_queries]
    used = indexes_of(sql)
    rollup_indexes = sorted(name for name in used if name.startswith("rollup_"))
    volunteers = {"rollup_volunteer_day"} | ({"rollup_volunteer_subdistrict"} if kind else set())
    # (Which of the two serves a subdistrict depends on the table's size.)
    assert rollup_indexes and set(rollup_indexes) <= volunteers, rollup_indexes


@pytest.mark.parametrize(
    "chosen",
    [
        "",
        "severity=minor",
        "source=resident",
        "category",
        "category&severity=minor",
        "category&severity=minor&source=resident",
    ],
)
def test_the_whole_city_counts_what_is_late_now_by_the_deadlines_indexes(
    client, many, root, chosen
):
    """The city's page adds up the subdistricts' rollups and counts live only what depends
    on "now": the issues running past their deadline and those never answered in time,
    each by the index of its own deadline (not by reading every open issue in the city);
    its figures, ranking and trend read the city's rollups by slice and day, whichever
    filters are chosen (never the grid rows)."""
    from issues import rollups

    rollups.rebuild()
    with connection.cursor() as cursor:
        for model in rollups.CITY_TABLES:
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    if chosen.startswith("category"):
        category = Issue.objects.values_list("category_id", flat=True).first()
        chosen = chosen.replace("category", f"category={category}", 1)
    client.force_login(root)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard_city") + "?" + chosen).status_code == 200
    city = [q["sql"] for q in queries.captured_queries if "issues_subdistrict" in q["sql"]]
    assert len(city) == 2, city  # the figures and the ranking
    for sql in city:
        used = indexes_of(sql)
        assert {"issue_unanswered_due", "issue_running_due"} <= used, used
        assert not used & {"issue_created", "issue_open_subdistrict_due"}, used
        assert "issues_dailyrollup" not in sql
    (trend,) = [q["sql"] for q in queries.captured_queries if "issues_cityoutcome" in q["sql"]]
    used = indexes_of(trend)
    # (By day, or by slice and day: the planner's choice for a small table.)
    assert "issue_running_due" in used and used & {"city_outcome_slice_day", "city_outcome_day"}
    assert "issues_dailyoutcome" not in trend
