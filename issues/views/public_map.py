"""The public map of reports (like FixMyStreet's): for categories an administrator marks
public, open and recently closed issues with their category, status and date, at a point
blurred to the building or to a ~50 m square. Never text, photos or names.

Anyone may look; each request runs a bounded count and one bounded query (or the cell
counts), so the cost does not grow with the number of issues.
"""

from __future__ import annotations

from datetime import timedelta

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
from ..mapdata import MARKER_LIMIT, blurred, clusters_at_centres, in_box, too_many
from ..models import OPEN_STATUSES, Issue, Status

RECENTLY_CLOSED_DAYS = 30
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


def public_parts(bbox) -> tuple:
    """The box's open public issues and its recently closed ones, apart: each is read from
    its own index (the open points; the closing time, then the point)."""
    return tuple(in_box(public_issues(shown), bbox) for shown in (_open(), _recently_closed()))


def crowded(bbox) -> tuple[int, bool]:
    """How many points the box holds (capped past the limit), and whether they are too
    many to show one by one. The open ones are counted first, up to the limit, read from
    their own index; the recently closed only while the open leave room, in one count
    read from theirs. (Counted together with a limit, the planner chose to walk the table
    from its oldest rows, betting on meeting enough points early: in a table filed in
    order they are among the newest.)"""
    open_issues, recently_closed = public_parts(bbox)
    total, many = too_many(open_issues)
    if not many:
        total += recently_closed.order_by().count()
    limit = mapdata.MARKER_LIMIT
    return min(total, limit + 1), total > limit


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
    total, many = crowded(bbox)
    if many:
        found = clusters_at_centres(public_parts(bbox), bbox)
        return JsonResponse({"markers": [], "clusters": found, "total": total})
    issues = in_box(public_issues(), bbox)
    rows = issues.order_by("-created_at").values_list(
        "category__name",
        "status",
        "created_at",
        "latitude",
        "longitude",
        "building__latitude",
        "building__longitude",
    )[:MARKER_LIMIT]
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
    return JsonResponse({"markers": markers, "clusters": [], "total": total})


urlpatterns = [
    path("", public_map, name="public_map"),
    path("points.json", points, name="public_map_points"),
]
