"""My work: the staff queue, its tabs, filters, order, pages and query budget."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from issues import permissions, workflow
from issues.models import Issue, IssueTask, Level, Severity, Source, Status
from issues.permissions import acting_condition
from issues.views.staff import PAGE_SIZE
from tests.conftest import requires_postgres
from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    IssueFactory,
    UserFactory,
    issue_at,
)

QUEUE = "/staff/"


def rows(response) -> list[str]:
    """Tracking numbers of the issues listed, in page order."""
    return re.findall(r'href="/staff/issues/([^/"]+)/"', response.text)


def tab_counts(response) -> dict:
    return {
        key: int(count)
        for key, count in re.findall(
            r'id="tab-(\w+)">\s*[^<]*<span class="badge[^"]*">(\d+)</span>', response.text
        )
    }


def test_urls():
    assert reverse("staff_queue") == QUEUE
    assert reverse("staff_issue_detail", args=["2026"]) == "/staff/issues/2026/"
    assert reverse("staff_issue_action", args=["2026", "accept"]) == "/staff/issues/2026/accept/"
    assert reverse("staff_patrol") == "/staff/patrol/"


@pytest.mark.parametrize(
    "url", [QUEUE, "/staff/patrol/", "/staff/patrol/reports/", "/staff/hotline/", "/staff/start/"]
)
def test_anonymous_is_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")


def test_a_resident_may_not_open_the_queue(client, people):
    client.force_login(people.resident)
    assert client.get(QUEUE).status_code == 403


def test_signing_in_as_staff_lands_on_the_queue(client, people):
    response = client.post(
        reverse("login"), {"username": "gridworker", "password": "demo12345"}, follow=True
    )
    assert response.redirect_chain[-1][0] == QUEUE
    assert response.status_code == 200
    assert "My work" in response.text or "我的工作" in response.text


def test_signing_in_as_a_resident_lands_on_their_issues_or_home(client, people):
    response = client.post(
        reverse("login"), {"username": "resident", "password": "demo12345"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("my_issues")
    assert response.status_code == 200


def test_a_superuser_without_posts_lands_on_the_admin(client, db):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(reverse("after_login"))
    assert response.url == reverse("admin:index")


def test_my_work_is_what_my_units_handle(client, territory, people):
    t, p = territory, people
    mine = issue_at(t, "grid", reporter=p.resident)
    climbed = issue_at(t, "community", reporter=p.resident)
    sibling = issue_at(t, "grid", grid=t.sibling_grid, reporter=p.resident)
    closed = issue_at(t, "grid", status=Status.CLOSED, reporter=p.resident)
    client.force_login(p.worker)

    response = client.get(QUEUE)

    assert response.status_code == 200
    assert rows(response) == [mine.tracking_number]
    # Issues that climbed from the worker's grid are followed, not worked on.
    following = client.get(QUEUE, {"scope": "following"})
    assert rows(following) == [climbed.tracking_number]
    assert sibling.tracking_number not in following.text
    assert closed.tracking_number not in following.text

    client.force_login(p.community_staff)
    assert rows(client.get(QUEUE)) == [climbed.tracking_number]
    assert set(rows(client.get(QUEUE, {"scope": "following"}))) == {
        mine.tracking_number,
        sibling.tracking_number,
    }


def test_department_staff_work_on_what_is_dispatched_to_them(client, territory, people):
    t, p = territory, people
    dispatched = issue_at(t, "department", reporter=p.resident)
    issue_at(t, "subdistrict", reporter=p.resident)
    client.force_login(p.department_staff)
    assert rows(client.get(QUEUE)) == [dispatched.tracking_number]
    client.force_login(p.subdistrict_staff)
    assert dispatched.tracking_number not in rows(client.get(QUEUE))
    assert dispatched.tracking_number in rows(client.get(QUEUE, {"scope": "following"}))


def test_tabs_count_each_status_and_the_overdue(client, territory, people):
    t, p = territory, people
    now = timezone.now()
    for status, n in [
        (Status.SUBMITTED, 3),
        (Status.IN_PROGRESS, 2),
        (Status.SUSPENDED, 1),
        (Status.RESOLVED, 4),
    ]:
        for _ in range(n):
            issue_at(t, "grid", status=status, reporter=p.resident)
    # Overdue: two running ones; a suspended one past its old deadline is not overdue.
    issue_at(t, "grid", reporter=p.resident, due_at=now - timedelta(hours=1))
    issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident, due_at=now - timedelta(1))
    issue_at(t, "grid", status=Status.SUSPENDED, reporter=p.resident, due_at=now - timedelta(1))
    issue_at(t, "community", reporter=p.resident)  # followed
    issue_at(t, "grid", status=Status.CLOSED, reporter=p.resident)  # not open
    client.force_login(p.worker)

    response = client.get(QUEUE)

    assert tab_counts(response) == {
        "all": 13,
        "submitted": 4,
        "in_progress": 3,
        "suspended": 2,
        "resolved": 4,
        "overdue": 2,
        "offers": 0,
    }  # the following tab is counted when opened
    assert len(rows(response)) == 13
    following = client.get(QUEUE, {"scope": "following"})
    assert tab_counts(following) == {**tab_counts(response), "following": 1}
    assert len(rows(following)) == 1
    assert len(rows(client.get(QUEUE, {"status": Status.RESOLVED}))) == 4
    assert len(rows(client.get(QUEUE, {"overdue": "1"}))) == 2
    assert len(rows(client.get(QUEUE, {"status": Status.SUSPENDED, "overdue": "1"}))) == 0


def test_sorted_by_deadline_so_overdue_comes_first(client, territory, people):
    t, p = territory, people
    now = timezone.now()
    later = issue_at(t, reporter=p.resident, due_at=now + timedelta(hours=30))
    overdue = issue_at(t, reporter=p.resident, due_at=now - timedelta(hours=3))
    soon = issue_at(t, reporter=p.resident, due_at=now + timedelta(hours=1))
    client.force_login(p.worker)
    response = client.get(QUEUE)
    assert rows(response) == [i.tracking_number for i in (overdue, soon, later)]
    # Time left, red when overdue.
    assert response.text.count('class="overdue"') == 1


def test_each_row_shows_what_a_worker_needs(client, territory, people):
    t, p = territory, people
    issue = issue_at(
        t,
        status=Status.IN_PROGRESS,
        reporter=p.resident,
        assignee=p.worker2,
        severity=Severity.URGENT,
        title="楼道堆放杂物",
    )
    p.worker2.first_name = "王丽"
    p.worker2.save()
    client.force_login(p.worker)
    text = client.get(QUEUE).text
    item = text[text.index(issue.tracking_number) :]
    item = item[: item.index("</li>")]
    for expected in ("楼道堆放杂物", t.grid.name, p.worker2.get_full_name(), "<time"):
        assert expected in item
    assert str(Severity.URGENT.label) in item or "急事" in item
    assert str(Level.GRID.label) in item or "网格" in item


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"severity": Severity.URGENT}, {"urgent"}),
        ({"source": Source.PATROL}, {"patrol"}),
        ({"supervised": "on"}, {"supervised"}),
        ({"q": "井盖"}, {"manhole"}),
        ({"q": "漏水"}, {"leak"}),  # words in the description
        ({}, {"urgent", "patrol", "supervised", "manhole", "leak", "plain", "other_category"}),
    ],
)
def test_filters_and_search(client, territory, people, params, expected):
    t, p = territory, people
    made = {
        "urgent": issue_at(t, reporter=p.resident, severity=Severity.URGENT),
        "patrol": issue_at(t, reporter=p.worker, source=Source.PATROL),
        "supervised": issue_at(t, reporter=p.resident, is_supervised=True),
        "manhole": issue_at(t, reporter=p.resident, title="井盖松动"),
        "leak": issue_at(t, reporter=p.resident, description="三楼水管漏水"),
        "plain": issue_at(t, reporter=p.resident),
        "other_category": issue_at(t, reporter=p.resident, category=CategoryFactory()),
    }
    client.force_login(p.worker)
    response = client.get(QUEUE, params)
    assert set(rows(response)) == {made[k].tracking_number for k in expected}
    assert tab_counts(response)["all"] == len(expected)


def test_filter_by_category_grid_and_tracking_number(client, territory, people):
    t, p = territory, people
    other = CategoryFactory(name="噪音扰民")
    a = issue_at(t, "community", reporter=p.resident, category=other)
    b = issue_at(t, "community", reporter=p.resident, grid=t.sibling_grid)
    c = issue_at(t, "community", reporter=p.resident)
    client.force_login(p.community_staff)
    assert rows(client.get(QUEUE, {"category": other.pk})) == [a.tracking_number]
    assert rows(client.get(QUEUE, {"grid": t.sibling_grid.pk})) == [b.tracking_number]
    assert rows(client.get(QUEUE, {"q": c.tracking_number})) == [c.tracking_number]
    # The grid filter offers the community's grids only.
    grids = re.search(r'<select name="grid".*?</select>', client.get(QUEUE).text, re.S).group(0)
    assert f'value="{t.sibling_grid.pk}"' in grids
    assert f'value="{t.cousin_grid.pk}"' not in grids


@pytest.mark.parametrize(
    "params",
    [
        {"category": "abc"},
        {"grid": "999999"},
        {"status": "closed"},
        {"page": "-3"},
        {"page": "zzz"},
        {"page": "9999"},
        {"q": "x" * 300},
        {"scope": "everything"},
    ],
)
def test_bad_filters_never_break_the_page(client, territory, people, params):
    issue_at(territory, reporter=people.resident)
    client.force_login(people.worker)
    assert client.get(QUEUE, params).status_code == 200


def test_pages_of_25_with_known_totals(client, territory, people):
    t, p = territory, people
    now = timezone.now()
    made = [
        issue_at(t, reporter=p.resident, due_at=now + timedelta(minutes=10 + i))
        for i in range(PAGE_SIZE + 5)
    ]
    client.force_login(p.worker)
    first = client.get(QUEUE)
    second = client.get(QUEUE, {"page": 2})
    assert rows(first) == [i.tracking_number for i in made[:PAGE_SIZE]]
    assert rows(second) == [i.tracking_number for i in made[PAGE_SIZE:]]
    assert "page=2" in first.text
    # The page count comes from the tab counts: no separate COUNT(*) over the queue.
    with CaptureQueriesContext(connection) as ctx:
        client.get(QUEUE, {"page": 2})
    counting = [
        q["sql"]
        for q in ctx.captured_queries
        if "COUNT(" in q["sql"].upper() and 'FROM "issues_issue"' in q["sql"]
    ]
    assert len(counting) == 1


def _bulk(t, p, n):
    now = timezone.now()
    statuses = [Status.SUBMITTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED]
    levels = [Level.GRID, Level.COMMUNITY]
    built = []
    for i in range(n):
        status = statuses[i % 4]
        built.append(
            IssueFactory.build(
                grid=t.grid,
                community=t.community,
                subdistrict=t.subdistrict,
                category=t.category,
                reporter=p.resident,
                assignee=p.worker2 if status != Status.SUBMITTED else None,
                status=status,
                level=levels[i % 2],
                suspended_at=now if status == Status.SUSPENDED else None,
                due_at=now + timedelta(minutes=i - n // 2),
            )
        )
    Issue.objects.bulk_create(built, batch_size=500)


@pytest.mark.parametrize("who", ["worker", "community_staff", "subdistrict_staff"])
def test_query_count_is_the_same_for_10_and_1000_issues(
    client, territory, people, who, django_assert_max_num_queries
):
    t, p = territory, people
    client.force_login(getattr(p, who))
    _bulk(t, p, 10)
    client.get(QUEUE)  # the first page of the minute reads the choice lists into the cache
    with CaptureQueriesContext(connection) as small:
        assert client.get(QUEUE, {"category": t.category.pk}).status_code == 200
    _bulk(t, p, 990)
    # Session, user, posts, the tab counts, the page of rows, the unread count (the
    # categories and grids of the filters come from the cache).
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE, {"category": t.category.pk})
    with CaptureQueriesContext(connection) as large:
        client.get(QUEUE, {"category": t.category.pk})
    assert len(large) == len(small)
    assert len(rows(response)) == (PAGE_SIZE if who != "subdistrict_staff" else 0)


@pytest.mark.parametrize("scope", ["following", "offers"])
@pytest.mark.parametrize("who", ["worker", "community_staff", "subdistrict_staff"])
def test_the_following_and_offers_tabs_run_the_same_queries_for_10_and_1000_issues(
    client, territory, people, who, scope, django_assert_max_num_queries
):
    t, p = territory, people
    client.force_login(getattr(p, who))

    def grow(n):
        _bulk(t, p, n)
        # Helpers' offers waiting on the issues not yet settled, at both levels.
        Issue.objects.filter(status__in=[Status.SUBMITTED, Status.IN_PROGRESS]).update(
            pending_claims=1
        )

    grow(10)
    client.get(QUEUE)  # the choice lists, into the cache
    with CaptureQueriesContext(connection) as small:
        assert client.get(QUEUE, {"scope": scope}).status_code == 200
    grow(990)
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE, {"scope": scope})
    with CaptureQueriesContext(connection) as large:
        client.get(QUEUE, {"scope": scope})
    assert len(large) == len(small)
    # Each tab lists rows for whoever has any: a grid worker follows what climbed from the
    # grid, the community what waits at its grids, and offers wait where one acts.
    listed = {
        ("worker", "following"): True,
        ("community_staff", "following"): True,
        ("subdistrict_staff", "following"): True,
        ("worker", "offers"): True,
        ("community_staff", "offers"): True,
        ("subdistrict_staff", "offers"): False,
    }[who, scope]
    assert bool(rows(response)) == listed


def test_acting_condition_agrees_with_the_rule_book(territory, people):
    """The queue's condition is the queryset form of permissions.acts_on_current_unit."""
    t, p = territory, people
    issues = [
        issue_at(t, position, reporter=p.resident, grid=grid)
        for position in ("grid", "community", "subdistrict", "department")
        for grid in (t.grid, t.sibling_grid, t.cousin_grid, t.far_grid)
    ]
    users = [
        p.resident,
        p.worker,
        p.sibling_worker,
        p.community_staff,
        p.other_community_staff,
        p.subdistrict_staff,
        p.far_staff,
        p.department_staff,
        p.other_department_staff,
    ]
    for user in users:
        scope = permissions.scope_of(user)
        by_query = set(Issue.objects.filter(acting_condition(scope)).values_list("pk", flat=True))
        by_rule = {i.pk for i in issues if permissions.acts_on_current_unit(user, i)}
        assert by_query == by_rule, user.username


def test_what_one_acts_on_is_always_among_what_one_sees(territory, people):
    """The queue asks for the acting condition alone; it never reaches past visibility."""
    t, p = territory, people
    for position in ("grid", "community", "subdistrict", "department"):
        for grid in (t.grid, t.sibling_grid, t.cousin_grid, t.far_grid):
            issue_at(t, position, reporter=p.resident, grid=grid)
    for user in (
        p.worker,
        p.community_staff,
        p.subdistrict_staff,
        p.far_staff,
        p.department_staff,
    ):
        acting = Issue.objects.filter(acting_condition(permissions.scope_of(user)))
        assert acting.exists(), user.username
        assert not acting.exclude(pk__in=permissions.visible_issues(user).values("pk")).exists()


def test_navigation_links_follow_the_posts(client, territory, people):
    client.force_login(people.worker)
    text = client.get(QUEUE).text
    assert 'href="/staff/patrol/"' in text
    assert 'href="/staff/hotline/"' not in text
    client.force_login(people.community_staff)
    text = client.get(QUEUE).text
    assert 'href="/staff/patrol/"' not in text
    assert 'href="/staff/hotline/"' in text
    client.force_login(people.resident)
    text = client.get(reverse("home")).text
    assert 'href="/staff/"' not in text


def test_pages_without_the_links_run_no_query_for_them(client, territory, people):
    """The navigation flags are lazy: an anonymous page asks nothing about posts."""
    with CaptureQueriesContext(connection) as ctx:
        client.get(reverse("home"))
    assert not any("grids_post" in q["sql"] for q in ctx.captured_queries)


@requires_postgres
@pytest.mark.postgres
@pytest.mark.parametrize(
    "who, index",
    [
        ("worker", "grid_due"),
        ("community_staff", "community_due"),
        ("subdistrict_staff", "subdistrict_due"),
        ("department_staff", "department_due"),
    ],
)
def test_the_queue_rows_are_served_by_the_partial_index(client, territory, people, who, index):
    """The page's own row query matches the predicate of issue_open_<unit>_due, so
    PostgreSQL can walk that index in deadline order (sequential scans turned off, so the
    plan shows whether the index *can* serve it, whatever the size of the test table)."""
    position = {"worker": "grid", "department_staff": "department"}.get(who, index[:-4])
    issue_at(territory, position, reporter=people.resident)
    # A unit's history is mostly closed issues, which the open-issue indexes leave out: with
    # them present (and fresh statistics) the planner weighs the indexes as it would live.
    for n in range(200):
        issue_at(territory, position, status=Status.CLOSED, tracking_number=f"OLD{n:05d}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_issue")
    client.force_login(getattr(people, who))
    with CaptureQueriesContext(connection) as ctx:
        assert len(rows(client.get(QUEUE))) == 1
    [sql] = [
        q["sql"]
        for q in ctx.captured_queries
        if 'FROM "issues_issue"' in q["sql"] and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("SET enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_bitmapscan")
    # The unit's open-issue index, or a narrower one for the unit's own queue if added.
    assert re.search(rf"issue_\w*{index}", plan), plan


def test_a_bad_filter_is_left_out_and_the_others_still_apply(client, territory, people):
    t, p = territory, people
    urgent = issue_at(t, reporter=p.resident, severity=Severity.URGENT)
    issue_at(t, reporter=p.resident)
    client.force_login(p.worker)
    response = client.get(QUEUE, {"category": "abc", "severity": Severity.URGENT})
    assert response.status_code == 200
    assert rows(response) == [urgent.tracking_number]
    assert 'role="alert"' in response.text


def test_the_benchmark_command_reports_each_account(db):
    out = StringIO()
    call_command("bench_queue", "--issues", "300", "--repeat", "2", "--yes", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("created 300 issues in one subdistrict")
    for label in ("grid worker", "community staff", "subdistrict staff"):
        [at] = [n for n, line in enumerate(lines) if line.startswith(label)]
        line = lines[at]
        assert re.search(r"median +[\d.]+ ms, p95 +[\d.]+ ms, +[\d.]+ req/s, [1-8] queries", line)
        assert re.search(r"\| bare median +[\d.]+ ms, .* of bare", line), line
        # Under it, the empty signed-in layout in the same rounds: the session, the person,
        # their posts and the unread count, nothing of the page's own.
        floor = lines[at + 1]
        assert floor.strip().startswith("the layout alone, signed in"), floor
        assert re.search(r"req/s, 4 queries \| [\d.]+ of bare; the page [\d.]+ of it$", floor)
    # The benchmark issues are gone afterwards.
    assert not Issue.objects.filter(subdistrict__code="BENCHQ").exists()


@requires_postgres
def test_the_benchmark_command_serves_each_account_under_gunicorn(transactional_db):
    """The part under gunicorn: a real server in another process, signed in through a
    session made here, on the same (committed) database."""
    out = StringIO()
    call_command(
        "bench_queue",
        *("--issues", "60", "--repeat", "2", "--rounds", "2"),
        *("--clients", "2", "--http-seconds", "0.5", "--yes"),
        stdout=out,
    )
    lines = out.getvalue().splitlines()
    [heading] = [n for n, line in enumerate(lines) if line.startswith("under gunicorn")]
    served = {}
    for line in lines[heading + 1 :]:
        match = re.match(
            r"(.+?) +page +([\d.]+) req/s, p95 +[\d.]+ ms \| bare +([\d.]+) req/s, .*"
            r" ([\d.]+) of bare",
            line,
        )
        if match:
            served[match.group(1)] = float(match.group(2)), float(match.group(3))
    assert set(served) == {"grid worker", "community staff", "subdistrict staff"}
    floors = [line for line in lines[heading + 1 :] if "the layout alone, signed in" in line]
    assert len(floors) == 3 and all(
        re.search(r"req/s, p95 .* of bare; the page", f) for f in floors
    )
    # Each answered 200 (anything else stops the command) and some inside the slices.
    assert all(page > 0 and bare > 0 for page, bare in served.values()), served
    assert not Issue.objects.filter(subdistrict__code="BENCHQ").exists()


@override_settings(ROOT_URLCONF="config.bench_urls")
def test_the_benchmarks_signed_in_layout_is_the_layout_alone(client, people):
    """The floor the queue is measured against: only for someone signed in, the site's
    layout with its navigation, and no query beyond what every signed-in page runs."""
    url = reverse("bench_signed_in")
    assert client.get(url).status_code == 302
    client.force_login(people.worker)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert 'id="main"' in response.text
    assert f'href="{reverse("staff_queue")}"' in response.text  # a grid worker's navigation
    tables = [re.search(r'FROM "?(\w+)"?', q["sql"]).group(1) for q in queries.captured_queries]
    assert sorted(tables) == ["django_session", "grids_post", "grids_user", "issues_notification"]


@pytest.mark.parametrize(
    "args", [["--issues", "-1"], ["--repeat", "0"], ["--clients", "0"], ["--http-seconds", "0"]]
)
def test_the_benchmark_command_rejects_bad_arguments(db, args):
    with pytest.raises(CommandError):
        call_command("bench_queue", *args, stdout=StringIO())


def test_the_benchmark_command_refuses_a_database_not_named_for_it(db, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "NAME", "grid_production")
    with pytest.raises(CommandError, match="does not look like a benchmark"):
        call_command("bench_queue", "--issues", "10", stdout=StringIO())
    assert not Issue.objects.exists()


# --- the closed loop's lists: to call back, extensions to decide, sub-tasks ---------------


def tab_keys(response) -> list[str]:
    return re.findall(r'id="tab-(\w+)"', response.text)


def _closed_loop_issues(t, p):
    """One issue for each of the closed loop's lists, and some that belong to none."""
    now = timezone.now()
    made = {
        # A hotline call resolved at the grid: the community or the subdistrict calls back.
        "callback": issue_at(
            t,
            "grid",
            status=Status.RESOLVED,
            source=Source.HOTLINE,
            reporter=None,
            caller_name="李先生",
            caller_phone="13800138000",
        ),
        # The grid asks for more time: its community decides.
        "extensions": issue_at(
            t, "grid", status=Status.IN_PROGRESS, extension_until=now + timedelta(days=5)
        ),
    }
    joint = issue_at(t, "subdistrict", reporter=p.resident)
    sister = DepartmentFactory(subdistrict=t.subdistrict, name="市场监管")
    made["tasks"] = workflow.dispatch_joint(
        issue=joint,
        actor=p.subdistrict_staff,
        lead=sister,
        co_handlers=[t.department],
        instruction="联合处理",
    )
    # None of the lists: a resident's resolved issue (the resident evaluates), a hotline
    # call answered too often, an issue elsewhere asking for time.
    issue_at(t, "grid", status=Status.RESOLVED, reporter=p.resident)
    issue_at(
        t,
        "grid",
        status=Status.RESOLVED,
        source=Source.HOTLINE,
        reporter=None,
        caller_phone="13800138001",
        callback_attempts=99,
    )
    issue_at(
        t,
        "grid",
        grid=t.far_grid,
        status=Status.IN_PROGRESS,
        extension_until=now + timedelta(days=5),
    )
    return made


@pytest.mark.parametrize(
    "who, tabs, lists",
    [
        ("worker", [], {}),
        ("community_staff", ["callback", "extensions"], {"callback", "extensions"}),
        ("subdistrict_staff", ["callback", "extensions"], {"callback"}),
        ("department_staff", ["tasks"], {"tasks"}),
    ],
)
def test_the_closed_loop_tabs_list_what_waits_for_each_person(
    client, territory, people, who, tabs, lists
):
    t, p = territory, people
    made = _closed_loop_issues(t, p)
    user = getattr(p, who)
    client.force_login(user)
    shown = tab_keys(client.get(QUEUE))
    assert [key for key in shown if key in ("callback", "extensions", "tasks")] == tabs
    for key, issue in made.items():
        response = client.get(QUEUE, {"scope": key})
        listed = rows(response)
        if key in lists:
            assert listed == [issue.tracking_number], key
            assert tab_counts(response)[key] == 1
            assert f'id="tab-{key}" aria-current="page"' in response.text or (
                'aria-current="page" id="tab-' + key in response.text
            )
        else:
            assert listed == [], key
    # A list holds only what the person sees (the rule book's conditions agree).
    visible = permissions.visible_issues(user).values("pk")
    for condition in (
        permissions.callback_condition(user),
        permissions.extension_condition(user),
        permissions.task_condition(user),
    ):
        assert not Issue.objects.filter(condition).exclude(pk__in=visible).exists()


def test_a_row_with_a_pending_extension_says_so(client, territory, people):
    t, p = territory, people
    asking = issue_at(
        t, "grid", status=Status.IN_PROGRESS, extension_until=timezone.now() + timedelta(days=3)
    )
    plain = issue_at(t, "grid", status=Status.IN_PROGRESS)
    client.force_login(p.worker)
    text = client.get(QUEUE).text
    assert text.count("text-bg-info") == 1
    item = text[text.index(f'href="/staff/issues/{asking.tracking_number}/"') :]
    assert "text-bg-info" in item[: item.index("</li>")]
    assert plain.tracking_number in text


def test_the_closed_loop_tabs_are_counted_only_when_opened(client, territory, people):
    t, p = territory, people
    _closed_loop_issues(t, p)
    client.force_login(p.community_staff)
    counts = tab_counts(client.get(QUEUE))
    assert "callback" not in counts and "extensions" not in counts
    opened = tab_counts(client.get(QUEUE, {"scope": "callback"}))
    assert opened == {**counts, "callback": 1}


def _bulk_closed_loop(t, p, n):
    """n issues in every list: resolved hotline calls, grid and department issues asking
    for time, and sub-tasks of the department (rows as the workflow would leave them)."""
    now = timezone.now()
    built = []
    for i in range(n):
        kind = i % 3
        built.append(
            IssueFactory.build(
                grid=t.grid,
                community=t.community,
                subdistrict=t.subdistrict,
                category=t.category,
                reporter=None if kind == 0 else p.resident,
                source=Source.HOTLINE if kind == 0 else Source.RESIDENT,
                caller_phone="13800138000" if kind == 0 else "",
                status=[Status.RESOLVED, Status.IN_PROGRESS, Status.SUBMITTED][kind],
                level=Level.SUBDISTRICT if kind == 2 else Level.GRID,
                department=t.department if kind == 2 else None,
                open_task_count=1 if kind == 2 else 0,
                # Asking for time: the grid (its community decides) and the department
                # (its subdistrict decides).
                extension_until=now + timedelta(days=3) if kind else None,
                due_at=now + timedelta(minutes=i),
            )
        )
    issues = Issue.objects.bulk_create(built, batch_size=500)
    IssueTask.objects.bulk_create(
        IssueTask(issue=issue, department=t.department, role="lead", due_at=issue.due_at)
        for issue in issues
        if issue.department_id
    )


@pytest.mark.parametrize(
    "who, scope",
    [
        ("community_staff", "callback"),
        ("subdistrict_staff", "callback"),
        ("community_staff", "extensions"),
        ("subdistrict_staff", "extensions"),
        ("department_staff", "tasks"),
    ],
)
def test_the_closed_loop_tabs_run_a_fixed_number_of_queries(
    client, territory, people, who, scope, django_assert_max_num_queries
):
    t, p = territory, people
    client.force_login(getattr(p, who))
    _bulk_closed_loop(t, p, 9)
    client.get(QUEUE)  # the choice lists, into the cache
    with CaptureQueriesContext(connection) as small:
        assert client.get(QUEUE, {"scope": scope}).status_code == 200
    _bulk_closed_loop(t, p, 300)
    with django_assert_max_num_queries(6):
        response = client.get(QUEUE, {"scope": scope})
    with CaptureQueriesContext(connection) as large:
        client.get(QUEUE, {"scope": scope})
    assert len(large) == len(small)
    assert rows(response), (who, scope)


@pytest.mark.parametrize(
    "language, words",
    [
        (
            "en",
            [
                "overdue by 2 h 0 min",
                "Supervised",
                "Extension pending",
                "1 open sub-task",
                "+3 supporters",
                "张伟",
                "Minor matter",
                "<span>Grid</span>",
            ],
        ),
        (
            "zh-hans",
            [
                "已超时 2 小时 0 分钟",
                "督办",
                "延期待批",
                "1 项子任务未完成",
                "+3 人附议",
                "张伟",
                "<span>网格</span>",
            ],
        ),
    ],
)
def test_a_row_shows_its_facts_escaped_in_the_visitors_language(
    client, territory, people, language, words
):
    t, p = territory, people
    issue = issue_at(
        t,
        "grid",
        status=Status.IN_PROGRESS,
        title='<script>"路灯"</script>',
        assignee=p.worker,
        severity=Severity.MINOR,
        is_supervised=True,
        extension_until=timezone.now() + timedelta(days=2),
        open_task_count=1,
        support_count=3,
    )
    Issue.objects.filter(pk=issue.pk).update(due_at=timezone.now() - timedelta(hours=2, seconds=5))
    client.force_login(p.worker)
    client.cookies["django_language"] = language

    page = client.get(QUEUE).text
    row = page[page.index('<li class="list-group-item">') :]
    row = row[: row.index("</li>")]

    assert "&lt;script&gt;&quot;路灯&quot;&lt;/script&gt;" in row and "<script>" not in row
    assert f'href="/staff/issues/{issue.tracking_number}/"' in row
    assert 'class="overdue"' in row
    for word in words:
        assert word in row, word


def test_the_filter_bar_draws_every_filter_with_its_label(client, territory, people):
    """Every field of the queue's filter form is on the page (the selects, the check
    boxes, the search box and the hidden list keys), each visible one with its label."""
    from issues.forms.staff import QueueFilterForm

    client.force_login(people.subdistrict_staff)
    page = client.get(QUEUE, {"overdue": "on", "severity": Severity.MINOR}).text

    form = QueueFilterForm(categories=[], grids=[(1, "g")])
    for name, field in form.fields.items():
        assert f'name="{name}"' in page, name
        if not field.widget.is_hidden:
            assert f'for="id_{name}"' in page, name
    assert re.search(r'<input type="checkbox" name="overdue"[^>]* checked', page)
    assert not re.search(r'<input type="checkbox" name="supervised"[^>]* checked', page)


def test_the_status_label_and_deadline_time_are_what_django_writes(territory):
    """The queue's row draws the status and the deadline's machine-readable time without
    Django's lookups (translating every status; the date format's settings): the same text
    in both languages, and an unknown value as it is."""
    from django.utils import translation
    from django.utils.formats import date_format

    from issues.models import Issue
    from issues.templatetags.issue_tags import time_left
    from tests.factories import IssueFactory

    field = Issue._meta.get_field("status")
    issue = IssueFactory.build(grid=territory.grid, category=territory.category)
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for value in [*Status.values, "retired"]:
                issue.status = value
                assert issue.get_status_display() == issue._get_FIELD_display(field)
            issue.status = Status.SUBMITTED
            due = date_format(timezone.localtime(issue.due_at), "c")
            assert f'datetime="{due}"' in time_left(issue)
