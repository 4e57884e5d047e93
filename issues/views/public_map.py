"""The public map of reports (like FixMyStreet's): for categories an administrator marks
public, open and recently closed issues with their category, status and date, at a point
blurred to the building or to a ~50 m square. Never text, photos or names.

Anyone may look, at any box: what a request reads does not grow with the number of issues.
Whether a box is crowded, and its clusters if it is, come from the counts per cell that
this process keeps of every public point (``public_cells``, counted afresh each minute),
without reading an issue; a box that is not crowded reads its points, at most
``MARKER_LIMIT`` + 1, in one query.
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control, cache_page
from django.views.decorators.http import require_GET

from config.replica import reads_from_replica
from grids.places import map_start, parse_bbox

from .. import mapdata
from ..mapdata import PointCells, blurred, in_box
from ..models import OPEN_STATUSES, Issue, Status

RECENTLY_CLOSED_DAYS = 30
CELLS_SECONDS = 60
# Set once in the cache (shared by the hosts when the cache is): a cleared cache makes
# every process count its cells afresh.
CELLS_EPOCH_KEY = "public-map:cells-epoch"
CELLS_KEY = "public-map:cells"
STATUS_LABELS = dict(Status.choices)


def _open():
    return Q(status__in=OPEN_STATUSES)


def _recently_closed():
    since = timezone.now() - timedelta(days=RECENTLY_CLOSED_DAYS)
    return Q(status=Status.CLOSED, closed_at__gte=since)


def public_issues(condition=None):
    """Issues of public categories that are open, or closed in the last 30 days (or, given
    ``condition``, only those of the two it names)."""
    shown = condition if condition is not None else _open() | _recently_closed()
    return Issue.objects.filter(shown, category__is_public=True)


def public_parts(bbox=None) -> tuple:
    """The open public issues and the recently closed ones (in ``bbox``, if given), apart:
    each is counted from its own index alone."""
    parts = (public_issues(_open()), public_issues(_recently_closed()))
    return parts if bbox is None else tuple(in_box(part, bbox) for part in parts)


# This process's cell counts: {"epoch", "counted_at", "cells"}; see public_cells.
_kept: dict = {"epoch": None, "counted_at": 0.0, "cells": None}


def public_cells() -> PointCells:
    """The public points (open, and closed in the last 30 days) counted per cell, kept in
    this process until they are ``CELLS_SECONDS`` old: two grouped queries over the point
    indexes, about a fifth of a second for a city's 80,000 points, then nothing until the
    minute is up. With a shared cache the first process to count leaves the counts there
    for every other process and host, so the city's database counts once a minute however
    many app processes it has. A crowded view shows counts at most that old, as the views
    themselves are kept."""
    epoch = cache.get(CELLS_EPOCH_KEY)
    if epoch is None:
        cache.add(CELLS_EPOCH_KEY, secrets.token_hex(8), None)
        epoch = cache.get(CELLS_EPOCH_KEY)
    if _kept["epoch"] != epoch or time.time() - _kept["counted_at"] >= CELLS_SECONDS:
        counted_at, finest = _finest_counts(epoch)
        _kept.update(epoch=epoch, counted_at=counted_at, cells=PointCells(finest))
    return _kept["cells"]


def _finest_counts(epoch) -> tuple[float, dict]:
    """(when, the finest cells' counts): another process's, from a shared cache, while
    they are under a minute old; else counted now (and left there, if it is shared)."""
    key = f"{CELLS_KEY}:{epoch}"
    if settings.CACHE_IS_SHARED:
        found = cache.get(key)
        if found is not None and time.time() - found[0] < CELLS_SECONDS:
            return found
    counted = (time.time(), PointCells.counted(public_parts()))
    if settings.CACHE_IS_SHARED:
        cache.set(key, counted, CELLS_SECONDS)
    return counted


def public_map(request):
    return render(
        request,
        "issues/public_map.html",
        {"map_start": map_start(), "points_url": reverse("public_map_points")},
    )


@require_GET
@cache_control(public=True, max_age=60)
@cache_page(60)  # the same view for every visitor (a city's default view above all): once a minute
@reads_from_replica
def points(request):
    bbox = parse_bbox(request.GET.get("bbox"))
    if bbox is None:
        return JsonResponse({"error": "bbox=west,south,east,north"}, status=400)
    limit = mapdata.MARKER_LIMIT
    cells = public_cells()
    if cells.count(bbox) <= limit:
        # Few enough a minute ago: the points themselves, if no more came since.
        markers = _markers(bbox, limit + 1)
        if len(markers) <= limit:
            return JsonResponse({"markers": markers, "clusters": [], "total": len(markers)})
        # More came within the minute: this box's own points counted now, as few as the
        # kept counts held and the minute's filings added.
        cells = PointCells.of(public_parts(bbox))
    # The total shown stops one past the limit (the page writes "501+").
    return JsonResponse({"markers": [], "clusters": cells.clusters(bbox), "total": limit + 1})


def _markers(bbox, limit: int) -> list[dict]:
    """The box's public points one by one, newest first, at most ``limit``."""
    issues = in_box(public_issues(), bbox)
    rows = issues.order_by("-created_at").values_list(
        "category__name",
        "status",
        "created_at",
        "latitude",
        "longitude",
        "building__latitude",
        "building__longitude",
    )[:limit]
    markers = []
    for category, status, created_at, lat, lng, b_lat, b_lng in rows:
        shown_lat, shown_lng = blurred(lat, lng, b_lat, b_lng)
        markers.append(
            {
                "category": category,
                "status": status,
                "statusLabel": str(STATUS_LABELS[status]),
                "date": timezone.localdate(created_at).isoformat(),
                "lat": shown_lat,
                "lng": shown_lng,
            }
        )
    return markers


urlpatterns = [
    path("", public_map, name="public_map"),
    path("points.json", points, name="public_map_points"),
]
