"""Benchmark the deadline sweep (DESIGN.md §8): N overdue issues, one sweep, timed and with
its queries counted, then a second sweep that must change nothing.

The issues live in a throwaway benchmark subdistrict (code ``BENCH``) with a few staff, so
the notifications the sweep's events cause are part of the measurement, as in production.
The sweep itself runs over the whole database, which is why the command refuses to run on
a database whose name does not say "bench" or "test" unless ``--yes`` is given.
"""

from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues import notifications
from issues.models import (
    Category,
    Issue,
    IssueEvent,
    Level,
    Notification,
    Severity,
    SlaPolicy,
    Source,
    Status,
)
from issues.sweep import BATCH_SIZE, run_sweep

BENCH_CODE = "BENCH"
BENCH_CATEGORY = "BENCH 压测类别"
COMMUNITIES = 4
GRIDS_PER_COMMUNITY = 5
RESIDENTS = 50
LEVEL_CHOICES = {
    "mixed": [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT],
    "grid": [Level.GRID],
    "community": [Level.COMMUNITY],
    "subdistrict": [Level.SUBDISTRICT],
}


def _changes(result) -> dict:
    """What a sweep did, pass by pass (the due-soon warnings only when there were any)."""
    changes = {
        "escalated": result.escalated,
        "supervised": result.supervised,
        "closed": result.closed,
    }
    if getattr(result, "warned", 0):
        changes["warned"] = result.warned
    return changes


class Command(BaseCommand):
    help = (
        "Create N overdue issues in a benchmark subdistrict, time one deadline sweep over "
        "them (and count its queries), check that a second sweep changes nothing, then "
        "delete the benchmark issues. Runs only on a database whose name contains 'bench' "
        "or 'test', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="How many (100000).")
        parser.add_argument(
            "--level",
            choices=sorted(LEVEL_CHOICES),
            default="mixed",
            help="Level of the overdue issues: a mix (default), or all at one level "
            "('grid' measures pure escalation).",
        )
        parser.add_argument(
            "--resolved-share",
            type=float,
            default=0.05,
            help="Share of the issues that are resolved and left unevaluated for longer "
            "than AUTO_CLOSE_DAYS, so the closing pass is measured too (0.05).",
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--seed", type=int, default=1154, help="Random seed.")
        parser.add_argument(
            "--keep", action="store_true", help="Leave the benchmark issues in the database."
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Run even though the database name contains neither 'bench' nor 'test'.",
        )

    def handle(self, *args, **options):
        n = options["issues"]
        if n < 1:
            raise CommandError("--issues must be at least 1.")
        if not 0 <= options["resolved_share"] <= 1:
            raise CommandError("--resolved-share must be between 0 and 1.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        name = str(connection.settings_dict["NAME"])
        if not options["yes"] and not re.search("bench|test", name, re.IGNORECASE):
            raise CommandError(
                f"The database {name!r} does not look like a benchmark or test database, and "
                "the sweep runs over every issue in it. Create one (createdb grid_bench; "
                "DATABASE_URL=postgres://…/grid_bench manage.py migrate) and point "
                "DATABASE_URL at it, or pass --yes if you really mean this database."
            )
        verbosity = options["verbosity"]

        bench, staff = self._territory()
        removed = self._cleanup(bench)
        if removed and verbosity:
            self.stdout.write(f"removed {removed} benchmark issues left by an earlier run")

        started = time.monotonic()
        created = self._create_issues(
            bench,
            staff,
            n,
            levels=LEVEL_CHOICES[options["level"]],
            resolved_share=options["resolved_share"],
            rng=random.Random(options["seed"]),
        )
        if connection.vendor == "postgresql":
            # As autovacuum would have by then: fresh statistics, and the dead rows of an
            # earlier run's cleanup gone, so runs one after another measure the same thing.
            # (VACUUM cannot run inside a transaction, as under the test suite: ANALYZE only.)
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for model in (Issue, IssueEvent):
                    table = connection.ops.quote_name(model._meta.db_table)
                    cursor.execute(f"{command} {table}")
        if verbosity:
            self.stdout.write(
                f"created {created} overdue issues on {connection.vendor} database {name!r} "
                f"in {time.monotonic() - started:.2f} s"
            )

        changed = 0
        try:
            first, first_time, first_queries = self._sweep(options["batch_size"])
            first_notify = self.notify_seconds
            second, second_time, second_queries = self._sweep(options["batch_size"])
            events = IssueEvent.objects.filter(issue__subdistrict=bench).count()
            notes = Notification.objects.filter(issue__subdistrict=bench).count()
            changed = sum(_changes(second).values())
            done = ", ".join(f"{what} {n}" for what, n in _changes(first).items())
            self.stdout.write(
                f"sweep over {created} overdue issues: {done} in {first_time:.2f} s "
                f"(state changes and events {first_time - first_notify:.2f} s, notifications "
                f"{first_notify:.2f} s), {len(first_queries)} queries ({events} events, "
                f"{notes} notifications written); second run: changed {changed} in "
                f"{second_time:.2f} s, {len(second_queries)} queries"
            )
            if verbosity >= 2:
                self._profile("first run", first_queries)
                self._profile("second run", second_queries)
        finally:
            if options["keep"]:
                self.stdout.write(f"kept the benchmark issues (subdistrict code {BENCH_CODE})")
            else:
                started = time.monotonic()
                self._cleanup(bench)
                if verbosity:
                    self.stdout.write(
                        f"deleted the benchmark issues in {time.monotonic() - started:.2f} s"
                    )
        if changed:
            raise CommandError(f"the second sweep changed {changed} issues; it must change none")

    # --- setup ----------------------------------------------------------------------

    def _territory(self):
        """The benchmark subdistrict, its units and staff (created once, then reused)."""
        with transaction.atomic():
            bench, _ = Subdistrict.objects.get_or_create(
                code=BENCH_CODE, defaults={"name": "压测街道"}
            )
            department, _ = Department.objects.get_or_create(subdistrict=bench, name="压测部门")
            Category.objects.get_or_create(
                name=BENCH_CATEGORY,
                defaults={"hint": "仅用于压测", "department": department, "is_active": False},
            )
            users = {}

            def person(username, unit=None, role=None, field=None, **extra):
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": "压测", **extra}
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                if unit is not None:
                    Post.objects.get_or_create(user=user, role=role, **{field: unit})
                users[username] = user
                return user

            staff = {"grids": [], "residents": []}
            for s in range(3):
                person(f"bench-sub-{s}", bench, Post.Role.SUBDISTRICT_STAFF, "subdistrict")
            person("bench-dept-0", department, Post.Role.DEPARTMENT_STAFF, "department")
            for c in range(COMMUNITIES):
                community, _ = Community.objects.get_or_create(
                    code=f"{BENCH_CODE}-C{c:02d}",
                    defaults={"subdistrict": bench, "name": f"压测社区{c}"},
                )
                for s in range(2):
                    person(f"bench-c{c:02d}-{s}", community, Post.Role.COMMUNITY_STAFF, "community")
                for g in range(GRIDS_PER_COMMUNITY):
                    grid, _ = Grid.objects.get_or_create(
                        code=f"{BENCH_CODE}-C{c:02d}-G{g:02d}",
                        defaults={"community": community, "name": f"压测网格{c}-{g}"},
                    )
                    worker = person(f"bench-c{c:02d}-g{g:02d}", grid, Post.Role.GRID_WORKER, "grid")
                    staff["grids"].append((grid, worker))
            for r in range(RESIDENTS):
                staff["residents"].append(person(f"bench-resident-{r:03d}"))
        return bench, staff

    def _create_issues(self, bench, staff, n, *, levels, resolved_share, rng) -> int:
        now = timezone.now()
        sla = SlaPolicy.table()
        category = Category.objects.get(name=BENCH_CATEGORY)
        severities = Severity.values
        stale = now - timedelta(days=settings.AUTO_CLOSE_DAYS + 1)
        rows = []
        for i in range(n):
            grid, worker = rng.choice(staff["grids"])
            severity = rng.choice(severities)
            resident = rng.random() < 0.5
            common = dict(
                tracking_number=f"{BENCH_CODE}{i:012d}",
                title=f"压测事件{i}",
                description="压测数据，运行 bench_sweep 后删除。",
                category=category,
                severity=severity,
                grid=grid,
                community_id=grid.community_id,
                subdistrict=bench,
            )
            if rng.random() < resolved_share:
                # Resolved, with a resident reporter who never evaluated it.
                level = rng.choice(levels)
                rows.append(
                    Issue(
                        **common,
                        source=Source.RESIDENT,
                        reporter=rng.choice(staff["residents"]),
                        level=level,
                        status=Status.RESOLVED,
                        assignee=worker if level == Level.GRID else None,
                        resolved_by=worker,
                        due_at=stale + timedelta(hours=1),
                        level_entered_at=stale - timedelta(hours=1),
                        created_at=stale - timedelta(hours=2),
                        accepted_at=stale - timedelta(hours=1),
                        resolved_at=stale,
                    )
                )
                continue
            level = rng.choice(levels)
            status = rng.choice([Status.SUBMITTED, Status.IN_PROGRESS])
            due_at = now - timedelta(minutes=rng.randint(1, 72 * 60))
            entered = due_at - sla[(severity, level)].rough
            rows.append(
                Issue(
                    **common,
                    source=Source.RESIDENT if resident else Source.PATROL,
                    reporter=rng.choice(staff["residents"]) if resident else worker,
                    level=level,
                    status=status,
                    assignee=worker if status == Status.IN_PROGRESS else None,
                    due_at=due_at,
                    level_entered_at=entered,
                    created_at=entered,
                    accepted_at=entered if status == Status.IN_PROGRESS else None,
                )
            )
        with transaction.atomic():
            Issue.objects.bulk_create(rows, batch_size=5000)
        return n

    # --- measuring ------------------------------------------------------------------

    def _sweep(self, batch_size):
        # Time the notification fan-out (run after each batch commits) on its own too: the
        # budget is for the state changes and their events; notifications come on top.
        spent = [0.0]
        original = notifications.notify

        def timed_notify(event_ids):
            started = time.monotonic()
            try:
                return original(event_ids)
            finally:
                spent[0] += time.monotonic() - started

        notifications.notify = timed_notify
        try:
            with CaptureQueriesContext(connection) as queries:
                started = time.monotonic()
                result = run_sweep(batch_size=batch_size)
                elapsed = time.monotonic() - started
        finally:
            notifications.notify = original
        self.notify_seconds = spent[0]
        return result, elapsed, queries.captured_queries

    def _profile(self, label, queries) -> None:
        """The query shapes that took longest, numbers and lists folded together."""
        shapes = defaultdict(lambda: [0, 0.0])
        for query in queries:
            shape = re.sub(r"\(\s*[^()]{200,}\)", "(…)", query["sql"])
            shape = re.sub(r"\b\d+\b", "N", shape)[:160]
            shapes[shape][0] += 1
            shapes[shape][1] += float(query["time"])
        self.stdout.write(f"{label}: slowest query shapes (count, total seconds)")
        for shape, (count, seconds) in sorted(shapes.items(), key=lambda kv: -kv[1][1])[:8]:
            self.stdout.write(f"  {count:5d} {seconds:8.3f}  {shape}")

    # --- cleanup --------------------------------------------------------------------

    def _cleanup(self, bench) -> int:
        """Delete the benchmark issues and everything hanging off them.

        Events are append-only for the application; deleting them here is fine because they
        are benchmark data in a benchmark subdistrict, never a real history. The rows that
        point at events and issues (notifications, photos, …) go first through the ORM, then
        events and issues with one raw DELETE each: Django's cascade would load every row
        into memory first. Should a new kind of row point at them and be missed, the foreign
        key stops the transaction and nothing is deleted.
        """
        issues = Issue.objects.filter(subdistrict=bench)
        count = issues.count()
        if not count:
            return 0
        events = IssueEvent.objects.filter(issue__grid__community__subdistrict=bench)
        with transaction.atomic():
            for model, path in ((IssueEvent, "issue__subdistrict"), (Issue, "subdistrict")):
                for relation in model._meta.related_objects:
                    if relation.related_model in (Issue, IssueEvent):
                        continue  # the events themselves, and duplicates (none here)
                    relation.related_model._base_manager.filter(
                        **{f"{relation.field.name}__{path}": bench}
                    ).delete()
            Issue.objects.filter(subdistrict=bench, duplicate_of__isnull=False).update(
                duplicate_of=None
            )
            events._raw_delete(events.db)
            issues._raw_delete(issues.db)
        return count
