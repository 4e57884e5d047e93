"""What the benchmark commands share (not a command itself: the name starts with "_").

- The database check: benchmarks write and delete many rows, so they run only on a
  database whose name says "bench", "test" or "city", unless ``--yes``.
- The benchmark city (``manage.py build_city``): with it in the database, each benchmark
  measures on it instead of building its own data (``--own-data`` builds anyway;
  ``--city`` insists on the city).
- Timing beside a bare baseline: the project's page and a bare one-query Django view over
  the same table are requested in alternating rounds in the same process, so both see the
  same machine at the same moments; the ratio of their throughputs is the figure that
  means something on a shared, noisy machine (DESIGN.md §8: at least half of bare).
"""

from __future__ import annotations

import math
import re
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from grids import city as territory_city

SAFE_NAME = re.compile("bench|test|city", re.IGNORECASE)


def check_database(yes: bool, *, example: str = "grid_bench") -> str:
    """The database's name, or ``CommandError`` when it does not look like one for
    benchmarks (and ``--yes`` was not given)."""
    name = str(connection.settings_dict["NAME"])
    if not yes and not SAFE_NAME.search(name):
        raise CommandError(
            f"The database {name!r} does not look like a benchmark, test or city database, "
            f"and this command writes and deletes many rows. Create one (createdb {example}; "
            f"DATABASE_URL=postgres://…/{example} manage.py migrate) and point DATABASE_URL "
            "at it, or pass --yes if you really mean this database."
        )
    return name


# --- the city ------------------------------------------------------------------------------


def add_city_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--city",
        action="store_true",
        help="Measure on the benchmark city (make bench-city); fail if it is not there. "
        "By default the city is used whenever it is there.",
    )
    group.add_argument(
        "--own-data",
        action="store_true",
        help="Build this benchmark's own data even if the benchmark city is there.",
    )


def use_city(options, stdout=None) -> bool:
    """Whether to measure on the city: it is there and ``--own-data`` was not given."""
    if options.get("own_data"):
        return False
    there = territory_city.exists()
    if options.get("city") and not there:
        raise CommandError(
            "There is no benchmark city in this database: build it first with make "
            "bench-city (manage.py build_city), or leave out --city."
        )
    if there and stdout is not None:
        from issues import city

        stdout.write(
            f"measuring on the benchmark city ({city.issues().count()} issues; --own-data "
            "to build this benchmark's own data instead)"
        )
    if there:
        settle()
    return there


def settle() -> None:
    """Leave the city's busy tables as autovacuum would (dead rows gone, fresh statistics)
    before measuring: an earlier benchmark's rewrites (a sweep's hundred thousand rows, the
    rollups' catch-up) are otherwise measured too, wherever autovacuum is off or behind.
    (VACUUM cannot run inside a transaction, as under the test suite: nothing then.)"""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    from issues import rollups
    from issues.models import Issue, IssueEvent, Notification, PendingRollup

    busy = (Issue, IssueEvent, Notification, *rollups.TABLES, PendingRollup)
    with connection.cursor() as cursor:
        for model in busy:
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# --- timing --------------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall times of one kind of request, in milliseconds."""

    times: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def per_second(self) -> float:
        """Requests per second one process serves, one after another."""
        return 1000 / statistics.fmean(self.times)

    def describe(self) -> str:
        return f"median {self.median:6.1f} ms, p95 {self.p95:6.1f} ms, {self.per_second:6.1f} req/s"


def alternate(
    runs: dict[str, Callable[[], object]], *, rounds: int, per_round: int, warm: int = 3
) -> dict[str, Timing]:
    """Time each callable ``rounds × per_round`` times, in rounds that alternate between
    them (and reverse their order every other round), after ``warm`` untimed calls each."""
    for run in runs.values():
        for _n in range(warm):
            run()
    times: dict[str, list[float]] = {label: [] for label in runs}
    order = list(runs)
    for number in range(rounds):
        for label in order if number % 2 == 0 else reversed(order):
            run = runs[label]
            for _n in range(per_round):
                started = time.perf_counter()
                run()
                times[label].append((time.perf_counter() - started) * 1000)
    return {label: Timing(found) for label, found in times.items()}


def ratio_line(label: str, project: Timing, bare: Timing, *, queries: int, width: int = 24):
    """The project's figure, the bare baseline's, and the ratio of their throughputs."""
    return (
        f"{label:<{width}} {project.describe()}, {queries} queries | bare "
        f"{bare.describe()} | {project.per_second / bare.per_second:.2f} of bare"
    )


def count_queries(run: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as queries:
        run()
    return len(queries)


@contextmanager
def in_process(urlconf: str | None = None):
    """Serve requests in this process as production does, with the test client's host
    allowed, no redirect to HTTPS, the plain static storage (the manifest one needs
    collectstatic first and answers the same names) and, if given, a URLconf that adds the
    bare views."""
    changes = {
        "ALLOWED_HOSTS": [*settings.ALLOWED_HOSTS, "testserver"],
        # Behind the proxy every request is HTTPS already: no redirect to it here.
        "SECURE_SSL_REDIRECT": False,
        "STORAGES": {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    }
    if urlconf is not None:
        changes["ROOT_URLCONF"] = urlconf
    with override_settings(**changes), warnings.catch_warnings():
        # WhiteNoise warns that collectstatic has not run; the pages do not need it.
        warnings.filterwarnings("ignore", message="No directory at")
        yield


def getter(client: Client, url: str) -> Callable[[], object]:
    """A callable that GETs ``url`` and insists on a 200."""

    def get():
        response = client.get(url)
        if response.status_code != 200:
            raise CommandError(f"{url} answered {response.status_code}")
        return response

    return get


def unit_ids(user) -> dict[str, list[int]]:
    """The ids of the units a person holds posts on, by issue field: {"grid_id": [..]}."""
    from grids.models import Post

    found: dict[str, list[int]] = {}
    for post in Post.objects.filter(user=user):
        for name in ("grid_id", "community_id", "subdistrict_id", "department_id"):
            value = getattr(post, name)
            if value is not None:
                found.setdefault(name, []).append(value)
    return found
