"""Benchmark the staff queue page (DESIGN.md §8): N issues in one benchmark subdistrict,
then the queue page rendered in-process (middleware, session, template and all) for a grid
worker, a community and a subdistrict account, timed and with its queries counted.

Target: p95 under 50 ms and at most 8 queries with 100,000 issues on PostgreSQL.

Each page is measured beside a bare one-query Django view over the same table (the same
unit's open issues, one page of them by deadline, as a plain HTML table, through the same
middleware but with no session, user or template), in alternating rounds; the line ends
with the ratio of their throughputs (DESIGN.md §8: the signed-in page at least half of
bare). Then the same two are served by gunicorn (two workers, production settings, on a
free loopback port) and requested by a few concurrent clients in alternating slices: the
requests per second each serves, and their ratio (``--no-http`` skips this part).

Beside each queue, in the same rounds, the site's layout with nothing in it is requested by
the same signed-in account: what every signed-in page pays before its own work (the
session, the person and their posts, the navigation and its unread count). Its ratio to
the bare view is the most any signed-in page could reach, and the queue's ratio to it shows
what the page's own work costs.

With the benchmark city in the database (``make bench-city``), the accounts are the city's
first grid worker, community, subdistrict and department staff, over a year of a city's
issues. Without it, the issues live in a throwaway subdistrict (code ``BENCHQ``) and are
deleted afterwards unless ``--keep``. Because it writes and deletes that many rows, the
command refuses to run on a database whose name says neither "bench", "test" nor "city"
unless ``--yes`` is given.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids import city as territory_city
from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues import permissions
from issues.models import (
    OPEN_STATUSES,
    Category,
    Issue,
    Level,
    Severity,
    SlaPolicy,
    Source,
    Status,
)

from . import _bench

BENCH_URLS = "config.bench_urls"  # the product's URLs and the bare views
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
    # Whether the page is also served by gunicorn to concurrent clients (the map's
    # benchmark, built on this one, measures in-process only).
    under_gunicorn = True
    help = (
        "Time the staff queue page for a grid worker, a community and a subdistrict account "
        "(and a department's on the city) beside a bare one-query page, alternately (median, "
        "p95, req/s, queries, ratio), on the benchmark city if it is there, else on N issues "
        "of its own. Runs only on a database whose name contains 'bench', 'test' or 'city', "
        "or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="How many (100000).")
        parser.add_argument(
            "--repeat",
            type=int,
            default=50,
            help="Timed page loads per account, and as many of the bare page (50).",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=5,
            help="Alternating rounds the loads are split into (5).",
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
            help="Run even though the database name says neither 'bench', 'test' nor 'city'.",
        )
        _bench.add_city_arguments(parser)
        if self.under_gunicorn:
            parser.add_argument(
                "--no-http",
                action="store_true",
                help="Skip the part under gunicorn (e.g. where it cannot reach the database).",
            )
            parser.add_argument(
                "--clients",
                type=int,
                default=4,
                help="Concurrent clients under gunicorn (4: two per worker).",
            )
            parser.add_argument(
                "--http-seconds",
                type=float,
                default=3.0,
                help="Seconds of each slice under gunicorn, page and bare alternating (3).",
            )

    def handle(self, *args, **options):
        n, repeat = options["issues"], options["repeat"]
        if n < 0:
            raise CommandError("--issues must be 0 or more.")
        if repeat < 1 or options["rounds"] < 1 or options.get("clients", 1) < 1:
            raise CommandError("--repeat, --rounds and --clients must be at least 1.")
        if options.get("http_seconds", 1) <= 0:
            raise CommandError("--http-seconds must be more than 0.")
        name = _bench.check_database(options["yes"], example="grid_bench_queue")
        self.options = options
        self.city = _bench.use_city(options, self.stdout)
        url = reverse("staff_queue") + (f"?{options['query']}" if options["query"] else "")
        if self.city:
            accounts = territory_city.accounts()
            if accounts is None:
                raise CommandError("The benchmark city has no accounts; rebuild it (--reset).")
            measured = list(accounts.by_role())
            for label, user in measured:
                self._measure(label, user, url, repeat, explain=options["explain"])
            self._measure_other_pages(measured, repeat)
            self._measure_http(measured, url)
            return
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
            measured = [(label, users[username]) for label, username in ACCOUNTS]
            for label, user in measured:
                self._measure(label, user, url, repeat, explain=options["explain"])
            self._measure_http(measured, url)
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

    def _time(self, user, url, bare_url, repeat, *, floor=False):
        """The page as a browser request would run it (the real middleware, session and
        templates), beside a bare view (and, with ``floor``, beside the empty signed-in
        layout), in alternating rounds: their timings, the page's queries, its CPU median
        and its last response, and the layout's queries."""
        rounds = self.options["rounds"]
        per_round = max(1, -(-repeat // rounds))
        with _bench.in_process(urlconf=BENCH_URLS):
            client = Client()
            client.force_login(user)
            page, bare = _bench.getter(client, url), _bench.getter(Client(), bare_url)
            cpu = []

            def timed_page():
                started = time.process_time()
                page()
                cpu.append((time.process_time() - started) * 1000)

            runs = {"page": timed_page, "bare": bare}
            if floor:
                runs["floor"] = _bench.getter(client, self._floor_url())
            timings = _bench.alternate(runs, rounds=rounds, per_round=per_round)
            with CaptureQueriesContext(connection) as queries:
                response = page()
            floor_queries = _bench.count_queries(runs["floor"]) if floor else None
        return timings, queries, statistics.median(cpu), response, floor_queries

    @staticmethod
    def _floor_url() -> str:
        return reverse("bench_signed_in", urlconf=BENCH_URLS)

    @staticmethod
    def _floor_line(page: float, floor: float, bare: float, detail: str = "") -> str:
        """What the empty signed-in layout reaches against bare: the most any signed-in
        page could (it pays the same before its own work), and how near the page is."""
        return (
            f"  {'the layout alone, signed in':<43} {detail}| {floor / bare:.2f} of bare; "
            f"the page {page / floor:.2f} of it"
        )

    def _measure(self, label, user, url, repeat, explain=False) -> None:
        """The queue beside the bare view over the same unit."""
        timings, queries, cpu, response, floor_queries = self._time(
            user, url, self._bare_url(user), repeat, floor=True
        )
        total = re.search(
            r'id="tab-all">\s*[^<]*<span class="badge[^"]*">(\d+)</span>', response.text
        )
        shown = f"queue of {total.group(1) if total else '?':>6} open issues"
        self.stdout.write(
            _bench.ratio_line(
                f"{label:<18} {shown}",
                timings["page"],
                timings["bare"],
                queries=len(queries),
                width=45,
            )
            + f" (CPU median {cpu:.1f} ms)"
        )
        self.stdout.write(
            self._floor_line(
                timings["page"].per_second,
                timings["floor"].per_second,
                timings["bare"].per_second,
                f"{timings['floor'].describe()}, {floor_queries} queries ",
            )
        )
        if self.verbosity >= 2:
            for query in queries.captured_queries:
                self.stdout.write(f"  {query['time']} s  {query['sql'][:200]}")
        if explain and connection.vendor == "postgresql":
            self._explain(queries.captured_queries)

    def _measure_other_pages(self, accounts, repeat) -> None:
        """On the city, the other signed-in pages beside their bare views: each staff
        account's issue page (the first issue of its queue), and the resident who reported
        the most issues: "my issues" and the newest one's page."""
        self.stdout.write("\nother pages, in-process:")
        bare_issue = reverse("bench_bare_issue", urlconf=BENCH_URLS) + "?number="
        pages = []
        for label, user in accounts:
            first = (
                Issue.objects.filter(
                    permissions.acting_condition(permissions.scope_of(user)),
                    status__in=OPEN_STATUSES,
                )
                .order_by("due_at", "pk")
                .values_list("tracking_number", flat=True)
                .first()
            )
            if first is not None:
                url = reverse("staff_issue_detail", args=[first])
                pages.append((f"{label}, issue page", user, url, bare_issue + first))
        busiest = (
            Issue.objects.filter(
                reporter__username__startswith=territory_city.USER_PREFIX,
                reporter__posts__isnull=True,  # a resident, not staff on patrol
            )
            .values("reporter")
            .annotate(n=Count("pk"))
            .order_by("-n", "reporter")
            .first()
        )
        if busiest is not None:
            resident = User.objects.get(pk=busiest["reporter"])
            newest = (
                Issue.objects.filter(reporter=resident)
                .order_by("-created_at", "-pk")
                .values_list("tracking_number", flat=True)
                .first()
            )
            mine = reverse("bench_bare_queue", urlconf=BENCH_URLS)
            pages += [
                (
                    f"resident with {busiest['n']} issues, my issues",
                    resident,
                    reverse("my_issues"),
                    f"{mine}?field=reporter_id&ids={resident.pk}",
                ),
                (
                    "the same, newest issue's page",
                    resident,
                    reverse("my_issue_detail", args=[newest]),
                    bare_issue + newest,
                ),
            ]
        for label, user, url, bare_url in pages:
            timings, queries, cpu, _response, _ = self._time(user, url, bare_url, repeat)
            self.stdout.write(
                _bench.ratio_line(
                    label, timings["page"], timings["bare"], queries=len(queries), width=45
                )
                + f" (CPU median {cpu:.1f} ms)"
            )

    def _measure_http(self, accounts, url) -> None:
        """Each account's page and its bare page served by gunicorn, alternately: the
        requests per second of each with a few clients at once, and their ratio."""
        options = self.options
        # Another process sees only what is committed (not a test's transaction).
        if not self.under_gunicorn or options["no_http"] or connection.in_atomic_block:
            return
        clients, rounds = options["clients"], options["rounds"]
        self.stdout.write(
            f"\nunder gunicorn (2 workers, production settings), {clients} clients at once, "
            f"{rounds} alternating slices of {options['http_seconds']:g} s each:"
        )
        with _bench.gunicorn() as server:
            for label, user in accounts:
                cookie = {"Cookie": _bench.session_cookie(server, user)}
                found = _bench.http_alternate(
                    server,
                    {
                        "page": (url, cookie),
                        "bare": (self._bare_url(user), {}),
                        "floor": (self._floor_url(), cookie),
                    },
                    clients=clients,
                    seconds=options["http_seconds"],
                    rounds=rounds,
                )
                page, bare, floor = found["page"], found["bare"], found["floor"]
                ratio = page.per_second / bare.per_second if bare.per_second else 0.0
                self.stdout.write(
                    f"{label:<18} page {page.describe()} | bare {bare.describe()} | "
                    f"{ratio:.2f} of bare"
                )
                if floor.per_second and bare.per_second:
                    self.stdout.write(
                        self._floor_line(
                            page.per_second,
                            floor.per_second,
                            bare.per_second,
                            f"{floor.describe()} ",
                        )
                    )

    def _bare_url(self, user) -> str:
        field, ids = self._acting_unit(user)
        return f"{reverse('bench_bare_queue', urlconf=BENCH_URLS)}?field={field}&ids=" + ",".join(
            map(str, ids)
        )

    def _acting_unit(self, user) -> tuple[str, list[int]]:
        """The kind of unit this account acts on and the ids (one kind per account here)."""
        held = _bench.unit_ids(user)
        if len(held) != 1:
            raise CommandError(f"{user.username} should hold posts of one kind, not {held}")
        return next(iter(held.items()))

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
        return _bench.getter(client, url)()

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
