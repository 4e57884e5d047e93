"""The sweep benchmark command runs end to end and cleans up after itself."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from issues.models import Issue, IssueEvent


@pytest.mark.django_db
def test_bench_sweep_runs_and_cleans_up():
    out = StringIO()
    call_command("bench_sweep", "--issues", "50", "--yes", stdout=out)
    output = out.getvalue()
    assert "escalated" in output
    assert "second run: changed 0" in output
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()


@pytest.mark.django_db
def test_bench_sweep_keeps_data_when_asked():
    call_command("bench_sweep", "--issues", "20", "--yes", "--keep", stdout=StringIO())
    assert Issue.objects.filter(subdistrict__code="BENCH").count() == 20
    # A later run removes what the earlier one kept before creating its own.
    out = StringIO()
    call_command("bench_sweep", "--issues", "10", "--yes", stdout=out)
    assert "removed 20" in out.getvalue()
    assert not Issue.objects.filter(subdistrict__code="BENCH").exists()


@pytest.mark.django_db
def test_bench_sweep_refuses_a_database_not_named_for_it(monkeypatch):
    from django.db import connection

    monkeypatch.setitem(connection.settings_dict, "NAME", "grid_production")
    with pytest.raises(CommandError, match="--yes"):
        call_command("bench_sweep", "--issues", "5", stdout=StringIO())
    assert not Issue.objects.exists()
