"""Open311 GeoReport v2 views. Each parses, asks the models or ``workflow.file_issue``
(through ``intake``), and renders a row list; an ``ApiError`` becomes the standard's
errors array with its HTTP status."""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from config.replica import reads_from_replica
from grids.models import Subdistrict

from ..models import ApiKey, ApiRequest, Category
from . import intake, rows
from .errors import ApiError
from .serializers import render, render_errors

log = logging.getLogger("issues.open311")

DEFAULT_DAYS = 90
MAX_ROWS = 1000
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-03T00:00:00+08:00"


def param(request, name: str) -> str | None:
    """A parameter from the query or the form body; sent empty, it counts as absent."""
    value = request.POST.get(name) if request.method == "POST" else None
    if value is None:
        value = request.GET.get(name)
    value = (value or "").strip()
    return value or None


def open311(*methods: str):
    """CSRF-exempt (the API has keys, no cookies), CORS for reads, errors in the
    standard's shape, and one log line per call without personal data."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, fmt, **kwargs):
            started = time.monotonic()
            request.open311_client = None
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                response["Allow"] = ", ".join((*methods, "OPTIONS"))
            elif request.method not in methods:
                response = render_errors(fmt, 405, _("Method not allowed."))
                response["Allow"] = ", ".join(methods)
            else:
                try:
                    response = view(request, fmt, **kwargs)
                except ApiError as error:
                    response = render_errors(fmt, error.status, error.description)
                    if error.retry_after:
                        response["Retry-After"] = str(error.retry_after)
            if request.method in ("GET", "HEAD", "OPTIONS"):
                response["Access-Control-Allow-Origin"] = "*"
                response["Access-Control-Allow-Methods"] = "GET, OPTIONS"
            client = request.open311_client
            log.info(
                "%s %s %s client=%s %.1fms",
                request.method,
                view.__name__,
                response.status_code,
                client.name if client else "-",
                (time.monotonic() - started) * 1000,
            )
            return response

        return wrapper

    return decorate


# --- keys, limits, jurisdictions ----------------------------------------------------------


def authenticate(request, *, write: bool) -> ApiKey:
    key = ApiKey.lookup(param(request, "api_key") or "")
    if key is None:
        raise ApiError(403, _("A valid api_key is required."))
    if write and not key.client.may_write:
        raise ApiError(403, _("This api_key may only read."))
    request.open311_client = key.client
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at < now - timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def throttle(key: ApiKey) -> None:
    """At most ``client.rate_limit`` filings per key per minute (counted in the cache, so
    every app host shares the count when the cache is shared)."""
    window = int(time.time() // 60)
    name = f"open311:rate:{key.pk}:{window}"
    cache.add(name, 0, timeout=120)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=120)
        count = 1
    if count > key.client.rate_limit:
        raise ApiError(
            429,
            _("Too many requests; at most %(n)d a minute.") % {"n": key.client.rate_limit},
            retry_after=60 - int(time.time()) % 60,
        )


def jurisdiction(request) -> Subdistrict | None:
    code = param(request, "jurisdiction_id")
    if code is None:
        return None
    found = Subdistrict.objects.filter(code=code).first()
    if found is None:
        raise ApiError(404, _("Unknown jurisdiction_id “%(code)s”.") % {"code": code})
    return found


def parse_date(request, name: str):
    value = param(request, name)
    if value is None:
        return None
    try:
        moment = parse_datetime(value.replace(" ", "+"))  # a "+" sent unescaped
    except ValueError:
        moment = None
    if moment is None:
        raise ApiError(
            400,
            _("%(name)s must be a W3C date and time, e.g. 2026-12-01T08:00:00+08:00.")
            % {"name": name},
        )
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def date_range(request):
    start, end = parse_date(request, "start_date"), parse_date(request, "end_date")
    if start and end and start > end:
        raise ApiError(400, _("start_date is after end_date."))
    if start is None:
        start = (end or timezone.now()) - timedelta(days=DEFAULT_DAYS)
    return start, end


def comma_list(request, name: str) -> list[str]:
    return [v.strip() for v in (param(request, name) or "").split(",") if v.strip()]


# --- routes ---------------------------------------------------------------------------------


@open311("GET")
def discovery(request, fmt):
    base = request.build_absolute_uri(reverse("open311:root"))
    data = {
        "changeset": CHANGESET,
        "contact": getattr(settings, "OPEN311_CONTACT", ""),
        "key_service": getattr(settings, "OPEN311_KEY_SERVICE", ""),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base.rstrip("/"),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, data, root="discovery", item=None)


@open311("GET")
def service_list(request, fmt):
    jurisdiction(request)
    data = [rows.service_row(c) for c in rows.services()]
    return render(fmt, data, root="services", item="service")


@open311("GET")
def service_definition(request, fmt, service_code):
    jurisdiction(request)
    category = Category.objects.filter(code=service_code, is_active=True).first()
    if category is None:
        raise ApiError(404, _("Unknown service_code “%(code)s”.") % {"code": service_code})
    return render(fmt, rows.definition(category), root="service_definition", item=None)


@open311("GET", "POST")
@reads_from_replica  # the list; a POST files, on the primary
def request_list(request, fmt):
    if request.method == "POST":
        return create_request(request, fmt)
    issues = rows.requests()
    place = jurisdiction(request)
    if place is not None:
        issues = issues.filter(subdistrict=place)
    ids = comma_list(request, "service_request_id")
    if ids:
        issues = issues.filter(tracking_number__in=ids[:MAX_ROWS])
    else:
        codes = comma_list(request, "service_code")
        if codes:
            issues = issues.filter(category__code__in=codes)
        statuses = comma_list(request, "status")
        if statuses:
            unknown = [s for s in statuses if s not in rows.STATUSES_OF]
            if unknown:
                raise ApiError(400, _("status must be “open”, “closed” or both."))
            issues = issues.filter(status__in=[s for w in statuses for s in rows.STATUSES_OF[w]])
        start, end = date_range(request)
        issues = issues.filter(created_at__gte=start)
        if end is not None:
            issues = issues.filter(created_at__lte=end)
    # created_at alone, so the page is read off issue_created in order, not sorted.
    page = issues.order_by("-created_at")[:MAX_ROWS]
    return render(fmt, rows.request_rows(page), root="service_requests", item="request")


def create_request(request, fmt):
    key = authenticate(request, write=True)
    throttle(key)
    place = jurisdiction(request)
    filed = intake.file_request(
        request, client=key.client, jurisdiction=place, param=functools.partial(param, request)
    )
    data = [
        {
            "service_request_id": filed.issue.tracking_number,
            "service_notice": rows.notice(filed.issue),
            "account_id": filed.account_id or None,
            "token": str(filed.token),
        }
    ]
    return render(fmt, data, root="service_requests", item="request")


@open311("GET")
def request_detail(request, fmt, service_request_id):
    issues = rows.requests().filter(tracking_number=service_request_id)
    place = jurisdiction(request)
    if place is not None:
        issues = issues.filter(subdistrict=place)
    issue = issues.first()
    if issue is None:
        raise ApiError(404, _("Unknown service_request_id “%(id)s”.") % {"id": service_request_id})
    return render(fmt, rows.request_rows([issue]), root="service_requests", item="request")


@open311("GET")
def token_detail(request, fmt, token):
    jurisdiction(request)
    try:
        found = ApiRequest.objects.select_related("issue").filter(token=uuid.UUID(token)).first()
    except ValueError:
        found = None
    if found is None:
        raise ApiError(404, _("Unknown token."))
    data = [{"service_request_id": found.issue.tracking_number, "token": str(found.token)}]
    return render(fmt, data, root="service_requests", item="request")


@open311("GET")
@reads_from_replica
def request_updates(request, fmt):
    """mySociety's servicerequestupdates: public status changes of the caller's requests."""
    key = authenticate(request, write=False)
    jurisdiction(request)
    start, end = date_range(request)
    events = rows.updates_for(key.client).filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lte=end)
    data = [rows.update_row(e) for e in events[:MAX_ROWS]]
    return render(fmt, data, root="service_request_updates", item="request_update")
