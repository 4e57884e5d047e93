"""Seamless coverage, checked on the shapes: a grid without a boundary, an overlap with its
area, a hole in a community's outline, and a building outside its grid; none for the demo."""

from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.factories import BuildingFactory, GridFactory, UserFactory
from tests.test_geo import square

URL = reverse("admin:coverage")


@pytest.fixture
def admin_en(client, db):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def findings(client):
    response = client.get(URL)
    return {s.key: s.gaps for s in response.context["sections"]}, response.content.decode()


def test_each_geometric_gap_is_listed_with_a_link_to_its_grid(admin_en, territory):
    t = territory
    # 全运村社区: a ring of three grids around an uncovered square (a hole), the first two
    # overlapping along a strip 0.001° × 0.02° (about 89 m × 2,224 m ≈ 198,000 m²).
    t.grid.boundary = square(117.10, 36.60, 117.111, 36.63)  # west column, 0.001° too wide
    t.grid.save()
    t.sibling_grid.boundary = {
        "type": "Polygon",
        "coordinates": [
            [
                [117.11, 36.60],
                [117.13, 36.60],
                [117.13, 36.63],
                [117.11, 36.63],
                [117.11, 36.62],
                [117.12, 36.62],
                [117.12, 36.61],
                [117.11, 36.61],
                [117.11, 36.60],
            ]
        ],
    }
    t.sibling_grid.save()
    t.cousin_grid.boundary = square(117.20, 36.60, 117.21, 36.61)
    t.cousin_grid.save()
    stray = BuildingFactory(
        grid=t.grid, name="错位楼", latitude=Decimal("36.605"), longitude=Decimal("117.205")
    )
    BuildingFactory(
        grid=t.grid, name="好楼", latitude=Decimal("36.605"), longitude=Decimal("117.105")
    )
    lost = BuildingFactory(
        grid=t.grid, name="远楼", latitude=Decimal("36.900"), longitude=Decimal("117.500")
    )
    GridFactory(community=t.community, name="空网格", code="LD-QYC-09")

    found, page = findings(admin_en)

    no_boundary = {g.label for g in found["no_boundary"]}
    assert "空网格 (LD-QYC-09)" in no_boundary and "第一网格 (LD-QYC-01)" not in no_boundary

    [overlap] = found["overlaps"]
    assert "LD-QYC-01" in overlap.label and "LD-QYC-02" in overlap.label
    area = int(overlap.context.split()[0])
    assert 190_000 < area < 205_000
    assert overlap.fix_url == reverse("admin:grids_grid_change", args=[t.sibling_grid.pk])

    [hole] = found["holes"]
    assert "m² at 36.61" in hole.label
    assert hole.context.endswith("全运村社区")
    assert hole.fix_url.startswith("/admin/grids/grid/")

    misplaced = {g.label: g.context for g in found["misplaced_buildings"]}
    assert misplaced == {
        stray.name: "in grid LD-QYC-01; its point lies in LD-LD-01",
        lost.name: "in grid LD-QYC-01; its point lies outside every grid",
    }
    assert "Buildings outside their grid" in page


def test_the_demo_has_no_geometric_gaps(admin_en):
    call_command("seed_demo", stdout=StringIO())
    found, _ = findings(admin_en)
    for key in ("no_boundary", "overlaps", "holes", "misplaced_buildings"):
        assert found[key] == [], key
