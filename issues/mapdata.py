"""Points for the maps, bounded: at most ``MARKER_LIMIT`` issues one by one for the visible
box, or, when more match, their counts per cell of a fixed ``CELLS`` × ``CELLS`` division
of the box: for the staff's map one grouped query (``clusters``), for the public map the
counts kept per cell of every public point (``PointCells``), which no request re-counts."""

from __future__ import annotations

import itertools
import math
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


class PointCells:
    """How many points lie in each square cell of a fixed division of the earth, at
    ``LEVELS`` sizes (``FINEST`` degrees, then twice as wide each level): what a crowded
    view is counted and clustered from without reading a point, however many there are.
    A view is read at the finest level that covers it in at most ``SPAN`` cells across,
    so a request looks at no more than ``SPAN``² cells (or the level's cells, if fewer)."""

    FINEST = 0.001  # degrees: about 110 m north–south, 90 m east–west at Jinan
    LEVELS = 10  # up to 0.512°, about 57 km
    SPAN = 48  # four or more cells across each of the 12 clusters of a view's side

    def __init__(self, finest: dict[int, int]):
        """From the finest level's counts, by ``key`` of the cell."""
        self.levels = [finest]
        for _ in range(1, self.LEVELS):
            coarser: Counter = Counter()
            for key, n in self.levels[-1].items():
                row, col = self.row_col(key)
                coarser[self.key(row // 2, col // 2)] += n
            self.levels.append(dict(coarser))

    # A cell's row and column in one int: half the memory of a tuple of two, for a city's
    # tens of thousands of cells in every process.
    @staticmethod
    def key(row: int, col: int) -> int:
        return (row << 32) + col

    @staticmethod
    def row_col(key: int) -> tuple[int, int]:
        row = (key + (1 << 31)) >> 32
        return row, key - (row << 32)

    @classmethod
    def of(cls, parts) -> PointCells:
        """Counted from ``parts``, querysets of issues with a point: one grouped query
        each, at the finest level."""
        return cls(cls.counted(parts))

    @classmethod
    def counted(cls, parts) -> dict[int, int]:
        """The finest level's counts of ``parts`` (what ``PointCells`` is made from)."""
        lat = Cast("latitude", FloatField())
        lng = Cast("longitude", FloatField())
        finest: Counter = Counter()
        for issues in parts:
            found = (
                issues.filter(latitude__isnull=False)
                .order_by()
                .annotate(row=Floor(lat / cls.FINEST), col=Floor(lng / cls.FINEST))
                .values("row", "col")
                .annotate(n=Count("*"))
                .values_list("row", "col", "n")
            )
            for row, col, n in found:
                finest[cls.key(int(row), int(col))] += n
        return dict(finest)

    def level(self, bbox) -> int:
        """The level a box is read at: the finest covering it in at most ``SPAN`` cells
        across (or the widest there is)."""
        west, south, east, north = bbox
        level = 0
        while (
            level < self.LEVELS - 1
            and max(north - south, east - west) / (self.FINEST * 2**level) > self.SPAN
        ):
            level += 1
        return level

    def _cells_of(self, bbox):
        """(size in degrees, the cells overlapping the box: ((row, column), count))."""
        west, south, east, north = bbox
        level = self.level(bbox)
        size = self.FINEST * 2**level
        cells = self.levels[level]
        rows = range(math.floor(south / size), math.floor(north / size) + 1)
        cols = range(math.floor(west / size), math.floor(east / size) + 1)
        if len(rows) * len(cols) < len(cells):
            found = ((cell, cells.get(self.key(*cell))) for cell in itertools.product(rows, cols))
            return size, [(cell, n) for cell, n in found if n]
        found = ((self.row_col(key), n) for key, n in cells.items())
        return size, [(cell, n) for cell, n in found if cell[0] in rows and cell[1] in cols]

    def count(self, bbox) -> int:
        """The points of the cells the box overlaps: at least those the box held when the
        cells were counted."""
        return sum(n for _key, n in self._cells_of(bbox)[1])

    def clusters(self, bbox) -> list[dict]:
        """Counts per cell of the box's 12 × 12 division, placed at the division cells'
        centres (where a lone point's mean would give its place away): each kept cell
        goes to the division cell holding its centre, or the nearest one where the cell
        reaches past the box, so the counts add up to ``count``."""
        west, south, east, north = bbox
        height, width = _division(bbox)
        size, cells = self._cells_of(bbox)
        counts: Counter = Counter()
        for (row, col), n in cells:
            lat, lng = (row + 0.5) * size, (col + 0.5) * size
            division = (
                min(max(math.floor((lat - south) / height), 0), CELLS - 1),
                min(max(math.floor((lng - west) / width), 0), CELLS - 1),
            )
            counts[division] += n
        return [
            {
                "count": n,
                "lat": south + (row + 0.5) * height,
                "lng": west + (col + 0.5) * width,
            }
            for (row, col), n in sorted(counts.items())
        ]
