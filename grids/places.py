"""Place lookups the maps ask for (JSON): the grids in a box, and what lies at a point.

Both answer from the indexed bounding boxes and building points (``grids.geo``), with a
bounded number of rows, so a map costs the same whatever the size of the city.
"""

from __future__ import annotations

import json
import math

import numpy as np
import shapely
from django.db.models import Max, Min, Q, TextField
from django.db.models.functions import Cast
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from . import geo
from .models import Building, Grid

MAX_GRIDS = 400


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` (WGS-84) as floats, or None when missing or malformed."""
    try:
        west, south, east, north = (float(v) for v in (text or "").split(","))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        return None
    if west > east or south > north:
        return None
    return west, south, east, north


def map_start(*, lat=None, lng=None, building=None, grids=None) -> dict:
    """Where a map opens: the point given, else the building, else its grid, else all the
    grids (``grids``, a queryset; every grid by default)."""
    if lat is not None and lng is not None:
        return {"lat": float(lat), "lng": float(lng), "zoom": 17}
    if building is not None and building.latitude is not None:
        return {"lat": float(building.latitude), "lng": float(building.longitude), "zoom": 17}
    if building is not None and building.grid.min_lat is not None:
        grid = building.grid
        return {"bbox": [grid.min_lat, grid.min_lng, grid.max_lat, grid.max_lng]}
    box = (Grid.objects.all() if grids is None else grids).aggregate(
        south=Min("min_lat"), west=Min("min_lng"), north=Max("max_lat"), east=Max("max_lng")
    )
    if box["south"] is not None:
        return {"bbox": [box["south"], box["west"], box["north"], box["east"]]}
    return {"lat": 35.0, "lng": 105.0, "zoom": 4}  # nothing drawn yet: all of China


def grids_in_box(bbox):
    """Grids with a boundary whose bounding box meets the box, in code order."""
    west, south, east, north = bbox
    return Grid.objects.filter(
        min_lat__lte=north, max_lat__gte=south, min_lng__lte=east, max_lng__gte=west
    ).select_related("community")


# A map showing a wide box needs no more of a boundary than its pixels show: each is
# simplified (Douglas-Peucker) to within a pixel of a screen this many pixels wide showing
# the box (a street keeps every point; a subdistrict's 200 grids a few each), parsed,
# simplified and written by GEOS without being decoded into Python.
SHAPE_PIXELS = 2000


def grid_features(grids: list[Grid], bbox) -> str:
    """The grids (annotated with their boundary as text, ``shape``) as a GeoJSON
    FeatureCollection, written out."""
    west, _south, east, _north = bbox
    stored = shapely.from_geojson([grid.shape for grid in grids])
    simplified = shapely.simplify(stored, (east - west) / SHAPE_PIXELS, preserve_topology=False)
    # A grid smaller than a pixel would vanish: it keeps its shape (a few points anyway).
    shapes = shapely.to_geojson(np.where(shapely.is_empty(simplified), stored, simplified))
    features = ",".join(
        f'{{"type":"Feature","geometry":{shape},"properties":{_properties(grid)}}}'
        for grid, shape in zip(grids, shapes, strict=True)
    )
    return f'{{"type":"FeatureCollection","features":[{features}]}}'


def _properties(grid: Grid) -> str:
    names = {"id": grid.pk, "code": grid.code, "name": grid.name, "community": grid.community.name}
    return json.dumps(names, ensure_ascii=False)


@require_GET
@cache_control(max_age=60)
def grid_shapes(request):
    """The grid boundaries in the visible box, as a GeoJSON FeatureCollection."""
    bbox = parse_bbox(request.GET.get("bbox"))
    if bbox is None:
        return JsonResponse({"error": "bbox=west,south,east,north"}, status=400)
    grids = list(
        grids_in_box(bbox)
        .defer("boundary")
        .annotate(shape=Cast("boundary", TextField()))
        .order_by("code")[:MAX_GRIDS]
    )
    return HttpResponse(grid_features(grids, bbox), content_type="application/json")


BUILDING_LOOKUP_LIMIT = 20


@require_GET
def building_lookup(request):
    """Buildings whose name or address holds the words typed (the hotline's address search),
    with their grid and point. Addresses are public, as in the building pickers."""
    words = " ".join(request.GET.get("q", "").split())[:100]
    if len(words) < 2:
        return JsonResponse({"buildings": []})
    condition = Q()
    for word in words.split():
        condition &= Q(name__icontains=word) | Q(address__icontains=word)
    buildings = (
        Building.objects.filter(condition)
        .select_related("grid__community")
        .defer("grid__boundary")
        .order_by("grid__code", "name")[:BUILDING_LOOKUP_LIMIT]
    )
    return JsonResponse(
        {
            "buildings": [
                {
                    "id": b.pk,
                    "name": b.name,
                    "address": b.address,
                    "grid": {"id": b.grid_id, "name": b.grid.name},
                    "community": b.grid.community.name,
                    "lat": float(b.latitude) if b.latitude is not None else None,
                    "lng": float(b.longitude) if b.longitude is not None else None,
                }
                for b in buildings
            ]
        }
    )


@require_GET
def place_at(request):
    """The grid holding a point and the nearest building (within 300 m) of that grid."""
    try:
        lat, lng = float(request.GET["lat"]), float(request.GET["lng"])
    except (KeyError, ValueError):
        return JsonResponse({"error": "lat and lng"}, status=400)
    grid = geo.grid_at(lat, lng)
    building = geo.nearest_building(lat, lng, grid=grid) if grid is not None else None
    return JsonResponse(
        {
            "grid": grid
            and {
                "id": grid.pk,
                "code": grid.code,
                "name": grid.name,
                "community": grid.community.name,
            },
            "building": building
            and {
                "id": building.pk,
                "name": building.name,
                "address": building.address,
                "distance_m": round(building.distance_m),
            },
        }
    )
