"""Reads from a read replica (``DATABASE_REPLICA_URL``), where a view asks for them.

A PostgreSQL streaming replica takes the heavy reads off the primary: the dashboards, the
public pages and the API's lists. Only views that write nothing and can show figures a
moment old ask for it (``reads_from_replica``); inside them every ORM read goes to the
``replica`` database alias, every write (there should be none) to the primary. The person
and their session are loaded from the primary first, so that someone who has just signed
in is never turned away by a replica a second behind, and their posts too: what they may
see is decided by the primary. Without ``DATABASE_REPLICA_URL``
there is no ``replica`` alias and everything reads the primary.
"""

from __future__ import annotations

import contextvars
import functools
from contextlib import contextmanager

from django.conf import settings

REPLICA = "replica"
_replica_reads = contextvars.ContextVar("replica_reads", default=False)


def has_replica() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Reads inside ``replica_reads`` go to the replica; the rest is the primary's."""

    def db_for_read(self, model, **hints):
        if _replica_reads.get() and has_replica():
            return REPLICA
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same rows, whichever copy they were read from

    def allow_migrate(self, db, app_label, **hints):
        return db != REPLICA  # the replica follows the primary's schema by itself


@contextmanager
def replica_reads():
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view):
    """Run a view's GET and HEAD requests reading from the replica (when there is one)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") or not has_replica():
            return view(request, *args, **kwargs)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:  # the person and session: primary
            from issues.permissions import scope_of

            scope_of(user)  # and their posts, which decide what they may see
        with replica_reads():
            return view(request, *args, **kwargs)

    return wrapper
