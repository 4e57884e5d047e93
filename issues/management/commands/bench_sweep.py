"""Benchmark the deadline sweep (DESIGN.md §8): N overdue issues, one sweep, timed and with
its queries counted, then a second sweep that must change nothing.

The issues live in a throwaway benchmark subdistrict (code ``BENCH``) with a few staff, so
the notifications the sweep's events cause are part of the measurement, as in production.
The sweep itself runs over the whole database, which is why the command refuses to run on
a database whose name says neither "bench", "test" nor "city" unless ``--yes`` is given.

With the benchmark city in the database (``make bench-city``), the overdue issues are
spread over the city's grids instead (its 3,040 staff get the notices) beside its million
issues, and the sweep runs at the moment the city stands at (``issues.city.as_of``), when
the city itself gives it nothing to do; afterwards the benchmark's issues, their
notifications and their rollups are removed and the city is as it was.

On PostgreSQL the sweep is measured beside bare set-based SQL over the same rows: the
same three passes (escalate, supervise, close) as one ``UPDATE … RETURNING`` feeding one
``INSERT … SELECT`` of events each, on a lean copy of the rows (a table with the columns
the sweep reads and writes, its two partial indexes and an events table with one foreign
key), run once before and once after the sweep, and once on the real tables, rolled back.
DESIGN.md §8 asks for the sweep, notifications included, within 2× of the lean figure.
Once more on the real tables with every index of the issues dropped but the primary key
and the tracking number's unique constraint (rolled back with the drops): the floor the
real rows set, whatever indexes the queues, maps and dashboards keep.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grids import city as territory_city
from grids.models import Community, Department, Grid, Post, Subdistrict, User
from issues import city, notifications, rollups
from issues.models import (
    Category,
    Issue,
    IssueEvent,
    Level,
    Notification,
    Severity,
    SlaPolicy,
    Source,
    Status,
)
from issues.sweep import BATCH_SIZE, run_sweep
from issues.transitions import ESCALATES_TO
from issues.workflow import due_after

from . import _bench

BENCH_CODE = "BENCH"
BENCH_CATEGORY = "BENCH 压测类别"
COMMUNITIES = 4
GRIDS_PER_COMMUNITY = 5
RESIDENTS = 50
# Rollup keys rewritten per transaction after the clean-up (each holds a lock until commit).
ROLLUP_KEYS_PER_TRANSACTION = 500
LEVEL_CHOICES = {
    "mixed": [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT],
    "grid": [Level.GRID],
    "community": [Level.COMMUNITY],
    "subdistrict": [Level.SUBDISTRICT],
}


def _notifications(bench):
    """The notifications about the benchmark's issues, digests of several included (they
    name the unit, not an issue)."""
    return Notification.objects.filter(
        Q(issue__subdistrict=bench)
        | Q(grid__community__subdistrict=bench)
        | Q(community__subdistrict=bench)
        | Q(subdistrict=bench)
        | Q(department__subdistrict=bench)
    )


class BareSweep:
    """The baseline: the sweep's three passes as bare set-based SQL over the same rows.

    Each pass is one statement: an ``UPDATE … RETURNING`` of the rows it changes (their
    old status and level read from a self-join) feeding an ``INSERT`` of one event each,
    with the new deadlines computed once per (level, severity) like the sweep's. It runs
    on a lean copy of the benchmark's rows (``lean``: the columns the passes read and
    write, the two partial indexes they need, an events table with one plain foreign key),
    and once on the real tables inside a transaction that is rolled back
    (``same_schema``: every index and the deferred foreign keys, checked at once)."""

    ISSUE, EVENT, SOURCE = "bench_bare_issue", "bench_bare_event", "bench_bare_source"
    COLUMNS = (
        "id, status, level, severity, source, reporter_id, assignee_id, due_at, "
        "level_entered_at, escalation_count, is_supervised, supervised_at, resolved_at, "
        "closed_at, updated_at"
    )

    def __init__(self, *, now):
        self.now = now
        self.lean_seconds: list[float] = []
        self.lean_counts: tuple | None = None
        self.same_seconds: float | None = None
        self.bare_rows_seconds: float | None = None
        sla = SlaPolicy.table()
        # The new deadline by the level left and the severity.
        self.deadlines = {
            (level, severity): due_after(
                severity=severity, level=ESCALATES_TO[level], start=now, sla=sla
            )
            for level in ESCALATES_TO
            for severity in Severity.values
        }

    def prepare(self, issues) -> None:
        """Copy the rows (untimed) into a source table each lean round starts from."""
        self.drop()
        sql, params = issues.values_list("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {self.SOURCE} AS SELECT {self.COLUMNS} "
                f"FROM {Issue._meta.db_table} WHERE id IN ({sql})",
                params,
            )

    def _statements(self, issue_table: str, event_table: str) -> list[tuple[str, list]]:
        now = self.now
        running = "('submitted', 'in_progress')"
        due = "CASE" + " WHEN o.level = %s AND i.severity = %s THEN %s::timestamptz" * len(
            self.deadlines
        )
        due += " END"
        due_params = [
            value
            for (level, severity), at in self.deadlines.items()
            for value in (level, severity, at)
        ]
        event_columns = "issue_id, kind, from_status, to_status, from_level, to_level, created_at"
        extra_columns, extra_values = "", ""
        if event_table == IssueEvent._meta.db_table:  # the real table's other columns
            extra_columns = ", actor_id, note, internal_note, is_public, data"
            extra_values = ", NULL, '', '', true, '{}'"
        return [
            (
                f"WITH moved AS (UPDATE {issue_table} i SET "
                "level = CASE o.level WHEN 'grid' THEN 'community' ELSE 'subdistrict' END, "
                f"status = 'submitted', assignee_id = NULL, due_at = {due}, "
                "level_entered_at = %s, escalation_count = i.escalation_count + 1, "
                f"updated_at = %s FROM {issue_table} o WHERE o.id = i.id AND o.status IN "
                f"{running} AND o.due_at < %s AND o.level IN ('grid', 'community') "
                "RETURNING i.id, o.status AS from_status, o.level AS from_level, i.level) "
                f"INSERT INTO {event_table} ({event_columns}{extra_columns}) "
                "SELECT id, 'escalated', from_status, 'submitted', from_level, level, %s"
                f"{extra_values} FROM moved",
                [*due_params, now, now, now, now],
            ),
            (
                f"WITH watched AS (UPDATE {issue_table} SET is_supervised = true, "
                f"supervised_at = %s, updated_at = %s WHERE status IN {running} AND "
                "due_at < %s AND level = 'subdistrict' AND NOT is_supervised "
                "RETURNING id, status, level) "
                f"INSERT INTO {event_table} ({event_columns}{extra_columns}) "
                f"SELECT id, 'supervised', status, status, level, level, %s{extra_values} "
                "FROM watched",
                [now, now, now, now],
            ),
            (
                f"WITH shut AS (UPDATE {issue_table} SET status = 'closed', closed_at = %s, "
                "updated_at = %s WHERE status = 'resolved' AND resolved_at < %s AND "
                "source IN ('resident', 'volunteer') AND reporter_id IS NOT NULL "
                "RETURNING id, level) "
                f"INSERT INTO {event_table} ({event_columns}{extra_columns}) "
                f"SELECT id, 'auto_closed', 'resolved', 'closed', level, level, %s"
                f"{extra_values} FROM shut",
                [now, now, now - timedelta(days=settings.AUTO_CLOSE_DAYS), now],
            ),
        ]

    def _run(self, statements) -> tuple[float, tuple]:
        counts = []
        with transaction.atomic(), connection.cursor() as cursor:
            # As the sweep does: idempotent work need not wait for the flush.
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            started = time.monotonic()
            for sql, params in statements:
                cursor.execute(sql, params)
                counts.append(cursor.rowcount)
            elapsed = time.monotonic() - started
        return elapsed, tuple(counts)

    def lean(self) -> None:
        """One round on a fresh lean copy of the rows (the copy itself untimed)."""
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.EVENT}, {self.ISSUE}")
            cursor.execute(f"CREATE TABLE {self.ISSUE} AS TABLE {self.SOURCE}")
            cursor.execute(f"ALTER TABLE {self.ISSUE} ADD PRIMARY KEY (id)")
            cursor.execute(
                f"CREATE INDEX ON {self.ISSUE} (due_at) WHERE status IN ('submitted', "
                "'in_progress')"
            )
            cursor.execute(f"CREATE INDEX ON {self.ISSUE} (resolved_at) WHERE status = 'resolved'")
            cursor.execute(
                f"CREATE TABLE {self.EVENT} (id bigserial PRIMARY KEY, issue_id bigint NOT "
                f"NULL REFERENCES {self.ISSUE} (id), kind varchar(20) NOT NULL, from_status "
                "varchar(12) NOT NULL, to_status varchar(12) NOT NULL, from_level varchar(12) "
                "NOT NULL, to_level varchar(12) NOT NULL, created_at timestamptz NOT NULL)"
            )
            cursor.execute(f"CREATE INDEX ON {self.EVENT} (issue_id, created_at)")
            cursor.execute(f"ANALYZE {self.ISSUE}")
        elapsed, self.lean_counts = self._run(self._statements(self.ISSUE, self.EVENT))
        self.lean_seconds.append(elapsed)

    def same_schema(self) -> None:
        """One round on the real tables, rolled back."""
        self.same_seconds, self.same_counts = self._rolled_back()

    def without_indexes(self) -> None:
        """One round on the real tables with no index of the issues' but the primary key
        and the tracking number's unique constraint, rolled back with the drops. It is the
        floor for the real rows: what the sweep's passes would cost if no queue, map or
        dashboard had an index to keep up."""

        def drop_indexes(cursor):
            cursor.execute(
                "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
                [Issue._meta.db_table],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")

        self.bare_rows_seconds, _counts = self._rolled_back(before=drop_indexes)

    def _rolled_back(self, before=None) -> tuple[float, tuple]:
        """The passes on the real tables, after ``before(cursor)`` if given, all rolled
        back; then VACUUM, so that the sweep after it does not wade through the dead rows."""

        class Undo(Exception):
            pass

        statements = self._statements(Issue._meta.db_table, IssueEvent._meta.db_table)
        try:
            with transaction.atomic():
                if before is not None:
                    with connection.cursor() as cursor:
                        before(cursor)
                found = self._run(statements)
                raise Undo
        except Undo:
            pass
        if not connection.in_atomic_block:
            with connection.cursor() as cursor:
                for model in (Issue, IssueEvent):
                    cursor.execute(f"VACUUM {model._meta.db_table}")
        return found

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.EVENT}, {self.ISSUE}, {self.SOURCE}")

    def report(self, total: float, state: float, result) -> str:
        lean = statistics.fmean(self.lean_seconds)
        rounds = ", ".join(f"{t:.2f}" for t in self.lean_seconds)
        escalated, supervised, closed = self.lean_counts
        line = (
            f"bare set-based SQL, lean schema: escalated {escalated}, supervised "
            f"{supervised}, closed {closed} in {lean:.2f} s (rounds before and after the "
            f"sweep: {rounds}); the sweep's state changes and events take "
            f"{state / lean:.2f}× bare, with notifications {total / lean:.2f}× (budget: 2×)"
        )
        if self.same_seconds is not None:
            line += (
                f"; bare SQL on the real tables (rolled back) {self.same_seconds:.2f} s, "
                f"the sweep's state changes and events {state / self.same_seconds:.2f}× that"
            )
        if self.bare_rows_seconds is not None:
            line += (
                f"; the same without the issues' secondary indexes {self.bare_rows_seconds:.2f} s "
                f"({self.bare_rows_seconds / lean:.2f}× the lean schema: the rows alone)"
            )
        if (escalated, supervised, closed) != (result.escalated, result.supervised, result.closed):
            line += " (NB: the bare passes changed other counts than the sweep)"
        return line


def _changes(result) -> dict:
    """What a sweep did, pass by pass (the due-soon warnings only when there were any)."""
    changes = {
        "escalated": result.escalated,
        "supervised": result.supervised,
        "closed": result.closed,
    }
    if getattr(result, "warned", 0):
        changes["warned"] = result.warned
    return changes


class Command(BaseCommand):
    help = (
        "Create N overdue issues (in a benchmark subdistrict, or over the benchmark city if "
        "it is there), time one deadline sweep over them (and count its queries) beside bare "
        "set-based SQL over the same rows, check that a second sweep changes nothing, then "
        "delete the benchmark issues. Runs only on a database whose name contains 'bench', "
        "'test' or 'city', or with --yes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--issues", type=int, default=100_000, help="How many (100000).")
        parser.add_argument(
            "--level",
            choices=sorted(LEVEL_CHOICES),
            default="mixed",
            help="Level of the overdue issues: a mix (default), or all at one level "
            "('grid' measures pure escalation).",
        )
        parser.add_argument(
            "--resolved-share",
            type=float,
            default=0.05,
            help="Share of the issues that are resolved and left unevaluated for longer "
            "than AUTO_CLOSE_DAYS, so the closing pass is measured too (0.05).",
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument("--seed", type=int, default=1154, help="Random seed.")
        parser.add_argument(
            "--keep", action="store_true", help="Leave the benchmark issues in the database."
        )
        parser.add_argument(
            "--yes",
            action="store_true",
            help="Run even though the database name says neither 'bench', 'test' nor 'city'.",
        )
        _bench.add_city_arguments(parser)

    def handle(self, *args, **options):
        n = options["issues"]
        if n < 1:
            raise CommandError("--issues must be at least 1.")
        if not 0 <= options["resolved_share"] <= 1:
            raise CommandError("--resolved-share must be between 0 and 1.")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        name = _bench.check_database(options["yes"])
        verbosity = options["verbosity"]

        self.city = _bench.use_city(options, self.stdout)
        if self.city:
            bench, staff = None, self._city_staff()
            self.now = city.as_of()
        else:
            bench, staff = self._territory()
            self.now = None
        removed = self._cleanup(bench)
        if removed and verbosity:
            self.stdout.write(f"removed {removed} benchmark issues left by an earlier run")

        started = time.monotonic()
        created = self._create_issues(
            bench,
            staff,
            n,
            levels=LEVEL_CHOICES[options["level"]],
            resolved_share=options["resolved_share"],
            rng=random.Random(options["seed"]),
            now=self.now or timezone.now(),
        )
        if connection.vendor == "postgresql":
            # As autovacuum would have by then: fresh statistics, and the dead rows of an
            # earlier run's cleanup gone, so runs one after another measure the same thing.
            # (VACUUM cannot run inside a transaction, as under the test suite: ANALYZE only.)
            command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
            with connection.cursor() as cursor:
                for model in (Issue, IssueEvent):
                    table = connection.ops.quote_name(model._meta.db_table)
                    cursor.execute(f"{command} {table}")
        if verbosity:
            self.stdout.write(
                f"created {created} overdue issues on {connection.vendor} database {name!r} "
                f"in {time.monotonic() - started:.2f} s"
            )

        changed = 0
        bare = (
            BareSweep(now=self.now or timezone.now()) if connection.vendor == "postgresql" else None
        )
        try:
            if bare is not None:
                bare.prepare(self._issues(bench))
                bare.lean()
                bare.same_schema()
                bare.without_indexes()
            first, first_time, first_queries = self._sweep(options["batch_size"])
            first_notify = self.notify_seconds
            first_catch_up = self.catch_up_seconds
            first_catch_up_queries = self.catch_up_queries
            second, second_time, second_queries = self._sweep(options["batch_size"])
            events = IssueEvent.objects.filter(issue__in=self._issues(bench)).count()
            notes = self._notifications(bench).count()
            digests = self._notifications(bench).filter(issue_count__isnull=False).count()
            if events and not notes and not connection.in_atomic_block:
                # The batches committed, yet their notifications failed (the errors are
                # logged above): the figures would leave out what they cost. (Inside a
                # test's transaction nothing commits, so nothing is told.)
                raise CommandError("the sweep wrote no notifications; see the errors above")
            changed = sum(_changes(second).values())
            done = ", ".join(f"{what} {n}" for what, n in _changes(first).items())
            self.stdout.write(
                f"sweep over {created} overdue issues: {done} in {first_time:.2f} s "
                f"(state changes and events {first_time - first_notify:.2f} s, notifications "
                f"{first_notify:.2f} s), {len(first_queries)} queries ({events} events, "
                f"{notes} notifications written, {digests} of them digests); second run: "
                f"changed {changed} in "
                f"{second_time:.2f} s, {len(second_queries)} queries"
            )
            self.stdout.write(
                f"then the dashboards' rollups caught up with {first.caught_up} grid-days "
                f"in {first_catch_up:.2f} s (ROLLUP_DELAY={settings.ROLLUP_DELAY}: "
                + (
                    "rewritten inside the sweep's batches, so counted in its time above)"
                    if settings.ROLLUP_DELAY <= 0
                    else "off the sweep's transactions, by its round's end or a task)"
                )
            )
            if bare is not None:
                bare.lean()
                self.stdout.write(bare.report(first_time, first_time - first_notify, first))
            if verbosity >= 2:
                self._profile("first run", first_queries)
                self._profile("the rollups' catch-up after it", first_catch_up_queries)
                self._profile("second run", second_queries)
        finally:
            if bare is not None:
                bare.drop()
            if options["keep"]:
                self.stdout.write(f"kept the benchmark issues (tracking numbers {BENCH_CODE}…)")
            else:
                started = time.monotonic()
                self._cleanup(bench)
                if verbosity:
                    self.stdout.write(
                        f"deleted the benchmark issues in {time.monotonic() - started:.2f} s"
                    )
        if changed:
            raise CommandError(f"the second sweep changed {changed} issues; it must change none")

    # --- setup ----------------------------------------------------------------------

    def _territory(self):
        """The benchmark subdistrict, its units and staff (created once, then reused)."""
        with transaction.atomic():
            bench, _ = Subdistrict.objects.get_or_create(
                code=BENCH_CODE, defaults={"name": "压测街道"}
            )
            department, _ = Department.objects.get_or_create(subdistrict=bench, name="压测部门")
            Category.objects.get_or_create(
                name=BENCH_CATEGORY,
                defaults={"hint": "仅用于压测", "department": department, "is_active": False},
            )
            users = {}

            def person(username, unit=None, role=None, field=None, **extra):
                user, created = User.objects.get_or_create(
                    username=username, defaults={"first_name": "压测", **extra}
                )
                if created:
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                if unit is not None:
                    Post.objects.get_or_create(user=user, role=role, **{field: unit})
                users[username] = user
                return user

            staff = {"grids": [], "residents": []}
            for s in range(3):
                person(f"bench-sub-{s}", bench, Post.Role.SUBDISTRICT_STAFF, "subdistrict")
            person("bench-dept-0", department, Post.Role.DEPARTMENT_STAFF, "department")
            for c in range(COMMUNITIES):
                community, _ = Community.objects.get_or_create(
                    code=f"{BENCH_CODE}-C{c:02d}",
                    defaults={"subdistrict": bench, "name": f"压测社区{c}"},
                )
                for s in range(2):
                    person(f"bench-c{c:02d}-{s}", community, Post.Role.COMMUNITY_STAFF, "community")
                for g in range(GRIDS_PER_COMMUNITY):
                    grid, _ = Grid.objects.get_or_create(
                        code=f"{BENCH_CODE}-C{c:02d}-G{g:02d}",
                        defaults={"community": community, "name": f"压测网格{c}-{g}"},
                    )
                    worker = person(f"bench-c{c:02d}-g{g:02d}", grid, Post.Role.GRID_WORKER, "grid")
                    staff["grids"].append((grid, worker))
            for r in range(RESIDENTS):
                staff["residents"].append(person(f"bench-resident-{r:03d}"))
        return bench, staff

    def _city_staff(self):
        """The city's grids with their workers, and its residents, as ``_territory``
        gives the benchmark subdistrict's."""
        grids = {
            g.pk: g for g in Grid.objects.filter(code__startswith=f"{territory_city.CODE_PREFIX}-")
        }
        workers = Post.objects.filter(role=Post.Role.GRID_WORKER, grid_id__in=grids).select_related(
            "user"
        )
        residents = list(
            User.objects.filter(
                username__startswith=f"{territory_city.USER_PREFIX}resident-"
            ).order_by("pk")[:2000]
        )
        return {
            "grids": [(grids[post.grid_id], post.user) for post in workers.order_by("grid_id")],
            "residents": residents,
            "subdistricts": dict(
                Community.objects.filter(grids__in=list(grids)).values_list("pk", "subdistrict_id")
            ),
        }

    def _issues(self, bench):
        """The benchmark's issues: its subdistrict's, or in the city its tracking numbers."""
        if bench is None:
            return Issue.objects.filter(tracking_number__startswith=BENCH_CODE)
        return Issue.objects.filter(subdistrict=bench)

    def _notifications(self, bench):
        if bench is not None:
            return _notifications(bench)
        # The digests name the city's units; they were written at the sweep's moment.
        return Notification.objects.filter(
            Q(issue__tracking_number__startswith=BENCH_CODE)
            | Q(issue__isnull=True, created_at=self.now)
        )

    def _create_issues(self, bench, staff, n, *, levels, resolved_share, rng, now) -> int:
        sla = SlaPolicy.table()
        category, _ = Category.objects.get_or_create(
            name=BENCH_CATEGORY, defaults={"hint": "仅用于压测", "is_active": False}
        )
        severities = Severity.values
        stale = now - timedelta(days=settings.AUTO_CLOSE_DAYS + 1)
        rows = []
        for i in range(n):
            grid, worker = rng.choice(staff["grids"])
            severity = rng.choice(severities)
            resident = rng.random() < 0.5
            common = dict(
                tracking_number=f"{BENCH_CODE}{i:012d}",
                title=f"压测事件{i}",
                description="压测数据，运行 bench_sweep 后删除。",
                category=category,
                severity=severity,
                grid=grid,
                community_id=grid.community_id,
                subdistrict_id=bench.pk
                if bench is not None
                else staff["subdistricts"][grid.community_id],
            )
            if rng.random() < resolved_share:
                # Resolved, with a resident reporter who never evaluated it.
                level = rng.choice(levels)
                rows.append(
                    Issue(
                        **common,
                        source=Source.RESIDENT,
                        reporter=rng.choice(staff["residents"]),
                        level=level,
                        status=Status.RESOLVED,
                        assignee=worker if level == Level.GRID else None,
                        resolved_by=worker,
                        due_at=stale + timedelta(hours=1),
                        level_entered_at=stale - timedelta(hours=1),
                        created_at=stale - timedelta(hours=2),
                        accepted_at=stale - timedelta(hours=1),
                        resolved_at=stale,
                    )
                )
                continue
            level = rng.choice(levels)
            status = rng.choice([Status.SUBMITTED, Status.IN_PROGRESS])
            due_at = now - timedelta(minutes=rng.randint(1, 72 * 60))
            entered = due_at - sla[(severity, level)].rough
            rows.append(
                Issue(
                    **common,
                    source=Source.RESIDENT if resident else Source.PATROL,
                    reporter=rng.choice(staff["residents"]) if resident else worker,
                    level=level,
                    status=status,
                    assignee=worker if status == Status.IN_PROGRESS else None,
                    due_at=due_at,
                    level_entered_at=entered,
                    created_at=entered,
                    accepted_at=entered if status == Status.IN_PROGRESS else None,
                )
            )
        with transaction.atomic():
            Issue.objects.bulk_create(rows, batch_size=5000)
        return n

    # --- measuring ------------------------------------------------------------------

    def _sweep(self, batch_size):
        # Time the notification fan-out (inside each batch's transaction) on its own too: the
        # budget is for the state changes and their events; notifications come on top.
        spent = [0.0]
        original = notifications.notify

        def timed_notify(event_ids, happened=None):
            started = time.monotonic()
            try:
                return original(event_ids, happened)
            finally:
                spent[0] += time.monotonic() - started

        notifications.notify = timed_notify
        try:
            with CaptureQueriesContext(connection) as queries:
                started = time.monotonic()
                result = run_sweep(now=self.now, batch_size=batch_size, catch_up=False)
                elapsed = time.monotonic() - started
            # The dashboards' catch-up with the grid-days the sweep noted, which the sweep's
            # round ends with (or a task does, within ROLLUP_DELAY): timed and profiled apart.
            with CaptureQueriesContext(connection) as caught:
                started = time.monotonic()
                result.caught_up = rollups.catch_up()
                self.catch_up_seconds = time.monotonic() - started
            self.catch_up_queries = caught.captured_queries
        finally:
            notifications.notify = original
        self.notify_seconds = spent[0]
        return result, elapsed, queries.captured_queries

    def _profile(self, label, queries) -> None:
        """The query shapes that took longest, numbers and lists folded together."""
        shapes = defaultdict(lambda: [0, 0.0])
        for query in queries:
            shape = re.sub(r"\(\s*[^()]{200,}\)", "(…)", query["sql"])
            shape = re.sub(r"\b\d+\b", "N", shape)[:160]
            shapes[shape][0] += 1
            shapes[shape][1] += float(query["time"])
        self.stdout.write(f"{label}: slowest query shapes (count, total seconds)")
        for shape, (count, seconds) in sorted(shapes.items(), key=lambda kv: -kv[1][1])[:8]:
            self.stdout.write(f"  {count:5d} {seconds:8.3f}  {shape}")

    # --- cleanup --------------------------------------------------------------------

    def _cleanup(self, bench) -> int:
        """Delete the benchmark issues and everything hanging off them.

        Events are append-only for the application; deleting them here is fine because they
        are benchmark data in a benchmark subdistrict, never a real history. The rows that
        point at events and issues (notifications, photos, …) go first through the ORM, then
        events and issues with one raw DELETE each: Django's cascade would load every row
        into memory first. Should a new kind of row point at them and be missed, the foreign
        key stops the transaction and nothing is deleted.
        """
        # Digests name the benchmark's units (in the city: were written at the sweep's
        # moment), which stay: theirs go even with no issue left.
        self._notifications(bench).delete()
        issues = self._issues(bench)
        count = issues.count()
        if not count:
            return 0
        # The rollup rows the sweep rewrote with these issues in them: rewritten again.
        keys = {
            (rollups.local_day(created), grid_id)
            for created, grid_id in issues.values_list("created_at", "grid_id").distinct()
        }
        ids = issues.values("pk")
        events = IssueEvent.objects.filter(issue__in=ids)
        with transaction.atomic():
            for model, path in ((IssueEvent, "issue__in"), (Issue, "in")):
                for relation in model._meta.related_objects:
                    if relation.related_model in (Issue, IssueEvent):
                        continue  # the events themselves, and duplicates (none here)
                    relation.related_model._base_manager.filter(
                        **{f"{relation.field.name}__{path}": ids}
                    ).delete()
            issues.filter(duplicate_of__isnull=False).update(duplicate_of=None)
            events._raw_delete(events.db)
            issues._raw_delete(issues.db)
        # A transaction per chunk of keys: each holds a lock per key until it commits.
        keys = sorted(keys)
        for start in range(0, len(keys), ROLLUP_KEYS_PER_TRANSACTION):
            with transaction.atomic():
                rollups.refresh(keys[start : start + ROLLUP_KEYS_PER_TRANSACTION])
        return count
