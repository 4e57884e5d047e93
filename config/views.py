"""Site-wide error pages: forbidden, not found, server error, a refused form (CSRF) and the
sign-in lockout. Each is drawn in the site's layout, with its navigation, in the visitor's
language (the locale middleware has chosen it before any of these runs)."""

from math import ceil

from axes.helpers import get_cool_off
from django.http import HttpResponseServerError
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render
from django.template import loader


def server_error(request):
    """500 in the layout. Drawing the navigation may need the database, which may be what
    failed: then the same page is drawn without the request (no user, no menu of theirs)."""
    try:
        return render(request, "500.html", status=500)
    except Exception:  # the error page must not fail in turn
        return HttpResponseServerError(loader.get_template("500.html").render())


def csrf_failure(request, reason=""):
    """A form sent without its security token: usually an expired page or blocked cookies."""
    context = {"no_cookie": reason == REASON_NO_CSRF_COOKIE}
    return render(request, "403_csrf.html", context, status=403)


def locked_out(request, original_response=None, credentials=None):
    """Too many failed sign-ins (django-axes): 429, saying how long the lock lasts."""
    cool_off = get_cool_off(request)
    minutes = ceil(cool_off.total_seconds() / 60) if cool_off else None
    return render(request, "registration/locked_out.html", {"minutes": minutes}, status=429)
