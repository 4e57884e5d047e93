"""Demo shapes for 龙洞街道 (around 36.62°N 117.13°E): grid boundaries that tile the area
without gaps or overlaps, building points inside their grids, and issue points.

The subdistrict is cut into one north–south strip per community along wavy dividers; each
strip is cut across into its grids. Neighbours are built from the very same vertices, so
the coverage checks find nothing. Only what is missing is filled in: a boundary an
administrator drew, or a point someone set, is never overwritten.
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from shapely.geometry import LineString

from . import geo

# The latitudes at which every divider has a vertex (south to north).
LATITUDES = [36.600, 36.6067, 36.6133, 36.6200, 36.6267, 36.6333, 36.6400]
# West to east: the longitude of each divider at each latitude above.
DIVIDERS = [
    [117.1050, 117.1042, 117.1055, 117.1048, 117.1060, 117.1052, 117.1058],
    [117.1190, 117.1202, 117.1185, 117.1198, 117.1182, 117.1195, 117.1188],
    [117.1320, 117.1312, 117.1331, 117.1318, 117.1327, 117.1309, 117.1322],
    [117.1460, 117.1471, 117.1455, 117.1466, 117.1452, 117.1468, 117.1461],
    [117.1600, 117.1591, 117.1606, 117.1597, 117.1610, 117.1594, 117.1603],
]
# Community strips west to east, and where each is cut into grids (indices into LATITUDES,
# south to north; a grid runs from one cut to the next).
STRIPS = [
    ("LD-QYC", [0, 2, 4, 6]),
    ("LD-LD", [0, 3, 6]),
    ("LD-YSXJ", [0, 3, 6]),
    ("LD-LDJ", [0, 4, 6]),
]


def _cut_point(strip: int, row: int) -> list[float]:
    """A vertex in the middle of an inner cut, nudged north or south so that cuts are not
    ruler-straight; both grids on either side of the cut use it."""
    west, east = DIVIDERS[strip][row], DIVIDERS[strip + 1][row]
    nudge = 0.0009 if (strip + row) % 2 else -0.0007
    return [round((west + east) / 2, 6), round(LATITUDES[row] + nudge, 6)]


def _cell(strip: int, south: int, north: int, inner: set[int]) -> dict:
    """The boundary of one grid: counter-clockwise from the south-west corner."""
    west, east = DIVIDERS[strip], DIVIDERS[strip + 1]
    ring = [[west[south], LATITUDES[south]]]
    if south in inner:
        ring.append(_cut_point(strip, south))
    ring += [[east[row], LATITUDES[row]] for row in range(south, north + 1)]
    if north in inner:
        ring.append(_cut_point(strip, north))
    ring += [[west[row], LATITUDES[row]] for row in range(north, south - 1, -1)]
    return {"type": "Polygon", "coordinates": [ring]}


def demo_boundaries() -> dict[str, dict]:
    """{grid code: boundary} for the demo grids (codes COMMUNITY-01, -02, … south to north)."""
    boundaries = {}
    for strip, (community, cuts) in enumerate(STRIPS):
        inner = set(cuts[1:-1])
        for number, (south, north) in enumerate(zip(cuts, cuts[1:], strict=False), 1):
            boundaries[f"{community}-{number:02d}"] = _cell(strip, south, north, inner)
    return boundaries


def _spots(boundary: dict, count: int) -> list[tuple[float, float]]:
    """``count`` points (lat, lng) well inside a boundary, spread along its diagonal."""
    area = geo.geometry(boundary)
    inner = area.buffer(-0.0012) if area.buffer(-0.0012).area else area
    west, south, east, north = inner.bounds
    diagonal = LineString([(west, south), (east, north)]).intersection(inner)
    spots = []
    for n in range(count):
        point = diagonal.interpolate((n + 1) / (count + 1), normalized=True)
        if not inner.covers(point):
            point = inner.representative_point()
        spots.append((round(point.y, 6), round(point.x, 6)))
    return spots


# Kinds of problem the demo shows on the public map (never disputes or security matters).
PUBLIC_CATEGORIES = ["市容环境", "道路设施", "环境卫生", "占道经营", "噪音扰民"]


def place_demo(subdistrict) -> None:
    """Give the demo subdistrict's grids, buildings and issues their places (idempotent)."""
    from issues.models import Category, Issue

    if not Category.objects.filter(is_public=True).exists():  # an administrator's choice stays
        Category.objects.filter(name__in=PUBLIC_CATEGORIES).update(is_public=True)

    from .models import Building, Grid

    boundaries = demo_boundaries()
    grids = Grid.objects.filter(community__subdistrict=subdistrict, code__in=boundaries)
    for grid in grids:
        if not grid.boundary:
            grid.boundary = boundaries[grid.code]
            grid.save(update_fields=["boundary"])
        unplaced = list(grid.buildings.filter(latitude=None).order_by("name"))
        for building, (lat, lng) in zip(
            unplaced, _spots(grid.boundary, len(unplaced)), strict=True
        ):
            building.latitude, building.longitude = geo.as_decimal(lat), geo.as_decimal(lng)
            building.save(update_fields=["latitude", "longitude"])

    # Issues filed for a building stand at it; those filed for a grid somewhere inside it.
    points = Building.objects.filter(pk=OuterRef("building_id"))
    Issue.objects.filter(
        subdistrict=subdistrict, latitude=None, building__latitude__isnull=False
    ).update(
        latitude=Subquery(points.values("latitude")),
        longitude=Subquery(points.values("longitude")),
    )
    for grid in grids:
        if not grid.boundary:
            continue
        loose = list(grid.issues.filter(latitude=None).order_by("pk"))
        for issue, (lat, lng) in zip(loose, _spots(grid.boundary, len(loose)), strict=True):
            # Off the diagonal the buildings stand on, so markers do not sit on each other.
            Issue.objects.filter(pk=issue.pk).update(
                latitude=geo.as_decimal(lat + 0.0004), longitude=geo.as_decimal(lng - 0.0006)
            )
