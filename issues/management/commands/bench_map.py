"""Benchmark the staff map's marker endpoint (DESIGN.md §8, the staff map): open issues with
points, then ``/staff/map/markers.json`` timed in-process for a grid worker, a community and
a subdistrict account (and, on the city, a department's and an administrator's, who sees
the whole city), for the whole area they see
(clusters) and for a street-sized box (single markers), each beside a bare one-query view
over the same table (the same unit's open issues in the same box: the clusters as one
``GROUP BY``, or one page of points), in alternating rounds, with the ratio of their
throughputs. Target: p95 under 100 ms with 1 M issues on PostgreSQL. On the city, the
map's grid layer too, for a grid, a subdistrict and the whole city, beside the stored
boundaries passed through unchanged, and the public map's points for the same boxes, each
request a box not asked before, beside one query over the public points in the box.

With the benchmark city in the database (``make bench-city``) it measures on the city: the
boxes are the account's grids (their extent, and its first grid, about 360 × 330 m).
Otherwise the set-up, the safety check on the database name and the clean-up are the queue
benchmark's (``bench_queue``); the issues get points spread over about 9 × 11 km around
36.62°N 117.13°E.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.http import HttpResponse, JsonResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone

from grids import city as territory_city
from grids.models import Community, Grid, User
from grids.places import MAX_GRIDS
from issues import permissions
from issues.mapdata import CELLS, MARKER_LIMIT, PointCells
from issues.models import OPEN_STATUSES, Category, Issue
from issues.views import public_map

from . import _bench
from .bench_queue import Command as QueueBenchmark

SOUTH, WEST = 36.57, 117.07
# The administrator the city case uses when the database has none (no password: unusable).
CITY_ADMIN = "city-admin"
STEP = 0.0001  # the points lie on a 1,000 × 1,000 lattice of 0.0001° (about 11 × 9 m)
BOXES = {
    "whole area": (WEST, SOUTH, WEST + 0.1, SOUTH + 0.1),
    "street box": (WEST + 0.05, SOUTH + 0.05, WEST + 0.054, SOUTH + 0.053),
}


LAT, LNG = "CAST(latitude AS DOUBLE PRECISION)", "CAST(longitude AS DOUBLE PRECISION)"


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


def _answer(kind: str, sql: str, params: list, keys: tuple) -> JsonResponse:
    """A bare view's one query, its rows written out as JSON objects with ``keys``: the
    answer's markers or its clusters (``kind``)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [dict(zip(keys, row, strict=True)) for row in cursor]
    return JsonResponse({"markers": [], "clusters": [], kind: rows})


def bare_markers(request):
    """The baseline: one query over the unit's open issues in the box, as JSON: the counts
    per cell of the box's 12 × 12 division, or one page of points by deadline."""
    field = request.GET["field"]
    if field not in ("grid_id", "community_id", "subdistrict_id", "department_id", "all"):
        raise ValueError(field)
    ids = [int(pk) for pk in request.GET["ids"].split(",") if pk]
    west, south, east, north = (float(v) for v in request.GET["bbox"].split(","))
    statuses = [s.value for s in OPEN_STATUSES]
    # Plain IN lists and CASTs: the same SQL on PostgreSQL and on SQLite (the tests').
    where = (
        f"FROM {Issue._meta.db_table} WHERE status IN ({_marks(statuses)}) "
        "AND latitude IS NOT NULL AND latitude BETWEEN %s AND %s "
        "AND longitude BETWEEN %s AND %s"
        + (f" AND {field} IN ({_marks(ids)})" if field != "all" else "")
    )
    params = [*statuses, south, north, west, east, *ids]
    if request.GET["mode"] == "clusters":
        height, width = (north - south) / CELLS, (east - west) / CELLS
        return _answer(
            "clusters",
            f"SELECT COUNT(*), AVG({LAT}), AVG({LNG}) "
            f"{where} GROUP BY FLOOR(({LAT} - %s) / %s), FLOOR(({LNG} - %s) / %s)",
            [*params, south, height, west, width],
            ("count", "lat", "lng"),
        )
    return _answer(
        "markers",
        f"SELECT tracking_number, title, {LAT}, {LNG}, severity, "
        f"status, due_at {where} ORDER BY due_at, id LIMIT {MARKER_LIMIT}",
        params,
        ("number", "title", "lat", "lng", "severity", "status", "due"),
    )


def bare_public(request):
    """The baseline for the public map: one query over the public points in the box (open,
    or closed in the last 30 days), as JSON: their counts per cell of the box's 12 × 12
    division, or the newest points one by one."""
    west, south, east, north = (float(v) for v in request.GET["bbox"].split(","))
    since = timezone.now() - timedelta(days=public_map.RECENTLY_CLOSED_DAYS)
    statuses = [s.value for s in OPEN_STATUSES]
    where = (
        f"FROM {Issue._meta.db_table} i JOIN {Category._meta.db_table} c "
        "ON c.id = i.category_id WHERE c.is_public AND (i.status IN "
        f"({_marks(statuses)}) OR (i.status = 'closed' AND i.closed_at >= %s)) "
        "AND i.latitude BETWEEN %s AND %s AND i.longitude BETWEEN %s AND %s"
    )
    params = [*statuses, since, south, north, west, east]
    if request.GET["mode"] == "clusters":
        height, width = (north - south) / CELLS, (east - west) / CELLS
        return _answer(
            "clusters",
            f"SELECT COUNT(*), FLOOR(({LAT} - %s) / %s), FLOOR(({LNG} - %s) / %s) "
            f"{where} GROUP BY 2, 3",
            [south, height, west, width, *params],
            ("count", "row", "col"),
        )
    return _answer(
        "markers",
        f"SELECT c.name, i.status, i.created_at, {LAT}, {LNG} {where} "
        f"ORDER BY i.created_at DESC LIMIT {MARKER_LIMIT}",
        params,
        ("category", "status", "date", "lat", "lng"),
    )


def bare_shapes(request):
    """The baseline for the grid shapes: one query for the grids in the box with their
    community's name, each stored boundary written out as it is."""
    west, south, east, north = (float(v) for v in request.GET["bbox"].split(","))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT g.id, g.code, g.name, c.name, CAST(g.boundary AS TEXT) "
            f"FROM {Grid._meta.db_table} g JOIN {Community._meta.db_table} c "
            "ON c.id = g.community_id WHERE g.min_lat <= %s AND g.max_lat >= %s "
            "AND g.min_lng <= %s AND g.max_lng >= %s ORDER BY g.code LIMIT %s",
            [north, south, east, west, MAX_GRIDS],
        )
        rows = cursor.fetchall()
    features = ",".join(
        f'{{"type":"Feature","geometry":{shape},"properties":'
        + json.dumps({"id": pk, "code": code, "name": name, "community": community})
        + "}"
        for pk, code, name, community, shape in rows
    )
    return HttpResponse(
        f'{{"type":"FeatureCollection","features":[{features}]}}', content_type="application/json"
    )


urlpatterns = [
    path("__bench__/markers/", bare_markers),
    path("__bench__/shapes/", bare_shapes),
    path("__bench__/public/", bare_public),
    path("", include("config.urls")),
]


class Command(QueueBenchmark):
    under_gunicorn = False
    help = (
        "Time the staff map's marker endpoint for each account over the whole area it sees "
        "and a street-sized box, beside a bare one-query view (median, p95, req/s, "
        "queries, ratio), on the benchmark city if it is there, else on N issues of its "
        "own. Runs only on a database whose name contains 'bench', 'test' or 'city', or "
        "with --yes."
    )

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if self.city:
            # The widest view there is: an administrator's, over the whole city.
            admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
            if admin is None:
                admin = User.objects.create_superuser(CITY_ADMIN, None, None)
            self._measure("city administrator", admin, None, options["repeat"])
            subdistrict = self._boxes(territory_city.accounts().subdistrict_staff)
            boxes = {
                "a grid": subdistrict["street box"],
                "a subdistrict": subdistrict["whole area"],
                "the city": self._boxes(admin)["whole area"],
            }
            self._measure_shapes(boxes, options["repeat"])
            self._measure_public(boxes, options["repeat"])

    def _measure_public(self, boxes, repeat) -> None:
        """The public map's points (anyone may ask, for any box) for the grid layer's boxes
        (a grid, a subdistrict, the city), every request for a box not asked before (an
        answer is kept a minute), beside one query over the public points in the box; and
        the counting of the cells each process does once a minute."""
        self.stdout.write("\npublic map points, every box a new one, in-process:")
        fresh = itertools.count()

        def asking(client, url, north):
            def get():
                # A box never asked before: the same, its north edge moved by 0.1 µ°.
                response = client.get(f"{url}{north + next(fresh) * 1e-7:.7f}")
                if response.status_code != 200:
                    raise CommandError(f"{url} answered {response.status_code}")
                return response

            return get

        with _bench.in_process(urlconf=__name__):
            started = []
            for _n in range(5):
                began = time.perf_counter()
                cells = PointCells.of(public_map.public_parts())
                started.append((time.perf_counter() - began) * 1000)
            self.stdout.write(
                f"counting the cells afresh (each process, once a minute): median "
                f"{statistics.median(started):.0f} ms, {len(cells.levels[0])} cells of "
                f"{cells.FINEST}°"
            )
            for label, (west, south, east, north) in boxes.items():
                box = f"{west:.6f},{south:.6f},{east:.6f},"
                page = asking(Client(), reverse("public_map_points") + "?bbox=" + box, north)
                first = page().json()
                mode = "clusters" if first["clusters"] else "markers"
                bare = asking(Client(), f"/__bench__/public/?mode={mode}&bbox={box}", north)
                self._beside_bare(f"{label:<14}", page, bare, repeat, width=28)

    def _measure_shapes(self, boxes, repeat) -> None:
        """The map's grid layer (``/places/grids.geojson``, anyone may ask) for a box the
        size of a grid, of a subdistrict and of the city, beside the boundaries passed
        through as stored."""
        self.stdout.write("\ngrid shapes (the map's grid layer), in-process:")
        rounds = self.options["rounds"]
        with _bench.in_process(urlconf=__name__):
            for label, bbox in boxes.items():
                query = "?bbox=" + ",".join(f"{v:.6f}" for v in bbox)
                page = _bench.getter(Client(), reverse("grid_shapes") + query)
                bare = _bench.getter(Client(), "/__bench__/shapes/" + query)
                timings = _bench.alternate(
                    {"page": page, "bare": bare},
                    rounds=rounds,
                    per_round=max(1, -(-repeat // rounds)),
                )
                with CaptureQueriesContext(connection) as queries:
                    sent = page()
                count = len(queries)  # (read now: the next request empties the log)
                shown = f"{len(sent.json()['features'])} grids, {len(sent.content) / 1024:.0f} KB"
                stored = f"{len(bare().content) / 1024:.0f} KB as stored"
                self.stdout.write(
                    _bench.ratio_line(
                        f"{label:<14} {shown:>19} ({stored})",
                        timings["page"],
                        timings["bare"],
                        queries=count,
                        width=45,
                    )
                )

    def _acting_unit(self, user) -> tuple[str, list[int]]:
        if user.is_superuser:
            return "all", []
        return super()._acting_unit(user)

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
        with _bench.in_process(urlconf=__name__):
            client = Client()
            client.force_login(user)
            for box_label, bbox in self._boxes(user).items():
                self._measure_box(label, user, box_label, client, bbox, repeat, explain)

    def _boxes(self, user) -> dict:
        """The whole area the account sees and a street-sized box in it: fixed ones over
        the benchmark's own points, the account's grids on the city."""
        if not self.city:
            return BOXES
        if user.is_superuser:
            grids = Grid.objects.all()
        else:
            grids = permissions.grids_in_scope(permissions.scope_of(user))
        extent = grids.aggregate(
            west=Min("min_lng"), south=Min("min_lat"), east=Max("max_lng"), north=Max("max_lat")
        )
        # The street: the account's grid with the most open issues on the map.
        busiest = (
            Issue.objects.filter(
                status__in=OPEN_STATUSES, latitude__isnull=False, grid__in=grids.values("pk")
            )
            .values("grid")
            .annotate(n=Count("pk"))
            .order_by("-n", "grid")
            .values_list("grid", flat=True)
            .first()
        )
        street = Grid.objects.filter(pk=busiest) if busiest else grids.order_by("code")
        return {
            "whole area": (extent["west"], extent["south"], extent["east"], extent["north"]),
            "street box": street.values_list("min_lng", "min_lat", "max_lng", "max_lat")[0],
        }

    def _measure_box(self, label, user, box_label, client, bbox, repeat, explain) -> None:
        bbox_text = ",".join(f"{v:.6f}" for v in bbox)
        url = reverse("staff_map_markers") + f"?bbox={bbox_text}"
        page = _bench.getter(client, url)
        data = page().json()
        mode = "clusters" if data["clusters"] else "markers"
        field, ids = self._acting_unit(user)
        bare_url = (
            f"/__bench__/markers/?field={field}&ids={','.join(map(str, ids))}"
            f"&bbox={bbox_text}&mode={mode}"
        )
        queries = self._beside_bare(
            f"{label:<18} {box_label:<11}",
            page,
            _bench.getter(Client(), bare_url),
            repeat,
            width=45,
        )
        if explain and connection.vendor == "postgresql":
            self._explain(queries)

    def _beside_bare(self, label, page, bare, repeat, *, width) -> list[dict]:
        """Time the points ``page`` gives beside its ``bare`` view in alternating rounds
        and write the line, saying what the page showed; returns one page's queries."""
        rounds = self.options["rounds"]
        timings = _bench.alternate(
            {"page": page, "bare": bare},
            rounds=rounds,
            per_round=max(1, -(-repeat // rounds)),
        )
        with CaptureQueriesContext(connection) as queries:
            data = page().json()
        shown = (
            f"{len(data['clusters'])} clusters"
            if data["clusters"]
            else f"{len(data['markers'])} markers"
        )
        self.stdout.write(
            _bench.ratio_line(
                f"{label} {shown:>13}",
                timings["page"],
                timings["bare"],
                queries=len(queries),
                width=width,
            )
        )
        return queries.captured_queries
