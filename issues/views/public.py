from django.shortcuts import render

from config.replica import reads_from_replica
from config.throttle import TRACKING

from .. import public_figures
from ..forms.resident import TrackForm
from ..models import Issue


@reads_from_replica
def home(request):
    """What the site is, and the subdistrict-wide counts anyone may see (from the cache:
    ``issues.public_figures``, recomputed every few minutes, not per request)."""
    figures = public_figures.home()
    return render(
        request,
        "home.html",
        {
            "open_count": figures.values["open"],
            "closed_count": figures.values["closed"],
            "figures_at": figures.at,
        },
    )


def track(request):
    """Anyone with a tracking number sees where the issue stands: its status, category,
    level and dates, and nothing else (no names, description, photos or contacts).
    Lookups are throttled per address and per number, so numbers cannot be enumerated."""
    form = TrackForm(request.GET or None)
    issue = None
    searched = form.is_bound and form.is_valid()
    if searched and not TRACKING.attempt(request, form.cleaned_data["number"]):
        form.add_error("number", TRACKING.message())
        return render(request, "issues/track.html", {"form": form, "searched": False}, status=429)
    if searched:
        issue = (
            Issue.objects.select_related("category")
            .only(
                "tracking_number",
                "status",
                "level",
                "department_id",
                "due_at",
                "created_at",
                "accepted_at",
                "resolved_at",
                "closed_at",
                "category__name",
            )
            .filter(tracking_number=form.cleaned_data["number"])
            .first()
        )
    return render(
        request,
        "issues/track.html",
        {"form": form, "issue": issue, "searched": searched},
    )
