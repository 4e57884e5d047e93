"""A savepoint without round trips of its own, for work that may fail on its own.

``transaction.atomic()`` inside a transaction sets a savepoint (one round trip to the
database) and releases it at the end (another). Work done by every action, such as
writing its notifications, pays both each time. On PostgreSQL, ``undone_on_failure``
sends the savepoint together with the first statement run inside it, and leaves it for
the transaction's end to release: if anything inside fails, it rolls back to it, undoing
exactly what was written inside, and the error goes on to the caller, whose transaction
is usable again. Elsewhere (SQLite, or outside a transaction) it is
``transaction.atomic()``.

Django does not know of this savepoint: what is registered with ``transaction.on_commit``
inside would not be dropped by its rollback, so register it after the block.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

from django.db import connection, transaction

_numbers = itertools.count(1)


class _WithFirstStatement:
    """An execute wrapper that sends ``SAVEPOINT`` in the same round trip as the first
    statement (psycopg binds the parameters on the client, so one query string may hold
    two statements; the cursor is then moved on to the second one's result)."""

    def __init__(self, name: str):
        self.name = name
        self.sent = False

    def __call__(self, execute, sql, params, many, context):
        if self.sent:
            return execute(sql, params, many, context)
        self.sent = True
        cursor = context["cursor"]
        if many or getattr(cursor.cursor, "name", None):  # executemany, server-side cursor
            cursor.execute(f"SAVEPOINT {self.name}")
            return execute(sql, params, many, context)
        result = execute(f"SAVEPOINT {self.name}; {sql}", params, many, context)
        cursor.nextset()
        return result


@contextmanager
def undone_on_failure():
    """What is written inside is undone if anything inside fails, and only that."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    first = _WithFirstStatement(f"undone_on_failure_{next(_numbers)}")
    try:
        with connection.execute_wrapper(first):
            yield
    except Exception:
        if first.sent:
            with connection.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {first.name}")
        raise
