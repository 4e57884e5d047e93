"""Nearby and similar, before filing: open issues of the same category within 150 m of the
pin (or in the same building) from the last 30 days, so a resident can support one (附议)
instead of filing it again. Only public fields leave here: category, status, date,
distance and the number of supporters."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from grids import geo

from . import permissions
from .models import OPEN_STATUSES, Issue, Support

NEARBY_M = 150
NEARBY_DAYS = 30
NEARBY_LIMIT = 10
PUBLIC_FIELDS = [
    "tracking_number",
    "status",
    "created_at",
    "latitude",
    "longitude",
    "building_id",
    "reporter_id",
    "support_count",
    "category__name",
]


def nearby_issues(*, user, category, latitude=None, longitude=None, building=None) -> list:
    """The issues, nearest first, each with ``distance_m`` (None when matched by building),
    ``mine``, ``supported`` (by this user) and ``can_support``. Three queries."""
    if latitude is None and building is None:
        return []
    near = Q()
    if building is not None:
        near |= Q(building=building)
    if latitude is not None:
        dlat, dlng = geo.degrees_around(latitude, NEARBY_M)
        near |= Q(
            latitude__range=(geo.as_decimal(latitude - dlat), geo.as_decimal(latitude + dlat)),
            longitude__range=(geo.as_decimal(longitude - dlng), geo.as_decimal(longitude + dlng)),
        )
    since = timezone.now() - timedelta(days=NEARBY_DAYS)
    candidates = (
        Issue.objects.filter(
            near, status__in=OPEN_STATUSES, category=category, created_at__gte=since
        )
        .select_related("category")
        .only(*PUBLIC_FIELDS)
        .order_by("-created_at")[:200]
    )
    found = []
    for issue in candidates:
        issue.distance_m = None
        if latitude is not None and issue.latitude is not None:
            issue.distance_m = round(
                geo.distance_m(latitude, longitude, issue.latitude, issue.longitude)
            )
        same_building = building is not None and issue.building_id == building.pk
        if same_building or (issue.distance_m is not None and issue.distance_m <= NEARBY_M):
            found.append(issue)
    found.sort(key=lambda i: (i.distance_m is None, i.distance_m or 0, -i.created_at.timestamp()))
    found = found[:NEARBY_LIMIT]
    ids = [i.pk for i in found]
    supported = set(
        Support.objects.filter(user=user, issue_id__in=ids).values_list("issue_id", flat=True)
    )
    allowed = set(
        permissions.supportable_issues(user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    for issue in found:
        issue.mine = issue.reporter_id == user.pk
        issue.supported = issue.pk in supported
        issue.can_support = issue.pk in allowed and not issue.supported
    return found
