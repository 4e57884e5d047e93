"""Place: boundaries as validated GeoJSON, their bounding boxes, and routing a point."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grids import geo
from grids.models import Grid
from tests.factories import GridFactory


def square(west, south, east, north):
    return {
        "type": "Polygon",
        "coordinates": [
            [[west, south], [east, south], [east, north], [west, north], [west, south]]
        ],
    }


WEST = square(117.10, 36.60, 117.12, 36.62)
EAST = square(117.12, 36.60, 117.14, 36.62)  # shares the meridian 117.12 with WEST


@pytest.fixture
def two_grids(db):
    # Codes chosen so that the tie rule (lowest code) is not the creation order.
    east = GridFactory(code="G-B", boundary=EAST)
    west = GridFactory(code="G-A", boundary=WEST)
    return west, east


def test_saving_a_boundary_keeps_its_bounding_box(db):
    grid = GridFactory(boundary=WEST)
    grid.refresh_from_db()
    assert (grid.min_lat, grid.min_lng, grid.max_lat, grid.max_lng) == (
        36.60,
        117.10,
        36.62,
        117.12,
    )
    grid.boundary = EAST
    grid.save(update_fields=["boundary"])
    grid.refresh_from_db()
    assert (grid.min_lng, grid.max_lng) == (117.12, 117.14)
    grid.boundary = None
    grid.save()
    grid.refresh_from_db()
    assert grid.min_lat is None and grid.max_lng is None


def test_a_point_inside_a_grid_routes_to_it(two_grids):
    west, east = two_grids
    assert geo.grid_at(36.61, 117.11) == west
    assert geo.grid_at(36.61, 117.13) == east


def test_a_point_outside_every_grid_routes_nowhere(two_grids):
    assert geo.grid_at(36.65, 117.11) is None
    assert geo.grid_at(36.61, 117.20) is None
    assert geo.grid_at("not a number", 117.11) is None


def test_a_point_on_a_shared_border_always_goes_to_the_lowest_code(two_grids):
    west, east = two_grids
    for _ in range(3):
        assert geo.grid_at(36.61, 117.12) == west
    # a shared corner too
    assert geo.grid_at(36.60, 117.12) == west


def test_routing_tests_only_the_grids_whose_box_holds_the_point(two_grids):
    for n in range(30):
        GridFactory(boundary=square(117.0 + n * 0.001, 36.0, 117.0005 + n * 0.001, 36.001))
    with CaptureQueriesContext(connection) as queries:
        geo.grid_at(36.61, 117.11)
    assert len(queries) == 1
    assert "min_lat" in queries[0]["sql"]
    candidates = list(geo.grids_containing_box(36.61, 117.12))
    assert [g.code for g in candidates] == ["G-A", "G-B"]


def test_a_multipolygon_routes_both_parts(db):
    grid = GridFactory(
        boundary={
            "type": "MultiPolygon",
            "coordinates": [WEST["coordinates"], square(117.2, 36.7, 117.21, 36.71)["coordinates"]],
        }
    )
    assert geo.grid_at(36.705, 117.205) == grid
    assert geo.grid_at(36.61, 117.11) == grid
    assert geo.grid_at(36.65, 117.15) is None


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[117.10, 36.60], [117.12, 36.62], [117.12, 36.60], [117.10, 36.62], [117.10, 36.60]]
    ],
}


@pytest.mark.parametrize(
    ("boundary", "code"),
    [
        (BOWTIE, "invalid_polygon"),
        (square(36.60, 117.10, 36.62, 117.12), "swapped_axes"),
        (square(2.30, 48.85, 2.31, 48.86), "outside_china"),
        ({"type": "Point", "coordinates": [117.1, 36.6]}, "bad_type"),
        (
            {"type": "Polygon", "coordinates": [[[117.1, 36.6], [117.2, 36.6], [117.1, 36.6]]]},
            "short_ring",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [[[117.1, 36.6], [117.2, 36.6], [117.2, 36.7], [117.1, 36.7]]],
            },
            "open_ring",
        ),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [[117.1, 36.6], [117.2, 36.6], [117.2, 36.7], [117.1, 36.7], [117.1, 36.65]]
                ],
            },
            "open_ring",
        ),
        (
            {"type": "Polygon", "coordinates": [[["a", 1], [2, 3], [4, 5], ["a", 1]]]},
            "bad_position",
        ),
        ("not json", "not_object"),
    ],
)
def test_bad_boundaries_are_refused_with_their_reason(boundary, code):
    with pytest.raises(ValidationError) as exc:
        geo.parse_boundary(boundary)
    assert exc.value.code == code


def test_a_grid_with_a_bad_boundary_does_not_validate(db):
    grid = GridFactory.build(community=GridFactory().community, boundary=BOWTIE)
    with pytest.raises(ValidationError) as exc:
        grid.full_clean()
    assert "boundary" in exc.value.message_dict


def test_areas_and_distances_are_in_metres():
    # 0.01° of latitude is about 1,112 m; of longitude at 36.6° about 893 m.
    assert geo.distance_m(36.60, 117.10, 36.61, 117.10) == pytest.approx(1112, rel=0.01)
    assert geo.distance_m(36.60, 117.10, 36.60, 117.11) == pytest.approx(893, rel=0.01)
    area = geo.area_m2(geo.geometry(square(117.10, 36.60, 117.11, 36.61)))
    assert area == pytest.approx(1112 * 893, rel=0.01)


def test_grids_keep_their_box_through_queryset_loading(two_grids):
    assert Grid.objects.filter(min_lng__gte=117.12).get().code == "G-B"
