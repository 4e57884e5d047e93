"""Benchmark the Open311 request list (GET /open311/v2/requests.json): the default page
(the last 90 days, at most 1,000 rows, newest first) timed in-process beside a bare
one-query Django view that reads the same 1,000 rows and returns them as JSON, in
alternating rounds, with the ratio of their throughputs.

Target: p95 under 50 ms for a 1,000-row page with 1 M issues on PostgreSQL.

With the benchmark city in the database (``make bench-city``) it measures on the city's
year of issues. Otherwise it makes N issues over two years in a benchmark subdistrict
(code ``BENCHO``), a third with a public note, deleted afterwards unless ``--keep``; the
command refuses a database whose name says neither "bench", "test" nor "city" unless
``--yes``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone

from grids.models import Community, Grid, Subdistrict
from issues.models import Category, Issue, IssueEvent, Level, Severity, Source, Status

from . import _bench

BENCH_CODE = "BENCHO"
STATUSES = list(Status.values)


def bare(request):
    """The baseline: one query for the page's rows, serialised with json.dumps."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tracking_number, status, description, created_at, updated_at, due_at "
            f"FROM {Issue._meta.db_table} WHERE created_at >= %s "
            f"ORDER BY created_at DESC LIMIT 1000",
            [timezone.now() - timedelta(days=90)],
        )
        rows = [
            [n, s, d, c.isoformat(), u.isoformat(), due.isoformat()]
            for n, s, d, c, u, due in cursor.fetchall()
        ]
    return HttpResponse(json.dumps(rows, ensure_ascii=False), content_type="application/json")


urlpatterns = [
    path("bare.json", bare),
    path("", include("config.urls")),
]


class Command(BaseCommand):
    help = (
        "Time the Open311 request list's default page beside a bare one-query view, "
        "alternately (median, p95, req/s, queries, ratio), on the benchmark city if it is "
        "there, else on N issues of its own (default 100000). Runs only on a database whose "
        "name contains 'bench', 'test' or 'city', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000)
        parser.add_argument("--repeat", type=int, default=50, help="Timed loads of each page (50).")
        parser.add_argument("--rounds", type=int, default=5, help="Alternating rounds (5).")
        parser.add_argument("--seed", type=int, default=311)
        parser.add_argument("--keep", action="store_true")
        parser.add_argument("--yes", action="store_true")
        _bench.add_city_arguments(parser)

    def handle(self, *args, issues, repeat, rounds, seed, keep, yes, **options):
        if issues < 0 or repeat < 1 or rounds < 1:
            raise CommandError("--issues must be 0 or more, --repeat and --rounds at least 1.")
        name = _bench.check_database(yes, example="grid_bench_open311")
        if _bench.use_city(options, self.stdout):
            self._measure(repeat, rounds)
            return
        bench, grids, category = self._territory()
        self._cleanup(bench)
        try:
            started = time.monotonic()
            self._create(bench, grids, category, issues, random.Random(seed))
            if connection.vendor == "postgresql":
                vacuum = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
                with connection.cursor() as cursor:
                    for model in (Issue, IssueEvent):
                        cursor.execute(f"{vacuum} {model._meta.db_table}")
            self.stdout.write(
                f"created {issues} issues on {connection.vendor} database {name!r} in "
                f"{time.monotonic() - started:.1f} s"
            )
            self._measure(repeat, rounds)
        finally:
            if keep:
                self.stdout.write(f"kept the benchmark issues (subdistrict code {BENCH_CODE})")
            else:
                self._cleanup(bench)

    def _territory(self):
        with transaction.atomic():
            bench, _ = Subdistrict.objects.get_or_create(
                code=BENCH_CODE, defaults={"name": "接口压测街道"}
            )
            community, _ = Community.objects.get_or_create(
                code=f"{BENCH_CODE}-C", defaults={"subdistrict": bench, "name": "接口压测社区"}
            )
            grids = [
                Grid.objects.get_or_create(
                    code=f"{BENCH_CODE}-G{g:02d}",
                    defaults={"community": community, "name": f"接口压测网格{g}"},
                )[0]
                for g in range(10)
            ]
            category, _ = Category.objects.get_or_create(
                code="bench-open311", defaults={"name": "BENCHO 接口压测类别", "is_active": False}
            )
        return bench, grids, category

    def _create(self, bench, grids, category, n, rng) -> None:
        now = timezone.now()
        batch = 20_000
        with transaction.atomic():
            for start in range(0, n, batch):
                rows = []
                for i in range(start, min(n, start + batch)):
                    grid = rng.choice(grids)
                    status = rng.choice(STATUSES)
                    created = now - timedelta(minutes=rng.randint(1, 2 * 365 * 24 * 60))
                    rows.append(
                        Issue(
                            tracking_number=f"{BENCH_CODE}{i:012d}",
                            title="接口压测",
                            description="接口压测数据，运行 bench_open311 后删除。",
                            category=category,
                            severity=Severity.MINOR,
                            source=Source.API,
                            grid=grid,
                            community_id=grid.community_id,
                            subdistrict=bench,
                            level=Level.GRID,
                            status=status,
                            suspended_at=now if status == Status.SUSPENDED else None,
                            due_at=created + timedelta(hours=48),
                            level_entered_at=created,
                            created_at=created,
                            latitude=36.6,
                            longitude=117.1,
                        )
                    )
                Issue.objects.bulk_create(rows, batch_size=5000)
                events = [
                    IssueEvent(
                        issue_id=issue.pk,
                        kind=IssueEvent.Kind.COMMENTED,
                        to_status=issue.status,
                        to_level=Level.GRID,
                        note="已转交处理。",
                        created_at=issue.created_at + timedelta(hours=1),
                    )
                    for issue in rows
                    if rng.random() < 0.33
                ]
                IssueEvent.objects.bulk_create(events, batch_size=5000)

    def _measure(self, repeat, rounds) -> None:
        # The API logs every request it answers; a few hundred lines here would hide the
        # figures (writing them costs microseconds, nothing next to the page).
        api_log = logging.getLogger("issues.open311")
        level = api_log.level
        api_log.setLevel(logging.WARNING)
        try:
            self._measure_pages(repeat, rounds)
        finally:
            api_log.setLevel(level)

    def _measure_pages(self, repeat, rounds) -> None:
        with _bench.in_process(urlconf=__name__):
            client = Client()
            page = _bench.getter(client, "/open311/v2/requests.json")
            timings = _bench.alternate(
                {"page": page, "bare": _bench.getter(client, "/bare.json")},
                rounds=rounds,
                per_round=max(1, -(-repeat // rounds)),
            )
            with CaptureQueriesContext(connection) as queries:
                rows = len(json.loads(page().content))
        self.stdout.write(
            _bench.ratio_line(
                f"open311 requests.json {rows:>5} rows:",
                timings["page"],
                timings["bare"],
                queries=len(queries),
                width=34,
            )
        )

    def _cleanup(self, bench) -> None:
        with transaction.atomic():
            Issue.objects.filter(subdistrict=bench).delete()
