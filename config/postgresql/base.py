"""Django's PostgreSQL backend (psycopg 3), with timestamps read by psycopg's C loader.

Django reads every ``timestamptz`` through a loader written in Python (it subclasses
psycopg's pure-Python one to stamp each value with the connection's time zone), about
4 µs a value: a 1,000-row page of three timestamps spends 10 ms on it. When the
connection's time zone is UTC (``USE_TZ`` and no ``TIME_ZONE`` in the database settings,
as here), psycopg's C loader already returns the same values, aware in UTC, ten times
faster; each cursor is given it.

Statements the project writes once and runs again and again (a filing's inserts, the
session and the person signed in, their posts, the arrival notices: ``config.compiled``)
go through ``prepared_cursor()``: a cursor that sends its parameters apart from the SQL,
so that psycopg prepares a statement on the server once it has run a few times on the
connection (``prepare_threshold``, 5 by default) and PostgreSQL plans it once, not on
every run. Planning was most of such a statement's time: an arrival notice's INSERT took
0.6 ms, 0.2 ms once prepared. Its SQL is also turned into the server's form once per
process (psycopg does that only for statements under 50 parameters; a filing's has 65).
Django turns psycopg's preparing off unless the database's ``OPTIONS`` set
``prepare_threshold``; this backend sets it (``PREPARE_THRESHOLD``). Django's own cursors
bind their parameters on the client and never prepare, so only these statements are.
Behind a pooler that cannot carry prepared statements (PgBouncer in transaction mode
before 1.21), ``DATABASE_PREPARED_STATEMENTS=0`` (``OPTIONS: {"prepare_threshold":
None}``) turns the preparing off.
Everything else is Django's backend unchanged.
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache

from django.db.backends.postgresql import base
from psycopg import _queries, adapters
from psycopg.postgres import types
from psycopg.pq import Format

TIMESTAMPTZ_OID = types["timestamptz"].oid
# psycopg's own loader: the C one with the binary package, else the Python one.
FAST_LOADER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


# The server's form of each statement a prepared cursor has run ("$1" for "%s", and what
# each parameter is), by its text: a few hundred statements at most, each written once.
# psycopg's own converter, which it keeps only for short statements: ``_queries`` is not
# its public interface, so psycopg is pinned and tests/test_postgresql_engine.py holds
# that a long statement is converted once.
_server_form = lru_cache(maxsize=512)(_queries._query2pg_nocache)


class _KeptQuery(_queries.PostgresQuery):
    """psycopg's query with server-side parameters, its SQL converted once per text."""

    def convert(self, query, vars):
        if vars is None or isinstance(query, _queries.Template):
            return super().convert(query, vars)
        query = self._ensure_bytes(query)
        self.query, self._want_formats, self._order, self._parts = _server_form(
            query, self._tx.encoding
        )
        self.dump(vars)


class PreparedCursor(base.ServerBindingCursor):
    _query_cls = _KeptQuery


# Runs of one statement on a connection before psycopg prepares it (psycopg's default).
PREPARE_THRESHOLD = 5


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        if "prepare_threshold" not in self.settings_dict["OPTIONS"]:
            params["prepare_threshold"] = PREPARE_THRESHOLD
        return params

    def create_cursor(self, name=None):
        cursor = super().create_cursor(name)
        if self.timezone == UTC:
            cursor.adapters.register_loader(TIMESTAMPTZ_OID, FAST_LOADER)
        return cursor

    def prepared_cursor(self):
        """A cursor (wrapped as ``cursor()`` wraps one: logged, counted) whose statements
        psycopg prepares on the server after a few runs. Only for SQL written with a
        placeholder wherever a value changes, whose parameters PostgreSQL can type from
        where they stand, one statement per call."""
        self.close_if_health_check_failed()
        self.ensure_connection()
        factory = self.connection.cursor_factory
        self.connection.cursor_factory = PreparedCursor
        try:
            return self.cursor()
        finally:
            self.connection.cursor_factory = factory
