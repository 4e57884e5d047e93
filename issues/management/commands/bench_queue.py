"""Benchmark the staff queue page (DESIGN.md §8): N issues in one benchmark subdistrict,
then the queue page rendered in-process (middleware, session, template and all) for a grid
worker, a community and a subdistrict account, timed and with its queries counted.

Target: p95 under 50 ms and at most 8 queries with 100,000 issues on PostgreSQL.

The issues live in a throwaway subdistrict (code ``BENCHQ``) and are deleted afterwards
unless ``--keep``. Because it writes and deletes that many rows, the command refuses to run
on a database whose name does not say "bench" or "test" unless ``--yes`` is given.
"""

from __future__ import annotations

import math
import random
import re
import statistics
import time
import warnings
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues.models import Category, Issue, Level, Severity, SlaPolicy, Source, Status

BENCH_CODE = "BENCHQ"
BENCH_CATEGORY = "BENCHQ 队列压测类别"
COMMUNITIES = 4
GRIDS_PER_COMMUNITY = 5
# Share of issues in each status: most are settled, a good part is open.
STATUS_WEIGHTS = {
    Status.SUBMITTED: 20,
    Status.IN_PROGRESS: 25,
    Status.SUSPENDED: 5,
    Status.RESOLVED: 10,
    Status.CLOSED: 35,
    Status.REJECTED: 5,
}
LEVEL_WEIGHTS = {Level.GRID: 55, Level.COMMUNITY: 27, Level.SUBDISTRICT: 18}
TITLES = ["路灯不亮", "垃圾堆放", "噪音扰民", "井盖松动"]
ACCOUNTS = [
    ("grid worker", "bench-q-grid"),
    ("community staff", "bench-q-community"),
    ("subdistrict staff", "bench-q-subdistrict"),
]


class Command(BaseCommand):
    help = (
        "Create N issues in a benchmark subdistrict and time the staff queue page for a grid "
        "worker, a community and a subdistrict account (median, p95, query count). Runs "
        "only on a database whose name contains 'bench' or 'test', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="How many (100000).")
        parser.add_argument(
            "--repeat", type=int, default=50, help="Timed page loads per account (50)."
        )
        parser.add_argument(
            "--query",
            default="",
            help="Query string for the page, e.g. 'overdue=1' or 'q=漏水' (default: none).",
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="Also print EXPLAIN ANALYZE of the page's queries on issues (PostgreSQL).",
        )
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
        n, repeat = options["issues"], options["repeat"]
        if n < 0:
            raise CommandError("--issues must be 0 or more.")
        if repeat < 1:
            raise CommandError("--repeat must be at least 1.")
        name = str(connection.settings_dict["NAME"])
        if not options["yes"] and not re.search("bench|test", name, re.IGNORECASE):
            raise CommandError(
                f"The database {name!r} does not look like a benchmark or test database, and "
                "this command writes and deletes many rows. Create one (createdb "
                "grid_bench_queue; DATABASE_URL=postgres://…/grid_bench_queue manage.py "
                "migrate) and point DATABASE_URL at it, or pass --yes if you really mean it."
            )
        bench, grids, users = self._territory()
        removed = self._cleanup(bench)
        if removed and options["verbosity"]:
            self.stdout.write(f"removed {removed} benchmark issues left by an earlier --keep")
        try:
            started = time.monotonic()
            self._create_issues(bench, grids, users, n, random.Random(options["seed"]))
            if connection.vendor == "postgresql":
                # Steady state, as autovacuum leaves a table: statistics and visibility map.
                # (VACUUM cannot run inside a transaction, e.g. under the test suite.)
                vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                with connection.cursor() as cursor:
                    cursor.execute(f"{vacuum} {Issue._meta.db_table}")
            self.stdout.write(
                f"created {n} issues in one subdistrict on {connection.vendor} database "
                f"{name!r} in {time.monotonic() - started:.1f} s"
            )
            url = reverse("staff_queue") + (f"?{options['query']}" if options["query"] else "")
            for label, username in ACCOUNTS:
                self._measure(label, users[username], url, repeat, explain=options["explain"])
        finally:
            if options["keep"]:
                self.stdout.write(f"kept the benchmark issues (subdistrict code {BENCH_CODE})")
            else:
                self._cleanup(bench)

    # --- setup ----------------------------------------------------------------------

    def _territory(self):
        """The benchmark subdistrict, its units and the three accounts (made once)."""
        with transaction.atomic():
            bench, _ = Subdistrict.objects.get_or_create(
                code=BENCH_CODE, defaults={"name": "队列压测街道"}
            )
            department, _ = Department.objects.get_or_create(subdistrict=bench, name="压测部门")
            Category.objects.get_or_create(
                name=BENCH_CATEGORY,
                defaults={"hint": "仅用于压测", "department": department, "is_active": False},
            )
            grids = []
            for c in range(COMMUNITIES):
                community, _ = Community.objects.get_or_create(
                    code=f"{BENCH_CODE}-C{c:02d}",
                    defaults={"subdistrict": bench, "name": f"队列压测社区{c}"},
                )
                for g in range(GRIDS_PER_COMMUNITY):
                    grid, _ = Grid.objects.get_or_create(
                        code=f"{BENCH_CODE}-C{c:02d}-G{g:02d}",
                        defaults={"community": community, "name": f"压测网格{c}-{g}"},
                    )
                    grids.append(grid)
            first = grids[0]
            units = {
                "bench-q-grid": (Post.Role.GRID_WORKER, "grid", first),
                "bench-q-community": (Post.Role.COMMUNITY_STAFF, "community", first.community),
                "bench-q-subdistrict": (Post.Role.SUBDISTRICT_STAFF, "subdistrict", bench),
                "bench-q-department": (Post.Role.DEPARTMENT_STAFF, "department", department),
            }
            users = {}
            for username, (role, field, unit) in units.items():
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": "压测"}
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                Post.objects.get_or_create(user=user, role=role, **{field: unit})
                users[username] = user
            residents = []
            for r in range(20):
                user, _ = User.objects.get_or_create(
                    username=f"bench-q-resident-{r:02d}", defaults={"first_name": "居民"}
                )
                residents.append(user)
            users["residents"] = residents
            users["department"] = department
        return bench, grids, users

    def _create_issues(self, bench, grids, users, n, rng) -> None:
        now = timezone.now()
        sla = SlaPolicy.table()
        category = Category.objects.get(name=BENCH_CATEGORY)
        statuses, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        levels, level_weights = zip(*LEVEL_WEIGHTS.items(), strict=True)
        worker = users["bench-q-grid"]
        rows = []
        for i in range(n):
            grid = rng.choice(grids)
            severity = rng.choice(Severity.values)
            status = rng.choices(statuses, status_weights)[0]
            level = rng.choices(levels, level_weights)[0]
            dispatched = level == Level.SUBDISTRICT and rng.random() < 0.4
            entered = now - timedelta(minutes=rng.randint(10, 30 * 24 * 60))
            due_at = entered + sla[(severity, level)].rough
            handled = status != Status.SUBMITTED
            resident = rng.random() < 0.7
            rows.append(
                Issue(
                    tracking_number=f"{BENCH_CODE}{i:012d}",
                    title=f"压测事件{i} {rng.choice(TITLES)}",
                    description="队列压测数据，运行 bench_queue 后删除。",
                    category=category,
                    severity=severity,
                    source=Source.RESIDENT if resident else Source.PATROL,
                    reporter=rng.choice(users["residents"]) if resident else None,
                    grid=grid,
                    community_id=grid.community_id,
                    subdistrict=bench,
                    level=level,
                    status=status,
                    department=users["department"] if dispatched else None,
                    assignee=worker if handled and level == Level.GRID else None,
                    due_at=due_at,
                    level_entered_at=entered,
                    created_at=entered - timedelta(hours=1),
                    accepted_at=entered if handled else None,
                    suspended_at=now - timedelta(hours=2) if status == Status.SUSPENDED else None,
                    resolved_at=now - timedelta(hours=1)
                    if status in (Status.RESOLVED, Status.CLOSED)
                    else None,
                    closed_at=now if status in (Status.CLOSED, Status.REJECTED) else None,
                    is_supervised=level == Level.SUBDISTRICT and due_at < now,
                )
            )
        with transaction.atomic():
            Issue.objects.bulk_create(rows, batch_size=5000)

    # --- measuring ------------------------------------------------------------------

    def _measure(self, label, user, url, repeat, explain=False) -> None:
        # In-process, as a browser request would run: the real middleware, session and
        # templates. The test client's host and plain static file names are allowed here.
        with override_settings(
            ALLOWED_HOSTS=["testserver"],
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            },
        ):
            client = Client()
            client.force_login(user)
            with warnings.catch_warnings():
                # WhiteNoise notes the absent STATIC_ROOT (no collectstatic here); harmless.
                warnings.filterwarnings("ignore", message="No directory at")
                for _ in range(3):  # warm up: templates, connection, caches
                    self._get(client, url)
            times, cpu = [], []
            for _ in range(repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = self._get(client, url)
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            with CaptureQueriesContext(connection) as queries:
                response = self._get(client, url)
        times.sort()
        p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
        total = re.search(
            r'id="tab-all">\s*[^<]*<span class="badge[^"]*">(\d+)</span>', response.text
        )
        self.stdout.write(
            f"{label:<18} queue of {total.group(1) if total else '?':>6} open issues: "
            f"median {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms, "
            f"{len(queries)} queries ({repeat} loads; "
            f"this process's CPU median {statistics.median(cpu):.1f} ms)"
        )
        if self.verbosity >= 2:
            for query in queries.captured_queries:
                self.stdout.write(f"  {query['time']} s  {query['sql'][:200]}")
        if explain and connection.vendor == "postgresql":
            self._explain(queries.captured_queries)

    def _explain(self, queries) -> None:
        """The plan of each query on issues, shortened to the lines that matter."""
        table = f'FROM "{Issue._meta.db_table}"'
        for query in queries:
            if table not in query["sql"]:
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = [row[0] for row in cursor.fetchall()]
            kind = "counts" if "COUNT(" in query["sql"] else "rows"
            keep = [plan[0]] + [
                line
                for line in plan[1:]
                if re.search(r"Scan on issues|Scan using issue|Heap Fetches|Execution Time", line)
            ]
            self.stdout.write(f"  {kind}:")
            for line in keep:
                self.stdout.write(f"    {line.strip()}")

    def _get(self, client, url):
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
        return response

    def execute(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        return super().execute(*args, **options)

    # --- cleanup --------------------------------------------------------------------

    def _cleanup(self, bench) -> int:
        """Delete the benchmark issues (and anything hanging off them)."""
        issues = Issue.objects.filter(subdistrict=bench)
        count = issues.count()
        if count:
            with transaction.atomic():
                issues.delete()
        return count
