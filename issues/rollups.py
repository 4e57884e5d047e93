"""The daily rollups: the governance figures of the issues filed on one day in one grid,
kept up to date in the transaction that changes the issues.

Three tables, one key: the issues filed on one local day in one grid (with one department,
or none).

- ``DailyRollup``: per key, category, severity and source, every figure that does not
  depend on the moment it is read (``stats.STORED_KEYS``: counts, and sums instead of
  averages), the closed loop's counts from events and sub-tasks, and the histograms of
  the two durations that medians are read from. They are computed by the very aggregate
  expressions of the live figures (``stats.figure_aggregates``,
  ``stats.histogram_aggregates``, ``loop.routing_aggregates``, ``loop.task_aggregates``),
  grouped by the row's key: the rollup and the live figures cannot drift apart.
- ``DailyTotal``: the same per key, whatever the category, severity and source (the sums of
  the key's ``DailyRollup`` rows). A grid files a handful of issues a day over many
  categories, severities and sources, so a ``DailyRollup`` row holds about one issue; a
  total holds a grid's day. The dashboard reads the totals unless a category, severity or
  source is chosen.
- ``MonthlyTotal``: the daily totals of a grid's (and department's) calendar month added
  up. A period of many months reads them for its whole months and the daily totals only
  for the days of the months it covers in part (``stats.rollup_sources``): a year is some
  thirteen rows per grid instead of up to 365.
- ``DailyOutcome``: per key, category, severity, source, day resolved and day of the
  deadline missed, how many issues: the weekly trend (narrow rows).
- ``SubdistrictDay``, ``SubdistrictMonth``: the daily totals of a subdistrict's day (or
  month) added up, whatever the grid and department; ``SubdistrictOutcome`` and
  ``CityOutcome``: a subdistrict's and the city's outcomes of a day, a series (filed,
  resolved, overdue) at a time by week. What the whole city's dashboard reads: 80
  subdistricts' year is about a thousand month rows where the grid rows are a hundred
  thousand, and the city's trend some ten thousand rows where the outcomes are a million.
  ``SubdistrictDay``, ``SubdistrictMonth`` and ``CityOutcome`` keep slices
  (``models.Slice``): the whole, and every combination of category, severity and source,
  so that the city with any of those filters chosen reads as few rows as without. A
  subdistrict's day's slices are added up from its ``DailyRollup`` rows, all in one pass
  on PostgreSQL (``GROUPING SETS``).
  Its months and the city's outcomes by slice are kept by difference: a refresh takes
  the days' rows (the keys' daily outcomes) away before rewriting them and adds them back
  after, as rows of their own, then adds up into one the rows of each key of the months
  and city days it touched that has more than one (``_compact``), instead of re-reading
  whole months and whole city days.

The few figures that depend on "now" (overdue now, unanswered past the first deadline,
sub-tasks late, left unverified too long) stay live, over open work only.

Keeping them: an issue's *key* is (its filing day, its grid); neither ever changes. Every
change calls ``changed(keys)``: the workflow for the issue it changed, filing for the new
issue, the sweep once per batch and a unit's move once for the issues that moved. With
``settings.ROLLUP_DELAY`` at 0 that rewrites the keys' rows at once, in the change's
transaction; otherwise it notes the keys (``PendingRollup``, one ``INSERT``) and, once the
change is committed, asks for a catch-up task at most every ``ROLLUP_DELAY`` seconds per
process; every sweep round catches up too. The catch-up (``catch_up``) takes the noted
keys and rewrites them, a chunk per transaction: a filing or an escalation then costs one
small insert instead of the rewrite, and the dashboard says how far behind it is
(``lag``).

``refresh(keys)`` rewrites the rows of those keys from the issues as they are now:
``DELETE`` the keys' rows, then ``INSERT … SELECT … GROUP BY`` of the issues, their routing
events and their sub-tasks; the totals from the rows just written, the outcomes from the
issues; then the keys' months (grid and month) from their daily totals; then the days and
months and outcomes of the keys' subdistricts (those the keys' rows named before, after a
grid moved, and name now) from the grid rows, their months by difference, and the city's
outcomes of their days from the subdistricts' (the whole) and by difference (the other
slices). Set-based, a
fixed number of statements for any number of keys: the keys' issue ids are read first
(each key through the (grid, created_at) index), and each DELETE and INSERT takes them, or
the keys, as one list parameter whose length the planner knows.
The INSERT statements are compiled once per process.

Concurrency: a catch-up reads the noted keys it can see (committed), rewrites them and
deletes exactly those rows in one transaction; a change committed meanwhile left its own
row, which the next catch-up takes. Catch-ups on several hosts wait for one another (an
advisory lock). On PostgreSQL the refresh first takes a transaction-scoped advisory lock per
key and per month of a key's grid (all at once, in the order of their ids, so two
refreshes never deadlock on each other); two keys of one grid and month then take turns, and
the second one's month is added up from the first one's committed days. The same holds for a
subdistrict's month and a city day, locked once the grid rows are written (their rows are
added up from every grid's, committed or this transaction's own). A second transaction
changing an issue of the same key waits for the first to commit, and its own ``DELETE`` and
``INSERT`` (each a new snapshot under READ COMMITTED) then see the first one's rows and
changes: no row is written from a stale view. Everyone locks issue rows before keys (the
refresh comes last in a transaction), so the keys add no lock cycle. SQLite runs one writer
at a time.

``rebuild(since, until)`` recomputes a range of days (``manage.py rebuild_rollups``, or the
``rebuild_rollups_task`` task), one chunk of days per transaction; it locks the rollup
tables against refreshes for the chunk, so that nothing written meanwhile is lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from functools import cache
from itertools import combinations
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache as default_cache
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    Q,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone
from django_tasks import task

from .models import (
    ROLLUP_COUNTS,
    ROLLUP_HISTOGRAM_COLUMNS,
    ROLLUP_SUMS,
    ROLLUP_VALUES,
    CityOutcome,
    DailyOutcome,
    DailyRollup,
    DailyTotal,
    Issue,
    IssueEvent,
    IssueTask,
    MonthlyTotal,
    PendingRollup,
    Series,
    SubdistrictDay,
    SubdistrictMonth,
    SubdistrictOutcome,
)
from .stats import figures, loop
from .stats.filters import month_of, next_month

log = logging.getLogger(__name__)

# The key of a total, and of a rollup row (with the filters), as columns and issue fields.
TOTAL_KEY = {
    "day": None,  # the local filing day
    "subdistrict_id": "subdistrict_id",
    "community_id": "community_id",
    "grid_id": "grid_id",
    "department_id": "department_id",
}
KEY_COLUMNS = {
    **TOTAL_KEY,
    "category_id": "category_id",
    "severity": "severity",
    "source": "source",
}
COLUMNS = (*KEY_COLUMNS, *ROLLUP_VALUES)
OUTCOME_COLUMNS = (*KEY_COLUMNS, "resolved_day", "missed_day", "filed")
# The tables whose rows are keys (day, grid); the whole city's (a subdistrict's day or
# month, the city's outcomes of a day); and every table the rollups keep.
DAY_TABLES = (DailyRollup, DailyTotal, DailyOutcome)
CITY_TABLES = (SubdistrictDay, SubdistrictMonth, SubdistrictOutcome, CityOutcome)
# The slices of the city's rollups (``issues.models.Slice``): the columns each keeps, the
# others blank; every combination of them, from the whole slice (none) to all three.
SLICE_COLUMNS = ("category_id", "severity", "source")
SLICES = tuple(
    kept for n in range(len(SLICE_COLUMNS) + 1) for kept in combinations(SLICE_COLUMNS, n)
)
BLANK = {"category_id": "NULL", "severity": "''", "source": "''"}
TABLES = (*DAY_TABLES, MonthlyTotal, *CITY_TABLES)

# The counts from the routing events and from the sub-tasks (the rest from the issue rows).
EVENT_VALUES = ("dispatches_received", "returned")
TASK_VALUES = ("tasks_done", "tasks_on_time")

# Advisory locks of rollup keys, and of a grid's months: this tag in the high 32 bits of
# the lock id.
LOCK_TAG = 0x524F4C4C  # "ROLL"
MONTH_LOCK_TAG = 0x4D4F4E54  # "MONT"
# And, for the city's rollups, of a subdistrict's month (its days and month) and of a day's
# outcomes.
SUBDISTRICT_LOCK_TAG = 0x53554244  # "SUBD"
CITY_LOCK_TAG = 0x43495459  # "CITY"
# Days per transaction of a rebuild.
REBUILD_CHUNK_DAYS = 31


@cache
def zone() -> ZoneInfo:
    """The local time the filing day is counted in (the dashboard's days too)."""
    return ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    return timezone.localtime(moment, zone()).date()


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone())


def key_of(issue) -> tuple[date, int]:
    """An issue's rollup key: its local filing day and its grid (neither ever changes)."""
    return local_day(issue.created_at), issue.grid_id


def key_of_row(row: dict) -> tuple[date, int]:
    """The same from an issue's ``values()`` row with ``created_at`` and ``grid_id``."""
    return local_day(row["created_at"]), row["grid_id"]


# --- which issues, which rows ----------------------------------------------------------------


# Each column type a relation of values may have: how SQLite's JSON holds a value of it.
_AS_JSON = {
    "bigint": int,
    "date": date.isoformat,
    "timestamptz": lambda at: str(connection.ops.adapt_datetimefield_value(at)),
}


def _relation(columns: dict[str, tuple[str, list]]) -> tuple[str, list]:
    """Columns of values ({name: (its PostgreSQL type, the values)}) as a relation of
    rows. PostgreSQL: arrays, whose length the planner knows (it then reads each row's
    matches through the indexes); SQLite: one JSON parameter."""
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{kind}[]" for kind, _values in columns.values())
        values = [values for _kind, values in columns.values()]
        return f"SELECT {names} FROM unnest({arrays}) AS k({names})", values
    as_json = [(name, _AS_JSON[kind]) for name, (kind, _values) in columns.items()]
    rows = [
        {name: write(value) for (name, write), value in zip(as_json, row, strict=True)}
        for row in zip(*(values for _kind, values in columns.values()), strict=True)
    ]
    selected = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name in columns)
    return f"SELECT {selected} FROM json_each(%s)", [json.dumps(rows)]


def _keys_relation(keys: list[tuple[date, int]], *, bounds: bool = True) -> tuple[str, list]:
    """The keys as a relation (g: grid, d: day and, with ``bounds``, a/b: the day's first
    moment and the next day's)."""
    columns = {
        "g": ("bigint", [grid for _day, grid in keys]),
        "d": ("date", [day for day, _grid in keys]),
    }
    if bounds:
        columns["a"] = ("timestamptz", [day_start(day) for day, _grid in keys])
        columns["b"] = ("timestamptz", [day_start(day + timedelta(days=1)) for day, _grid in keys])
    return _relation(columns)


def _issue_ids(keys) -> list[int]:
    """The ids of the issues in these keys, each key's read through the (grid, created_at)
    index."""
    relation, params = _keys_relation(keys)
    table = Issue._meta.db_table
    if connection.vendor == "postgresql":
        # OFFSET 0 keeps the subquery apart: one index range per key, however many keys
        # (flattened, the planner would rather scan the whole table for a few hundred).
        sql = (
            f"SELECT i.id FROM ({relation}) k CROSS JOIN LATERAL (SELECT id FROM {table} "
            "WHERE grid_id = k.g AND created_at >= k.a AND created_at < k.b OFFSET 0) i"
        )
    else:
        sql = (
            f"SELECT i.id FROM ({relation}) k JOIN {table} i "
            "ON i.grid_id = k.g AND i.created_at >= k.a AND i.created_at < k.b"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


# Placeholders compiled into the cached INSERT statements, replaced by each run's values.
IDS_PARAM = "\x00rollup:ids\x00"
START_PARAM = "\x00rollup:start\x00"
STOP_PARAM = "\x00rollup:stop\x00"


def _ids_values(ids: list[int]) -> dict:
    if connection.vendor == "postgresql":
        return {IDS_PARAM: ids}
    return {IDS_PARAM: json.dumps(ids)}


def _ids_condition(prefix: str) -> Q:
    """The issues of ``IDS_PARAM`` (a list whose length the planner knows)."""
    if connection.vendor == "postgresql":
        ids = RawSQL("SELECT unnest(%s::bigint[])", [IDS_PARAM])
    else:
        ids = RawSQL("SELECT value FROM json_each(%s)", [IDS_PARAM])
    return Q(**{"issue_id__in" if prefix else "pk__in": ids})


def _days_condition(prefix: str) -> Q:
    """The issues filed from ``START_PARAM`` to before ``STOP_PARAM``."""
    return Q(
        **{
            f"{prefix}created_at__gte": RawSQL("%s", [START_PARAM]),
            f"{prefix}created_at__lt": RawSQL("%s", [STOP_PARAM]),
        }
    )


def _rows_of_keys(keys) -> tuple[str, list]:
    """The rollup rows of these keys, as a WHERE clause."""
    relation, params = _keys_relation(keys)
    return f"(grid_id, day) IN (SELECT g, d FROM ({relation}) keys)", params


def _rows_of_days(first: date, last: date) -> tuple[str, list]:
    adapt = connection.ops.adapt_datefield_value
    return "day >= %s AND day <= %s", [adapt(first), adapt(last)]


# --- the statements ----------------------------------------------------------------------


def _zeros(names, *, like: str = "count") -> dict:
    field = IntegerField() if like == "count" else FloatField()
    return {name: Cast(Value(0 if like == "count" else None), output_field=field) for name in names}


def _filler(filled: Iterable[str]) -> dict:
    """Typed zeros (counts) and NULLs (sums) for the value columns a part does not fill."""
    filled = set(filled)
    counts = [c for c in (*ROLLUP_COUNTS, *ROLLUP_HISTOGRAM_COLUMNS) if c not in filled]
    sums = [c for c in ROLLUP_SUMS if c not in filled]
    return {**_zeros(counts), **_zeros(sums, like="sum")}


def _key_values(prefix: str, *, department) -> dict:
    """A row's key from the issue's fields (through ``prefix``). Select aliases clash with
    no model field; only their order matters."""
    values = {}
    for column, field in KEY_COLUMNS.items():
        if column == "day":
            values["k_day"] = TruncDate(f"{prefix}created_at", tzinfo=zone())
        elif column == "department_id":
            values["k_department_id"] = department
        else:
            values[f"k_{column}"] = F(prefix + field)
    return values


def _rollup_parts(condition) -> list:
    """The three grouped SELECTs whose rows are the ``DailyRollup`` rows of the issues
    ``condition`` (prefix → Q on the issue) picks: the issue rows by their own department,
    the routing events by the department they name, the sub-tasks by theirs."""
    now = timezone.now()  # no stored figure depends on it
    aliases = [f"k_{name}" for name in KEY_COLUMNS] + [f"v_{name}" for name in ROLLUP_VALUES]

    def rename(values: dict) -> dict:
        return {f"v_{name}": value for name, value in values.items()}

    issue_values = {
        **figures.figure_aggregates(now=now, keys=figures.STORED_KEYS),
        **figures.histogram_aggregates(),
    }
    issues = (
        Issue.objects.filter(condition(""))
        .values(**_key_values("", department=F("department_id")))
        .annotate(**rename(issue_values), **rename(_filler(issue_values)))
        .values(*aliases)
        .order_by()
    )
    events = (
        IssueEvent.objects.filter(condition("issue__"), kind__in=loop.ROUTING_KINDS)
        .annotate(named_department=loop.event_department_name())
        .values(**_key_values("issue__", department=loop.event_department()))
        .annotate(**rename(loop.routing_aggregates()), **rename(_filler(EVENT_VALUES)))
        .values(*aliases)
        .order_by()
    )
    tasks = (
        IssueTask.objects.filter(condition("issue__"))
        .values(**_key_values("issue__", department=F("department_id")))
        .annotate(**rename(loop.task_aggregates()), **rename(_filler(TASK_VALUES)))
        .values(*aliases)
        .order_by()
    )
    return [issues, events, tasks]


def _outcomes(condition):
    """The ``DailyOutcome`` rows of the issues ``condition`` picks: the trend's "resolved
    per week of resolution" and "overdue per week of the deadline missed" (resolved after
    it; those still running past it are counted live)."""
    missed = Case(
        When(resolved_at__gt=F("due_at"), then=TruncDate("due_at", tzinfo=zone())),
        output_field=DateField(),
    )
    return (
        Issue.objects.filter(condition(""))
        .values(
            **_key_values("", department=F("department_id")),
            k_resolved_day=TruncDate("resolved_at", tzinfo=zone()),
            k_missed_day=missed,
        )
        .annotate(v_filed=Count("id"))
        .order_by()
    )


def _quoted(columns) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


# The compiled INSERT statements, per database, table and condition: building the ORM
# queries of some hundred aggregates costs far more than running them for one key.
_STATEMENTS: dict[tuple, tuple[str, list]] = {}


def _statement(model, condition) -> tuple[str, list]:
    key = (connection.alias, connection.vendor, model.__name__, condition.__name__)
    if key not in _STATEMENTS:
        if model is DailyRollup:
            parts = _rollup_parts(condition)
            query, columns = parts[0].union(*parts[1:], all=True), COLUMNS
        else:
            query, columns = _outcomes(condition), OUTCOME_COLUMNS
        select, params = query.query.get_compiler(connection=connection).as_sql()
        _STATEMENTS[key] = (
            f"INSERT INTO {model._meta.db_table} ({_quoted(columns)}) {select}",
            list(params),
        )
    return _STATEMENTS[key]


def _run(sql: str, params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _write(condition, values: dict, rows: tuple[str, list]) -> int:
    """Write the rows of the issues ``condition`` picks (``values`` replace the placeholders
    in its parameters); ``rows``: the same rows as a WHERE clause on the tables, for the
    totals. Returns the number of ``DailyRollup`` rows written."""
    written = 0
    for model in (DailyRollup, DailyOutcome):
        sql, params = _statement(model, condition)
        params = [values.get(p, p) if isinstance(p, str) else p for p in params]
        count = _run(sql, params)
        written = count if model is DailyRollup else written
    where, where_params = rows
    keys = _quoted(TOTAL_KEY)
    sums = ", ".join(f"SUM({connection.ops.quote_name(c)})" for c in ROLLUP_VALUES)
    _run(
        f"INSERT INTO {DailyTotal._meta.db_table} ({keys}, {_quoted(ROLLUP_VALUES)}) "
        f"SELECT {keys}, {sums} FROM {DailyRollup._meta.db_table} WHERE {where} "
        f"GROUP BY {keys}",
        where_params,
    )
    return written


def _delete(rows: tuple[str, list]) -> None:
    where, params = rows
    for model in DAY_TABLES:
        _run(f"DELETE FROM {model._meta.db_table} WHERE {where}", params)


def _month_sql(column: str) -> str:
    """The first day of a date column's month, in SQL."""
    if connection.vendor == "postgresql":
        return f"date_trunc('month', {column})::date"
    return f"date({column}, 'start of month')"


def _months_relation(months: list[tuple[date, int]]) -> tuple[str, list]:
    """(month, grid) pairs as a relation: g the grid, m the month's first day, n the next
    month's."""
    firsts = [month for month, _grid in months]
    return _relation(
        {
            "g": ("bigint", [grid for _month, grid in months]),
            "m": ("date", firsts),
            "n": ("date", [next_month(month) for month in firsts]),
        }
    )


def _slice_selects(slices, columns: list[str], select) -> list[str]:
    """A SELECT per slice of the city's rollups (of ``SLICES``) of the ``columns`` it keeps
    (of ``SLICE_COLUMNS``): ``select(chosen, grouped)`` writes one, given the slice's
    columns as selected (", t.category_id, '', ''": the ones it does not keep blank) and
    as grouped by (", t.category_id")."""
    selects = []
    for kept in slices:
        chosen = "".join(f", t.{c}" if c in kept else f", {BLANK[c]}" for c in columns)
        selects.append(select(chosen, "".join(f", t.{c}" for c in kept)))
    return selects


def _write_totals(
    model,
    rows: tuple[str, list] | None,
    source: tuple[str, list],
    *,
    monthly: bool,
    slices=None,
    sign: str = "",
):
    """Rewrite rows of a table of totals (``MonthlyTotal``, ``SubdistrictDay``,
    ``SubdistrictMonth``; ``rows``: which, as a WHERE clause on it) as the sums of the
    rollup columns of ``source`` (a FROM clause naming a table of them ``t``, with its
    conditions), grouped by the unit columns the table keeps and by day, or by month
    (``monthly``: its first day). A table with slices (``SLICE_COLUMNS``) takes them from
    the source's rows as they are, or (``slices``: those of ``SLICES`` to write) adds up
    each of them from rows that keep every combination (``DailyRollup``). With no ``rows``
    nothing is deleted first: the sums are added as rows of their own, or taken away
    (``sign`` "-"), for ``_compact`` to add up."""
    if rows is not None:
        where, where_params = rows
        _run(f"DELETE FROM {model._meta.db_table} WHERE {where}", where_params)
    columns = {field.column for field in model._meta.concrete_fields}
    keys = [column for column in TOTAL_KEY if column != "day" and column in columns]
    sliced = [column for column in SLICE_COLUMNS if column in columns]
    grouped = ", ".join(f"t.{connection.ops.quote_name(c)}" for c in keys)
    day = _month_sql("t.day") if monthly else "t.day"
    sums = ", ".join(f"{sign}SUM(t.{connection.ops.quote_name(c)})" for c in ROLLUP_VALUES)
    source_sql, params = source
    if slices and connection.vendor == "postgresql":
        # One pass over the rows: PostgreSQL groups them by every slice at once (the
        # columns a slice does not keep come out NULL, written blank).
        sets = ", ".join("(" + ", ".join(f"t.{c}" for c in kept) + ")" for kept in slices)
        chosen = "".join(f", COALESCE(t.{c}, {BLANK[c]})" for c in sliced)
        selects = [
            f"SELECT {day}, {grouped}{chosen}, {sums} FROM {source_sql} "
            f"GROUP BY {day}, {grouped}, GROUPING SETS ({sets})"
        ]
    else:
        selects = _slice_selects(
            slices or [sliced],
            sliced,
            lambda chosen, by: (
                f"SELECT {day}, {grouped}{chosen}, {sums} FROM {source_sql} "
                f"GROUP BY {day}, {grouped}{by}"
            ),
        )
    _run(
        f"INSERT INTO {model._meta.db_table} (day, {_quoted([*keys, *sliced])}, "
        f"{_quoted(ROLLUP_VALUES)}) " + " UNION ALL ".join(selects),
        params * len(selects),
    )


def _months_of_keys(months: list[tuple[date, int]]) -> None:
    """Rewrite the months (month, grid) from their daily totals, each read through the
    (grid, day) index."""
    relation, params = _months_relation(months)
    _write_totals(
        MonthlyTotal,
        (f"(grid_id, day) IN (SELECT g, m FROM ({relation}) months)", params),
        (
            f"{DailyTotal._meta.db_table} t JOIN ({relation}) k "
            "ON t.grid_id = k.g AND t.day >= k.m AND t.day < k.n",
            params,
        ),
        monthly=True,
    )


def _months_of_days(first: date, last: date) -> None:
    """Rewrite every grid's months from ``first``'s to ``last``'s."""
    adapt = connection.ops.adapt_datefield_value
    start, stop = adapt(month_of(first)), adapt(next_month(last))
    _write_totals(
        MonthlyTotal,
        ("day >= %s AND day < %s", [start, stop]),
        (f"{DailyTotal._meta.db_table} t WHERE t.day >= %s AND t.day < %s", [start, stop]),
        monthly=True,
    )


def _lock_id(tag: int, day: date, unit: int) -> int:
    # Two keys may share a lock id (then they wait for each other needlessly, no harm).
    return (tag << 32) | ((unit * 1_000_003 + day.toordinal()) & 0xFFFFFFFF)


def _take_locks(ids) -> None:
    """Transaction-scoped advisory locks, all at once in the order of their ids
    (PostgreSQL)."""
    if connection.vendor == "postgresql":
        _run("SELECT pg_advisory_xact_lock(x) FROM unnest(%s::bigint[]) AS x", [sorted(ids)])


def _lock(keys: list[tuple[date, int]], months: list[tuple[date, int]]) -> None:
    """Locks on the keys and on their grids' months."""
    _take_locks(
        {_lock_id(LOCK_TAG, day, grid) for day, grid in keys}
        | {_lock_id(MONTH_LOCK_TAG, month, grid) for month, grid in months}
    )


# --- the city's rollups: a subdistrict's days and months, the city's outcomes ----------------


def _week_sql(column: str) -> str:
    """The Monday of a date column's week, in SQL (NULL stays NULL)."""
    if connection.vendor == "postgresql":
        return f"date_trunc('week', {column})::date"
    return f"date({column}, 'weekday 0', '-6 days')"


def _outcome_select(source: str, unit: str, slices, columns: list[str], sign: str = "") -> str:
    """A SELECT of the outcomes of daily outcome rows (``source``: a FROM clause naming
    them ``t``, with its conditions) by day and ``unit`` (columns, e.g. ", t.subdistrict_id"),
    each series by its own week: filed by the day's, resolved and overdue by theirs (the
    issues not resolved, or not late, have none); for each of ``slices`` (of ``columns``,
    as ``_slice_selects``); ``sign`` "-" to take them away. One pass over the rows, each
    read once for every series and slice."""
    weeks = {
        Series.FILED: _week_sql("t.day"),
        Series.RESOLVED: _week_sql("t.resolved_day"),
        Series.OVERDUE: _week_sql("t.missed_day"),
    }
    week = "CASE " + " ".join(f"WHEN s.series = '{n.value}' THEN {w}" for n, w in weeks.items())
    week += " END"
    kinds = " UNION ALL ".join(
        f"SELECT '{name.value}' AS series, {index} AS kept"
        for name in weeks
        for index in range(len(slices))
    )
    chosen = "".join(
        ", CASE WHEN s.kept IN ("
        + (", ".join(str(i) for i, kept in enumerate(slices) if column in kept) or "-1")
        + f") THEN t.{column} ELSE {BLANK[column]} END"
        for column in columns
    )
    grouped = ", ".join(str(n) for n in range(1, 4 + len(columns) + unit.count(",")))
    # The rows read first, each once (MATERIALIZED: through the index of their keys, not
    # in the order the grouping would like).
    return (
        f"WITH o AS MATERIALIZED (SELECT t.* FROM {source}) "
        f"SELECT t.day{unit}, s.series, {week}{chosen}, {sign}SUM(t.filed) "
        f"FROM o t CROSS JOIN ({kinds}) s WHERE {week} IS NOT NULL GROUP BY {grouped}"
    )


def _write_subdistrict_outcomes(rows: tuple[str, list], outcomes: tuple[str, list]) -> None:
    """Rewrite ``SubdistrictOutcome`` rows (``rows``: which, as a WHERE clause) from the
    daily outcomes (``outcomes``: a FROM clause naming them ``t``, with its conditions)."""
    where, where_params = rows
    _run(f"DELETE FROM {SubdistrictOutcome._meta.db_table} WHERE {where}", where_params)
    source, params = outcomes
    _run(
        f"INSERT INTO {SubdistrictOutcome._meta.db_table} (day, subdistrict_id, series, week, "
        f"issues) {_outcome_select(source, ', t.subdistrict_id', [()], [])}",
        params,
    )


CITY_OUTCOME_COLUMNS = ("day", "series", "week", *SLICE_COLUMNS, "issues")
# The whole slice's rows (``Slice.WHOLE``): every slice column blank.
WHOLE_SQL = " AND ".join(
    f"{c} IS NULL" if BLANK[c] == "NULL" else f"{c} = {BLANK[c]}" for c in SLICE_COLUMNS
)


def _write_city_outcomes(rows: tuple[str, list], whole: tuple[str, list]) -> None:
    """Rewrite the whole slice of ``CityOutcome`` rows (``rows``: which days, as a WHERE
    clause) from the subdistricts' (``whole``: a FROM clause naming them ``t``, with its
    conditions)."""
    where, where_params = rows
    _run(f"DELETE FROM {CityOutcome._meta.db_table} WHERE {where} AND {WHOLE_SQL}", where_params)
    source, params = whole
    blanks = ", ".join(BLANK[c] for c in SLICE_COLUMNS)
    _run(
        f"INSERT INTO {CityOutcome._meta.db_table} ({_quoted(CITY_OUTCOME_COLUMNS)}) "
        f"SELECT t.day, t.series, t.week, {blanks}, SUM(t.issues) FROM {source} "
        "GROUP BY t.day, t.series, t.week",
        params,
    )


def _write_city_slices(rows: tuple[str, list], outcomes: tuple[str, list]) -> None:
    """Rewrite the other slices of ``CityOutcome`` rows (``rows``: which days, as a WHERE
    clause) from every daily outcome of those days (``outcomes``: a FROM clause naming
    them ``t``, with its conditions): a rebuild's."""
    where, where_params = rows
    _run(
        f"DELETE FROM {CityOutcome._meta.db_table} WHERE {where} AND NOT ({WHOLE_SQL})",
        where_params,
    )
    _add_city_slices(outcomes)


def _add_city_slices(outcomes: tuple[str, list], sign: str = "") -> None:
    """Add to the slices of ``CityOutcome`` (but the whole) the daily outcome rows of
    ``outcomes`` (a FROM clause naming them ``t``, with its conditions), or take them away
    (``sign`` "-"): as rows of their own, which ``_compact`` adds up."""
    source, params = outcomes
    select = _outcome_select(source, "", SLICES[1:], list(SLICE_COLUMNS), sign)
    _run(
        f"INSERT INTO {CityOutcome._meta.db_table} ({_quoted(CITY_OUTCOME_COLUMNS)}) {select}",
        params,
    )


def _last_id(model) -> int:
    """The id of the table's newest row (0 if none): the rows after it are the ones a
    refresh adds."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX(id) FROM {model._meta.db_table}")
        return cursor.fetchone()[0] or 0


def _compact(model, keys, values, rows: tuple[str, list]) -> None:
    """Add up into one row the rows of each key (``keys``: columns) among ``rows`` (a
    WHERE clause: the months or days a refresh touched, under its locks) that has more than
    one, dropping those whose counts come to nought: what a refresh took away and added
    back. A key with one row is left as it is: on a city day most keys were not touched,
    and rewriting them cost four times the rest. Rows added by a refresh not yet
    committed are not seen: its own compaction adds them up, after this one's (it waits
    for the same locks)."""
    where, params = rows
    table = model._meta.db_table
    grouped = _quoted(keys)
    found = [*params, _last_id(model)]
    sums = ", ".join(f"SUM({connection.ops.quote_name(c)})" for c in values)
    # (The durations' sums are floats: what was taken away and added back may leave a
    # rounding error where there is nothing.)
    counts = " OR ".join(
        f"SUM({connection.ops.quote_name(c)}) <> 0" for c in values if c not in ROLLUP_SUMS
    )
    _run(
        f"INSERT INTO {table} ({grouped}, {_quoted(values)}) SELECT {grouped}, {sums} "
        f"FROM {table} WHERE {where} AND id <= %s GROUP BY {grouped} "
        f"HAVING COUNT(*) > 1 AND ({counts})",
        found,
    )
    _run(
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM (SELECT id, COUNT(*) OVER "
        f"(PARTITION BY {grouped}) AS n FROM {table} WHERE {where} AND id <= %s) r "
        "WHERE n > 1)",
        found,
    )


def _subdistricts_named(rows: tuple[str, list]) -> set[tuple[date, int]]:
    """The (day, subdistrict) pairs the daily totals of ``rows`` (a WHERE clause) name."""
    where, params = rows
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT day, subdistrict_id FROM {DailyTotal._meta.db_table} WHERE {where}",
            params,
        )
        return {(_as_date(day), subdistrict) for day, subdistrict in cursor.fetchall()}


def _as_date(value) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _city_of_pairs(pairs: set[tuple[date, int]]) -> None:
    """Rewrite the days of these (day, subdistrict) pairs, their months (by difference:
    the days' rows taken away before and added back after) and the city's outcomes of
    their days (the whole from the subdistricts', the slices by difference), under a lock
    per subdistrict and month and per city day."""
    if not pairs:
        return
    pairs = sorted(pairs)
    months = sorted({(month_of(day), subdistrict) for day, subdistrict in pairs})
    days = sorted({day for day, _s in pairs})
    _take_locks(
        {_lock_id(SUBDISTRICT_LOCK_TAG, month, s) for month, s in months}
        | {_lock_id(CITY_LOCK_TAG, day, 0) for day in days}
    )
    relation, params = _relation(
        {"s": ("bigint", [s for _day, s in pairs]), "d": ("date", [day for day, _s in pairs])}
    )
    pairs_rows = (f"(subdistrict_id, day) IN (SELECT s, d FROM ({relation}) pairs)", params)

    def of_pairs(table) -> tuple[str, list]:
        join = "ON t.subdistrict_id = k.s AND t.day = k.d"
        return f"{table._meta.db_table} t JOIN ({relation}) k {join}", params

    _write_totals(SubdistrictMonth, None, of_pairs(SubdistrictDay), monthly=True, sign="-")
    _write_totals(SubdistrictDay, pairs_rows, of_pairs(DailyRollup), monthly=False, slices=SLICES)
    _write_totals(SubdistrictMonth, None, of_pairs(SubdistrictDay), monthly=True)
    _write_subdistrict_outcomes(pairs_rows, of_pairs(DailyOutcome))
    relation, params = _relation(
        {"s": ("bigint", [s for _month, s in months]), "m": ("date", [m for m, _s in months])}
    )
    _compact(
        SubdistrictMonth,
        ("day", "subdistrict_id", *SLICE_COLUMNS),
        ROLLUP_VALUES,
        (f"(subdistrict_id, day) IN (SELECT s, m FROM ({relation}) months)", params),
    )
    relation, params = _relation({"d": ("date", days)})
    days_rows = (f"day IN (SELECT d FROM ({relation}) days)", params)
    _write_city_outcomes(
        days_rows,
        (f"{SubdistrictOutcome._meta.db_table} t JOIN ({relation}) k ON t.day = k.d", params),
    )
    _compact(
        CityOutcome,
        CITY_OUTCOME_COLUMNS[:-1],
        ("issues",),
        (f"{days_rows[0]} AND NOT ({WHOLE_SQL})", days_rows[1]),
    )


def _city_of_days(first: date, last: date) -> None:
    """Rewrite every subdistrict's days from ``first`` to ``last``, their months whole, and
    the city's outcomes of those days."""
    adapt = connection.ops.adapt_datefield_value
    days = ("day >= %s AND day <= %s", [adapt(first), adapt(last)])
    _write_totals(
        SubdistrictDay,
        days,
        (f"{DailyRollup._meta.db_table} t WHERE t.{days[0]}", days[1]),
        monthly=False,
        slices=SLICES,
    )
    start, stop = adapt(month_of(first)), adapt(next_month(last))
    _write_totals(
        SubdistrictMonth,
        ("day >= %s AND day < %s", [start, stop]),
        (f"{SubdistrictDay._meta.db_table} t WHERE t.day >= %s AND t.day < %s", [start, stop]),
        monthly=True,
    )

    def of_days(table) -> tuple[str, list]:
        return f"{table._meta.db_table} t WHERE t.{days[0]}", days[1]

    _write_subdistrict_outcomes(days, of_days(DailyOutcome))
    _write_city_outcomes(days, of_days(SubdistrictOutcome))
    _write_city_slices(days, of_days(DailyOutcome))


# --- keeping them ------------------------------------------------------------------------


# What a refresh's statements run with on PostgreSQL: no JIT compiler (the planner
# over-estimates the rows of thousands of keys and compiled each statement for a quarter
# of a second, ten times what running it takes), and memory enough to group and sort a
# sweep batch's city days in memory (at the default 4 MB, adding up their slices spilled
# some 15 MB to disk, and took a fifth longer).
REFRESH_SETTINGS = {"jit": "off", "work_mem": "64MB"}


@contextmanager
def _refresh_settings() -> Iterator[None]:
    """``REFRESH_SETTINGS`` for the statements inside (in the transaction; as they were
    after)."""
    if connection.vendor != "postgresql":
        yield
        return
    names = list(REFRESH_SETTINGS)
    with connection.cursor() as cursor:
        # (Read before they are set: a select list is evaluated in its order.)
        cursor.execute(
            "SELECT "
            + ", ".join(
                ["current_setting(%s)"] * len(names) + ["set_config(%s, %s, true)"] * len(names)
            ),
            [*names, *(v for item in REFRESH_SETTINGS.items() for v in item)],
        )
        before = cursor.fetchone()[: len(names)]
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _n in names),
            [v for item in zip(names, before, strict=True) for v in item],
        )


def refresh(keys: Iterable[tuple[date, int]]) -> None:
    """Rewrite the rollup rows of ``keys`` ((day, grid_id) pairs) from the issues as they
    are now, inside the caller's transaction (or one of its own)."""
    keys = sorted(set(keys))
    if not keys:
        return
    months = sorted({(month_of(day), grid) for day, grid in keys})
    with transaction.atomic(savepoint=False), _refresh_settings():
        _lock(keys, months)
        rows = _rows_of_keys(keys)
        # The subdistricts the keys' rows named (another one, if a grid moved) and name now.
        named = _subdistricts_named(rows)
        # The city's slices: the keys' outcomes taken away, and added back as they are now
        # (``_city_of_pairs`` adds the rows up).
        outcomes = (f"{DailyOutcome._meta.db_table} t WHERE {rows[0]}", rows[1])
        _add_city_slices(outcomes, sign="-")
        _delete(rows)
        _write(_ids_condition, _ids_values(_issue_ids(keys)), rows)
        _add_city_slices(outcomes)
        _months_of_keys(months)
        _city_of_pairs(named | _subdistricts_named(rows))


def refresh_issue(issue) -> None:
    refresh([key_of(issue)])


def refresh_issues(ids: Iterable[int]) -> None:
    """Rewrite the rollup rows of the keys of these issues: one query for their keys, then
    ``refresh``."""
    ids = list(ids)
    if not ids:
        return
    rows = Issue.objects.filter(pk__in=ids).values_list("created_at", "grid_id").distinct()
    refresh({(local_day(created_at), grid_id) for created_at, grid_id in rows})


# --- noting changes, catching up --------------------------------------------------------

# Noted rows a catch-up takes per transaction.
CATCH_UP_ROWS = 5000
# The advisory lock catch-ups on every host take in turn.
CATCH_UP_LOCK = 0x43415443 << 32  # "CATC"
# The cache entry that marks a catch-up as already asked for by this process.
SCHEDULED = "rollups:catch-up-asked"


class Noting:
    """The change of some keys' issues, told inside the change's transaction.

    When changes are noted for the catch-up (``ROLLUP_DELAY`` above 0), ``statements``
    holds the INSERT that notes them, for the caller to send with its own statement (or
    alone), and ``sent()`` then asks for the catch-up once the transaction commits. When
    the figures are rewritten at once, there is no statement and ``sent()`` rewrites
    them: call it once the change is written.
    """

    def __init__(self, keys: Iterable[tuple[date, int]]):
        self.keys = sorted(set(keys))
        self.statements: list[tuple[str, list]] = []
        if self.keys and settings.ROLLUP_DELAY > 0:
            # One statement from the keys as a relation: a sweep batch notes thousands,
            # and model instances would cost more than the insert itself.
            relation, params = _keys_relation(self.keys, bounds=False)
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            self.statements.append(
                (
                    f"INSERT INTO {PendingRollup._meta.db_table} (day, grid_id, noted_at) "
                    f"SELECT k.d, k.g, %s FROM ({relation}) k",
                    [now, *params],
                )
            )

    def sent(self) -> None:
        if self.statements:
            transaction.on_commit(_ask_for_catch_up, robust=True)
        elif self.keys:
            refresh(self.keys)


def changed(keys: Iterable[tuple[date, int]]) -> None:
    """The issues of these keys changed (inside the change's transaction): rewrite their
    rows now (``ROLLUP_DELAY`` 0), or note them for the catch-up."""
    noting = Noting(keys)
    for statement in noting.statements:
        _run(*statement)
    noting.sent()


def changed_issue(issue) -> None:
    changed([key_of(issue)])


def changed_rows(rows: Iterable[dict]) -> None:
    """The same for issues' ``values()`` rows with ``created_at`` and ``grid_id``."""
    changed(key_of_row(row) for row in rows)


def _ask_for_catch_up() -> None:
    """Enqueue a catch-up to run ``ROLLUP_DELAY`` seconds from now, unless this process
    already asked for one that has not run yet: a burst of changes makes one task."""
    from .tasks import enqueue

    delay = settings.ROLLUP_DELAY
    if default_cache.add(SCHEDULED, True, timeout=delay):
        enqueue(catch_up_task, run_after=timezone.now() + timedelta(seconds=delay))


def catch_up(*, rows_per_transaction: int = CATCH_UP_ROWS) -> int:
    """Rewrite every noted key, a chunk per transaction, and drop the notes; the number of
    keys rewritten. The chunks go day by day, not in the order the keys were noted: a
    sweep notes its batches' keys by deadline, from every day of the year, and a chunk of
    those rewrote every month of every subdistrict, and most of the city's days, each
    time; a chunk of neighbouring days touches a month or two."""
    done = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                _run("SELECT pg_advisory_xact_lock(%s)", [CATCH_UP_LOCK])
            noted = list(
                PendingRollup.objects.order_by("day", "grid_id", "pk").values_list(
                    "pk", "day", "grid_id"
                )[:rows_per_transaction]
            )
            if not noted:
                return done
            keys = {(day, grid) for _pk, day, grid in noted}
            refresh(keys)
            PendingRollup.objects.filter(pk__one_of=[pk for pk, _day, _grid in noted]).delete()
        done += len(keys)


def lag() -> datetime | None:
    """When the oldest change the rollups do not show yet was made; ``None``: none."""
    if settings.ROLLUP_DELAY <= 0:
        return None
    return PendingRollup.objects.order_by("pk").values_list("noted_at", flat=True).first()


@task()
def catch_up_task() -> int:
    """``catch_up`` off the request. A failure leaves the notes: the next change's task or
    the next sweep round takes them."""
    done = catch_up()
    log.info("rollups caught up: %d keys", done)
    return done


def _issue_days() -> tuple[date, date] | None:
    found = Issue.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    rolled = DailyOutcome.objects.aggregate(first=Min("day"), last=Max("day"))
    days = [local_day(found[k]) for k in ("first", "last") if found[k] is not None]
    days += [rolled[k] for k in ("first", "last") if rolled[k] is not None]
    return (min(days), max(days)) if days else None


def rebuild(
    *,
    since: date | None = None,
    until: date | None = None,
    chunk_days: int = REBUILD_CHUNK_DAYS,
    progress=None,
) -> int:
    """Recompute the rollups of the days from ``since`` to ``until`` (both included; by
    default every day with issues or rollup rows) from the issues. Returns the number of
    ``DailyRollup`` rows written. One transaction per ``chunk_days`` days;
    ``progress(day, rows)`` is called after each."""
    if since is None or until is None:
        span = _issue_days()
        if span is None:
            return 0
        since = since or span[0]
        until = until or span[1]
    written = 0
    day = since
    adapt = connection.ops.adapt_datetimefield_value
    while day <= until:
        last = min(until, day + timedelta(days=chunk_days - 1))
        start, stop = day_start(day), day_start(last + timedelta(days=1))
        with transaction.atomic():
            _lock_tables()
            rows = _rows_of_days(day, last)
            _delete(rows)
            bounds = {START_PARAM: adapt(start), STOP_PARAM: adapt(stop)}
            written += _write(_days_condition, bounds, rows)
            # The months the chunk touches, whole: their other days are as kept.
            _months_of_days(day, last)
            _city_of_days(day, last)
        if progress is not None:
            progress(last, written)
        day = last + timedelta(days=1)
    return written


def rewrite_city() -> None:
    """Rewrite the whole city's rollups (``CITY_TABLES``) from the grid rows as they are:
    after grid rows were deleted in bulk (a benchmark's subdistrict, say), which no refresh
    follows. One transaction, the rollup tables locked as for a rebuild."""
    days = [
        model.objects.aggregate(first=Min("day"), last=Max("day"))
        for model in (DailyTotal, *CITY_TABLES)
    ]
    firsts = [found["first"] for found in days if found["first"] is not None]
    lasts = [found["last"] for found in days if found["last"] is not None]
    if not firsts:
        return
    with transaction.atomic():
        _lock_tables()
        _city_of_days(min(firsts), max(lasts))


def _lock_tables() -> None:
    """Refreshes wait for the caller's transaction (and it for the ones under way), so a
    change committed meanwhile is either seen by it or rewritten after (PostgreSQL)."""
    if connection.vendor == "postgresql":
        tables = ", ".join(model._meta.db_table for model in TABLES)
        _run(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE", [])


@task()
def rebuild_rollups_task(since: str | None = None, until: str | None = None) -> int:
    """``rebuild`` as a task (dates as ISO text): after an import, or a repair."""
    written = rebuild(
        since=date.fromisoformat(since) if since else None,
        until=date.fromisoformat(until) if until else None,
    )
    log.info("rollups rebuilt from %s to %s: %d rows", since or "start", until or "end", written)
    return written
