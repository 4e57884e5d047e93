"""The two-host tests run against servers that tests/cluster/run.sh starts (`make
test-cluster`); it passes their addresses and environment in CLUSTER_* variables. The
normal test run leaves them out (the ``cluster`` marker, deselected in pyproject.toml).

These tests read and prepare the hosts' database directly through the ORM (the same
database as the hosts', not a test copy), and run management commands as a host does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Cluster:
    host_a: str
    host_b: str
    media_root: Path
    mail: Path
    env: dict[str, str]  # what the hosts run with

    def manage(self, *args: str, name: str = "") -> subprocess.Popen:
        """Start ``manage.py args`` as a host would run it (its settings and database);
        ``name`` is its connection's application_name in PostgreSQL."""
        return subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, "PGAPPNAME": name or "cluster-manage"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def _read_env(path: str) -> dict[str, str]:
    lines = Path(path).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture(scope="session")
def cluster(django_db_blocker) -> Cluster:
    if not os.environ.get("CLUSTER_HOST_A"):
        pytest.skip("needs the two hosts that `make test-cluster` starts")
    # The hosts' own database, as it is: no test database, no transaction around a test.
    with django_db_blocker.unblock():
        yield Cluster(
            host_a=os.environ["CLUSTER_HOST_A"],
            host_b=os.environ["CLUSTER_HOST_B"],
            media_root=Path(os.environ["CLUSTER_MEDIA_ROOT"]),
            mail=Path(os.environ["CLUSTER_MAIL"]),
            env=_read_env(os.environ["CLUSTER_ENV"]),
        )
        from django.db import connections

        connections.close_all()
