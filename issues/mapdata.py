"""Points for the maps, bounded: at most ``MARKER_LIMIT`` issues one by one for the visible
box, or, when more match, their counts per cell of a fixed ``CELLS`` × ``CELLS`` division
of the box (one grouped query, whatever the number of issues)."""

from __future__ import annotations

from collections import Counter

from django.db.models import Avg, Count, FloatField
from django.db.models.functions import Cast, Floor

MARKER_LIMIT = 500
CELLS = 12
# A point shown in public and not at a building is moved to the centre of a square this
# many degrees wide (0.0005° ≈ 55 m north–south, ≈ 45 m east–west at Jinan's latitude).
BLUR_DEGREES = 0.0005


def blurred(lat, lng, building_lat=None, building_lng=None) -> tuple[float, float]:
    """The point shown in public: the building's when given, else the centre of its
    ~50 m square (so that a shown point never gives away a door)."""
    if building_lat is not None:
        return float(building_lat), float(building_lng)

    def snap(value):
        return round((int(float(value) // BLUR_DEGREES) + 0.5) * BLUR_DEGREES, 6)

    return snap(lat), snap(lng)


def in_box(issues, bbox):
    """The issues with a point inside ``bbox`` (west, south, east, north)."""
    west, south, east, north = bbox
    return issues.filter(
        latitude__isnull=False, latitude__range=(south, north), longitude__range=(west, east)
    )


def too_many(issues) -> tuple[int, bool]:
    """(how many, capped at one past the limit; whether that is more than the limit)."""
    # No order: the model's newest-first would have the planner walk every issue by its
    # filing time instead of reading the unit's or the box's open ones.
    total = issues.order_by()[: MARKER_LIMIT + 1].count()
    return total, total > MARKER_LIMIT


def _division(bbox) -> tuple[float, float]:
    """(height, width) of a cell of the box's 12 × 12 division."""
    west, south, east, north = bbox
    return max((north - south) / CELLS, 1e-9), max((east - west) / CELLS, 1e-9)


def _cells(issues, bbox):
    """The issues grouped by their cell of the box's division (``row``, ``col``)."""
    west, south, _east, _north = bbox
    height, width = _division(bbox)
    lat = Cast("latitude", FloatField())
    lng = Cast("longitude", FloatField())
    return (
        issues.order_by()
        .annotate(row=Floor((lat - south) / height), col=Floor((lng - west) / width))
        .values("row", "col")
    )


def clusters(issues, bbox) -> list[dict]:
    """Counts per cell of a 12 × 12 division of the box, placed at their points' mean."""
    lat, lng = Cast("latitude", FloatField()), Cast("longitude", FloatField())
    found = _cells(issues, bbox).annotate(n=Count("pk"), lat=Avg(lat), lng=Avg(lng))
    return [
        {"count": n, "lat": lat, "lng": lng} for n, lat, lng in found.values_list("n", "lat", "lng")
    ]


def clusters_at_centres(parts, bbox) -> list[dict]:
    """Counts per cell of a 12 × 12 division of the box, placed at the cell's centre (the
    public map, where a lone point's mean would give its exact place away), summed over
    ``parts``: querysets counted one at a time, so that each is read from its own index
    alone (one query each)."""
    west, south, _east, _north = bbox
    height, width = _division(bbox)
    counts: Counter = Counter()
    for issues in parts:
        # COUNT(*), not of the id: the id is not in the index, the rows need no visit.
        found = _cells(issues, bbox).annotate(n=Count("*")).values_list("n", "row", "col")
        for n, row, col in found:
            counts[(row, col)] += n
    return [
        {
            "count": n,
            "lat": south + (float(row) + 0.5) * height,
            "lng": west + (float(col) + 0.5) * width,
        }
        for (row, col), n in sorted(counts.items())
    ]
