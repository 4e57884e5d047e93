"""The PostgreSQL engine (config/postgresql): Django's backend, with timestamps read by
psycopg's C loader when the connection's zone is UTC (the values must be the ones Django's
own loader gives: aware, in UTC, to the microsecond), and the statements that come again
prepared on the server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections
from django.urls import reverse

from config import compiled, postgresql
from issues.models import Issue, Notification
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


# --- statements prepared on the server ------------------------------------------------------


def _prepared() -> dict[str, int]:
    """The statements prepared on this connection: their text, and how often they ran."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return dict(cursor.fetchall())


def _runs(prepared: dict[str, int], start: str) -> int:
    return sum(runs for statement, runs in prepared.items() if statement.startswith(start))


def test_a_prepared_cursor_prepares_its_statement_after_a_few_runs_and_django_never():
    issue = IssueFactory(title="路灯")
    mine = "SELECT title FROM issues_issue WHERE id = %s AND title <> %s"
    djangos = "SELECT title FROM issues_issue WHERE id = %s AND title <> %s AND TRUE"
    for run in range(postgresql.base.PREPARE_THRESHOLD + 3):
        with compiled.prepared_cursor(connection) as cursor:
            cursor.execute(mine, [issue.pk, f"not {run}"])
            assert cursor.fetchall() == [("路灯",)]
        with connection.cursor() as cursor:
            cursor.execute(djangos, [issue.pk, f"not {run}"])
            assert cursor.fetchall() == [("路灯",)]
    prepared = _prepared()
    # Sent as it is for its first PREPARE_THRESHOLD runs, then prepared and run so:
    # Django's cursor binds its parameters itself and never prepares.
    assert _runs(prepared, mine.replace("%s", "$1", 1).replace("%s", "$2")) == 3
    assert not [statement for statement in prepared if "AND TRUE" in statement]


def test_a_statement_of_many_parameters_is_turned_into_the_servers_form_once():
    """psycopg converts a statement of more than 50 parameters afresh on every run; a
    prepared cursor keeps its conversion."""
    issues = IssueFactory.create_batch(3)
    sql = "SELECT COUNT(*) FROM issues_issue WHERE id IN ({})".format(", ".join(["%s"] * 60))
    ids = [issue.pk for issue in issues] + [0] * 57
    postgresql.base._server_form.cache_clear()
    for _ in range(4):
        with compiled.prepared_cursor(connection) as cursor:
            cursor.execute(sql, ids)
            assert cursor.fetchone() == (3,)
    found = postgresql.base._server_form.cache_info()
    assert (found.misses, found.hits) == (1, 3)


def test_preparing_can_be_turned_off_for_a_pooler():
    other = connection.copy()
    other.settings_dict = {
        **connection.settings_dict,
        "OPTIONS": {**connection.settings_dict["OPTIONS"], "prepare_threshold": None},
    }
    try:
        other.ensure_connection()
        assert other.connection.prepare_threshold is None
        for _ in range(postgresql.base.PREPARE_THRESHOLD + 2):
            with compiled.prepared_cursor(other) as cursor:
                cursor.execute("SELECT %s::int + 1", [1])
                assert cursor.fetchone() == (2,)
        with other.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM pg_prepared_statements")
            assert cursor.fetchone() == (0,)
    finally:
        other.close()
    connection.ensure_connection()
    assert connection.connection.prepare_threshold == postgresql.base.PREPARE_THRESHOLD


def test_a_filing_runs_its_statements_prepared(client, people, territory):
    """What every filing runs (the session, the person, the building, the issue with its
    first event, the notices of its arrival) is planned once per connection."""
    client.force_login(people.resident)
    for _ in range(postgresql.base.PREPARE_THRESHOLD + 2):
        response = client.post(
            reverse("issue_report"),
            {
                "building": people.resident.home_building_id,
                "category": territory.category.pk,
                "title": "路灯不亮",
                "description": "3号楼前的路灯晚上不亮。",
                "submission_token": str(uuid.uuid4()),
            },
        )
        assert response.status_code == 302
    prepared = _prepared()
    for start in (
        'SELECT "session_data" FROM "django_session"',
        'SELECT "grids_user"."id"',
        'SELECT "grids_building"."id"',
        'WITH w0 AS (INSERT INTO "issues_issue"',
        "INSERT INTO issues_notification",
    ):
        assert _runs(prepared, start) >= 2, (start, list(prepared))
    assert Issue.objects.filter(title="路灯不亮").count() == postgresql.base.PREPARE_THRESHOLD + 2
    # Each filing told the grid's two workers once.
    assert Notification.objects.filter(issue__title="路灯不亮").count() == 2 * (
        postgresql.base.PREPARE_THRESHOLD + 2
    )
