"""The public pages' figures come from the cache: with it warm, an anonymous view of the
home page or the open dashboard runs no query over the issues, whatever their number, and
once the cache expires or is cleared the figures are recomputed: from the daily rollups
(the home page never counts the issues; the open dashboard only its open issues for the
figures that depend on "now"), equal to the live counts."""

import re
import time
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues import public_figures, rollups, stats
from issues.models import OPEN_STATUSES, Issue, Status
from tests.factories import IssueFactory

ISSUE_TABLE = re.compile(r'"issues_issue"')
# The daily totals, or the monthly ones (a grid's or a subdistrict's).
ROLLUP_TABLE = re.compile(r'"issues_((daily|monthly)total|subdistrict(day|month))"')


def add_issues(territory, count, *, status=Status.SUBMITTED):
    """``count`` issues in the territory's grid, filed an hour ago, in one statement."""
    now = timezone.now()
    built = [
        IssueFactory.build(
            grid=territory.grid,
            category=territory.category,
            reporter=None,
            status=status,
            created_at=now - timedelta(hours=1),
            due_at=now + timedelta(hours=47),
            closed_at=now if status == Status.CLOSED else None,
            resolved_at=now if status == Status.CLOSED else None,
        )
        for _n in range(count)
    ]
    Issue.objects.bulk_create(built)
    # Written directly, not through the workflow that keeps the daily rollups.
    rollups.refresh(rollups.key_of(issue) for issue in built)


def warm_queries(client, url):
    """The SQL of a view of ``url`` once the cache is warm (the first view warms it)."""
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return [query["sql"] for query in captured.captured_queries], response.text


def home_counts(html):
    found = re.findall(r'<dd class="col-6 col-sm-3">(\d+)</dd>', html)
    return int(found[0]), int(found[1])


def live_home_counts():
    return (
        Issue.objects.filter(status__in=OPEN_STATUSES).count(),
        Issue.objects.filter(status=Status.CLOSED).count(),
    )


def filed(html):
    match = re.search(r'data-figure="filed".*?<p class="figure-value mb-1">(.*?)</p>', html, re.S)
    return int(match.group(1).strip())


@pytest.mark.parametrize("name", ["home", "dashboard_public"])
def test_warm_page_runs_no_issue_query_and_the_same_queries_for_10_and_1000(
    client, territory, name
):
    url = reverse(name)
    add_issues(territory, 10)
    few, _html = warm_queries(client, url)
    add_issues(territory, 990)
    cache.clear()
    many, html = warm_queries(client, url)
    for sql in few + many:
        assert not ISSUE_TABLE.search(sql), sql
    assert len(few) == len(many)
    if name == "home":
        assert home_counts(html) == (1000, 0) == live_home_counts()
    else:
        assert filed(html) == 1000


def test_cold_home_page_adds_up_the_rollups_in_one_query(client, territory):
    add_issues(territory, 3)
    add_issues(territory, 2, status=Status.CLOSED)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("home")).text
    sqls = [q["sql"] for q in captured.captured_queries]
    assert not any(ISSUE_TABLE.search(sql) for sql in sqls)
    assert len([sql for sql in sqls if ROLLUP_TABLE.search(sql)]) == 1
    assert home_counts(html) == (3, 2) == live_home_counts()


def test_cold_public_dashboard_counts_only_open_issues_live(client, territory):
    add_issues(territory, 3)
    add_issues(territory, 2, status=Status.CLOSED)
    with CaptureQueriesContext(connection) as captured:
        html = client.get(reverse("dashboard_public")).text
    assert filed(html) == 5
    # One statement: the rollup rows, and the open issues past a deadline as subqueries
    # (the participants' figures reach issues only through their offers of help).
    (sql,) = [
        q["sql"]
        for q in captured.captured_queries
        if ISSUE_TABLE.search(q["sql"]) and "participation_claim" not in q["sql"]
    ]
    assert ROLLUP_TABLE.search(sql)
    assert sql.count('FROM "issues_issue"') == len(stats.LIVE_KEYS)
    assert len(re.findall(r'U0\."status" IN', sql)) == len(stats.LIVE_KEYS)


def test_home_figures_are_cached_until_cleared(client, territory):
    add_issues(territory, 2)
    add_issues(territory, 1, status=Status.CLOSED)
    assert home_counts(client.get(reverse("home")).text) == (2, 1) == live_home_counts()
    add_issues(territory, 4)
    add_issues(territory, 2, status=Status.CLOSED)
    # Cached: the figures of the first view, for anyone and in any language.
    assert home_counts(client.get(reverse("home")).text) == (2, 1)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    sqls, html = warm_queries(client, reverse("home"))
    assert home_counts(html) == (2, 1)
    assert not any(ISSUE_TABLE.search(sql) for sql in sqls)
    cache.clear()
    assert home_counts(client.get(reverse("home")).text) == (6, 3) == live_home_counts()


def test_public_dashboard_figures_are_cached_per_period_until_cleared(client, territory):
    url = reverse("dashboard_public")
    add_issues(territory, 3)
    assert filed(client.get(url).text) == 3
    add_issues(territory, 2)
    assert filed(client.get(url).text) == 3
    # Another period is another entry, computed live.
    other = f"{url}?subdistrict={territory.subdistrict.pk}&period=90"
    assert filed(client.get(other).text) == 5
    cache.clear()
    assert filed(client.get(url).text) == 5
    # Another subdistrict is another entry.
    far = f"{url}?subdistrict={territory.other_subdistrict.pk}&period=30"
    assert filed(client.get(far).text) == 0


def test_figures_are_live_again_once_they_expire(client, territory, settings):
    settings.PUBLIC_FIGURES_SECONDS = 1
    add_issues(territory, 1)
    assert home_counts(client.get(reverse("home")).text) == (1, 0)
    add_issues(territory, 1)
    assert home_counts(client.get(reverse("home")).text) == (1, 0)
    time.sleep(1.1)
    assert home_counts(client.get(reverse("home")).text) == (2, 0) == live_home_counts()


def test_a_lifetime_of_zero_computes_on_every_view(client, territory, settings):
    settings.PUBLIC_FIGURES_SECONDS = 0
    url = reverse("dashboard_public")
    add_issues(territory, 1)
    assert filed(client.get(url).text) == 1
    add_issues(territory, 1)
    assert filed(client.get(url).text) == 2


def test_while_one_request_recomputes_the_others_get_the_stale_figures(territory, settings):
    settings.PUBLIC_FIGURES_SECONDS = 1
    add_issues(territory, 1)
    assert public_figures.home().values["open"] == 1
    add_issues(territory, 1)
    time.sleep(1.1)
    # Another request holds the lock (it is recomputing): the stale figures, no query.
    assert cache.add(f"{public_figures.KEY_PREFIX}:home:lock", 1, 60)
    with CaptureQueriesContext(connection) as captured:
        stale = public_figures.home()
    assert stale.values["open"] == 1 and not captured.captured_queries
    # Its lock gone, the next request recomputes.
    cache.delete(f"{public_figures.KEY_PREFIX}:home:lock")
    fresh = public_figures.home()
    assert fresh.values["open"] == 2 and fresh.at > stale.at


def test_pages_say_when_the_figures_were_computed(client, territory):
    add_issues(territory, 1)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    for url in (reverse("home"), reverse("dashboard_public")):
        html = client.get(url).text
        at = public_figures.home().at if url == "/" else None
        match = re.search(r'data-figures-at="([^"]+)">\s*Figures as of (\d\d:\d\d)', html)
        assert match, url
        shown = datetime.fromisoformat(match.group(1))
        assert match.group(2) == f"{timezone.localtime(shown):%H:%M}"
        assert abs(timezone.now() - shown) < timedelta(minutes=1)
        if at is not None:
            assert shown.replace(microsecond=0) == at.replace(microsecond=0)
