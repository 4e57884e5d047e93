"""Throttles for what anyone may try without signing in (password reset mails, tracking
lookups): a count per client address and per target in fixed windows, kept in Django's
default cache, which production shares between processes and hosts (see README).

Sign-in failures are throttled by django-axes, which finds the client address the same
way (``AXES_CLIENT_IP_CALLABLE``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import ngettext


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXIES`` proxies the
    address the outermost of them saw, read from the right of ``X-Forwarded-For`` (the
    left part is whatever the client chose to send)."""
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")


@dataclass(frozen=True)
class Throttle:
    """At most ``per_client`` attempts from one address and ``per_target`` on one target
    (an e-mail address, a tracking number) within ``seconds``."""

    name: str
    per_client: int
    per_target: int
    seconds: int

    def _keys(self, request, target: str) -> list[tuple[str, int]]:
        def key(kind, value):
            digest = hashlib.sha256(value.encode()).hexdigest()[:32]
            return f"throttle:{self.name}:{kind}:{digest}"

        return [
            (key("client", client_ip(request)), self.per_client),
            (key("target", target.strip().casefold()), self.per_target),
        ]

    def attempt(self, request, target: str) -> bool:
        """Count one attempt; False (and nothing counted) when a limit is already reached."""
        keys = self._keys(request, target)
        counts = cache.get_many([key for key, _ in keys])
        if any(counts.get(key, 0) >= limit for key, limit in keys):
            return False
        for key, _ in keys:
            # add() starts the window only for the first attempt in it.
            cache.add(key, 0, timeout=self.seconds)
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.set(key, 1, timeout=self.seconds)
        return True

    def message(self) -> str:
        minutes = math.ceil(self.seconds / 60)
        return ngettext(
            "Too many attempts. Please wait %(minutes)d minute and try again.",
            "Too many attempts. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}


# Reset mails: a few for one address, more from one network (families and offices share one).
PASSWORD_RESET = Throttle("password-reset", per_client=10, per_target=3, seconds=3600)
# Tracking lookups: enough for a household checking its numbers, far too few to enumerate.
TRACKING = Throttle("tracking", per_client=30, per_target=10, seconds=600)
