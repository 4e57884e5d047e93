from django.shortcuts import render

from ..models import OPEN_STATUSES, Issue


def home(request):
    """What the site is, and the subdistrict-wide counts anyone may see."""
    return render(
        request,
        "home.html",
        {
            "open_count": Issue.objects.filter(status__in=OPEN_STATUSES).count(),
            "closed_count": Issue.objects.filter(status="closed").count(),
        },
    )
