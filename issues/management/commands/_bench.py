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

from config import serving
from grids import city as territory_city
from grids.views import LOGIN_BACKEND

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
    """Serve requests in this process as production does (config/serving.py), with the test
    client's host allowed, no redirect to HTTPS, the plain static storage (the manifest one
    needs collectstatic first and answers the same names) and, if given, a URLconf that adds
    the bare views."""
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
    # The collector is kept off what a serving process has loaded, as the entry points do
    # after their warm-up (here after the first request, an untimed warm-up call).
    unfreeze = serving.freeze_after_warm_up(requests=1)
    try:
        with override_settings(**changes), warnings.catch_warnings():
            # WhiteNoise warns that collectstatic has not run; the pages do not need it.
            warnings.filterwarnings("ignore", message="No directory at")
            yield
    finally:
        unfreeze()


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


# --- under gunicorn ------------------------------------------------------------------------


@contextmanager
def gunicorn(*, workers: int = 2, timeout: float = 60.0):
    """The product served by gunicorn on a free loopback port, as in production (DEBUG off,
    the compressed static files collected into a temporary folder) with the benchmarks'
    URLs (``config.bench_settings``), against this process's database, with a secret key
    of its own. Yields a ``Server`` (``session_cookie`` signs a person in there); the
    server is stopped and its folder removed on the way out."""
    import os
    import secrets
    import socket
    import subprocess
    import sys
    import tempfile
    import urllib.request

    secret_key = secrets.token_urlsafe(50)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="grid-bench-") as folder:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.bench_settings",
            "DATABASE_URL": _database_url(),
            "SECRET_KEY": secret_key,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_ROOT": os.path.join(folder, "static"),
            "LOG_LEVEL": "WARNING",
        }
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        subprocess.run(
            [*manage, "collectstatic", "--noinput", "-v0"], env=env, check=True, timeout=300
        )
        log = open(os.path.join(folder, "gunicorn.log"), "w+")  # noqa: SIM115 (read on failure)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--timeout",
                "30",
                "--no-control-socket",
            ],
            env=env,
            cwd=str(settings.BASE_DIR),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/accounts/login/", timeout=5
                    ) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise CommandError(f"gunicorn did not start:\n{log.read()[-2000:]}")
                time.sleep(0.2)
            yield Server(("127.0.0.1", port), secret_key)
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def _database_url() -> str:
    """This process's database as a URL for another process (PostgreSQL or SQLite)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    at = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{at}{host}{port}/{db['NAME']}"


@dataclass(frozen=True)
class Server:
    address: tuple[str, int]
    secret_key: str


def session_cookie(server: Server, user) -> str:
    """A session signed in as ``user`` on ``server`` (in the shared database, signed with
    the server's key), as a Cookie header's value."""
    client = Client()
    with override_settings(SECRET_KEY=server.secret_key):
        client.force_login(user, backend=LOGIN_BACKEND)  # as the sign-in page does
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@dataclass
class Throughput:
    """Requests answered by a server in measured slices: how many, in how long, and each
    one's wall time (milliseconds)."""

    done: int
    seconds: float
    times: list[float]

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        return f"{self.per_second:6.1f} req/s, p95 {Timing(self.times or [0.0]).p95:6.1f} ms"


def http_alternate(
    server: Server,
    targets: dict[str, tuple[str, dict]],
    *,
    clients: int,
    seconds: float,
    rounds: int,
) -> dict[str, Throughput]:
    """Each target (label → path, headers) requested by ``clients`` concurrent clients, one
    request after another each, for ``seconds`` per slice, in ``rounds`` rounds that
    alternate between the targets (their order reversed every other round). Only requests
    that finish inside their slice count; any answer but 200 stops the benchmark."""
    import http.client
    import threading

    host, port = server.address
    found = {label: Throughput(0, 0.0, []) for label in targets}

    def one(path, headers) -> float:
        started = time.perf_counter()
        connection_ = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection_.request("GET", path, headers=headers)
            answer = connection_.getresponse()
            answer.read()
        finally:
            connection_.close()
        if answer.status != 200:
            raise CommandError(f"{path} answered {answer.status} under gunicorn")
        return (time.perf_counter() - started) * 1000

    def slice_(label: str) -> None:
        path, headers = targets[label]
        stop = time.perf_counter() + seconds
        lock = threading.Lock()
        errors: list[BaseException] = []

        def client() -> None:
            try:
                while True:
                    took = one(path, headers)
                    if time.perf_counter() > stop:
                        return
                    with lock:
                        found[label].done += 1
                        found[label].times.append(took)
            except BaseException as exc:  # reported below, in the benchmark's thread
                errors.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        found[label].seconds += min(time.perf_counter(), stop) - started
        if errors:
            raise errors[0]

    for path, headers in targets.values():  # warm each worker up, untimed
        for _n in range(4 * clients):
            one(path, headers)
    order = list(targets)
    for number in range(rounds):
        for label in order if number % 2 == 0 else reversed(order):
            slice_(label)
    return found
