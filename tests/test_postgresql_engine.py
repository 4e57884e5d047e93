"""The PostgreSQL engine (config/postgresql): Django's backend, with timestamps read by
psycopg's C loader when the connection's zone is UTC. The values must be the ones Django's
own loader gives: aware, in UTC, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from config import postgresql
from issues.models import Issue
from tests.conftest import requires_postgres
from tests.factories import IssueFactory

pytestmark = [requires_postgres, pytest.mark.django_db]


def test_every_postgresql_database_uses_the_engine():
    for alias in connections:
        assert connections[alias].settings_dict["ENGINE"] == "config.postgresql"
        assert isinstance(connections[alias], postgresql.base.DatabaseWrapper)


def test_timestamps_read_back_aware_in_utc_to_the_microsecond():
    moment = datetime(2026, 3, 8, 1, 59, 59, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))
    issue = IssueFactory()
    Issue.objects.filter(pk=issue.pk).update(created_at=moment, due_at=moment + timedelta(days=1))

    created, due = Issue.objects.values_list("created_at", "due_at").get(pk=issue.pk)

    assert created == moment and created.tzinfo == UTC
    assert due == moment + timedelta(days=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT now() AT TIME ZONE 'UTC', now()")
        naive, aware = cursor.fetchone()
    assert aware.tzinfo == UTC and aware.replace(tzinfo=None) == naive


def test_a_connection_in_another_zone_keeps_djangos_loader():
    """With TIME_ZONE set in the database settings, values come back in that zone, as
    Django's loader gives them: the fast loader is not used."""
    other = connection.copy()
    other.settings_dict = {**connection.settings_dict, "TIME_ZONE": "Asia/Shanghai"}
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT TIMESTAMPTZ '2026-01-01 00:00:00+00'")
            (value,) = cursor.fetchone()
    finally:
        other.close()
    assert value == datetime(2026, 1, 1, tzinfo=UTC)
    assert value.tzinfo == ZoneInfo("Asia/Shanghai")
