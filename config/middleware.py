"""Request guards that sit in front of every view: the size of what is sent, and how long
a signed-in session may stay idle."""

import time

from django.conf import settings
from django.shortcuts import render

from issues.permissions import is_staff_user

# An active session's expiry is pushed back at most this often, so that a page view does
# not cost a session write each time; the idle timeout is exact to within this.
SESSION_REFRESH_SECONDS = 300
SEEN_KEY = "_idle_seen"


class RequestSizeLimitMiddleware:
    """Refuse a body larger than ``MAX_REQUEST_BYTES`` from its declared length, before
    anything reads it, with a page that says how large a request may be (413)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            response = render(
                request,
                "413.html",
                {"limit_mb": settings.MAX_REQUEST_BYTES // (1024 * 1024)},
                status=413,
            )
            # The body is left unread: tell the client the connection will not carry on.
            response["Connection"] = "close"
            return response
        return self.get_response(request)


class SessionIdleTimeoutMiddleware:
    """A signed-in session ends after a stretch without requests: ``SESSION_IDLE_SECONDS``
    for staff (a working day by default), ``SESSION_COOKIE_AGE`` for residents. Each
    request starts the count again; the expiry is rewritten at most every five minutes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        if session is not None and user is not None and user.is_authenticated:
            if int(time.time()) - session.get(SEEN_KEY, 0) >= SESSION_REFRESH_SECONDS:
                start_idle_clock(request=request, user=user)
        return self.get_response(request)


def start_idle_clock(*, request, user, **kwargs) -> None:
    """Count the idle time from now (on sign-in, and as requests come)."""
    request.session[SEEN_KEY] = int(time.time())
    request.session.set_expiry(idle_seconds(user))


def idle_seconds(user) -> int:
    if user.is_staff or user.is_superuser or is_staff_user(user):
        return settings.SESSION_IDLE_SECONDS
    return settings.SESSION_COOKIE_AGE
