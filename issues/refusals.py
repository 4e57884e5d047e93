"""Refused requests on the record: one log line each, with the person and the issue.

A refusal is not an error of the application: a stale page, a guessed URL, someone trying
what they may not. Django would log a 403 with a full traceback; here each refusal is one
WARNING line on the ``issues.refused`` logger (``RefusalLogMiddleware`` for 403s and 404s
raised by views, ``log_refusal`` where a view catches a ``WorkflowError``).
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404

log = logging.getLogger("issues.refused")


def log_refusal(request, *, issue=None, reason: str) -> None:
    user = getattr(request, "user", None)
    who = f"{user.username}#{user.pk}" if user is not None and user.is_authenticated else "-"
    if issue is None and request.resolver_match is not None:
        issue = request.resolver_match.kwargs.get("tracking_number")
    number = getattr(issue, "tracking_number", issue) or "-"
    log.warning(
        "refused %s %s user=%s issue=%s: %s", request.method, request.path, who, number, reason
    )


class RefusalLogMiddleware:
    """Logs a view's PermissionDenied or Http404 as one line, and marks the request so that
    ``WithoutRefusalTracebacks`` keeps django.request from logging it again."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, PermissionDenied):
            reason = "forbidden"
        elif isinstance(exception, Http404):
            reason = "not found or out of scope"
        else:
            return None
        log_refusal(request, reason=reason)
        request.refusal_logged = True
        return None


class WithoutRefusalTracebacks(logging.Filter):
    """Drops django.request's record of a refusal already logged as one line."""

    def filter(self, record):
        request = getattr(record, "request", None)
        return not getattr(request, "refusal_logged", False)
