"""The public map: public categories only, open or recently closed, the point blurred to
the building or ~50 m, and never text, photos or names; cost independent of the count."""

import math
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from issues.mapdata import PointCells, blurred
from issues.models import Status
from tests.factories import BuildingFactory, CategoryFactory, IssueFactory

URL = reverse("public_map_points")
BOX = {"bbox": "117.10,36.60,117.15,36.63"}


@pytest.fixture
def public(territory):
    return CategoryFactory(name="道路设施", is_public=True)


def at(grid, category, lat="36.612345", lng="117.123456", **kwargs):
    return IssueFactory(
        grid=grid, category=category, latitude=Decimal(lat), longitude=Decimal(lng), **kwargs
    )


def test_only_public_categories_open_or_recently_closed(client, territory, public):
    t = territory
    at(t.grid, public, title="私密标题", description="私密描述")
    at(t.grid, t.category)  # not public
    at(t.grid, public, status=Status.CLOSED, closed_at=timezone.now() - timedelta(days=3))
    at(t.grid, public, status=Status.CLOSED, closed_at=timezone.now() - timedelta(days=40))
    at(t.grid, public, status=Status.REJECTED)
    data = client.get(URL, BOX).json()
    assert data["total"] == 2
    assert sorted(m["status"] for m in data["markers"]) == ["closed", "submitted"]
    body = client.get(URL, BOX).content.decode()
    for private in ("私密", "title", "description", "reporter", "tracking", "photo"):
        assert private not in body
    assert set(data["markers"][0]) == {"category", "status", "statusLabel", "date", "lat", "lng"}


def test_points_are_blurred_to_the_building_or_about_50_m(client, territory, public):
    building = BuildingFactory(
        grid=territory.grid, latitude=Decimal("36.611000"), longitude=Decimal("117.121000")
    )
    at(territory.grid, public, building=building)
    at(territory.grid, public)
    points = {(m["lat"], m["lng"]) for m in client.get(URL, BOX).json()["markers"]}
    assert (36.611, 117.121) in points
    assert (36.61225, 117.12325) in points  # the centre of the 0.0005° square
    lat, lng = blurred(36.612345, 117.123456, None, None)
    assert abs(lat - 36.612345) < 0.0003 and abs(lng - 117.123456) < 0.0003


def test_crowded_views_are_counted_per_cell_at_cell_centres(client, territory, public, monkeypatch):
    from issues import mapdata

    for n in range(3):
        at(territory.grid, public, lat=f"36.6{n}1", lng="117.1234")
    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    data = client.get(URL, BOX).json()
    assert data["markers"] == [] and sum(c["count"] for c in data["clusters"]) == 3
    # 36.601 lies in the first of 12 rows of 0.0025°: shown at that row's centre.
    assert min(c["lat"] for c in data["clusters"]) == pytest.approx(36.60125)


def test_open_and_recently_closed_points_crowd_a_view_together(
    client, territory, public, monkeypatch
):
    """The open points and the recently closed ones are counted apart but crowd the view
    together; the count shown stops one past the limit (the page writes "3+")."""
    from django.core.cache import cache

    from issues import mapdata

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    closed = dict(status=Status.CLOSED, closed_at=timezone.now() - timedelta(days=2))
    at(territory.grid, public)
    at(territory.grid, public, lat="36.6151", **closed)
    data = client.get(URL, BOX).json()
    assert len(data["markers"]) == 2 and data["total"] == 2
    for n in range(4):
        at(territory.grid, public, lat=f"36.62{n}1", **closed)
    cache.clear()  # the view is kept a minute
    data = client.get(URL, BOX).json()
    assert data["markers"] == [] and sum(c["count"] for c in data["clusters"]) == 6
    assert data["total"] == 3


def test_the_public_map_page_works_for_anyone_and_is_linked(client, territory):
    response = client.get(reverse("public_map"))
    assert response.status_code == 200
    assert "vendor/leaflet-1.9.4/leaflet.js" in response.content.decode()
    assert reverse("public_map") in client.get(reverse("dashboard_public")).content.decode()


def test_the_same_view_is_answered_from_the_cache_for_a_minute(
    client, territory, public, django_assert_num_queries
):
    t = territory
    at(t.grid, public)
    first = client.get(URL, BOX).json()
    with django_assert_num_queries(0):  # every visitor of the default view: no query
        assert client.get(URL, BOX).json() == first
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    english = client.get(URL, BOX).json()  # another language, its own answer
    assert english["markers"][0]["statusLabel"] != first["markers"][0]["statusLabel"]


# --- crowded views, from the counts kept per cell -------------------------------------------


def test_a_crowded_view_is_clustered_without_reading_an_issue(
    client, territory, public, monkeypatch, django_assert_num_queries
):
    """Once the minute's counts per cell are kept, any crowded box, one never asked
    before included, is answered from them: no query at all."""
    from issues import mapdata

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    for n in range(5):
        at(territory.grid, public, lat=f"36.61{n}1")
    first = client.get(URL, BOX).json()
    assert first["markers"] == [] and sum(c["count"] for c in first["clusters"]) == 5
    with django_assert_num_queries(0):
        other = client.get(URL, {"bbox": "117.11,36.605,117.14,36.625"}).json()
    assert other["markers"] == [] and sum(c["count"] for c in other["clusters"]) == 5
    assert other["total"] == 3  # one past the limit: the page writes "2+"


def test_the_kept_counts_are_a_minute_old_at_most(client, territory, public, monkeypatch):
    from issues import mapdata
    from issues.views import public_map

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    for n in range(3):
        at(territory.grid, public, lat=f"36.61{n}1")
    assert sum(c["count"] for c in client.get(URL, BOX).json()["clusters"]) == 3
    at(territory.grid, public, lat="36.6201")
    later = {"bbox": "117.10,36.60,117.15,36.6301"}  # another box: not the kept answer
    assert sum(c["count"] for c in client.get(URL, later).json()["clusters"]) == 3
    monkeypatch.setattr(public_map, "CELLS_SECONDS", 0)  # the minute is up
    again = {"bbox": "117.10,36.60,117.15,36.6302"}
    assert sum(c["count"] for c in client.get(URL, again).json()["clusters"]) == 4


def test_a_view_inside_one_crowded_cell_still_shows_its_count(
    client, territory, public, monkeypatch
):
    """A box smaller than the cell its points crowd: the count is shown at the nearest
    cluster of the box rather than lost because the cell's centre lies outside."""
    from issues import mapdata

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    for n in range(3):
        at(territory.grid, public, lat=f"36.61230{n}", lng="117.123400")
    tiny = {"bbox": "117.12300,36.61200,117.12320,36.61215"}  # beside them, same cell
    data = client.get(URL, tiny).json()
    assert data["markers"] == [] and [c["count"] for c in data["clusters"]] == [3]
    west, south, east, north = 117.12300, 36.61200, 117.12320, 36.61215
    assert south <= data["clusters"][0]["lat"] <= north
    assert west <= data["clusters"][0]["lng"] <= east


def test_a_view_that_filled_up_within_the_minute_is_clustered(
    client, territory, public, monkeypatch
):
    """The kept counts said the box had room; more points came since: the points are
    not shown one by one past the limit, and the clusters count what is there now."""
    from issues import mapdata

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    at(territory.grid, public)
    assert client.get(URL, BOX).json()["total"] == 1
    for n in range(3):
        at(territory.grid, public, lat=f"36.62{n}1")
    data = client.get(URL, {"bbox": "117.10,36.60,117.15,36.6301"}).json()
    assert data["markers"] == [] and data["total"] == 3
    # Counted now for this box, not from the counts kept a minute ago (one point then).
    assert sum(c["count"] for c in data["clusters"]) == 4


@pytest.mark.parametrize("shared", [True, False])
def test_with_a_shared_cache_one_process_counts_the_cells_for_all(
    client, territory, public, monkeypatch, settings, shared, django_assert_num_queries
):
    """A shared cache (Redis, or the database's) carries one process's counts to every
    other process and host while they are under a minute old; a cache per process never
    does (each counts its own)."""
    from issues import mapdata
    from issues.views import public_map

    settings.CACHE_IS_SHARED = shared
    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 2)
    for n in range(3):
        at(territory.grid, public, lat=f"36.61{n}1")
    with django_assert_num_queries(2):  # the open and the recently closed, counted
        assert client.get(URL, BOX).json()["total"] == 3
    monkeypatch.setitem(public_map._kept, "epoch", None)  # another process, just started
    with django_assert_num_queries(0 if shared else 2):
        data = client.get(URL, {"bbox": "117.10,36.60,117.15,36.6301"}).json()
    assert sum(c["count"] for c in data["clusters"]) == 3
    monkeypatch.setattr(public_map, "CELLS_SECONDS", 0)  # and a minute later: counted again
    with django_assert_num_queries(2):
        client.get(URL, {"bbox": "117.10,36.60,117.15,36.6302"})


def _random_cells(rng, n):
    points = [(rng.uniform(36.5, 36.8), rng.uniform(116.8, 117.2)) for _ in range(n)]
    finest = {}
    for lat, lng in points:
        key = PointCells.key(
            math.floor(lat / PointCells.FINEST), math.floor(lng / PointCells.FINEST)
        )
        finest[key] = finest.get(key, 0) + 1
    return points, PointCells(finest)


def test_a_cells_key_gives_back_its_row_and_column_anywhere_on_earth():
    """A cell's row and column, packed in one int, come back whole for every cell of the
    finest level, north and south, east and west."""
    span = (90 / PointCells.FINEST, 180 / PointCells.FINEST)
    for row in (-span[0], -1, 0, 1, 36_612, span[0]):
        for col in (-span[1], -1, 0, 1, 117_123, span[1]):
            key = PointCells.key(int(row), int(col))
            assert PointCells.row_col(key) == (int(row), int(col))
            # and a coarser cell's, halved as each level above does
            coarser = PointCells.key(int(row) // 2, int(col) // 2)
            assert PointCells.row_col(coarser) == (int(row) // 2, int(col) // 2)


def test_cell_counts_match_the_points_they_hold():
    """Against the points themselves: a box on the cells' edges counts exactly its
    points; any other box at least its points; the clusters add up to the count; and a
    box is read at a level it spans in at most SPAN + 1 cells (the widest level aside)."""
    rng = random.Random(7)
    points, cells = _random_cells(rng, 3000)
    for _ in range(200):
        west, south = rng.uniform(116.7, 117.2), rng.uniform(36.4, 36.8)
        side = 10 ** rng.uniform(-3.5, 0.5)
        bbox = (west, south, west + side * rng.uniform(0.5, 1.5), south + side)
        inside = sum(
            1 for lat, lng in points if bbox[1] <= lat <= bbox[3] and bbox[0] <= lng <= bbox[2]
        )
        level = cells.level(bbox)
        size = PointCells.FINEST * 2**level
        assert level == PointCells.LEVELS - 1 or max(bbox[2] - bbox[0], side) / size <= (
            PointCells.SPAN
        )
        assert cells.count(bbox) >= inside
        assert sum(c["count"] for c in cells.clusters(bbox)) == cells.count(bbox)
        # The same box moved out to the edges of its cells: exact.
        edges = (
            math.floor(bbox[0] / size) * size + 1e-9,
            math.floor(bbox[1] / size) * size + 1e-9,
            (math.floor(bbox[2] / size) + 1) * size - 1e-9,
            (math.floor(bbox[3] / size) + 1) * size - 1e-9,
        )
        if cells.level(edges) == level:
            exact = sum(
                1
                for lat, lng in points
                if edges[1] <= lat <= edges[3] and edges[0] <= lng <= edges[2]
            )
            assert cells.count(edges) == exact


@pytest.mark.parametrize("n", [10, 1000])
def test_the_public_map_runs_the_same_queries_for_10_and_1000_points(
    client, territory, n, monkeypatch, django_assert_num_queries
):
    """The cells are counted once a minute in two queries; then a crowded box, however
    many points it holds, runs none, and a box of a few points one."""
    from issues import mapdata
    from issues.models import Category, Issue
    from tests.test_staff_map import many

    monkeypatch.setattr(mapdata, "MARKER_LIMIT", 5)
    many(territory.grid, n)  # up to 10 points a cell of 0.001°, and one alone elsewhere
    Category.objects.filter(issues__in=Issue.objects.all()).update(is_public=True)
    with django_assert_num_queries(3):  # the cells: the open and the recently closed; a box
        assert client.get(URL, {"bbox": "117.3,36.9,117.31,36.91"}).json()["total"] == 0
    with django_assert_num_queries(0):
        data = client.get(URL, {"bbox": "117.0,36.5,117.2,36.7"}).json()
    assert sum(c["count"] for c in data["clusters"]) == n and data["markers"] == []
    with django_assert_num_queries(1):  # around the one alone
        data = client.get(URL, {"bbox": "117.1195,36.6095,117.1205,36.6105"}).json()
    assert len(data["markers"]) == data["total"] == 1
