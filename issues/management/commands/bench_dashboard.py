"""Benchmark the governance dashboard (DESIGN.md §8): N issues in one subdistrict, then the
dashboard rendered in-process (django.test.Client) for a subdistrict account, a community
account and a grid worker, timed and with its queries counted. The pages read the daily
rollups (``issues.rollups``, rebuilt and timed after loading the issues); beside them, the
same figures, rankings and trend are read from the rollups and counted live over the
issues, alternately, with the ratio; then the public figures recomputed with a cold cache,
and what keeping the rollups costs one action and one sweep batch.

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

Each page is measured beside a bare one-query Django view over the same table: one
aggregate pass over the same unit's issues filed in the same period (counts, on-time and
satisfied counts, mean durations), in alternating rounds, with the ratio of their
throughputs.

With the benchmark city in the database (``make bench-city``) it measures the city's first
subdistrict, community, grid and grid worker over the city's year of issues (about 12,500
a subdistrict). Otherwise the command refuses a database whose name says neither "bench",
"test" nor "city" unless ``--yes`` is given. With ``--keep`` the issues stay, and a later
run with the same ``--issues`` (and ``--days``) reuses them.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import timedelta

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Count, Min
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone

from grids import city as territory_city
from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues import public_figures, rollups, stats
from issues.models import (
    Category,
    CityOutcome,
    DailyTotal,
    Issue,
    Level,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    Status,
)
from issues.rollups import day_start

from . import _bench

BENCH_CODE = "BENCHDASH"
# The superuser who looks at the whole city (no password: it cannot sign in).
ROOT = "bench-dashboard-root"
COMMUNITIES = 8
GRIDS_PER_COMMUNITY = 6
DEPARTMENTS = 3
CATEGORIES = 8
BATCH = 10_000
LEVELS = [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT]


def bare_dashboard(request):
    """The baseline: one aggregate pass over a unit's issues filed in the period (the unit
    as an issue field and ids, the period as local days), as a plain HTML list."""
    field = request.GET["field"]
    if field not in ("grid_id", "community_id", "subdistrict_id"):
        raise ValueError(field)
    ids = [int(pk) for pk in request.GET["ids"].split(",")] if request.GET["ids"] else []
    if not ids:  # the whole city: every subdistrict
        ids = list(Subdistrict.objects.values_list("pk", flat=True))
    start = day_start(timezone.datetime.fromisoformat(request.GET["start"]).date())
    end = day_start(timezone.datetime.fromisoformat(request.GET["end"]).date() + timedelta(1))
    # A filter of the page's, the same on the issues.
    chosen, chosen_params = "", []
    for name in ("category_id", "severity"):
        if request.GET.get(name):
            chosen += f" AND {name} = %s"
            chosen_params.append(request.GET[name])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'closed'), "
            "COUNT(*) FILTER (WHERE status = 'closed' AND level = 'grid'), "
            "COUNT(*) FILTER (WHERE accepted_at <= response_due_at), "
            "COUNT(*) FILTER (WHERE resolved_at <= due_at), "
            "COUNT(*) FILTER (WHERE satisfaction IN ('satisfied', 'basically_satisfied')), "
            "COUNT(*) FILTER (WHERE source = 'patrol'), "
            "AVG(EXTRACT(EPOCH FROM accepted_at - created_at)), "
            "AVG(EXTRACT(EPOCH FROM resolved_at - created_at)) "
            f"FROM {Issue._meta.db_table} WHERE {field} = ANY(%s) "
            f"AND created_at >= %s AND created_at < %s{chosen}",
            [ids, start, end, *chosen_params],
        )
        figures = cursor.fetchone()
    items = "".join(f"<li>{value}</li>" for value in figures)
    return HttpResponse(f"<!doctype html><title>figures</title><ul>{items}</ul>")


urlpatterns = [
    path("__bench__/dashboard/", bare_dashboard),
    path("", include("config.urls")),
]


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
        "Time the dashboard for a subdistrict, a community, a grid and a grid worker, and the "
        "public page, each beside a bare one-pass aggregate, alternately (median, p95, req/s, "
        "queries, ratio), on the benchmark city if it is there, else on N issues of its own. "
        "Runs only on a database whose name contains 'bench', 'test' or 'city', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=1_000_000, help="How many (1000000).")
        parser.add_argument(
            "--days",
            type=int,
            default=3650,
            help="Spread filing dates over this many days (3650).",
        )
        parser.add_argument(
            "--repeat",
            type=int,
            default=10,
            help="Timed renders per page, and as many of the bare view (10).",
        )
        parser.add_argument("--rounds", type=int, default=5, help="Alternating rounds (5).")
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
            "--rebuild",
            action="store_true",
            help="Rebuild the daily rollups even when the issues are reused.",
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Run even though the database name says neither 'bench', 'test' nor 'city'.",
        )
        _bench.add_city_arguments(parser)

    def handle(self, *args, **options):
        n = options["issues"]
        if n < 1:
            raise CommandError("--issues must be at least 1.")
        if options["days"] < 1 or options["repeat"] < 1 or options["rounds"] < 1:
            raise CommandError("--days, --repeat and --rounds must be at least 1.")
        name = _bench.check_database(options["yes"], example="grid_bench_dash")
        if _bench.use_city(options, self.stdout):
            self._measure(*self._city_people(), options)
            return
        bench, people = self._territory()
        existing = Issue.objects.filter(subdistrict=bench).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        spread = (timezone.now() - existing["oldest"]).days if existing["oldest"] else None
        created_now = False
        if existing["count"] != n or spread is None or abs(spread - options["days"]) > 2:
            created_now = True
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
        self._rollups(bench, rebuild=options["rebuild"] or created_now)
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

    def _city_people(self):
        """The city's first subdistrict, and its people as ``_territory`` gives them."""
        accounts = territory_city.accounts()
        if accounts is None:
            raise CommandError("The benchmark city has no accounts; rebuild it (--reset).")
        bench = territory_city.subdistricts().order_by("code").first()
        community = Community.objects.filter(
            posts__user=accounts.community_staff, posts__role=Post.Role.COMMUNITY_STAFF
        ).first()
        grid = Grid.objects.filter(
            posts__user=accounts.grid_worker, posts__role=Post.Role.GRID_WORKER
        ).order_by("code")[0]
        people = {
            "subdistrict": accounts.subdistrict_staff,
            "community": (community, accounts.community_staff),
            "grids": [(grid, accounts.grid_worker)],
        }
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
            age = now - created
            status = _weighted(
                rng,
                [
                    (Status.SUBMITTED, 30),
                    (Status.IN_PROGRESS, 40),
                    (Status.RESOLVED, 20),
                    (Status.SUSPENDED, 5),
                    (Status.REJECTED, 5),
                ]
                if age < timedelta(days=3)
                else [
                    (Status.CLOSED, 85),
                    (Status.REJECTED, 6),
                    (Status.RESOLVED, 2),
                    (Status.IN_PROGRESS, 4),
                    (Status.SUBMITTED, 1),
                    (Status.SUSPENDED, 2),
                ]
                if age < timedelta(days=60)
                # Older issues are settled but for a few stragglers: about 5,000 open at
                # once in a subdistrict filing 100,000 a year (DESIGN.md §8: ~50,000 open
                # in a city filing a million).
                else [
                    (Status.CLOSED, 93.5),
                    (Status.REJECTED, 6),
                    (Status.RESOLVED, 0.2),
                    (Status.IN_PROGRESS, 0.2),
                    (Status.SUBMITTED, 0.05),
                    (Status.SUSPENDED, 0.05),
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
                            [
                                # COPY takes JSON as text (the answers to a category's
                                # questions).
                                json.dumps(value) if isinstance(value, dict) else value
                                for value in (
                                    row.get(f.attname, defaults.get(f.attname)) for f in fields
                                )
                            ]
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
        """Delete the benchmark issues and their rollups (set-based; nothing else hangs off
        them: the command files no events, photos or notifications)."""
        with transaction.atomic(), connection.cursor() as cursor:
            tables = [Issue._meta.db_table, *(model._meta.db_table for model in rollups.TABLES)]
            for table in tables:
                if table != CityOutcome._meta.db_table:  # the city's, not a subdistrict's
                    cursor.execute(f"DELETE FROM {table} WHERE subdistrict_id = %s", [bench.pk])
        rollups.rewrite_city()

    def _rollups(self, bench, *, rebuild: bool) -> None:
        """The daily rollups of the benchmark issues: rebuilt (timed) after a fresh load, or
        when asked; otherwise reused."""
        rows = DailyTotal.objects.filter(subdistrict=bench).count()
        if rows and not rebuild:
            self.stdout.write(f"reusing the {rows} daily rollup rows already there")
            return
        first = Issue.objects.filter(subdistrict=bench).aggregate(first=Min("created_at"))["first"]
        if first is None:
            return
        started = time.monotonic()
        rows = rollups.rebuild(since=rollups.local_day(first), until=timezone.localdate())
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in rollups.TABLES:
                    cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        issues = Issue.objects.filter(subdistrict=bench).count()
        self.stdout.write(
            f"rebuilt the daily rollups in {time.monotonic() - started:.1f} s, for {issues} "
            "issues: "
            + ", ".join(
                f"{model.__name__} {model.objects.filter(subdistrict=bench).count()} rows"
                for model in rollups.TABLES
            )
        )

    # --- measuring ------------------------------------------------------------------

    def _measure(self, bench, people, options) -> None:
        community, community_staff = people["community"]
        grid, worker = people["grids"][0]
        worker_grids = list(
            Grid.objects.filter(posts__user=worker, posts__role=Post.Role.GRID_WORKER)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        today = timezone.localdate()
        month, year = today - timedelta(days=29), today - timedelta(days=364)

        def unit(kind, pk):
            return reverse("dashboard_unit", args=[kind, pk])

        def bare(field, ids, start):
            joined = ",".join(map(str, ids))
            return f"/__bench__/dashboard/?field={field}&ids={joined}&start={start}&end={today}"

        subdistrict_url = unit("subdistrict", bench.pk)
        year_query = f"?start={year.isoformat()}&end={today.isoformat()}"
        city_url = reverse("dashboard_city")
        # The category most issues are filed in.
        category = (
            Issue.objects.values("category_id")
            .annotate(n=Count("pk"))
            .order_by("-n")
            .values_list("category_id", flat=True)
            .first()
        )
        # The whole city is a superuser's page.
        root = User.objects.filter(username=ROOT).first() or User.objects.create_superuser(
            ROOT, password=None
        )
        # (label, account, page, bare view over the same unit and period)
        pages = [
            ("subdistrict", people["subdistrict"], subdistrict_url,
             bare("subdistrict_id", [bench.pk], month)),
            ("subdistrict, 365 days", people["subdistrict"], subdistrict_url + year_query,
             bare("subdistrict_id", [bench.pk], year)),
            ("community", community_staff, unit("community", community.pk),
             bare("community_id", [community.pk], month)),
            ("grid", worker, unit("grid", grid.pk), bare("grid_id", [grid.pk], month)),
            ("grid worker's own page", worker, unit("worker", worker.pk),
             bare("grid_id", worker_grids, month)),
            ("public page", None, reverse("dashboard_public") + f"?subdistrict={bench.pk}",
             bare("subdistrict_id", [bench.pk], month)),
            ("whole city", root, city_url, bare("subdistrict_id", [], month)),
            ("whole city, 365 days", root, city_url + year_query,
             bare("subdistrict_id", [], year)),
            # Filters: the subdistricts' slices, one or several at once.
            ("whole city, 365 days, one severity", root,
             city_url + year_query + f"&severity={Severity.MINOR}",
             bare("subdistrict_id", [], year) + f"&severity={Severity.MINOR}"),
            ("whole city, 365 days, one category", root,
             city_url + year_query + f"&category={category}",
             bare("subdistrict_id", [], year) + f"&category_id={category}"),
            ("whole city, 365 days, one category and severity", root,
             city_url + year_query + f"&category={category}&severity={Severity.MINOR}",
             bare("subdistrict_id", [], year)
             + f"&category_id={category}&severity={Severity.MINOR}"),
        ]  # fmt: skip
        rounds = options["rounds"]
        per_round = max(1, -(-options["repeat"] // rounds))
        with _bench.in_process(urlconf=__name__):
            for label, user, url, bare_url in pages:
                client = Client()
                if user is not None:
                    client.force_login(user)
                page = _bench.getter(client, url)
                cpu = []

                def timed_page(page=page, cpu=cpu):
                    started = time.process_time()
                    page()
                    cpu.append((time.process_time() - started) * 1000)

                timings = _bench.alternate(
                    {"page": timed_page, "bare": _bench.getter(Client(), bare_url)},
                    rounds=rounds,
                    per_round=per_round,
                    warm=1,
                )
                with CaptureQueriesContext(connection) as queries:
                    page()
                sql = sum(float(q["time"]) for q in queries.captured_queries) * 1000
                # Wall time is what a user waits; on a shared machine it includes waiting
                # for a CPU, so the SQL time and this process's CPU time are shown too.
                self.stdout.write(
                    _bench.ratio_line(label, timings["page"], timings["bare"], queries=len(queries))
                    + f" (SQL {sql:.0f} ms, CPU median {statistics.median(cpu):.0f} ms)  {url}"
                )
                if options["explain"] and label == "subdistrict":
                    self._explain(queries.captured_queries)
        # Beside the pages: the figures read from the rollups and counted live (the
        # oracle), the public figures recomputed, and what keeping the rollups costs.
        self._compare(bench, people, options)
        self._public(bench, options["repeat"])
        self._refresh_cost(bench, options["repeat"])

    def _compare(self, bench, people, options) -> None:
        """The dashboard's figures (the unit, its rankings, its trend) read from the daily
        rollups and counted live over the issues (the oracle), alternately."""
        community, _staff = people["community"]
        grid, _worker = people["grids"][0]
        department = Department.objects.filter(subdistrict=bench).order_by("pk").first()
        today = timezone.localdate()
        admin = User(is_superuser=True, is_active=True)
        cases = [
            ("subdistrict, 30 days", "subdistrict", bench.pk, 30),
            ("subdistrict, 365 days", "subdistrict", bench.pk, 365),
            ("community, 365 days", "community", community.pk, 365),
            ("grid, 365 days", "grid", grid.pk, 365),
        ]
        if department is not None:
            cases.append(("department, 365 days", "department", department.pk, 365))
        # (Over a year the city's live figures take some twenty seconds a run.)
        cases.append(("whole city, 30 days", stats.CITY, 0, 30))
        cases.append(("whole city, 30 days, minor", stats.CITY, 0, 30, Severity.MINOR))
        rounds = options["rounds"]
        per_round = max(1, -(-options["repeat"] // rounds))
        self.stdout.write("\nfigures, rankings and trend: daily rollups | live over the issues")
        for label, kind, pk, days, *severity in cases:
            filters = stats.Filters(
                start=today - timedelta(days=days - 1), end=today, severity="".join(severity)
            )

            def run(rollup, kind=kind, pk=pk, filters=filters):
                unit = stats.load_unit(admin, kind, pk, filters, rollup=rollup)
                stats.rankings(unit, filters)
                stats.trend(unit, filters)
                return unit

            timings = _bench.alternate(
                {"rollups": lambda run=run: run(True), "live": lambda run=run: run(False)},
                rounds=rounds,
                per_round=per_round,
                warm=1,
            )
            with CaptureQueriesContext(connection) as queries:
                filed = run(True).figures.filed
            rolled, live = timings["rollups"], timings["live"]
            self.stdout.write(
                f"{label:27s} rollups {rolled.describe()}, {len(queries)} queries | live "
                f"{live.describe()} | {rolled.per_second / live.per_second:.1f}x; "
                f"{filed} issues filed"
            )

    def _public(self, bench, repeat) -> None:
        """The public figures recomputed (a cold cache): from the rollups, and for the few
        that depend on "now" the open issues; never a count over all the issues."""
        self.stdout.write("\npublic figures, recomputed (cold cache)")
        today = timezone.localdate()
        filters = stats.Filters(start=today - timedelta(days=29), end=today)
        for label, compute in (
            ("home page counts", public_figures.home),
            ("public dashboard, 30 days", lambda: public_figures.subdistrict(bench.pk, filters)),
        ):
            times = []
            for _n in range(repeat):
                cache.clear()
                with CaptureQueriesContext(connection) as queries:
                    started = time.perf_counter()
                    compute()
                    times.append((time.perf_counter() - started) * 1000)
            over_issues = [
                q for q in queries.captured_queries if f'"{Issue._meta.db_table}"' in q["sql"]
            ]
            self.stdout.write(
                f"{label:26s} median {statistics.median(times):6.1f} ms; {len(queries)} "
                f"queries, {len(over_issues)} of them reading open issues"
            )
        cache.clear()

    def _refresh_cost(self, bench, repeat) -> None:
        """What keeping the rollups adds to a transaction: one issue's key (an action),
        and the keys of a sweep batch (rolled back)."""
        latest = (
            Issue.objects.filter(subdistrict=bench)
            .order_by("-created_at")
            .values_list("created_at", "grid_id")[:5000]
        )
        keys = [(rollups.local_day(created), grid) for created, grid in latest]
        self.stdout.write("\nkeeping the rollups, inside a transaction (rolled back)")
        for label, chosen in (("one action", keys[:1]), ("a sweep batch", keys)):
            times = []
            for _n in range(repeat):
                with transaction.atomic():
                    started = time.perf_counter()
                    rollups.refresh(chosen)
                    times.append((time.perf_counter() - started) * 1000)
                    transaction.set_rollback(True)
            self.stdout.write(
                f"{label:14s} {len(set(chosen)):5d} keys: median {statistics.median(times):7.1f} ms"
            )

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
