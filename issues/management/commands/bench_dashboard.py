"""Benchmark the governance dashboard (DESIGN.md §8): N issues in one subdistrict, then the
dashboard rendered in-process (django.test.Client) for a subdistrict account, a community
account and a grid worker, timed and with its queries counted.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grid_bench_dash \\
        python manage.py bench_dashboard --issues 1000000

The issues live in a benchmark subdistrict (code ``BENCHDASH``) with several communities,
grids, departments and staff. On PostgreSQL they are loaded with ``COPY`` (about a minute
for a million rows), elsewhere with ``bulk_create`` in batches of 10,000.

Filing dates are spread over ``--days`` days (default 3650), in filing order as in
production. The dashboard's work grows with the issues filed in the period it shows, not
with the table: a Jinan subdistrict files about 6,000 issues a month (DESIGN.md §8: ~6 M a
year over ~80 subdistricts), and ten years of a million issues put about 8,200 in the
default 30-day period. The "365 days" line shows the same page over about 100,000 issues
(as if the subdistrict filed a million a year); ``--days 365`` makes the 30-day page do
that.

The command refuses a database whose name does not say "bench" or "test" unless ``--yes``
is given. With ``--keep`` the issues stay, and a later run with the same ``--issues`` (and
``--days``) reuses them.
"""

from __future__ import annotations

import random
import re
import statistics
import time
import warnings
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse
from django.utils import timezone

from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues.models import (
    Category,
    Issue,
    Level,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    Status,
)

BENCH_CODE = "BENCHDASH"
COMMUNITIES = 8
GRIDS_PER_COMMUNITY = 6
DEPARTMENTS = 3
CATEGORIES = 8
BATCH = 10_000
LEVELS = [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT]


def _weighted(rng, choices):
    """One of [(value, weight), …]."""
    x = rng.random() * sum(weight for _value, weight in choices)
    for value, weight in choices:
        x -= weight
        if x < 0:
            return value
    return choices[-1][0]


class Command(BaseCommand):
    help = (
        "Create N issues in a benchmark subdistrict and time the dashboard for a subdistrict "
        "account, a community account and a grid worker (median render time and query "
        "count). Runs only on a database whose name contains 'bench' or 'test', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=1_000_000, help="How many (1000000).")
        parser.add_argument(
            "--days",
            type=int,
            default=3650,
            help="Spread filing dates over this many days (3650).",
        )
        parser.add_argument("--repeat", type=int, default=7, help="Timed renders per page (7).")
        parser.add_argument("--seed", type=int, default=1154, help="Random seed.")
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Print EXPLAIN ANALYZE of the subdistrict page's slowest queries (PostgreSQL).",
        )
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
        if options["days"] < 1 or options["repeat"] < 1:
            raise CommandError("--days and --repeat must be at least 1.")
        name = str(connection.settings_dict["NAME"])
        if not options["yes"] and not re.search("bench|test", name, re.IGNORECASE):
            raise CommandError(
                f"The database {name!r} does not look like a benchmark or test database, and "
                "this command writes a million rows into it. Create one (createdb "
                "grid_bench_dash; DATABASE_URL=postgres://…/grid_bench_dash manage.py "
                "migrate) and point DATABASE_URL at it, or pass --yes if you really mean "
                "this database."
            )
        bench, people = self._territory()
        existing = Issue.objects.filter(subdistrict=bench).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        spread = (timezone.now() - existing["oldest"]).days if existing["oldest"] else None
        if existing["count"] != n or spread is None or abs(spread - options["days"]) > 2:
            existing = existing["count"]
            if existing:
                self._cleanup(bench)
            started = time.monotonic()
            self._create(bench, people, n, days=options["days"], rng=random.Random(options["seed"]))
            self.stdout.write(
                f"created {n} issues on {connection.vendor} database {name!r} in "
                f"{time.monotonic() - started:.1f} s"
            )
        else:
            self.stdout.write(f"reusing the {n} benchmark issues already there")
        in_period = Issue.objects.filter(
            subdistrict=bench,
            created_at__gte=timezone.now() - timedelta(days=30),
        ).count()
        self.stdout.write(f"about {in_period} of them were filed in the last 30 days")
        try:
            self._measure(bench, people, options)
        finally:
            if options["keep"]:
                self.stdout.write(f"kept the benchmark issues (subdistrict code {BENCH_CODE})")
            else:
                started = time.monotonic()
                self._cleanup(bench)
                self.stdout.write(
                    f"deleted the benchmark issues in {time.monotonic() - started:.1f} s"
                )

    # --- setup ----------------------------------------------------------------------

    def _territory(self):
        """The benchmark subdistrict, its units and staff (created once, then reused)."""
        with transaction.atomic():
            bench, _ = Subdistrict.objects.get_or_create(
                code=BENCH_CODE, defaults={"name": "压测街道（看板）"}
            )

            def person(username, unit, role, field):
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": "压测"}
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                Post.objects.get_or_create(user=user, role=role, **{field: unit})
                return user

            departments = [
                Department.objects.get_or_create(subdistrict=bench, name=f"压测部门{d}")[0]
                for d in range(DEPARTMENTS)
            ]
            categories = [
                Category.objects.get_or_create(
                    name=f"{BENCH_CODE} 类别{c}",
                    defaults={"hint": "仅用于压测", "is_active": False},
                )[0]
                for c in range(CATEGORIES)
            ]
            people = {
                "subdistrict": person(
                    "benchdash-sub", bench, Post.Role.SUBDISTRICT_STAFF, "subdistrict"
                ),
                "grids": [],
            }
            for c in range(COMMUNITIES):
                community, _ = Community.objects.get_or_create(
                    code=f"{BENCH_CODE}-C{c:02d}",
                    defaults={"subdistrict": bench, "name": f"压测社区{c}"},
                )
                staff = person(
                    f"benchdash-c{c:02d}", community, Post.Role.COMMUNITY_STAFF, "community"
                )
                people.setdefault("community", (community, staff))
                for g in range(GRIDS_PER_COMMUNITY):
                    grid, _ = Grid.objects.get_or_create(
                        code=f"{BENCH_CODE}-C{c:02d}-G{g:02d}",
                        defaults={"community": community, "name": f"压测网格{c}-{g}"},
                    )
                    worker = person(
                        f"benchdash-c{c:02d}-g{g:02d}", grid, Post.Role.GRID_WORKER, "grid"
                    )
                    people["grids"].append((grid, worker))
            people["departments"] = departments
            people["categories"] = categories
        return bench, people

    def _rows(self, bench, people, n, *, days, rng, sla):
        """Issue field values (by attribute name), one dict per issue, with the outcomes a
        subdistrict sees: most closed at the grid, some escalated, dispatched, late,
        reopened, suspended or still open. Runs no query (it feeds a COPY in progress)."""
        now = timezone.now()
        grids = [(grid.pk, grid.community_id, worker.pk) for grid, worker in people["grids"]]
        departments = [d.pk for d in people["departments"]]
        categories = [c.pk for c in people["categories"]]
        hour = timedelta(hours=1)
        for i in range(n):
            grid_id, community_id, worker_id = rng.choice(grids)
            severity = _weighted(
                rng, [(Severity.MINOR, 70), (Severity.URGENT, 15), (Severity.DIFFICULT, 15)]
            )
            source = _weighted(
                rng,
                [
                    (Source.PATROL, 30),
                    (Source.RESIDENT, 50),
                    (Source.HOTLINE, 12),
                    (Source.VOLUNTEER, 5),
                    (Source.API, 3),
                ],
            )
            # Filed in order, as in production (ids grow with the filing time).
            created = now - timedelta(seconds=(1 - (i + rng.random()) / n) * days * 86400)
            level_index = _weighted(rng, [(0, 80), (1, 14), (2, 6)])
            level = LEVELS[level_index]
            young = now - created < timedelta(days=3)
            status = _weighted(
                rng,
                [
                    (Status.SUBMITTED, 30),
                    (Status.IN_PROGRESS, 40),
                    (Status.RESOLVED, 20),
                    (Status.SUSPENDED, 5),
                    (Status.REJECTED, 5),
                ]
                if young
                else [
                    (Status.CLOSED, 85),
                    (Status.REJECTED, 6),
                    (Status.RESOLVED, 2),
                    (Status.IN_PROGRESS, 4),
                    (Status.SUBMITTED, 1),
                    (Status.SUSPENDED, 2),
                ],
            )
            entered = created + sum(
                (sla[(severity, LEVELS[k])].rough * rng.random() for k in range(level_index)),
                timedelta(),
            )
            entered = min(entered, now)
            due = entered + sla[(severity, level)].rough
            accepted = None
            if status != Status.SUBMITTED and not (
                status == Status.REJECTED and rng.random() < 0.7
            ):
                accepted = min(now, created + hour * rng.expovariate(1 / 6))
            resolved = None
            if status in (Status.RESOLVED, Status.CLOSED):
                resolved = min(now, (accepted or created) + hour * rng.expovariate(1 / 30))
            suspended_seconds = rng.randint(3600, 86400) if rng.random() < 0.05 else 0
            department = (
                rng.choice(departments)
                if level == Level.SUBDISTRICT and rng.random() < 0.6
                else None
            )
            at_grid = level == Level.GRID
            satisfaction = ""
            if status == Status.CLOSED and source in (Source.RESIDENT, Source.VOLUNTEER):
                satisfaction = _weighted(
                    rng,
                    [
                        (Satisfaction.SATISFIED, 60),
                        (Satisfaction.BASICALLY_SATISFIED, 25),
                        ("", 15),
                    ],
                )
            yield {
                "tracking_number": f"BD{i:012d}",
                "title": f"压测事件{i}",
                "description": "压测数据（bench_dashboard）。",
                "category_id": rng.choice(categories),
                "severity": severity,
                "source": source,
                "reporter_id": None,
                "caller_name": "",
                "caller_phone": "",
                "grid_id": grid_id,
                "community_id": community_id,
                "subdistrict_id": bench.pk,
                "building_id": None,
                "address": "",
                "latitude": None,
                "longitude": None,
                "level": level,
                "status": status,
                "assignee_id": worker_id
                if at_grid and status in (Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED)
                else None,
                "department_id": department,
                "due_at": due,
                "response_due_at": created + sla[(severity, Level.GRID)].rough,
                "level_entered_at": entered,
                "is_supervised": level == Level.SUBDISTRICT and due < now and rng.random() < 0.5,
                "duplicate_of_id": None,
                "satisfaction": satisfaction,
                "reopen_count": 1 if resolved and rng.random() < 0.04 else 0,
                "escalation_count": level_index,
                "suspended_at": now - hour if status == Status.SUSPENDED else None,
                "suspended_seconds": suspended_seconds,
                "resolved_by_id": worker_id if resolved and at_grid else None,
                "created_at": created,
                "accepted_at": accepted,
                "dispatched_at": entered if department else None,
                "resolved_at": resolved,
                "closed_at": resolved
                if status == Status.CLOSED
                else (created + hour if status == Status.REJECTED else None),
                "updated_at": now,
                "warned_due_at": None,
                "submission_token": None,
            }

    def _create(self, bench, people, n, *, days, rng) -> None:
        rows = self._rows(bench, people, n, days=days, rng=rng, sla=SlaPolicy.table())
        fields = [f for f in Issue._meta.concrete_fields if not f.primary_key]
        defaults = {f.attname: f.get_default() for f in fields if f.has_default() or f.null}
        written = 0
        if connection.vendor == "postgresql":
            columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
            with transaction.atomic(), connection.cursor() as cursor:
                sql = f"COPY {Issue._meta.db_table} ({columns}) FROM STDIN"
                with cursor.cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(
                            [row.get(f.attname, defaults.get(f.attname)) for f in fields]
                        )
                        written += 1
                        if written % 100_000 == 0:
                            self.stdout.write(f"  {written} rows…")
            with connection.cursor() as cursor:
                cursor.execute(f"VACUUM ANALYZE {Issue._meta.db_table}")
            return
        batch = []
        with transaction.atomic():
            for row in rows:
                batch.append(Issue(**{**defaults, **row}))
                if len(batch) == BATCH:
                    Issue.objects.bulk_create(batch)
                    written += len(batch)
                    batch = []
                    if written % 100_000 == 0:
                        self.stdout.write(f"  {written} rows…")
            Issue.objects.bulk_create(batch)

    def _cleanup(self, bench) -> None:
        """Delete the benchmark issues (set-based; nothing hangs off them: the command files
        no events, photos or notifications)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {Issue._meta.db_table} WHERE subdistrict_id = %s", [bench.pk]
            )

    # --- measuring ------------------------------------------------------------------

    def _measure(self, bench, people, options) -> None:
        repeat = options["repeat"]
        community, community_staff = people["community"]
        grid, worker = people["grids"][0]
        today = timezone.localdate()

        def unit(kind, pk):
            return reverse("dashboard_unit", args=[kind, pk])

        subdistrict_url = unit("subdistrict", bench.pk)
        year = f"?start={(today - timedelta(days=364)).isoformat()}&end={today.isoformat()}"
        pages = [
            ("subdistrict", people["subdistrict"], subdistrict_url),
            ("subdistrict, 365 days", people["subdistrict"], subdistrict_url + year),
            ("community", community_staff, unit("community", community.pk)),
            ("grid", worker, unit("grid", grid.pk)),
            ("grid worker's own page", worker, unit("worker", worker.pk)),
            ("public page", None, reverse("dashboard_public") + f"?subdistrict={bench.pk}"),
        ]  # fmt: skip
        # Render as production does, but with the plain static storage: the manifest one
        # needs collectstatic first and answers the same names.
        plain_static = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with (
            override_settings(
                STORAGES=plain_static, ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"]
            ),
            warnings.catch_warnings(),
        ):
            # WhiteNoise warns that collectstatic has not run; the pages do not need it.
            warnings.filterwarnings("ignore", message="No directory at")
            for label, user, url in pages:
                client = Client()
                if user is not None:
                    client.force_login(user)
                response = client.get(url)  # warm up: templates, connection
                if response.status_code != 200:
                    raise CommandError(f"{label}: {url} answered {response.status_code}")
                times, cpu = [], []
                for _n in range(repeat):
                    started, started_cpu = time.perf_counter(), time.process_time()
                    client.get(url)
                    times.append((time.perf_counter() - started) * 1000)
                    cpu.append((time.process_time() - started_cpu) * 1000)
                sql = []
                for _n in range(repeat):
                    with CaptureQueriesContext(connection) as queries:
                        client.get(url)
                    sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
                # Wall time is what a user waits; on a shared machine it includes waiting
                # for a CPU, so the SQL time and this process's CPU time are shown too.
                self.stdout.write(
                    f"{label:24s} median {statistics.median(times):6.1f} ms "
                    f"(min {min(times):.1f}, max {max(times):.1f}); "
                    f"SQL {statistics.median(sql):.0f} ms, Python CPU "
                    f"{statistics.median(cpu):.0f} ms; {len(queries)} queries  {url}"
                )
                if options["explain"] and label == "subdistrict":
                    self._explain(queries.captured_queries)

    def _explain(self, queries) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("EXPLAIN ANALYZE needs PostgreSQL")
            return
        for query in sorted(queries, key=lambda q: -float(q["time"]))[:4]:
            self.stdout.write(f"\n--- {float(query['time']) * 1000:.1f} ms: {query['sql'][:200]}…")
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                for (line,) in cursor.fetchall():
                    self.stdout.write(line)
