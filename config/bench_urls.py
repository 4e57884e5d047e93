"""The load benchmark's URLs (config/bench_settings.py): the product's, plus a bare INSERT view.

The bare view is the baseline a filing is measured against in the same run: the same server,
middleware and session, and one INSERT of one row into the issues table, with nothing of the
product's filing (no form, no checks, no event, no rollup, no notification). It exists only
under the benchmark's settings, never in the product.
"""

import secrets
import time
from functools import cache

from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.urls import handler500, urlpatterns  # noqa: F401  (the product's, as they are)
from grids.models import Grid
from issues.models import Category, Issue, Level, Severity, Source, Status


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


urlpatterns = [path("bench/bare-insert/", bare_insert, name="bench_bare_insert"), *urlpatterns]
