"""Build a city to measure against (DESIGN.md §8), on PostgreSQL, with ``COPY``:

    createdb -h 127.0.0.1 -U postgres grid_city
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grid_city python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/grid_city python manage.py build_city

80 subdistricts, 800 communities, 8,000 grids with boundaries tiling the area around
Jinan, 40,000 buildings, 320 departments, 3,040 staff with their posts, 80,000 residents
(``grids.city``), and a year of issues (1,000,000 by default) with their events, each
issue's fields and history drawn from one story told by the workflow's rules
(``issues.city``). Then statistics (``VACUUM ANALYZE``) and the dashboards' daily rollups
(``rebuild_rollups``), and their statistics. Each step prints what it wrote and how long it
took.

The city is written in one transaction: it is there whole or not at all. Run again, the
command sees the city and does nothing; ``--reset`` deletes it first (its issues, people
and territory; nothing else in the database). The ``make bench-…`` targets measure on it.
The city's accounts share the password ``city12345``.
"""

from __future__ import annotations

import random
import re
import time

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from grids import city as territory_city
from grids.models import Building, Community, Grid, Post, Subdistrict, User
from issues import city, rollups
from issues.models import Issue, IssueEvent

# The tables the city is written into, whose statistics are taken once it is there.
CITY_TABLES = (Subdistrict, Community, Grid, Building, User, Post, Issue, IssueEvent)


class Command(BaseCommand):
    help = (
        "Build a city-scale dataset on PostgreSQL with COPY: 80 subdistricts, 800 "
        "communities, 8,000 grids with boundaries, buildings, departments, 3,040 staff, "
        "residents and a year of issues with their events (--issues, 1000000). Does nothing "
        "if the city is there; --reset builds it again."
    )

    def add_arguments(self, parser):
        defaults = territory_city.Plan()
        parser.add_argument("--issues", type=int, default=1_000_000, help="How many (1000000).")
        parser.add_argument(
            "--days", type=int, default=365, help="Filed over this many days up to now (365)."
        )
        parser.add_argument("--subdistricts", type=int, default=defaults.subdistricts)
        parser.add_argument(
            "--communities", type=int, default=defaults.communities, help="Per subdistrict."
        )
        parser.add_argument("--grids", type=int, default=defaults.grids, help="Per community.")
        parser.add_argument("--buildings", type=int, default=defaults.buildings, help="Per grid.")
        parser.add_argument("--residents", type=int, default=defaults.residents, help="Per grid.")
        parser.add_argument("--seed", type=int, default=1154, help="Random seed.")
        parser.add_argument(
            "--reset", action="store_true", help="Delete the city first, then build it again."
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Run even though the database name says neither 'city', 'bench' nor 'test'.",
        )

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError(
                "build_city needs PostgreSQL (it writes with COPY, and a city on SQLite would "
                "measure nothing useful). Point DATABASE_URL at a dedicated database, e.g. "
                "DATABASE_URL=postgres://postgres@127.0.0.1:5432/grid_city, and migrate it."
            )
        name = str(connection.settings_dict["NAME"])
        if not options["yes"] and not re.search("city|bench|test", name, re.IGNORECASE):
            raise CommandError(
                f"The database {name!r} does not look like one for a benchmark city. Create "
                "one (createdb grid_city; DATABASE_URL=postgres://…/grid_city manage.py "
                "migrate) and point DATABASE_URL at it, or pass --yes if you mean this one."
            )
        if options["issues"] < 0 or options["days"] < 1:
            raise CommandError("--issues must be 0 or more and --days at least 1.")
        try:
            plan = territory_city.Plan(
                subdistricts=options["subdistricts"],
                communities=options["communities"],
                grids=options["grids"],
                buildings=options["buildings"],
                residents=options["residents"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.verbosity = options["verbosity"]
        started = time.monotonic()

        if territory_city.exists():
            if not options["reset"]:
                self._describe_existing()
                return
            with self._step("deleted the city"):
                counts = city.delete_city()
                self._say(
                    f"  {counts['issues']} issues, {counts['events']} events, "
                    f"{counts['people']} people, {counts['grids']} grids"
                )

        rng = random.Random(options["seed"])
        now = timezone.now()
        with transaction.atomic():
            with self._step("territory and people"):
                territory = territory_city.build_territory(plan, rng=rng, now=now)
                c = territory.counts
                self._say(
                    f"  {c['subdistricts']} subdistricts, {c['communities']} communities, "
                    f"{c['grids']} grids with boundaries, {c['buildings']} buildings, "
                    f"{c['departments']} departments, {c['users']} people ({c['staff']} "
                    f"staff holding {c['posts']} posts, the rest residents)"
                )
            with self._step(f"{options['issues']} issues and their events"):
                loaded = city.build_issues(
                    territory,
                    options["issues"],
                    now=now,
                    days=options["days"],
                    rng=rng,
                    progress=self._progress(options["issues"]),
                )
                self._say(
                    f"  {loaded.issues} issues, {loaded.events} events; "
                    f"{loaded.open} open now; by status: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(loaded.statuses.items()))
                    + "; by level: "
                    + ", ".join(f"{k} {v}" for k, v in sorted(loaded.levels.items()))
                )
        with self._step("statistics (VACUUM ANALYZE)"):
            self._analyze(*CITY_TABLES)
        if "rebuild_rollups" in get_commands():
            try:
                with self._step("daily rollups (rebuild_rollups)"):
                    call_command("rebuild_rollups", stdout=self.stdout, verbosity=0)
                with self._step("statistics of the rollups (VACUUM ANALYZE)"):
                    # The rebuild leaves dead row versions behind: the dashboards would read
                    # pages of them until autovacuum comes by.
                    self._analyze(*rollups.TABLES)
            except Exception as error:  # noqa: BLE001 - the city stands without them
                self.stderr.write(
                    f"The daily rollups were not rebuilt ({error}); the city is complete "
                    "without them: run manage.py rebuild_rollups once that works."
                )
        self.stdout.write(
            f"Built the city in {time.monotonic() - started:.0f} s on {name!r}. Its accounts "
            f"(e.g. {', '.join(self._example_accounts())}) share the password "
            f"{territory_city.PASSWORD}."
        )

    # --- steps ----------------------------------------------------------------------

    def _step(self, label):
        command = self

        class Step:
            def __enter__(self):
                self.started = time.monotonic()
                command._say(f"{label}…")

            def __exit__(self, kind, error, trace):
                if kind is None:
                    command._say(f"{label}: {time.monotonic() - self.started:.1f} s")

        return Step()

    def _say(self, text: str) -> None:
        if self.verbosity:
            self.stdout.write(text)
            self.stdout.flush()

    def _progress(self, total: int):
        def progress(done: int) -> None:
            if self.verbosity >= 1 and total >= 200_000:
                self._say(f"  {done} of {total} issues written")

        return progress

    def _analyze(self, *models) -> None:
        # VACUUM also marks the pages all-visible, so the queue counts are answered from
        # the indexes alone, as on a database autovacuum keeps (not possible inside a
        # transaction, e.g. under the test suite: ANALYZE only there).
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")

    def _describe_existing(self) -> None:
        subdistricts = territory_city.subdistricts()
        issues = city.issues().count()
        self.stdout.write(
            f"The city is already there: {subdistricts.count()} subdistricts, {issues} issues "
            f"(the last filed {timezone.localtime(city.as_of()):%Y-%m-%d %H:%M}). Nothing "
            "done; --reset deletes it and builds it again."
            if issues
            else f"The city's territory is there ({subdistricts.count()} subdistricts) but "
            "it has no issues. Nothing done; --reset deletes it and builds it again."
        )

    def _example_accounts(self) -> list[str]:
        found = territory_city.accounts()
        if found is None:
            return []
        return [user.username for _role, user in found.by_role()]
