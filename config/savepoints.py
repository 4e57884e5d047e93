"""A savepoint without round trips of its own, for work that may fail on its own.

``transaction.atomic()`` inside a transaction sets a savepoint (one round trip to the
database) and releases it at the end (another). Work done by every action, such as
writing its notifications, pays both each time. On PostgreSQL, ``undone_on_failure``
sends the savepoint together with the first statement run inside it, and leaves it for
the transaction's end to release: if anything inside fails, it rolls back to it, undoing
exactly what was written inside, and the error goes on to the caller, whose transaction
is usable again. (A first statement prepared on the server, ``prepared_cursor``, cannot
carry another: the savepoint then takes a short round trip ahead of it, less than the
planning the preparing saves.) Elsewhere (SQLite, or outside a transaction) it is
``transaction.atomic()``.

Django does not know of this savepoint: what is registered with ``transaction.on_commit``
inside would not be dropped by its rollback, so register it after the block.

The savepoint is named by how many blocks hold it (``undone_on_failure_1`` outermost):
PostgreSQL rolls back to the latest savepoint of a name, which is the block's own, and
the same statement gets the same text each time, so the driver parses it once.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from psycopg import ClientCursor

# How many blocks are open around the running code (a connection belongs to one thread).
_depth: ContextVar[int] = ContextVar("undone_on_failure_depth", default=0)


class _WithFirstStatement:
    """An execute wrapper that sends ``SAVEPOINT`` in the same round trip as the first
    statement (psycopg binds the parameters on the client, so one query string may hold
    two statements; the cursor is then moved on to the second one's result). A statement
    sent with its parameters apart (``prepared_cursor``) is one statement: the savepoint
    goes ahead of it on its own."""

    def __init__(self, name: str):
        self.name = name
        self.sent = False

    def __call__(self, execute, sql, params, many, context):
        if self.sent:
            return execute(sql, params, many, context)
        self.sent = True
        cursor = context["cursor"]
        apart = (
            many  # executemany
            or getattr(cursor.cursor, "name", None)  # a server-side cursor
            or not isinstance(cursor.cursor, ClientCursor)  # parameters sent apart
        )
        if apart:
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
    depth = _depth.get() + 1
    first = _WithFirstStatement(f"undone_on_failure_{depth}")
    token = _depth.set(depth)
    try:
        with connection.execute_wrapper(first):
            yield
    except Exception:
        if first.sent:
            with connection.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {first.name}")
        raise
    finally:
        _depth.reset(token)
