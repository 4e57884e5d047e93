"""The figures anyone may see, computed at most once per ``settings.PUBLIC_FIGURES_SECONDS``
(default 300: five minutes) and kept in Django's cache, so an anonymous page view costs no
count or aggregate over the issues, whatever their number.

- ``home()``: the open and closed counts of the home page (one query over the daily
  rollups when computed: never a count over the issues);
- ``subdistrict(pk, filters)``: the public dashboard's figures of one subdistrict over one
  period (``stats.load_unit`` from the daily rollups, without the staff-only parts: one
  query when computed, over the period's rollup rows and, for the few figures that
  depend on "now", the subdistrict's open issues).

Only numbers are cached (the aggregate row, without names), never rendered text, so one
entry serves every language. The key holds everything that changes the result: the
subdistrict and the period's first and last day (the last is today, so the key changes at
midnight), and the category, severity and source filters (which the public page leaves
empty). The key has no user: the public figures are the same for everyone.

Each entry carries the moment it was computed (``Cached.at``, shown on the pages as
"Figures as of HH:MM") and is fresh for the lifetime. A stale entry is kept in the cache
for one lifetime more: the first request to find it stale takes a short lock
(``cache.add``, atomic in every backend) and recomputes, while requests arriving meanwhile
are served the stale entry, so an expiry costs one recomputation per cache, not one per
request (with a per-process cache, one per process). Only a cold cache (first start,
cleared, or nobody asked for two lifetimes) lets concurrent requests compute together.
The lock expires by itself after ``LOCK_SECONDS`` should its holder fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Sum
from django.utils import timezone

from . import stats
from .models import SubdistrictMonth

KEY_PREFIX = "public-figures:v2"
LOCK_SECONDS = 60
# The unit row's own columns: text, left out of the cached numbers.
_ROW_TEXT = {"pk", "name"}


@dataclass(frozen=True)
class Cached:
    """Numbers and when they were computed (aware datetime)."""

    values: dict | None
    at: datetime


def lifetime() -> int:
    return max(0, int(getattr(settings, "PUBLIC_FIGURES_SECONDS", 300)))


def _cached(key: str, compute) -> Cached:
    """The entry under ``key``, recomputed by ``compute()`` (a dict of numbers, or None)
    once it is older than the lifetime."""
    seconds = lifetime()
    now = timezone.now()
    entry = cache.get(key)
    if entry is not None and now < entry.at + timedelta(seconds=seconds):
        return entry
    lock = f"{key}:lock"
    if entry is not None and not cache.add(lock, 1, LOCK_SECONDS):
        return entry  # someone else is recomputing: the stale figures meanwhile
    try:
        fresh = Cached(values=compute(), at=timezone.now())
        if seconds:
            cache.set(key, fresh, 2 * seconds)
    finally:
        if entry is not None:
            cache.delete(lock)
    return fresh


def home() -> Cached:
    """{"open": …, "closed": …}: every issue open now, and every issue closed, added up
    from the daily rollups."""

    def compute():
        # Every month's total (the current month's so far): a row per subdistrict and month.
        found = SubdistrictMonth.objects.filter(SubdistrictMonth.WHOLE).aggregate(
            open=Sum("open"),
            closed=Sum(F("minor_closed") + F("urgent_closed") + F("difficult_closed")),
        )
        return {key: value or 0 for key, value in found.items()}

    return _cached(f"{KEY_PREFIX}:home", compute)


def subdistrict(pk: int, filters: stats.Filters) -> Cached:
    """The public dashboard's figures (``stats.Figures`` raw counts) of the subdistrict
    ``pk`` over ``filters``; ``values`` is None when there is no such subdistrict."""

    def compute():
        unit = stats.load_unit(None, "subdistrict", pk, filters, access=False, rollup=True)
        if unit is None:
            return None
        return {k: v for k, v in unit.figures.raw.items() if k not in _ROW_TEXT}

    return _cached(_key("subdistrict", pk, filters), compute)


def participation(pk: int, filters: stats.Filters) -> Cached:
    """党建引领, 志愿服务: the subdistrict's counts of party members' and volunteers' part
    (``participation.stats``: numbers only, no names) over ``filters``."""
    from participation import stats as participation_stats

    return _cached(
        _key("participation", pk, filters),
        lambda: participation_stats.figures("subdistrict", pk, filters),
    )


def _key(what: str, pk: int, filters: stats.Filters) -> str:
    """Every filter that changes the figures (the public page sets only the period)."""
    return ":".join(
        str(part)
        for part in (
            KEY_PREFIX,
            what,
            pk,
            f"{filters.start:%Y%m%d}",
            f"{filters.end:%Y%m%d}",
            filters.category_id or "",
            filters.severity,
            filters.source,
        )
    )
