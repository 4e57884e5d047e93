"""Benchmark the staff map's marker endpoint (DESIGN.md §8, the staff map): N issues with
points in one benchmark subdistrict, then ``/staff/map/markers.json`` timed in-process for
a grid worker, a community and a subdistrict account, for the whole area (clusters) and for
a street-sized box (single markers). Target: p95 under 100 ms with 1 M issues on PostgreSQL.

The set-up, the safety check on the database name and the clean-up are the queue
benchmark's (``bench_queue``); the issues get points spread over about 9 × 11 km around
36.62°N 117.13°E.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings

from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues.models import Issue

from .bench_queue import Command as QueueBenchmark

SOUTH, WEST = 36.57, 117.07
STEP = 0.0001  # the points lie on a 1,000 × 1,000 lattice of 0.0001° (about 11 × 9 m)
BOXES = {
    "whole area": f"{WEST},{SOUTH},{WEST + 0.1},{SOUTH + 0.1}",
    "street box": f"{WEST + 0.05},{SOUTH + 0.05},{WEST + 0.054},{SOUTH + 0.053}",
}


class Command(QueueBenchmark):
    help = (
        "Create N issues with points in a benchmark subdistrict and time the staff map's "
        "marker endpoint for three accounts over the whole area and a street-sized box "
        "(median, p95, query count). Runs only on a database whose name contains 'bench' or "
        "'test', or with --yes."
    )

    def _create_issues(self, bench, grids, users, n, rng) -> None:
        super()._create_issues(bench, grids, users, n, rng)
        # Points in one statement: the id picks a node of the lattice.
        table = Issue._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET latitude = %s + (id %% 1000) * %s, "
                f"longitude = %s + ((id / 1000) %% 1000) * %s WHERE subdistrict_id = %s",
                [SOUTH, STEP, WEST, STEP, bench.pk],
            )

    def _measure(self, label, user, url, repeat, explain=False) -> None:
        with override_settings(ALLOWED_HOSTS=["testserver"]):
            client = Client()
            client.force_login(user)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="No directory at")
                for box_label, bbox in BOXES.items():
                    self._measure_box(label, box_label, client, bbox, repeat, explain)

    def _measure_box(self, label, box_label, client, bbox, repeat, explain) -> None:
        url = reverse("staff_map_markers") + f"?bbox={bbox}"
        for _ in range(3):
            self._get(client, url)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            self._get(client, url)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            data = self._get(client, url).json()
        times.sort()
        p95 = times[max(0, math.ceil(0.95 * len(times)) - 1)]
        shown = (
            f"{len(data['markers'])} markers"
            if data["markers"]
            else f"{len(data['clusters'])} clusters"
        )
        self.stdout.write(
            f"{label:<18} {box_label:<11} {shown:>13}: median "
            f"{statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms, {len(queries)} queries "
            f"({repeat} loads)"
        )
        if explain and connection.vendor == "postgresql":
            self._explain(queries.captured_queries)
