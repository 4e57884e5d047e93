"""The dashboard pages: scope (404s), layout, sorting, CSV, filters, query counts, and the
public page. The figures themselves are checked in test_stats.py."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues import stats
from issues.models import Issue, Level, Satisfaction, Severity, Source, Status
from participation import stats as participation_stats
from tests.factories import (
    CategoryFactory,
    CommunityFactory,
    GridFactory,
    IssueFactory,
    SubdistrictFactory,
    UserFactory,
    issue_at,
    post_for,
    staff_on,
)
from tests.rollup_support import rollups_follow_saves  # noqa: F401

H = timedelta(hours=1)

# The pages read the daily rollups; the issues here are rows written directly.
pytestmark = pytest.mark.usefixtures("rollups_follow_saves")


def unit_url(kind, pk, query=""):
    return reverse("dashboard_unit", args=[kind, pk]) + (f"?{query}" if query else "")


def issue(grid, **fields):
    now = timezone.now()
    values = dict(grid=grid, reporter=None, created_at=now - 2 * H, due_at=now + 46 * H)
    values.update(fields)
    return IssueFactory(**values)


def some_issues(t, category=None):
    """Two closed minor issues in the grid (one settled there), one in the sibling grid."""
    category = category or t.category
    now = timezone.now()
    closed = dict(
        status=Status.CLOSED,
        category=category,
        accepted_at=now - H,
        resolved_at=now - 0.5 * H,
        satisfaction=Satisfaction.SATISFIED,
    )
    issue(t.grid, title="路灯坏了", **closed)
    issue(t.grid, title="楼道堆物", level=Level.COMMUNITY, **closed)
    issue(t.sibling_grid, title="井盖缺失", category=category, source=Source.PATROL)


def cells(html, figure):
    match = re.search(
        rf'data-figure="{figure}".*?<p class="figure-value mb-1">(.*?)</p>', html, re.S
    )
    return match.group(1).strip()


# --- access ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, territory):
    for url in (reverse("dashboard"), unit_url("grid", territory.grid.pk)):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_start_goes_to_the_only_unit_keeping_the_filters(client, territory, people):
    client.force_login(people.community_staff)
    response = client.get(reverse("dashboard") + "?severity=minor")
    assert response.status_code == 302
    assert response.url == unit_url("community", territory.community.pk, "severity=minor")


def test_start_offers_a_choice_for_several_posts(client, territory, people):
    post_for(people.worker, territory.far_grid)
    client.force_login(people.worker)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert unit_url("grid", territory.grid.pk) in response.text
    assert unit_url("grid", territory.far_grid.pk) in response.text


def test_someone_without_a_post_is_told_so(client, territory, people):
    client.force_login(people.resident)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert reverse("dashboard_public") in response.text
    assert client.get(unit_url("grid", territory.grid.pk)).status_code == 404


@pytest.mark.parametrize(
    ("who", "kind", "unit", "status"),
    [
        ("worker", "grid", "grid", 200),
        ("worker", "grid", "sibling_grid", 404),
        ("worker", "community", "community", 404),
        ("community_staff", "grid", "sibling_grid", 200),
        ("community_staff", "grid", "cousin_grid", 404),
        ("subdistrict_staff", "community", "other_community", 200),
        ("subdistrict_staff", "department", "department", 200),
        ("subdistrict_staff", "subdistrict", "other_subdistrict", 404),
        ("department_staff", "department", "department", 200),
        ("department_staff", "subdistrict", "subdistrict", 404),
    ],
)
def test_unit_pages_in_and_out_of_scope(client, territory, people, who, kind, unit, status):
    some_issues(territory)
    client.force_login(getattr(people, who))
    response = client.get(unit_url(kind, getattr(territory, unit).pk))
    assert response.status_code == status
    # The export of a unit out of scope is just as closed.
    response = client.get(unit_url(kind, getattr(territory, unit).pk, "export=figures"))
    assert response.status_code == status


def test_worker_pages_in_and_out_of_scope(client, territory, people):
    client.force_login(people.worker)
    assert client.get(unit_url("worker", people.worker2.pk)).status_code == 200
    assert client.get(unit_url("worker", people.sibling_worker.pk)).status_code == 404
    assert client.get(unit_url("worker", 999999)).status_code == 404


def test_unknown_kind_or_unit_is_404(client, territory, people):
    client.force_login(people.subdistrict_staff)
    assert client.get(unit_url("building", territory.grid.pk)).status_code == 404
    assert client.get(unit_url("grid", 999999)).status_code == 404


# --- the page ---------------------------------------------------------------------------


def test_subdistrict_page_shows_figures_charts_and_tables(client, territory, people):
    some_issues(territory)
    client.force_login(people.subdistrict_staff)
    response = client.get(unit_url("subdistrict", territory.subdistrict.pk))
    assert response.status_code == 200
    html = response.text
    assert cells(html, "filed") == "3"
    assert cells(html, "minor_settled_rate") == "50.0%"
    assert cells(html, "satisfaction_rate") == "100.0%"
    assert "—" in cells(html, "difficult_settled_rate")  # nothing to divide: no number
    # Every figure says how it is computed (checked in English: the catalogue may change).
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = client.get(unit_url("subdistrict", territory.subdistrict.pk)).text
    assert "Closed minor issues settled at grid level ÷ closed minor issues." in english
    assert english.count('figure-help">') == len(stats.FIGURES) + len(participation_stats.FIGURES)
    # Charts get their data through json_script; each has a table with the same numbers.
    for chart in ("trend", "funnel", "ranking", "departments"):
        assert f'data-chart="{chart}-data"' in html
        assert f'id="{chart}-data" type="application/json"' in html
    assert 'id="trend-table"' in html and 'id="ranking-table"' in html
    assert 'id="departments-table"' in html
    assert "chartjs-4.6.1/chart.umd.min.js" in html and "js/dashboard.js" in html
    # No inline script (CSP): every <script> has a src or is JSON data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert 'style="' not in html


def test_ranking_rows_drill_down_with_the_filters(client, territory, people):
    some_issues(territory)
    client.force_login(people.subdistrict_staff)
    response = client.get(unit_url("subdistrict", territory.subdistrict.pk, "severity=minor"))
    link = unit_url("community", territory.community.pk)
    assert re.search(rf'href="{re.escape(link)}\?[^"]*severity=minor', response.text)
    assert unit_url("department", territory.department.pk) in response.text
    # The community lists its grids; the grid lists its workers.
    client.force_login(people.community_staff)
    response = client.get(unit_url("community", territory.community.pk))
    assert unit_url("grid", territory.sibling_grid.pk) in response.text
    assert 'aria-current="page">全运村社区' in response.text


def test_grid_page_ranks_its_workers(client, territory, people):
    now = timezone.now()
    issue(territory.grid, status=Status.IN_PROGRESS, accepted_at=now - H, assignee=people.worker2)
    client.force_login(people.worker)
    response = client.get(unit_url("grid", territory.grid.pk))
    assert response.status_code == 200
    assert unit_url("worker", people.worker2.pk) in response.text
    response = client.get(unit_url("worker", people.worker2.pk))
    assert cells(response.text, "filed") == "1"
    # The worker's page has no ranking of its own.
    assert 'id="ranking-table"' not in response.text


def test_sorting_is_done_by_the_server_and_announced(client, territory, people):
    issue(territory.cousin_grid)
    issue(territory.cousin_grid)
    issue(territory.grid)
    client.force_login(people.subdistrict_staff)
    url = unit_url("subdistrict", territory.subdistrict.pk)

    def order(query):
        html = client.get(f"{url}?{query}").text
        table = html.split('id="ranking-table"')[1].split("</table>")[0]
        return re.findall(r'<th scope="row"><a[^>]*>([^<]+)</a>', table), table

    names, table = order("sort=-filed")
    assert names == ["龙洞社区", "全运村社区"]
    assert 'aria-sort="descending"' in table
    assert table.count("aria-sort=") == 1
    names, table = order("sort=filed")
    assert names == ["全运村社区", "龙洞社区"]
    assert 'aria-sort="ascending"' in table
    # The sorted column's link turns the order round; unknown keys sort by name.
    assert "sort=-filed" in table
    names, table = order("sort=nonsense")
    assert names == ["全运村社区", "龙洞社区"]
    assert 'aria-sort="ascending"' in table  # the name column


def table_headings(html, table):
    part = html.split(f'id="{table}-table"')[1].split("</thead>")[0]
    return [
        re.sub(r"<[^>]+>|[▲▼]", "", cell).strip()
        for cell in re.findall(r"<a [^>]*>(.*?)</a>", part, re.S)
    ][1:]


def card_labels(html):
    return dict(re.findall(r'id="figure-(\w+)-label">([^<]+)</h3>', html))


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_each_figure_has_one_name_in_cards_tables_csv_and_public_page(
    client, territory, people, language
):
    some_issues(territory)
    client.post(reverse("set_language"), {"language": language, "next": "/"})
    client.force_login(people.subdistrict_staff)
    url = unit_url("subdistrict", territory.subdistrict.pk)
    html = client.get(url).text
    labels = card_labels(html)
    assert set(labels) == {figure.key for figure in stats.FIGURES} | set(participation_stats.KEYS)
    headings = table_headings(html, "ranking")
    assert headings and set(headings) <= set(labels.values())
    csv_header = read_csv(client.get(f"{url}?export=ranking"))[0][1:]
    assert [heading.rsplit(" (", 1)[0] for heading in csv_header] == headings
    figures_csv = [row[0] for row in read_csv(client.get(f"{url}?export=figures"))[1:]]
    assert figures_csv == list(labels.values())
    public = card_labels(client.get(reverse("dashboard_public")).text)
    assert public and all(labels[key] == name for key, name in public.items())
    if language == "zh-hans":
        assert labels["patrol_rate"] == "主动发现率"
        assert "主动发现率" in headings


def test_departments_are_measured_by_department_figures(client, territory, people):
    some_issues(territory)
    issue(territory.grid, level=Level.SUBDISTRICT, department=territory.department)
    grid_only = {"minor_settled_rate", "urgent_settled_rate", "difficult_settled_rate"}
    client.force_login(people.subdistrict_staff)
    url = unit_url("subdistrict", territory.subdistrict.pk)
    html = client.get(url).text
    labels = card_labels(html)
    departments = table_headings(html, "departments")
    assert departments, "the subdistrict ranks its departments"
    assert not {labels[key] for key in grid_only} & set(departments)
    assert labels["on_time_rate"] in departments and labels["satisfaction_rate"] in departments
    # Communities keep every figure.
    assert {labels[key] for key in grid_only} <= set(table_headings(html, "ranking"))
    csv_header = " ".join(read_csv(client.get(f"{url}?export=departments"))[0])
    assert "小事不出网格率" not in csv_header and "按时办结率" in csv_header
    # A department's own page shows its own figures only.
    client.force_login(people.department_staff)
    html = client.get(unit_url("department", territory.department.pk)).text
    assert cells(html, "filed") == "1"
    assert not grid_only & set(card_labels(html))
    assert "patrol_rate" not in card_labels(html)


# --- CSV --------------------------------------------------------------------------------


def read_csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def test_each_table_exports_to_csv_with_the_filters(client, territory, people):
    some_issues(territory)
    client.force_login(people.subdistrict_staff)
    pk = territory.subdistrict.pk

    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=ranking")))
    assert [row[:2] for row in rows[1:]] == [["全运村社区", "3"], ["龙洞社区", "0"]]
    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=ranking&source=patrol")))
    assert [row[:2] for row in rows[1:]] == [["全运村社区", "1"], ["龙洞社区", "0"]]

    figures = {
        row[0]: row[1]
        for row in read_csv(client.get(unit_url("subdistrict", pk, "export=figures")))
    }
    # The header, every figure, and the party members' and volunteers' figures.
    assert len(figures) == 1 + len(stats.FIGURES) + len(participation_stats.FIGURES)
    assert "50.0" in figures.values()

    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=funnel")))
    assert rows[1][1] == "3"
    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=trend")))
    assert sum(int(row[1]) for row in rows[1:]) == 3
    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=departments")))
    assert rows[1][0] == "城管"
    rows = read_csv(client.get(unit_url("subdistrict", pk, "export=recurrence")))
    assert len(rows) == 1  # header only: two issues in the grid are no recurrence


def test_csv_defuses_spreadsheet_formulas(client, territory, people):
    category = CategoryFactory(name="=HYPERLINK(1)")
    for _n in range(3):
        issue(territory.grid, category=category, title="=1+2")
    client.force_login(people.worker)
    rows = read_csv(client.get(unit_url("grid", territory.grid.pk, "export=recurrence")))
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][4] == "'=1+2"


def test_recurrence_csv_lists_every_issue_of_an_alert(client, territory, people):
    for _n in range(12):
        issue(territory.grid, category=territory.category)
    client.force_login(people.worker)
    html = client.get(unit_url("grid", territory.grid.pk)).text
    recurrence = html.split('id="recurrence-heading"')[1]
    assert recurrence.count("<li>") == 5  # the latest five on the page
    rows = read_csv(client.get(unit_url("grid", territory.grid.pk, "export=recurrence")))
    assert len(rows) == 1 + 12


@pytest.mark.parametrize(
    "language, heading, more",
    [
        ("zh-hans", "：12 件", "列出最新的 5 件。"),
        ("en", ": 12 issues", "The latest 5 are listed."),
    ],
)
def test_a_recurrence_alert_says_where_what_and_how_many(
    client, territory, people, language, heading, more
):
    category = CategoryFactory(name="噪音<扰民>")
    made = [issue(territory.grid, category=category, title="<b>楼道</b>") for _n in range(12)]
    client.force_login(people.worker)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    html = client.get(unit_url("grid", territory.grid.pk)).text
    recurrence = html.split('id="recurrence-heading"')[1]
    # The grid and the category by name (escaped), and how many.
    assert f"{territory.grid.name} · 噪音&lt;扰民&gt;{heading}</h3>" in recurrence
    assert more in recurrence
    assert "<b>楼道</b>" not in recurrence and "&lt;b&gt;楼道&lt;/b&gt;" in recurrence
    # The latest first, each with its filing time and its page.
    latest = max(made, key=lambda found: (found.created_at, found.pk))
    link = reverse("staff_issue_detail", args=[latest.tracking_number])
    item = recurrence.split("<li>")[1]
    local = timezone.localtime(latest.created_at)
    assert f'<time datetime="{local.isoformat()}">{local:%m-%d %H:%M}</time>' in item
    assert f'<a href="{link}">{latest.tracking_number}</a>' in item


def test_unknown_export_is_404(client, territory, people):
    client.force_login(people.worker)
    assert client.get(unit_url("grid", territory.grid.pk, "export=secrets")).status_code == 404
    # A grid has no departments table.
    response = client.get(unit_url("grid", territory.grid.pk, "export=departments"))
    assert response.status_code == 404


# --- filters ----------------------------------------------------------------------------


def test_filters_apply_to_the_figures(client, territory, people):
    some_issues(territory)
    issue(territory.grid, severity=Severity.URGENT)
    client.force_login(people.subdistrict_staff)
    url = unit_url("subdistrict", territory.subdistrict.pk)
    assert cells(client.get(url).text, "filed") == "4"
    assert cells(client.get(f"{url}?severity=urgent").text, "filed") == "1"
    assert cells(client.get(f"{url}?source=patrol").text, "filed") == "1"
    other = CategoryFactory()
    assert cells(client.get(f"{url}?category={other.pk}").text, "filed") == "0"
    today = timezone.localdate()
    old = (today - timedelta(days=60)).isoformat()
    assert cells(client.get(f"{url}?start={old}&end={old}").text, "filed") == "0"


@pytest.mark.parametrize(
    ("query", "message", "kept"),
    [
        (
            "start=2024-05-10&end=2024-05-01",
            "The end of the period cannot be before its start.",
            'name="end" value="2024-05-01"',
        ),
        ("start=2024-13-45", "Enter a valid date.", 'name="start" value="2024-13-45"'),
        (
            "start=1900-01-01",
            "Choose a date between 2000-01-01 and 2100-12-31.",
            'name="start" value="1900-01-01"',
        ),
        (
            "start=2000-01-01&end=2024-01-01",
            "Choose a period of at most 1098 days.",
            'name="start" value="2000-01-01"',
        ),
        (
            "recurrence_count=1",
            "Ensure this value is greater than or equal to 2.",
            'name="recurrence_count" value="1"',
        ),
        ("category=abc", "Select a valid choice.", None),
        ("severity=huge", "Select a valid choice.", None),
    ],
)
def test_bad_filters_are_explained_and_defaults_shown(
    client, territory, people, query, message, kept
):
    some_issues(territory)
    client.force_login(people.subdistrict_staff)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(unit_url("subdistrict", territory.subdistrict.pk, query))
    assert response.status_code == 200
    html = response.text
    assert message in html.replace("&#x27;", "'")
    assert "the figures are for the default period" in html
    assert cells(html, "filed") == "3"  # the last 30 days
    # What was typed stays in the form, next to its error.
    if kept:
        assert kept in html
    assert "is-invalid" in html


def test_recurrence_parameters_default_from_settings(client, territory, people, settings):
    settings.RECURRENCE_MIN_COUNT = 2
    settings.RECURRENCE_DAYS = 7
    issue(territory.grid, title="第一次", category=territory.category)
    issue(territory.grid, title="第二次", category=territory.category)
    client.force_login(people.worker)
    html = client.get(unit_url("grid", territory.grid.pk)).text
    assert 'name="recurrence_count" value="2"' in html
    assert 'name="recurrence_days" value="7"' in html
    recurrence = html.split('id="recurrence-heading"')[1]
    assert "第一次" in recurrence and "第二次" in recurrence
    # The form overrides the settings.
    html = client.get(unit_url("grid", territory.grid.pk, "recurrence_count=3")).text
    assert "第一次" not in html.split('id="recurrence-heading"')[1]


def test_recurrent_issues_link_to_the_staff_issue_page(client, territory, people):
    made = [issue(territory.grid, category=territory.category) for _n in range(3)]
    client.force_login(people.worker)
    html = client.get(unit_url("grid", territory.grid.pk)).text
    link = reverse("staff_issue_detail", kwargs={"tracking_number": made[0].tracking_number})
    assert f'href="{link}"' in html


# --- query counts -----------------------------------------------------------------------


def page_queries(client, url):
    client.get(url)  # the choice lists of the filters, into the cache (once a minute)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def add_issues(grids, n, category):
    now = timezone.now()
    statuses = [Status.SUBMITTED, Status.IN_PROGRESS, Status.CLOSED, Status.RESOLVED]
    for i in range(n):
        grid = grids[i % len(grids)]
        status = statuses[i % len(statuses)]
        IssueFactory(
            grid=grid,
            reporter=None,
            category=category,
            status=status,
            created_at=now - timedelta(hours=i % 500 + 1),
            accepted_at=None if status == Status.SUBMITTED else now - timedelta(minutes=30),
            resolved_at=now if status in (Status.CLOSED, Status.RESOLVED) else None,
            due_at=now + timedelta(hours=(i % 7) - 3),
        )


def test_query_count_does_not_grow_with_issues(client, territory, people):
    t = territory
    grids = [t.grid, t.sibling_grid, t.cousin_grid]
    add_issues(grids, 10, t.category)
    client.force_login(people.subdistrict_staff)
    urls = [
        unit_url("subdistrict", t.subdistrict.pk),
        unit_url("community", t.community.pk),
        unit_url("grid", t.grid.pk),
        unit_url("worker", people.worker.pk),
    ]
    few = [page_queries(client, url) for url in urls]
    add_issues(grids, 490, t.category)
    many = [page_queries(client, url) for url in urls]
    print("queries per page (subdistrict, community, grid, worker):", many)
    assert few == many
    # Session, user, posts, unread count, categories, the unit with its figures, the
    # rankings, the trend, the recurrences, the party members' and volunteers' figures:
    # ten, for a subdistrict with 500 issues.
    assert many[0] <= 10


EXPORTS = ["figures", "funnel", "ranking", "departments", "trend", "recurrence", "unverified"]


def test_each_export_runs_the_same_queries_for_10_and_310_issues(client, territory, people):
    t = territory
    grids = [t.grid, t.sibling_grid, t.cousin_grid]
    client.force_login(people.subdistrict_staff)
    url = unit_url("subdistrict", t.subdistrict.pk)

    def exported():
        counted = {}
        for table in EXPORTS:
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url, {"export": table})
                assert response.status_code == 200, table
                lines = response.content.decode("utf-8-sig").strip().splitlines()
            counted[table] = (len(queries), len(lines))
        return counted

    def grow(n):
        add_issues(grids, n, t.category)
        # Resolved long ago and never verified: listed among the unverified.
        long_ago = timezone.now() - timedelta(days=settings.UNVERIFIED_DAYS + 1)
        Issue.objects.filter(status=Status.RESOLVED).update(resolved_at=long_ago)

    grow(10)
    client.get(url)  # the choice lists of the filters, into the cache
    few = exported()
    grow(300)
    many = exported()
    assert {k: n for k, (n, _lines) in many.items()} == {k: n for k, (n, _lines) in few.items()}
    assert max(n for n, _lines in many.values()) <= 10
    # The lists of issues grew with them, and so did their files.
    for table in ("recurrence", "unverified"):
        assert many[table][1] > few[table][1] > 1, table


def test_query_count_does_not_grow_with_child_units(client, territory, people):
    subdistrict = SubdistrictFactory()
    staff = staff_on(subdistrict)
    category = CategoryFactory()

    def grow(count):
        for _n in range(count):
            community = CommunityFactory(subdistrict=subdistrict)
            add_issues([GridFactory(community=community)], 3, category)

    grow(2)
    client.force_login(staff)
    url = unit_url("subdistrict", subdistrict.pk)
    two = page_queries(client, url)
    grow(8)
    assert page_queries(client, url) == two
    assert client.get(url).text.count('<th scope="row"><a href="/dashboard/community/') == 10


# --- public page and navigation -----------------------------------------------------------


def test_public_page_shows_counts_and_rates_only(client, territory, people):
    some_issues(territory)
    IssueFactory(
        grid=territory.grid, title="秘密标题", description="私密描述", caller_phone="13800000000"
    )
    response = client.get(reverse("dashboard_public"))
    assert response.status_code == 200
    html = response.text
    assert cells(html, "filed") == "4"
    assert cells(html, "minor_settled_rate") == "50.0%"
    for text in ("秘密标题", "私密描述", "路灯坏了", "13800000000"):
        assert text not in html
    for number in Issue.objects.values_list("tracking_number", flat=True):
        assert number not in html
    assert 'data-figure="resolve_hours_avg"' not in html


def test_public_page_chooses_among_subdistricts(client, territory):
    issue(territory.far_grid)
    response = client.get(reverse("dashboard_public"))
    assert '<select name="subdistrict"' in response.text
    response = client.get(
        reverse("dashboard_public") + f"?subdistrict={territory.other_subdistrict.pk}&period=365"
    )
    assert "姚家街道" in response.text
    assert cells(response.text, "filed") == "1"
    response = client.get(reverse("dashboard_public") + "?subdistrict=999999&period=7")
    assert response.status_code == 200
    assert "is-invalid" in response.text


def test_navigation_links(client, territory, people):
    public = reverse("dashboard_public")
    html = client.get(reverse("home")).text
    assert f'href="{public}"' in html
    assert f'href="{reverse("dashboard")}"' not in html
    client.force_login(people.worker)
    html = client.get(reverse("home")).text
    assert f'href="{reverse("dashboard")}"' in html
    client.force_login(UserFactory())
    html = client.get(reverse("home")).text
    assert f'href="{reverse("dashboard")}"' not in html and f'href="{public}"' in html


def test_superuser_starts_from_a_choice_of_subdistricts(client, territory):
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert unit_url("subdistrict", territory.subdistrict.pk) in response.text
    assert unit_url("subdistrict", territory.other_subdistrict.pk) in response.text
    assert client.get(unit_url("grid", territory.far_grid.pk)).status_code == 200


def test_the_whole_city_is_a_superusers_page(client, territory, people):
    """The city ranks every subdistrict; only superusers see it (no post is held above a
    subdistrict), and their subdistrict pages lead back to it."""
    t = territory
    some_issues(t)
    city = reverse("dashboard_city")
    assert client.get(city).status_code == 302  # sign in first
    for person in (people.subdistrict_staff, people.worker, people.resident):
        client.force_login(person)
        assert client.get(city).status_code == 404
        assert client.get(city + "?export=figures").status_code == 404
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    assert city in client.get(reverse("dashboard")).text  # offered first
    html = client.get(city + "?severity=minor").text
    assert cells(html, "minor_settled_rate") == "50.0%"
    # Filters are read from the subdistricts' slices, two or three at once as well as
    # one: the same figures as the issues give.
    both = client.get(city + f"?severity=minor&category={t.category.pk}").text
    assert cells(both, "minor_settled_rate") == "50.0%"
    other = CategoryFactory(name="噪音扰民")
    none = client.get(city + f"?severity=minor&category={other.pk}&source=resident").text
    assert "—" in cells(none, "minor_settled_rate")
    # A filter chosen leaves the filters open, so the page shows which.
    assert re.search(r'class="[^"]*filter-panel"\s+open', html)
    assert not re.search(r'class="[^"]*filter-panel"\s+open', client.get(city).text)
    for subdistrict in (t.subdistrict, t.other_subdistrict):  # both ranked, with links
        link = unit_url("subdistrict", subdistrict.pk)
        assert re.search(rf'href="{re.escape(link)}\?[^"]*severity=minor', html)
    assert 'id="ranking-table"' in html and 'id="trend-table"' in html
    assert 'id="departments-table"' not in html  # departments serve one subdistrict
    assert "export=recurrence" not in html
    assert client.get(city + "?export=recurrence").status_code == 404
    for table in ("figures", "funnel", "ranking", "trend", "unverified"):
        response = client.get(city + f"?export={table}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    ranking = client.get(city + "?export=ranking").content.decode("utf-8-sig")
    assert t.subdistrict.name in ranking and t.other_subdistrict.name in ranking
    # A subdistrict's breadcrumb starts from the city, for a superuser only.
    subdistrict = unit_url("subdistrict", t.subdistrict.pk)
    assert f'href="{city}' in client.get(subdistrict).text
    client.force_login(people.subdistrict_staff)
    assert f'href="{city}' not in client.get(subdistrict).text


def test_a_superuser_of_a_city_without_subdistricts_starts_from_the_city(client, db):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response.url == reverse("dashboard_city")
    assert client.get(response.url).status_code == 200


def test_public_page_without_any_subdistrict(client, db):
    response = client.get(reverse("dashboard_public"))
    assert response.status_code == 200
    assert 'data-figure="filed"' not in response.text


# --- the closed loop on the pages ---------------------------------------------------------


def loop_issues(t, p, n):
    """``n`` rounds of the loop in the subdistrict: a dispatch returned and dispatched
    again, a joint dispatch with a completed sub-task, an extension granted, a call-back,
    a supervision note, and a patrol report resolved and left unverified for days."""
    from issues import workflow
    from issues.models import IssueTask, ReturnReason

    reason = ReturnReason.objects.get_or_create(name="不属于本部门职责")[0]
    housing = t.department.subdistrict.departments.exclude(pk=t.department.pk).first()
    housing_staff = post_for_department(housing)
    boss = p.subdistrict_staff
    now = timezone.now()
    for _n in range(n):
        issue = issue_at(t, "subdistrict", reporter=p.resident)
        workflow.dispatch(issue=issue, actor=boss, department=t.department)
        workflow.return_dispatch(issue=issue, actor=p.department_staff, reason=reason)
        workflow.dispatch_joint(
            issue=issue, actor=boss, lead=t.department, co_handlers=[housing], instruction="联办"
        )
        task = IssueTask.objects.get(issue=issue, department=housing, state="open")
        workflow.complete_task(issue=issue, actor=housing_staff, task=task, note="已办")
        workflow.supervise_note(issue=issue, actor=boss, note="尽快办结")
        late = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
        until = timezone.localdate() + timedelta(days=10)
        workflow.request_extension(issue=late, actor=p.worker, until=until, reason="等材料")
        workflow.approve_extension(issue=late, actor=p.community_staff)
        called = issue_at(
            t, "grid", status=Status.RESOLVED, source=Source.HOTLINE, reporter=None,
            caller_phone="13800138000", resolved_by=p.worker,
        )  # fmt: skip
        workflow.callback(issue=called, actor=p.community_staff, outcome=Satisfaction.SATISFIED)
        issue_at(
            t, "grid", status=Status.RESOLVED, source=Source.PATROL, reporter=p.worker2,
            resolved_by=p.worker, resolved_at=now - timedelta(days=10), title="井盖缺失",
        )  # fmt: skip


def post_for_department(department):
    from grids.models import Post

    user = Post.objects.filter(department=department).values_list("user", flat=True).first()
    return UserFactory._meta.model.objects.get(pk=user) if user else staff_on(department)


@pytest.fixture
def housing(territory):
    from tests.factories import DepartmentFactory

    return DepartmentFactory(subdistrict=territory.subdistrict, name="住建")


def test_loop_query_count_does_not_grow(client, territory, people, housing):
    t = territory
    loop_issues(t, people, 1)
    client.force_login(people.subdistrict_staff)
    urls = [
        unit_url("subdistrict", t.subdistrict.pk),
        unit_url("department", t.department.pk),
        unit_url("community", t.community.pk),
        unit_url("grid", t.grid.pk),
        unit_url("worker", people.worker.pk),
    ]
    few = [page_queries(client, url) for url in urls]
    loop_issues(t, people, 6)
    many = [page_queries(client, url) for url in urls]
    print("queries per page (subdistrict, department, community, grid, worker):", many)
    assert few == many
    # The loop adds no query: the subdistrict stays at ten.
    assert many[0] <= 10
    assert max(many) <= 10


def test_departments_are_ranked_by_returns_and_sub_tasks(client, territory, people, housing):
    loop_issues(territory, people, 2)
    client.force_login(people.subdistrict_staff)
    page = client.get(unit_url("subdistrict", territory.subdistrict.pk)).text
    table = page.split('id="departments-table"')[1].split("</table>")[0]
    assert "sort=-return_rate" in table and "sort=-task_on_time_rate" in table
    row = table.split(territory.department.name)[1].split("</tr>")[0]
    # 城管: two dispatches returned of four (single, then lead of the joint dispatch).
    assert "50.0%" in row
    # The communities' table has no department figures.
    communities = page.split('id="ranking-table"')[1].split("</table>")[0]
    assert "sort=-return_rate" not in communities
    assert "sort=-supervised" in communities
    # The subdistrict's own cards: all its departments together; 住建's sub-tasks on time.
    assert cells(page, "return_rate") == "50.0%"
    assert cells(page, "task_on_time_rate") == "100.0%"
    assert cells(page, "satisfaction_callback_rate") == "100.0%"
    assert cells(page, "extended") == "2"
    assert cells(page, "supervised") == "2"
    # The department's own page: the same return rate.
    client.force_login(people.department_staff)
    page = client.get(unit_url("department", territory.department.pk)).text
    assert cells(page, "return_rate") == "50.0%"
    # A community has no return rate.
    client.force_login(people.community_staff)
    page = client.get(unit_url("community", territory.community.pk)).text
    assert 'data-figure="return_rate"' not in page


def test_unverified_issues_are_listed_for_staff_with_links(
    client, territory, people, housing, settings
):
    settings.UNVERIFIED_DAYS = 3
    loop_issues(territory, people, 2)
    client.force_login(people.community_staff)
    url = unit_url("community", territory.community.pk)
    page = client.get(url).text
    assert cells(page, "unverified_stale") == "2"
    section = page.split('id="unverified"')[1].split("</section>")[0]
    stale = Issue.objects.filter(title="井盖缺失").order_by("resolved_at", "pk")
    for issue in stale:
        link = reverse("staff_issue_detail", args=[issue.tracking_number])
        assert f'href="{link}"' in section
    response = client.get(url, {"export": "unverified"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [issue.tracking_number for issue in stale]
    # None left: said so.
    settings.UNVERIFIED_DAYS = 30
    page = client.get(url).text
    assert cells(page, "unverified_stale") == "0"
    assert "unverified-list" not in page


def test_public_page_leaves_the_staff_loop_figures_out(client, territory, people, housing):
    loop_issues(territory, people, 1)
    page = client.get(reverse("dashboard_public")).text
    for key in ["return_rate", "task_on_time_rate", "extended", "extension_pending",
                "unverified_stale"]:  # fmt: skip
        assert f'data-figure="{key}"' not in page, key
    assert "不属于本部门职责" not in page and "井盖缺失" not in page
    # Satisfaction by channel and supervision are open figures.
    assert cells(page, "satisfaction_callback_rate") == "100.0%"
    assert 'data-figure="supervised_resolved"' in page
