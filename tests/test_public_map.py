"""The public map: public categories only, open or recently closed, the point blurred to
the building or ~50 m, and never text, photos or names; cost independent of the count."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from issues.mapdata import blurred
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
