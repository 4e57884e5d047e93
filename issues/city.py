"""A year of a city's issues (DESIGN.md §8), written with ``COPY`` beside the territory of
``grids.city``: ``manage.py build_city`` runs both. Each issue's fields and events come
from the story ``issues.city_stories`` tells for it; this module numbers them, writes them,
finds the city's issues again, and removes the city.
"""

from __future__ import annotations

import random
import time as clock_time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Max, Q

from grids import city as territory_city
from grids.city import USER_PREFIX, Territory, copy_rows, next_ids, sync_sequences
from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User

from . import rollups
from .city_stories import Teller, local_zone
from .models import Category, CityOutcome, Issue, IssueEvent, Notification, Status
from .tracking import check_digit

# --- categories -----------------------------------------------------------------------------


def ensure_categories() -> list:
    """The demo's categories (found by name, created if missing), with the matters their
    issues are about: [(id, name, default severity, [(title, description)])]."""
    from grids.management.commands.seed_demo import CATEGORIES, CATEGORY_CODES, PAST_MATTERS

    found = []
    for order, (name, (hint, severity, _department)) in enumerate(CATEGORIES.items()):
        category, _created = Category.objects.get_or_create(
            name=name,
            defaults={
                "code": CATEGORY_CODES.get(name, f"city-{order}"),
                "hint": hint,
                "default_severity": severity,
                "sort_order": (order + 1) * 10,
                "is_public": name not in ("邻里纠纷", "治安问题"),
            },
        )
        matters = [(title, text) for c, title, text in PAST_MATTERS if c == name]
        found.append(
            (
                category.pk,
                name,
                category.default_severity,
                matters or [(f"{name}问题", f"反映{name}方面的问题，请尽快处理。")],
            )
        )
    return found


# --- writing ---------------------------------------------------------------------------------


def tracking_numbers(rng, moments: list[float]) -> Iterator[str]:
    """Numbers of the workflow's shape (filing day, seven random digits, check digit),
    distinct within each day, for moments in order."""
    zone = local_zone()
    day, taken = None, set()
    for moment in moments:
        local = datetime.fromtimestamp(moment, zone).strftime("%Y%m%d")
        if local != day:
            day, taken = local, set()
        while True:
            random_part = rng.randrange(10**7)
            if random_part not in taken:
                taken.add(random_part)
                break
        body = f"{local}{random_part:07d}"
        yield body + check_digit(body)


@dataclass
class Loaded:
    issues: int = 0
    events: int = 0
    statuses: dict = field(default_factory=dict)
    levels: dict = field(default_factory=dict)
    open: int = 0


def build_issues(
    territory: Territory,
    n: int,
    *,
    now: datetime,
    days: int,
    rng: random.Random,
    chunk: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> Loaded:
    """Write ``n`` issues filed over the last ``days`` days, and their events, in the
    caller's transaction: ``COPY`` statements of ``chunk`` issues, then their events."""
    teller = Teller(territory, ensure_categories(), now=now, days=days, rng=rng)
    ids = next_ids(Issue, IssueEvent)
    next_event = [ids[IssueEvent]]

    def event_id() -> int:
        value = next_event[0]
        next_event[0] += 1
        return value

    moments = list(teller.filing_times(n))
    numbers = tracking_numbers(rng, moments)
    loaded = Loaded()
    issue_id = ids[Issue]
    for start in range(0, n, chunk):
        issues, events = [], []
        for moment in moments[start : start + chunk]:
            story = teller.tell(issue_id, moment, next(numbers), event_id)
            issue_id += 1
            issues.append(story.values)
            events.extend(story.events)
            status, level = story.values["status"], story.values["level"]
            loaded.statuses[status] = loaded.statuses.get(status, 0) + 1
            loaded.levels[level] = loaded.levels.get(level, 0) + 1
        loaded.issues += copy_rows(Issue, issues, chunk=len(issues) or 1)
        loaded.events += copy_rows(IssueEvent, events, chunk=len(events) or 1)
        if progress is not None:
            progress(loaded.issues)
    sync_sequences(Issue, IssueEvent)
    loaded.open = sum(
        count
        for status, count in loaded.statuses.items()
        if status not in (Status.CLOSED, Status.REJECTED)
    )
    return loaded


def as_of():
    """A moment the city as built stands at: its last filing. The city was built as the
    sweep leaves it at the build's moment, which is later, so a sweep run with this
    ``now`` changes nothing (until people act on the city). None without a city."""
    return issues().aggregate(last=Max("created_at"))["last"]


def issues():
    return Issue.objects.filter(subdistrict__in=territory_city.subdistricts())


# --- removing it -----------------------------------------------------------------------------


def delete_city() -> dict:
    """Delete the city: its issues with everything hanging off them, its rollup rows, its
    people and its territory. Categories stay (the demo and other data share them).

    Issues and events go with one ``DELETE`` each (the ORM's cascade would load every row
    first); the rows that point at them go first, found through the models' relations, so
    a new kind of row is not missed (were one missed, its foreign key would stop the
    transaction and nothing would be deleted). The people and the territory go through
    the ORM, which knows what else points at them.

    When the city's are the only issues and nothing else points at issues or events any
    more, the two tables are emptied with ``TRUNCATE`` instead: deleting a million issues
    and five million events row by row costs a check of every foreign key pointing at
    each row at commit (minutes); truncating costs nothing. The issues go in a transaction
    of their own, before the people and the territory: with many other issues left, the
    deletion of each building still reads them all (``Issue.building`` has no index), so a
    dedicated database is the quick way."""
    started = clock_time.monotonic()
    city_ids = list(territory_city.subdistricts().values_list("pk", flat=True))
    counts = {}
    with transaction.atomic():
        # Digests name a unit of the city rather than an issue.
        Notification.objects.filter(
            Q(subdistrict_id__in=city_ids)
            | Q(community__subdistrict_id__in=city_ids)
            | Q(grid__community__subdistrict_id__in=city_ids)
            | Q(department__subdistrict_id__in=city_ids)
        ).delete()
        for model, path in (
            (IssueEvent, "issue__subdistrict_id__in"),
            (Issue, "subdistrict_id__in"),
        ):
            for relation in model._meta.related_objects:
                if relation.related_model in (Issue, IssueEvent):
                    continue
                relation.related_model._base_manager.filter(
                    **{f"{relation.field.name}__{path}": city_ids}
                ).delete()
        city_issues = Issue.objects.filter(subdistrict_id__in=city_ids)
        events = IssueEvent.objects.filter(issue__subdistrict_id__in=city_ids)
        if _only_city_issues_left(city_ids):
            counts["events"], counts["issues"] = events.count(), city_issues.count()
            tables = [connection.ops.quote_name(m._meta.db_table) for m in (Issue, IssueEvent)]
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            city_issues.filter(duplicate_of__isnull=False).update(duplicate_of=None)
            counts["events"] = events._raw_delete(events.db)
            counts["issues"] = city_issues._raw_delete(city_issues.db)
        for model in rollups.TABLES:
            if model is not CityOutcome:  # the city's, not a subdistrict's
                rows = model._base_manager.filter(subdistrict_id__in=city_ids)
                rows._raw_delete(connection.alias)
    rollups.rewrite_city()
    if not connection.in_atomic_block:
        # Deleting a building checks that no issue row names it, and ``building_id`` has no
        # index: each check reads the whole table, dead rows included. Clear those first.
        with connection.cursor() as cursor:
            for model in (Issue, IssueEvent):
                cursor.execute(f"VACUUM {connection.ops.quote_name(model._meta.db_table)}")
    with transaction.atomic():
        people = User.objects.filter(username__startswith=USER_PREFIX)
        counts["people"] = people.count()
        Post.objects.filter(user__in=people).delete()
        people.delete()
        grids = Grid.objects.filter(community__subdistrict_id__in=city_ids)
        counts["buildings"] = Building.objects.filter(grid__in=grids).delete()[0]
        counts["grids"] = grids.delete()[0]
        Community.objects.filter(subdistrict_id__in=city_ids).delete()
        Department.objects.filter(subdistrict_id__in=city_ids).delete()
        counts["subdistricts"] = Subdistrict.objects.filter(pk__in=city_ids).delete()[0]
    counts["seconds"] = clock_time.monotonic() - started
    return counts


def _only_city_issues_left(city_ids) -> bool:
    """Whether ``TRUNCATE issues, events CASCADE`` would delete the city's issues and
    nothing else: no other issue, and every table the cascade reaches (whatever points at
    issues or events, and so on) already empty."""
    if Issue.objects.exclude(subdistrict_id__in=city_ids).exists():
        return False
    tables = [Issue._meta.db_table, IssueEvent._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE reaching(oid) AS ("
            " SELECT conrelid FROM pg_constraint WHERE contype = 'f'"
            " AND confrelid = ANY(%s::regclass[])"
            " UNION SELECT c.conrelid FROM pg_constraint c JOIN reaching r"
            " ON c.confrelid = r.oid WHERE c.contype = 'f')"
            " SELECT DISTINCT oid::regclass::text FROM reaching",
            [tables],
        )
        reached = [name for (name,) in cursor.fetchall() if name.strip('"') not in tables]
        for table in reached:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
            if cursor.fetchone()[0]:
                return False
    return True
