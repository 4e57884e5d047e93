"""The benchmarks' URLs (config/bench_settings.py): the product's, plus the bare views.

Each bare view is the baseline a page is measured against in the same run:

- ``bench/bare-insert/``: what a filing is measured against: the same server, middleware
  and session, and one INSERT of one row into the issues table, with nothing of the
  product's filing (no form, no checks, no event, no rollup, no notification).
- ``bench/bare-queue/``: what the staff queue is measured against: one query for a page of
  a unit's open issues by deadline, written out as a plain HTML table (no session, user,
  form or template); with ``field=reporter_id``, a resident's own issues ("my issues").
- ``bench/bare-issue/``: what an issue's page (staff's or its reporter's) is measured
  against: one query for the issue's row by tracking number, written out as plain HTML.
- ``bench/signed-in/``: not a baseline but a floor: the site's layout with nothing in it,
  for a signed-in person. It is what every signed-in page pays before its own work (the
  session, the person and their posts, the navigation with its unread count), so the
  ratio it reaches against a bare view is the most any signed-in page could reach.

They exist only under the benchmark's settings (and in-process benchmarks), never in the
product.
"""

import secrets
import time
from functools import cache

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import handler500, urlpatterns  # noqa: F401  (the product's, as they are)
from grids.models import Grid
from issues.models import OPEN_STATUSES, Category, Issue, Level, Severity, Source, Status
from issues.views.staff import PAGE_SIZE


class ServerTimingMiddleware:
    """``Server-Timing: app;dur=…`` on every response: the milliseconds the request spent in
    this worker, middleware included, so that the client can tell the server's cost from
    the time a request waited in the queue."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response


@cache
def _place() -> dict:
    """Where bare rows go, looked up once per process: the grid the benchmark made for them
    (bench/load/residents.py), away from the residents' filings, and the first category."""
    grids = Grid.objects.select_related("community")
    grid = grids.filter(code="LOAD-BARE").first() or grids.order_by("pk").first()
    return {
        "grid_id": grid.pk,
        "community_id": grid.community_id,
        "subdistrict_id": grid.community.subdistrict_id,
        "category_id": Category.objects.order_by("pk").values_list("pk", flat=True).first(),
    }


@csrf_exempt
@require_POST
def bare_insert(request):
    """One row into the issues table, as simply as Django writes one: a single INSERT."""
    now = timezone.now()
    issue = Issue.objects.create(
        # "B" and 19 random hex digits: unique, and never a product tracking number.
        tracking_number="B" + secrets.token_hex(10)[:19],
        title="bare insert",
        description="bare insert",
        severity=Severity.MINOR,
        source=Source.API,
        level=Level.GRID,
        status=Status.SUBMITTED,
        due_at=now,
        level_entered_at=now,
        created_at=now,
        **_place(),
    )
    return HttpResponse(str(issue.pk), status=201, content_type="text/plain")


# The unit a queue acts on, per field of the posts: the acting condition of
# ``permissions.acting_condition`` for one kind of unit, as bare SQL.
ACTING_SQL = {
    "grid_id": "level = 'grid' AND department_id IS NULL AND grid_id IN ({ids})",
    "community_id": "level = 'community' AND department_id IS NULL AND community_id IN ({ids})",
    "subdistrict_id": (
        "level = 'subdistrict' AND department_id IS NULL AND subdistrict_id IN ({ids})"
    ),
    "department_id": "department_id IN ({ids})",
    # Not a unit: a resident's own issues.
    "reporter_id": "reporter_id IN ({ids})",
}


def bare_queue(request):
    """One query for a page of a unit's open issues by deadline (``field``: the kind of
    unit, ``ids``: its ids), written out as a plain HTML table."""
    field = request.GET["field"]
    ids = [int(pk) for pk in request.GET["ids"].split(",")]
    statuses = [s.value for s in OPEN_STATUSES]
    with connection.cursor() as cursor:
        # Plain IN lists: the same SQL on PostgreSQL and on SQLite (the tests').
        acting = ACTING_SQL[field].format(ids=", ".join(["%s"] * len(ids)))
        cursor.execute(
            f"SELECT tracking_number, title, status, severity, due_at "
            f"FROM {Issue._meta.db_table} WHERE status IN ({', '.join(['%s'] * len(statuses))}) "
            f"AND {acting} ORDER BY due_at, id LIMIT {PAGE_SIZE}",
            [*statuses, *ids],
        )
        rows = cursor.fetchall()
    cells = "".join(
        f"<tr><td>{escape(number)}</td><td>{escape(title)}</td><td>{status}</td>"
        f"<td>{severity}</td><td>{due:%Y-%m-%d %H:%M}</td></tr>"
        for number, title, status, severity, due in rows
    )
    return HttpResponse(f"<!doctype html><title>queue</title><table>{cells}</table>")


def bare_issue(request):
    """One query for one issue's row by its tracking number, written out as plain HTML."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tracking_number, title, description, status, severity, due_at "
            f"FROM {Issue._meta.db_table} WHERE tracking_number = %s",
            [request.GET["number"]],
        )
        number, title, description, status, severity, due = cursor.fetchone()
    return HttpResponse(
        f"<!doctype html><title>{escape(number)}</title><h1>{escape(title)}</h1>"
        f"<p>{status} {severity} {due:%Y-%m-%d %H:%M}</p><p>{escape(description)}</p>"
    )


@login_required
def signed_in_layout(request):
    """The site's layout with no content, for the person signed in (no query of its own)."""
    return render(request, "base.html")


urlpatterns = [
    path("bench/bare-insert/", bare_insert, name="bench_bare_insert"),
    path("bench/bare-queue/", bare_queue, name="bench_bare_queue"),
    path("bench/bare-issue/", bare_issue, name="bench_bare_issue"),
    path("bench/signed-in/", signed_in_layout, name="bench_signed_in"),
    *urlpatterns,
]
