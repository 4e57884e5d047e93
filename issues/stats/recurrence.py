"""Recurrence alerts: a grid where one category keeps being filed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from ..models import Issue
from .filters import Filters
from .units import Unit

# --- recurrence alerts -------------------------------------------------------------------

# On the page: the latest few issues of each alert, and a bounded list (the CSV has all).
RECURRENCE_ISSUES_PER_GROUP = 5
RECURRENCE_MAX_ROWS = 60


@dataclass
class Recurrence:
    grid_id: int
    grid_name: str
    category_id: int
    category_name: str
    count: int
    issues: list[dict]


def recurrence_window(filters: Filters) -> tuple[datetime, datetime]:
    """The ``recurrence_days`` days up to the end of the period (it may reach before the
    period's start)."""
    return filters.end_at - timedelta(days=filters.recurrence_days), filters.end_at


def recurrences(
    unit: Unit,
    filters: Filters,
    *,
    per_group: int = RECURRENCE_ISSUES_PER_GROUP,
    max_rows: int = RECURRENCE_MAX_ROWS,
) -> list[Recurrence]:
    """Grids where one category was filed at least N times within the M days up to the end
    of the period, most frequent first, each with its latest ``per_group`` issues (at most
    ``max_rows`` issues in all). One query: window functions count each (grid, category)
    and number its issues."""
    since, until = recurrence_window(filters)
    partition = [F("grid_id"), F("category_id")]
    query = (
        Issue.objects.filter(
            unit.issues,
            filters.condition(dates=False),
            created_at__gte=since,
            created_at__lt=until,
        )
        .annotate(
            group_count=Window(Count("id"), partition_by=partition),
            position=Window(
                RowNumber(), partition_by=partition, order_by=[F("created_at").desc(), F("id")]
            ),
        )
        .filter(group_count__gte=filters.recurrence_count, position__lte=per_group)
        .values(
            "pk",
            "tracking_number",
            "title",
            "created_at",
            "grid_id",
            "grid__name",
            "category_id",
            "category__name",
            "group_count",
        )
        .order_by(
            "-group_count",
            "grid__name",
            "grid_id",
            "category__name",
            "category_id",
            "-created_at",
            "pk",
        )[:max_rows]
    )
    groups: dict[tuple, Recurrence] = {}
    for row in query:
        key = (row["grid_id"], row["category_id"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = Recurrence(
                grid_id=row["grid_id"],
                grid_name=row["grid__name"],
                category_id=row["category_id"],
                category_name=row["category__name"],
                count=row["group_count"],
                issues=[],
            )
        group.issues.append(
            {
                "pk": row["pk"],
                "tracking_number": row["tracking_number"],
                "title": row["title"],
                "created_at": row["created_at"],
            }
        )
    return list(groups.values())
