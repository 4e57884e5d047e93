"""The staff map (一张图): the grids of one's scope, and the open issues in them as markers
coloured by severity, marked when overdue or supervised, with the queue's filters.

The markers come from ``markers``: at most ``MARKER_LIMIT`` points for the visible box,
or, when more match, clusters counted per cell of a fixed 12 × 12 division of the box.
Either way it runs the same few queries (the person's scope, the categories for the
filter, a bounded count, then the points or the clusters), served by the partial index
on open issues' points.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.views.generic import TemplateView

from grids.places import map_start, parse_bbox

from .. import choices, permissions
from ..forms.staff import QueueFilterForm
from ..mapdata import MARKER_LIMIT, clusters, in_box, too_many
from ..models import OPEN_STATUSES, RUNNING_STATUSES, Severity, Status
from .staff import QueueView, StaffRequiredMixin

SEVERITY_LABELS = dict(Severity.choices)
STATUS_LABELS = dict(Status.choices)


def _filter_form(request, scope) -> QueueFilterForm:
    form = QueueFilterForm(
        request.GET, categories=choices.categories(), grids=choices.grids_of(request.user)
    )
    form.is_valid()  # a filter that is not understood is left out; the others apply
    return form


class StaffMapView(StaffRequiredMixin, TemplateView):
    """The map page: boundaries of the scope's grids and, drawn by the script, markers."""

    template_name = "issues/staff/map.html"

    def get_context_data(self, **kwargs):
        scope = permissions.scope_of(self.request.user)
        grids = permissions.grids_in_scope(scope)
        return super().get_context_data(
            form=_filter_form(self.request, scope),
            map_start=map_start(grids=grids),
            scope_grids=list(grids.values_list("pk", flat=True)),
            markers_url=reverse("staff_map_markers"),
            **kwargs,
        )


def markers(request):
    """Open issues this person sees, in the box ``bbox=west,south,east,north``, as JSON."""
    user = request.user
    if not user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    if not permissions.is_staff_user(user):
        return HttpResponseForbidden()
    bbox = parse_bbox(request.GET.get("bbox"))
    if bbox is None:
        return JsonResponse({"error": "bbox=west,south,east,north"}, status=400)
    data = _filter_form(request, permissions.scope_of(user)).cleaned_data
    now = timezone.now()
    condition = QueueView._filters(data)
    if data.get("status"):
        condition &= Q(status=data["status"])
    if data.get("overdue"):
        condition &= Q(status__in=RUNNING_STATUSES, due_at__lt=now)
    issues = in_box(permissions.visible_issues(user), bbox).filter(
        condition, status__in=OPEN_STATUSES
    )
    total, crowded = too_many(issues)
    if not crowded:
        return JsonResponse({"markers": _points(issues, now), "clusters": [], "total": total})
    return JsonResponse({"markers": [], "clusters": clusters(issues, bbox), "total": total})


def _points(issues, now) -> list[dict]:
    rows = issues.values_list(
        "tracking_number",
        "title",
        "latitude",
        "longitude",
        "severity",
        "status",
        "due_at",
        "is_supervised",
        "support_count",
    ).order_by("due_at", "pk")[:MARKER_LIMIT]
    detail = reverse("staff_issue_detail", args=["0"])[:-2]
    return [
        {
            "number": number,
            "title": title,
            "lat": float(lat),
            "lng": float(lng),
            "severity": severity,
            "severityLabel": str(SEVERITY_LABELS[severity]),
            "statusLabel": str(STATUS_LABELS[status]),
            "overdue": status in RUNNING_STATUSES and due_at < now,
            "supervised": supervised,
            "supporters": supporters,
            "url": f"{detail}{number}/",
        }
        for number, title, lat, lng, severity, status, due_at, supervised, supporters in rows
    ]


urlpatterns = [
    path("", StaffMapView.as_view(), name="staff_map"),
    path("markers.json", markers, name="staff_map_markers"),
]
