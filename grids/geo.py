"""Place: the one geometry module (WGS-84, GeoJSON order: longitude, then latitude).

Grid boundaries are GeoJSON Polygons or MultiPolygons kept as plain dicts in
``Grid.boundary``; each grid also keeps its bounding box in indexed columns, so routing a
point (``grid_at``) asks the database for the few grids whose box holds it and tests only
those exactly with shapely. Views, forms and checks ask this module; none of them loops
over polygons itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import shapely
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from shapely.geometry import Point, shape
from shapely.validation import explain_validity

# Mainland China, Hong Kong, Macao and Taiwan with a margin: a boundary or point outside
# this box is a mistake, most often latitude and longitude swapped.
CHINA_LNG = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)
POLYGON_TYPES = ("Polygon", "MultiPolygon")
EARTH_RADIUS_M = 6_371_008.8


def in_china(lat: float, lng: float) -> bool:
    return CHINA_LAT[0] <= lat <= CHINA_LAT[1] and CHINA_LNG[0] <= lng <= CHINA_LNG[1]


def _positions(coordinates, depth: int) -> Iterable:
    if depth == 0:
        yield coordinates
        return
    for part in coordinates:
        yield from _positions(part, depth - 1)


def _check_rings(geometry_type: str, coordinates) -> None:
    """The shape of the coordinate arrays, before shapely sees them."""
    polygons = coordinates if geometry_type == "MultiPolygon" else [coordinates]
    if not isinstance(polygons, list) or not polygons:
        raise ValidationError(_("The boundary has no coordinates."), code="empty")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValidationError(_("A polygon has no rings."), code="empty")
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise ValidationError(
                    _("Every ring needs at least four positions, the last equal to the first."),
                    code="short_ring",
                )
            for position in ring:
                if (
                    not isinstance(position, list | tuple)
                    or len(position) < 2
                    or not all(
                        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                        for v in position[:2]
                    )
                ):
                    raise ValidationError(
                        _("Every position is a pair of numbers: [longitude, latitude]."),
                        code="bad_position",
                    )
            if list(ring[0][:2]) != list(ring[-1][:2]):
                raise ValidationError(
                    _("A ring is not closed: its last position must equal its first."),
                    code="open_ring",
                )


def parse_boundary(value):
    """The shapely geometry of a GeoJSON Polygon/MultiPolygon, or ``ValidationError`` with a
    message that says what is wrong (self-intersecting ring, swapped axes, …)."""
    if not isinstance(value, dict):
        raise ValidationError(_("The boundary must be a GeoJSON object."), code="not_object")
    if value.get("type") == "Feature":
        value = value.get("geometry") or {}
    geometry_type = value.get("type")
    if geometry_type not in POLYGON_TYPES:
        raise ValidationError(
            _("The boundary must be a GeoJSON Polygon or MultiPolygon, not %(type)s."),
            code="bad_type",
            params={"type": geometry_type or "—"},
        )
    coordinates = value.get("coordinates")
    _check_rings(geometry_type, coordinates)
    depth = 3 if geometry_type == "MultiPolygon" else 2
    for lng, lat, *_rest in _positions(coordinates, depth):
        if not in_china(lat, lng):
            if in_china(lng, lat):
                raise ValidationError(
                    _(
                        "The position [%(a)s, %(b)s] lies outside China; latitude and "
                        "longitude look swapped. GeoJSON writes longitude first."
                    ),
                    code="swapped_axes",
                    params={"a": lng, "b": lat},
                )
            raise ValidationError(
                _("The position [%(a)s, %(b)s] lies far outside China."),
                code="outside_china",
                params={"a": lng, "b": lat},
            )
    geometry = shape({"type": geometry_type, "coordinates": coordinates})
    if not geometry.is_valid:
        raise ValidationError(
            _("The boundary is not a valid polygon: %(reason)s."),
            code="invalid_polygon",
            params={"reason": explain_validity(geometry)},
        )
    if geometry.area == 0:
        raise ValidationError(_("The boundary encloses no area."), code="empty")
    return geometry


def validate_boundary(value) -> None:
    """Model-field validator for ``Grid.boundary`` (empty is allowed: not drawn yet)."""
    if value in (None, "", {}):
        return
    parse_boundary(value)


def bounding_box(boundary) -> tuple[float, float, float, float] | tuple[None, None, None, None]:
    """(min_lat, min_lng, max_lat, max_lng) of a boundary, or Nones when there is none."""
    if not boundary:
        return (None, None, None, None)
    min_lng, min_lat, max_lng, max_lat = shape(_geometry_of(boundary)).bounds
    return (min_lat, min_lng, max_lat, max_lng)


def _geometry_of(boundary: dict) -> dict:
    return boundary.get("geometry") if boundary.get("type") == "Feature" else boundary


def geometry(boundary):
    """The shapely geometry of a stored boundary (already validated when saved)."""
    return shape(_geometry_of(boundary))


def as_geojson(geom) -> dict:
    return _plain(shapely.geometry.mapping(geom))


def _plain(value):
    """shapely's mapping() uses tuples; JSON fields store lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


# --- routing -----------------------------------------------------------------------------


def grids_containing_box(lat: float, lng: float):
    """Grids whose bounding box holds the point: the SQL pre-filter (index-served)."""
    from .models import Grid

    return Grid.objects.filter(
        min_lat__lte=lat, max_lat__gte=lat, min_lng__lte=lng, max_lng__gte=lng
    ).order_by("code")


def grid_at(lat, lng):
    """The grid that holds the point, or None.

    Bounding boxes narrow the candidates in SQL; shapely decides. A point on a border two
    grids share belongs to the grid with the lowest ``code``, every time.
    """
    try:
        lat, lng = float(lat), float(lng)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lng)):
        return None
    point = Point(lng, lat)
    for grid in grids_containing_box(lat, lng).select_related("community__subdistrict"):
        if grid.boundary and geometry(grid.boundary).covers(point):
            return grid
    return None


# --- distances and areas -----------------------------------------------------------------


def distance_m(lat1, lng1, lat2, lng2) -> float:
    """Great-circle distance in metres (haversine)."""
    lat1, lng1, lat2, lng2 = (math.radians(float(v)) for v in (lat1, lng1, lat2, lng2))
    a = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def degrees_around(lat, metres: float) -> tuple[float, float]:
    """(Δlat, Δlng) in degrees that cover ``metres`` around latitude ``lat``: a box filter."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    dlng = dlat / max(math.cos(math.radians(float(lat))), 0.01)
    return dlat, dlng


def area_m2(geom) -> float:
    """Area in square metres of a small lng/lat geometry (local equirectangular projection:
    well under 1 % off at the size of a subdistrict)."""
    if geom.is_empty:
        return 0.0
    lat0 = math.radians(geom.centroid.y)
    scale_x = math.radians(1) * EARTH_RADIUS_M * math.cos(lat0)
    scale_y = math.radians(1) * EARTH_RADIUS_M
    return shapely.transform(geom, lambda xy: xy * [scale_x, scale_y]).area


def buildings_near(lat, lng, *, within_m: float = 300):
    """Buildings with a point in the box around (lat, lng): the index-served pre-filter."""
    from .models import Building

    dlat, dlng = degrees_around(lat, within_m)
    return Building.objects.filter(
        latitude__range=(as_decimal(float(lat) - dlat), as_decimal(float(lat) + dlat)),
        longitude__range=(as_decimal(float(lng) - dlng), as_decimal(float(lng) + dlng)),
    )


def nearest_building(lat, lng, *, within_m: float = 300, grid=None):
    """The building nearest the point (of ``grid`` if given) within ``within_m``, with its
    distance in metres as ``distance_m``; or None."""
    candidates = buildings_near(lat, lng, within_m=within_m)
    if grid is not None:
        candidates = candidates.filter(grid=grid)
    best = None
    for building in candidates.select_related("grid").defer("grid__boundary")[:500]:
        building.distance_m = distance_m(lat, lng, building.latitude, building.longitude)
        if building.distance_m <= within_m and (
            best is None or building.distance_m < best.distance_m
        ):
            best = building
    return best


def as_decimal(value) -> Decimal | None:
    """A coordinate as stored on rows (6 decimals, about 0.1 m)."""
    if value is None:
        return None
    return Decimal(str(round(float(value), 6)))


# --- coverage (一网覆盖) checks ------------------------------------------------------------

# Slivers below this (floating-point noise along a shared border) are not findings.
MIN_FINDING_M2 = 1.0


def _shapes(grids) -> tuple[list, list]:
    """(grids with a boundary, their geometries), in code order (the routing tie rule)."""
    kept = sorted((g for g in grids if g.boundary), key=lambda g: g.code)
    return kept, [geometry(g.boundary) for g in kept]


def overlaps(grids) -> list[dict]:
    """Pairs of grids whose areas overlap, with the overlap's area in m²."""
    from shapely import STRtree

    kept, shapes = _shapes(grids)
    if not shapes:
        return []
    tree = STRtree(shapes)
    found = []
    left, right = tree.query(shapes, predicate="intersects")
    for i, j in sorted(zip(left.tolist(), right.tolist(), strict=True)):
        if i >= j:
            continue
        area = area_m2(shapes[i].intersection(shapes[j]))
        if area >= MIN_FINDING_M2:
            found.append({"first": kept[i], "second": kept[j], "area_m2": round(area)})
    return found


def holes(grids) -> list[dict]:
    """Places inside a community's outline (the union of its grids) that no grid covers:
    each with its community, area in m², a point inside it, and a grid it borders."""
    from shapely import union_all
    from shapely.geometry import Polygon

    kept, shapes = _shapes(grids)
    by_community: dict[int, list[int]] = {}
    for index, grid in enumerate(kept):
        by_community.setdefault(grid.community_id, []).append(index)
    found = []
    for indices in by_community.values():
        outline = union_all([shapes[i] for i in indices])
        parts = getattr(outline, "geoms", [outline])
        for part in parts:
            for ring in getattr(part, "interiors", []):
                hole = Polygon(ring)
                area = area_m2(hole)
                if area < MIN_FINDING_M2:
                    continue
                inside = hole.representative_point()
                nearest = min(indices, key=lambda i: shapes[i].distance(inside))
                found.append(
                    {
                        "community": kept[nearest].community,
                        "grid": kept[nearest],
                        "area_m2": round(area),
                        "lat": round(inside.y, 6),
                        "lng": round(inside.x, 6),
                    }
                )
    return found


def misplaced_buildings(grids, buildings) -> list[dict]:
    """Buildings whose point lies outside their own grid, with the grid it lies in (the
    one ``grid_at`` would choose) or None."""
    from shapely import STRtree

    kept, shapes = _shapes(grids)
    position = {g.pk: i for i, g in enumerate(kept)}
    tree = STRtree(shapes) if shapes else None
    found = []
    for building in buildings:
        if building.latitude is None or building.grid_id not in position:
            continue
        point = Point(float(building.longitude), float(building.latitude))
        if shapes[position[building.grid_id]].covers(point):
            continue
        candidates = sorted(tree.query(point).tolist()) if tree is not None else []
        lies_in = next((kept[i] for i in candidates if shapes[i].covers(point)), None)
        found.append({"building": building, "lies_in": lies_in})
    return found
