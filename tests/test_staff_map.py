"""The staff map: markers for the visible box from the issues one sees, bounded, clustered
when there are more, in the same number of queries whatever the number of issues."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from issues import mapdata as staff_map
from issues.models import Issue, Level, Severity, Status
from tests.factories import IssueFactory

URL = reverse("staff_map_markers")
BOX = {"bbox": "117.10,36.60,117.15,36.63"}


def issue_at(grid, lat, lng, **kwargs):
    return IssueFactory(
        grid=grid, latitude=Decimal(str(lat)), longitude=Decimal(str(lng)), **kwargs
    )


def many(grid, n):
    """n open issues with points in the box, written in one statement."""
    template = issue_at(grid, 36.61, 117.12)
    now = timezone.now()
    Issue.objects.bulk_create(
        [
            Issue(
                tracking_number=f"B{k:08d}",
                title=f"路灯{k}",
                description="",
                category_id=template.category_id,
                severity=Severity.MINOR,
                source=template.source,
                grid=grid,
                community_id=grid.community_id,
                subdistrict_id=grid.community.subdistrict_id,
                level=Level.GRID,
                status=Status.SUBMITTED,
                due_at=now + timedelta(hours=48),
                level_entered_at=now,
                latitude=Decimal("36.6") + Decimal(k % 250) / 10000,
                longitude=Decimal("117.1") + Decimal(k // 250) / 1000,
            )
            for k in range(n - 1)
        ]
    )


def test_markers_show_open_issues_in_the_box_with_what_a_marker_needs(client, territory, people):
    t = territory
    late = issue_at(
        t.grid, 36.61, 117.12, severity=Severity.URGENT, due_at=timezone.now() - timedelta(hours=1)
    )
    issue_at(t.grid, 36.70, 117.12)  # outside the box
    issue_at(t.grid, 36.61, 117.12, status=Status.CLOSED)
    IssueFactory(grid=t.grid)  # no point
    client.force_login(people.worker)
    data = client.get(URL, BOX).json()
    assert data["total"] == 1 and data["clusters"] == []
    marker = data["markers"][0]
    assert marker["number"] == late.tracking_number
    assert marker["severity"] == "urgent" and marker["overdue"] is True
    assert marker["url"] == reverse("staff_issue_detail", args=[late.tracking_number])
    assert (marker["lat"], marker["lng"]) == (36.61, 117.12)


def test_markers_follow_the_filters(client, territory, people):
    t = territory
    issue_at(t.grid, 36.61, 117.12, severity=Severity.URGENT)
    issue_at(t.grid, 36.61, 117.12, severity=Severity.MINOR)
    client.force_login(people.worker)
    data = client.get(URL, {**BOX, "severity": "urgent"}).json()
    assert [m["severity"] for m in data["markers"]] == ["urgent"]
    assert client.get(URL, {**BOX, "overdue": "on"}).json()["total"] == 0


def test_a_worker_sees_only_the_markers_of_their_scope(client, territory, people):
    t = territory
    issue_at(t.grid, 36.61, 117.12)
    issue_at(t.far_grid, 36.61, 117.12)
    issue_at(t.sibling_grid, 36.61, 117.12)
    client.force_login(people.worker)
    assert client.get(URL, BOX).json()["total"] == 1
    client.force_login(people.community_staff)
    assert client.get(URL, BOX).json()["total"] == 2
    client.force_login(people.far_staff)
    assert client.get(URL, BOX).json()["total"] == 1


def test_the_map_is_for_staff(client, territory, people):
    assert client.get(URL, BOX).status_code == 302
    assert client.get(reverse("staff_map")).status_code == 302
    client.force_login(people.resident)
    assert client.get(URL, BOX).status_code == 403
    assert client.get(reverse("staff_map")).status_code == 403
    client.force_login(people.worker)
    assert client.get(URL, {"bbox": "x"}).status_code == 400
    response = client.get(reverse("staff_map"))
    assert response.status_code == 200
    assert response.context["scope_grids"] == [territory.grid.pk]
    assert "vendor/leaflet-1.9.4/leaflet.js" in response.content.decode()


@pytest.mark.parametrize("n", [10, 1000])
def test_markers_run_the_same_queries_for_10_and_1000_issues(
    client, territory, people, n, django_assert_num_queries
):
    many(territory.grid, n)
    client.force_login(people.worker)
    client.get(URL, BOX)  # the session and scope, as on any request; the choice lists cached
    # session, user, posts, a bounded count, points or clusters (the filters' categories and
    # grids come from the cache)
    with django_assert_num_queries(5):
        data = client.get(URL, BOX).json()
    if n > staff_map.MARKER_LIMIT:
        assert data["markers"] == [] and data["total"] == staff_map.MARKER_LIMIT + 1
        assert sum(c["count"] for c in data["clusters"]) == n
        assert len(data["clusters"]) <= staff_map.CELLS * staff_map.CELLS
    else:
        assert len(data["markers"]) == n


def test_bench_map_prints_the_p95_of_the_marker_endpoint(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("bench_map", "--issues", "300", "--repeat", "2", "--yes", stdout=out)
    text = out.getvalue()
    # Three accounts × two boxes, each beside the bare view's figures.
    assert text.count("p95") == 12 and text.count("of bare") == 6
    assert "markers" in text and not Issue.objects.exists()
