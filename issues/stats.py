"""The governance figures (DESIGN.md §5, end): does "small matters stay in the grid" hold?

Every figure is an SQL aggregate over the issues of one unit (a subdistrict, community,
grid, department or worker) *filed in the chosen period* (and matching the category,
severity and source filters). Nothing here loops over issues in Python: the database counts
(``Count(..., filter=Q(...))``), averages and takes medians, and durations are computed by
the database too (``Seconds``). Python only divides the resulting counts and lays out the
few aggregated rows (one per child unit, per week, per recurring grid and category).

Queries per page, whatever the number of issues or child units:
- the unit with its figures: one query (the unit's row, LEFT JOINed to its filtered issues
  through a ``FilteredRelation`` and aggregated; an out-of-scope unit gives no row);
- the ranking of child units: one query, a ``UNION ALL`` of the child units themselves
  (every child is listed, with or without issues) and the unit's issues grouped by child
  (one scan); for a subdistrict, communities and departments in the same statement;
  workers: one ``GROUP BY`` over the unit's issues;
- the weekly trend: one query (the issues grouped by week filed, week resolved and week of
  the missed deadline);
- recurrence alerts: one query (window functions).

Definitions (each also shown next to the figure as a one-line explanation):

- **closed** means status CLOSED (rejected issues are not "settled").
- 小事不出网格率: closed MINOR issues whose final level is GRID / closed MINOR issues.
- 急事不出社区率: closed URGENT issues whose final level is GRID or COMMUNITY / closed URGENT.
- 难事不出街道率: every closed issue is settled at most at the subdistrict, so "inside the
  subdistrict" means the subdistrict settled it without losing control of it: closed
  DIFFICULT issues that were never put under supervision (督办, which the sweep sets on an
  issue still overdue at the subdistrict) / closed DIFFICULT issues. Departments serve the
  subdistrict, so a dispatched issue is still settled inside it.
- Response rate (响应率): the model keeps only the first acceptance time, and the deadline
  moves on every escalation, so the response is measured against the *first* deadline:
  accepted within the grid-level deadline of its severity (``SlaPolicy(severity, GRID)``,
  read inside the same SQL statement) after filing. Denominator: accepted issues, plus issues
  never accepted whose first deadline has passed (they were not answered in time); issues
  rejected without being accepted are left out, as are unaccepted issues still within it.
- On-time resolution rate: issues resolved (``resolved_at`` set: RESOLVED or CLOSED) no later
  than their ``due_at`` (the deadline of the level where they were settled; suspension has
  already moved it), over those resolved plus the issues still running (SUBMITTED or
  IN_PROGRESS) past their deadline now, which count as late. Suspended issues have a stopped
  clock and are counted in neither.
- Satisfaction rate: counted per evaluation. Satisfied and basically satisfied evaluations
  over all evaluations; a dissatisfied evaluation reopens the issue (不满意重办), so the
  dissatisfied ones are ``Sum(reopen_count)`` (plus any stored DISSATISFIED value).
  Issues closed without an evaluation are not counted.
- Time to accept: ``accepted_at - created_at`` (an issue cannot be suspended before it is
  accepted, so there is nothing to subtract). Time to resolve: ``resolved_at - created_at -
  suspended_seconds``. Both in hours, average and median, over the issues that have them.
- 主动发现率: issues with source PATROL / issues filed.
- Escalation funnel: filed → reached the community (level COMMUNITY or SUBDISTRICT; the
  level never goes down) → reached the subdistrict → dispatched to a department.
- Reopen rate (不满意重办率): issues reopened at least once / issues resolved at least once
  (``resolved_at`` set, or reopened: a reopen clears ``resolved_at``).
- Supervised: issues with ``is_supervised``.
- A worker's figures count the issues they *handle*: the person who resolved the issue, or
  while it is not resolved, its assignee (``Coalesce(resolved_by, assignee)``).
- Weekly trend, among the issues filed in the period: filed per week of filing, resolved per
  week of resolution, overdue per week of the deadline they missed (resolved after it, or
  still running past it now). Weeks start on Monday, local time.
- Recurrence alert: a grid where one category was filed at least N times within the M days
  up to the end of the period (one window ending at the end date; it may reach before the
  start). N and M default to settings.RECURRENCE_MIN_COUNT / RECURRENCE_DAYS (3 and 14) and
  can be changed on the page; the category, severity and source filters apply.

Scope (``permissions.unit_access``): a staff member sees the units they hold posts on and everything
below them (subdistrict → its communities → their grids → the people handling their issues,
and the subdistrict's departments; department staff their department); a superuser sees
everything. Anything else is "not found".

Medians: PostgreSQL computes them with ``PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY …)``
inside the same aggregate query. SQLite has no percentile aggregate; there ``Median``
compiles to the classic ordered-offset scalar subquery over the same filtered rows
(``ORDER BY v LIMIT 2 - n % 2 OFFSET (n - 1) / 2``, averaged), inside the same statement, so
it is still one query and no Python loop. That fallback cannot be grouped, so rankings show
averages only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import (
    Aggregate,
    Avg,
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Coalesce, RowNumber, TruncWeek
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from grids.models import Community, Department, Grid, Post, Subdistrict

from .models import (
    DEFAULT_SLA_HOURS,
    RUNNING_STATUSES,
    Issue,
    Level,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    Status,
)
from .permissions import may_see_unit, scope_of, staff_issue_condition, unit_access

# --- database-side building blocks ---------------------------------------------------------


class Seconds(Func):
    """Seconds from ``start`` to ``end`` (a float), computed by the database."""

    output_field = FloatField()
    arg_joiner = " - "
    # date_part() answers a double; EXTRACT() a numeric since PostgreSQL 14, which makes the
    # dashboard's main query about a third slower.
    template = "date_part('epoch', %(expressions)s)"

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores datetimes in SQLite as UTC text that julianday() reads; SQLite's
        # clock is in milliseconds, so round there (exact comparisons at a deadline).
        return self.as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s)) * 86400.0, 3)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class Median(Aggregate):
    """The median of ``expression`` over the rows the aggregate sees.

    PostgreSQL: ``PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY expression)`` with the usual
    ``FILTER (WHERE …)``. SQLite: ``fallback`` (a ``values_list`` queryset of exactly the same
    rows and values, one column) becomes an ordered-offset scalar subquery in the same
    statement. The SQLite form is not grouped, so use it for a single (ungrouped) result.
    """

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fallback, filter=None, **extra):
        self.fallback = fallback
        super().__init__(expression, filter=filter, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        values = self.fallback.order_by()
        column = values.query.values_select[0] if values.query.values_select else None
        if column is None:
            column = next(iter(values.query.annotation_select))
        inner, params = values.query.get_compiler(connection=connection).as_sql()
        counted = f"(SELECT COUNT(*) FROM ({inner}) median_n)"
        sql = (
            f'(SELECT AVG(median_v."{column}") FROM ('
            f'SELECT median_o."{column}" FROM ({inner}) median_o '
            f'WHERE median_o."{column}" IS NOT NULL '
            f'ORDER BY median_o."{column}" '
            f"LIMIT 2 - {counted} %% 2 OFFSET ({counted} - 1) / 2) median_v)"
        )
        return sql, (*params, *params, *params)


def _count(condition: Q | None = None, prefix: str = "") -> Count:
    return Count(f"{prefix}id", filter=condition)


# --- filters -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the dashboard looks at: issues filed from ``start`` to ``end`` (whole local
    days, both included), optionally one category, severity and source; and the recurrence
    rule (a grid with at least ``recurrence_count`` issues of one category filed within the
    ``recurrence_days`` days up to the end of the period)."""

    start: date
    end: date
    category_id: int | None = None
    severity: str = ""
    source: str = ""
    recurrence_count: int = 3
    recurrence_days: int = 14

    @classmethod
    def default(cls, today: date | None = None) -> Filters:
        today = today or timezone.localdate()
        return cls(
            start=today - timedelta(days=29),
            end=today,
            recurrence_count=settings.RECURRENCE_MIN_COUNT,
            recurrence_days=settings.RECURRENCE_DAYS,
        )

    @property
    def start_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def end_at(self) -> datetime:
        """The first moment after the period (exclusive bound)."""
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    def condition(self, prefix: str = "", *, dates: bool = True) -> Q:
        """The filters as a condition on issues (fields named through ``prefix``)."""
        q = Q()
        if dates:
            q &= Q(**{f"{prefix}created_at__gte": self.start_at})
            q &= Q(**{f"{prefix}created_at__lt": self.end_at})
        if self.category_id:
            q &= Q(**{f"{prefix}category_id": self.category_id})
        if self.severity:
            q &= Q(**{f"{prefix}severity": self.severity})
        if self.source:
            q &= Q(**{f"{prefix}source": self.source})
        return q


# --- the figures ------------------------------------------------------------------------


class FirstDeadlineSeconds(Func):
    """The grid-level deadline of the issue's severity, in seconds, read from SlaPolicy in
    the same statement: one uncorrelated scalar subquery per severity (evaluated once per
    statement), with the built-in default when no policy row exists. Written as one SQL
    template because it is repeated in several aggregates of several queries, where the ORM
    would resolve three Subquery objects each time."""

    output_field = IntegerField()

    def __init__(self, severity, **extra):
        super().__init__(severity, **extra)

    def as_sql(self, compiler, connection, **extra_context):
        table = connection.ops.quote_name(SlaPolicy._meta.db_table)
        hours, severity_column, level_column = (
            connection.ops.quote_name(SlaPolicy._meta.get_field(name).column)
            for name in ("hours", "severity", "level")
        )
        # Only our own constants go into the text: the severity and level values and the
        # default hours (no user input).
        whens = " ".join(
            f"WHEN '{severity.value}' THEN COALESCE((SELECT {hours} FROM {table} "
            f"WHERE {severity_column} = '{severity.value}' AND {level_column} = "
            f"'{Level.GRID.value}'), {int(DEFAULT_SLA_HOURS[(severity, Level.GRID)])})"
            for severity in Severity
        )
        template = f"((CASE %(expressions)s {whens} END) * 3600)"
        return super().as_sql(compiler, connection, template=template, **extra_context)


def _accept_seconds(prefix: str = "") -> Seconds:
    return Seconds(F(f"{prefix}accepted_at"), F(f"{prefix}created_at"))


def _resolve_seconds(prefix: str = ""):
    return Seconds(F(f"{prefix}resolved_at"), F(f"{prefix}created_at")) - F(
        f"{prefix}suspended_seconds"
    )


def figure_aggregates(*, now: datetime, prefix: str = "", keys=None) -> dict:
    """The aggregate expressions behind every figure, over issue fields named ``prefix…``
    (``""`` on ``Issue`` itself, ``"f__"`` through a FilteredRelation); only ``keys`` if
    given."""
    aggregates = _figure_aggregates(now=now, prefix=prefix)
    if keys is None:
        return aggregates
    return {key: aggregates[key] for key in keys}


# Every count figure_aggregates() returns (the rest are averages and medians in seconds).
COUNT_KEYS = frozenset(
    {
        "filed",
        "minor_closed",
        "minor_settled",
        "urgent_closed",
        "urgent_settled",
        "difficult_closed",
        "difficult_settled",
        "response_due",
        "response_on_time",
        "resolution_on_time",
        "overdue_now",
        "satisfied",
        "evaluated_stored",
        "reopens",
        "patrol",
        "reached_community",
        "reached_subdistrict",
        "dispatched",
        "reopened",
        "resolved_once",
        "supervised",
        "accepted",
        "resolved",
    }
)

# What the ranking tables need (the cards need all of them).
RANKING_AGGREGATES = [
    "filed",
    "minor_closed",
    "minor_settled",
    "urgent_closed",
    "urgent_settled",
    "difficult_closed",
    "difficult_settled",
    "response_due",
    "response_on_time",
    "resolved",
    "resolution_on_time",
    "overdue_now",
    "satisfied",
    "evaluated_stored",
    "reopens",
    "patrol",
    "reopened",
    "resolved_once",
    "supervised",
    "resolve_seconds_sum",
]


def _figure_aggregates(*, now: datetime, prefix: str) -> dict:
    p = prefix

    def q(**kwargs) -> Q:
        return Q(**{f"{p}{key}": value for key, value in kwargs.items()})

    closed = q(status=Status.CLOSED)
    running = q(status__in=RUNNING_STATUSES)
    accepted = q(accepted_at__isnull=False)
    resolved = q(resolved_at__isnull=False)
    deadline = FirstDeadlineSeconds(F(f"{p}severity"))
    now_value = Value(now, output_field=DateTimeField())
    return {
        "filed": _count(None, p),
        "minor_closed": _count(closed & q(severity=Severity.MINOR), p),
        "minor_settled": _count(closed & q(severity=Severity.MINOR, level=Level.GRID), p),
        "urgent_closed": _count(closed & q(severity=Severity.URGENT), p),
        "urgent_settled": _count(
            closed & q(severity=Severity.URGENT, level__in=[Level.GRID, Level.COMMUNITY]), p
        ),
        "difficult_closed": _count(closed & q(severity=Severity.DIFFICULT), p),
        "difficult_settled": _count(
            closed & q(severity=Severity.DIFFICULT, is_supervised=False), p
        ),
        "response_due": _count(
            accepted
            | (
                q(accepted_at__isnull=True)
                & ~q(status=Status.REJECTED)
                & Q(GreaterThan(Seconds(now_value, F(f"{p}created_at")), deadline))
            ),
            p,
        ),
        "response_on_time": _count(accepted & Q(LessThanOrEqual(_accept_seconds(p), deadline)), p),
        "resolution_on_time": _count(resolved & q(resolved_at__lte=F(f"{p}due_at")), p),
        "overdue_now": _count(running & q(due_at__lt=now), p),
        "satisfied": _count(
            q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED]), p
        ),
        "evaluated_stored": _count(~q(satisfaction=""), p),
        "reopens": Coalesce(Sum(f"{p}reopen_count"), Value(0)),
        "patrol": _count(q(source=Source.PATROL), p),
        "reached_community": _count(q(level__in=[Level.COMMUNITY, Level.SUBDISTRICT]), p),
        "reached_subdistrict": _count(q(level=Level.SUBDISTRICT), p),
        "dispatched": _count(q(department__isnull=False), p),
        "reopened": _count(q(reopen_count__gt=0), p),
        "resolved_once": _count(resolved | q(reopen_count__gt=0), p),
        "supervised": _count(q(is_supervised=True), p),
        "accepted": _count(accepted, p),
        "accept_seconds_avg": Avg(_accept_seconds(p), filter=accepted),
        "resolved": _count(resolved, p),
        "resolve_seconds_avg": Avg(_resolve_seconds(p), filter=resolved),
        # Sums add up across groups (averages do not): the rankings divide by "resolved".
        "resolve_seconds_sum": Sum(_resolve_seconds(p), filter=resolved),
    }


def median_aggregates(rows, *, prefix: str = "") -> dict:
    """Medians of time to accept and to resolve. ``rows`` is the same set of issues as a
    plain ``Issue`` queryset, for SQLite's fallback."""
    p = prefix
    accepted = Q(**{f"{p}accepted_at__isnull": False})
    resolved = Q(**{f"{p}resolved_at__isnull": False})
    return {
        "accept_seconds_median": Median(
            _accept_seconds(p),
            filter=accepted,
            fallback=rows.filter(accepted_at__isnull=False)
            .annotate(median_value=_accept_seconds())
            .values_list("median_value"),
        ),
        "resolve_seconds_median": Median(
            _resolve_seconds(p),
            filter=resolved,
            fallback=rows.filter(resolved_at__isnull=False)
            .annotate(median_value=_resolve_seconds())
            .values_list("median_value"),
        ),
    }


def _ratio(numerator, denominator) -> float | None:
    """A share in percent, or None when there is nothing to divide by."""
    if not denominator:
        return None
    return 100.0 * (numerator or 0) / denominator


def _hours(seconds) -> float | None:
    return None if seconds is None else seconds / 3600.0


@dataclass(frozen=True)
class FigureDef:
    key: str
    label: str
    help: str
    kind: str  # "rate" (percent), "count" or "hours"
    public: bool = True


# The figures in display order, each with the one line that says how it is computed.
FIGURES: list[FigureDef] = [
    FigureDef(
        "filed",
        _("Issues filed"),
        _("Issues filed in the period that match the filters."),
        "count",
    ),
    FigureDef(
        "closed",
        _("Closed"),
        _("Of those, issues now closed (rejected issues are not counted as closed)."),
        "count",
    ),
    FigureDef(
        "overdue_now",
        _("Overdue now"),
        _("Issues waiting or in progress whose deadline has passed."),
        "count",
    ),
    FigureDef(
        "minor_settled_rate",
        _("Small matters settled in the grid"),
        _("Closed minor issues settled at grid level ÷ closed minor issues."),
        "rate",
    ),
    FigureDef(
        "urgent_settled_rate",
        _("Urgent matters settled in the community"),
        _("Closed urgent issues settled at grid or community level ÷ closed urgent issues."),
        "rate",
    ),
    FigureDef(
        "difficult_settled_rate",
        _("Difficult matters settled in the subdistrict"),
        _(
            "Closed difficult issues never put under supervision (which marks an issue still "
            "overdue at the subdistrict) ÷ closed difficult issues."
        ),
        "rate",
    ),
    FigureDef(
        "response_rate",
        _("Response rate"),
        _(
            "Accepted within the grid deadline for their severity after filing ÷ issues "
            "accepted or past that first deadline unaccepted (issues rejected unaccepted "
            "are left out)."
        ),
        "rate",
    ),
    FigureDef(
        "on_time_rate",
        _("On-time resolution rate"),
        _(
            "Resolved no later than the deadline of the level that settled them ÷ issues "
            "resolved plus open issues past their deadline (counted as late)."
        ),
        "rate",
    ),
    FigureDef(
        "satisfaction_rate",
        _("Satisfaction rate"),
        _(
            "Satisfied and basically satisfied evaluations ÷ all evaluations; each "
            "dissatisfied evaluation (which reopens the issue) counts. Issues closed "
            "without an evaluation are not counted."
        ),
        "rate",
    ),
    FigureDef(
        "patrol_rate",
        _("Found on patrol"),
        _("Issues found by grid workers on patrol ÷ issues filed."),
        "rate",
    ),
    FigureDef(
        "reopen_rate",
        _("Reopened after dissatisfaction"),
        _("Issues reopened at least once ÷ issues resolved at least once."),
        "rate",
    ),
    FigureDef(
        "supervised",
        _("Under supervision"),
        _("Issues put under supervision because they were overdue at the subdistrict."),
        "count",
    ),
    FigureDef(
        "accept_hours_avg",
        _("Average hours to accept"),
        _("Mean of (accepted − filed) over accepted issues, in hours."),
        "hours",
        public=False,
    ),
    FigureDef(
        "accept_hours_median",
        _("Median hours to accept"),
        _("Middle value of (accepted − filed) over accepted issues, in hours."),
        "hours",
        public=False,
    ),
    FigureDef(
        "resolve_hours_avg",
        _("Average hours to resolve"),
        _("Mean of (resolved − filed − time suspended) over resolved issues, in hours."),
        "hours",
        public=False,
    ),
    FigureDef(
        "resolve_hours_median",
        _("Median hours to resolve"),
        _("Middle value of (resolved − filed − time suspended) over resolved issues, in hours."),
        "hours",
        public=False,
    ),
]
FIGURE_BY_KEY = {figure.key: figure for figure in FIGURES}

FUNNEL: list[tuple[str, str]] = [
    ("filed", _("Filed")),
    ("reached_community", _("Escalated to the community")),
    ("reached_subdistrict", _("Escalated to the subdistrict")),
    ("dispatched", _("Dispatched to a department")),
]
FUNNEL_HELP = _(
    "Issues filed in the period, and how many of them have climbed to the community, to the "
    "subdistrict, and been dispatched to a department (the level never goes down)."
)


@dataclass
class Figures:
    """The counts one aggregate query returned, and the rates computed from them."""

    raw: dict

    def __getattr__(self, name):
        # Counts read as attributes; a count the query did not return (a child unit without
        # issues) is zero.
        raw = self.__dict__.get("raw", {})
        if name in raw or name in COUNT_KEYS:
            value = raw.get(name)
            return value if value is not None else 0
        raise AttributeError(name)

    @property
    def closed(self) -> int:
        return self.minor_closed + self.urgent_closed + self.difficult_closed

    @property
    def resolution_due(self) -> int:
        # Resolved, or running past the deadline: a running issue has no resolved_at (a
        # reopen clears it), so the two never overlap.
        return self.resolved + self.overdue_now

    @property
    def minor_settled_rate(self):
        return _ratio(self.minor_settled, self.minor_closed)

    @property
    def urgent_settled_rate(self):
        return _ratio(self.urgent_settled, self.urgent_closed)

    @property
    def difficult_settled_rate(self):
        return _ratio(self.difficult_settled, self.difficult_closed)

    @property
    def response_rate(self):
        return _ratio(self.response_on_time, self.response_due)

    @property
    def on_time_rate(self):
        return _ratio(self.resolution_on_time, self.resolution_due)

    @property
    def evaluations(self) -> int:
        return self.evaluated_stored + self.reopens

    @property
    def satisfaction_rate(self):
        return _ratio(self.satisfied, self.evaluations)

    @property
    def patrol_rate(self):
        return _ratio(self.patrol, self.filed)

    @property
    def reopen_rate(self):
        return _ratio(self.reopened, self.resolved_once)

    @property
    def accept_hours_avg(self):
        return _hours(self.raw.get("accept_seconds_avg"))

    @property
    def accept_hours_median(self):
        return _hours(self.raw.get("accept_seconds_median"))

    @property
    def resolve_hours_avg(self):
        if "resolve_seconds_avg" in self.raw:
            return _hours(self.raw["resolve_seconds_avg"])
        total = self.raw.get("resolve_seconds_sum")
        return _hours(total / self.resolved) if total is not None and self.resolved else None

    @property
    def resolve_hours_median(self):
        return _hours(self.raw.get("resolve_seconds_median"))

    def value(self, key: str):
        return getattr(self, key)

    def funnel(self) -> list[dict]:
        return [
            {
                "key": key,
                "label": label,
                "count": getattr(self, key),
                "share": _ratio(getattr(self, key), self.filed),
            }
            for key, label in FUNNEL
        ]


# --- units and who may see them ---------------------------------------------------------

KINDS = ("subdistrict", "community", "grid", "department", "worker")
UNIT_MODELS = {
    "subdistrict": Subdistrict,
    "community": Community,
    "grid": Grid,
    "department": Department,
}
# Issue fields that tie an issue to a unit of each kind.
ISSUE_FIELD = {
    "subdistrict": "subdistrict_id",
    "community": "community_id",
    "grid": "grid_id",
    "department": "department_id",
}
KIND_LABELS = {
    "subdistrict": _("Subdistrict"),
    "community": _("Community"),
    "grid": _("Grid"),
    "department": _("Department"),
    "worker": _("Staff member"),
}


def handler_condition(user_id: int, prefix: str = "") -> Q:
    """Issues a person handles: resolved by them, or (not yet resolved) assigned to them."""
    return Q(**{f"{prefix}resolved_by_id": user_id}) | Q(
        **{f"{prefix}resolved_by__isnull": True, f"{prefix}assignee_id": user_id}
    )


@dataclass
class Crumb:
    kind: str
    pk: int
    name: str
    linked: bool


@dataclass
class Unit:
    """One unit on the dashboard, with its figures over the filtered issues."""

    kind: str
    pk: int
    name: str
    issues: Q  # which issues are the unit's (before the filters)
    figures: Figures
    parents: list[Crumb] = field(default_factory=list)

    @property
    def kind_label(self):
        return KIND_LABELS[self.kind]

    def rows(self, filters: Filters):
        """The unit's filtered issues as a queryset (for trend and recurrence)."""
        return Issue.objects.filter(self.issues & filters.condition())


# Parent fields read with the unit's own row, for the breadcrumb and the scope check.
_PARENT_VALUES = {
    "subdistrict": [],
    "community": ["subdistrict_id", "subdistrict__name"],
    "grid": [
        "community_id",
        "community__name",
        "community__subdistrict_id",
        "community__subdistrict__name",
    ],
    "department": ["subdistrict_id", "subdistrict__name"],
}


# Where each unit's subdistrict is, from the unit's row.
_SUBDISTRICT_OF = {
    "community": "subdistrict_id",
    "grid": "community__subdistrict_id",
    "department": "subdistrict_id",
}


def _crumbs(user, kind: str, row: dict) -> list[Crumb]:
    s = scope_of(user)
    superuser = user.is_superuser
    if kind in ("community", "department"):
        sid = row["subdistrict_id"]
        return [
            Crumb("subdistrict", sid, row["subdistrict__name"], superuser or sid in s.subdistricts)
        ]
    if kind == "grid":
        sid, cid = row["community__subdistrict_id"], row["community_id"]
        return [
            Crumb(
                "subdistrict",
                sid,
                row["community__subdistrict__name"],
                superuser or sid in s.subdistricts,
            ),
            Crumb(
                "community",
                cid,
                row["community__name"],
                superuser or cid in s.communities or sid in s.subdistricts,
            ),
        ]
    return []


def load_unit(
    user, kind: str, pk: int, filters: Filters, *, now: datetime | None = None, access: bool = True
) -> Unit | None:
    """The unit with its figures, or None if it does not exist or the user may not see it.

    For a territorial unit or a department this is ONE query: the unit's row, restricted to
    the user's scope in SQL, LEFT JOINed to its filtered issues and aggregated. A worker
    takes two (their posts, then the aggregate over the issues they handle that the viewer
    sees as staff). ``access=False`` skips the scope check (the public page).
    """
    now = now or timezone.now()
    if kind == "worker":
        return _load_worker(user, pk, filters, now=now)
    model = UNIT_MODELS.get(kind)
    if model is None:
        return None
    units = model.objects.filter(pk=pk)
    if access:
        condition = unit_access(user, kind)
        if condition is not None:
            units = units.filter(condition)
    issues = Q(**{ISSUE_FIELD[kind]: pk})
    joined = filters.condition("issues__")
    if kind != "subdistrict":
        # Redundant (an issue's subdistrict follows its grid; a department serves one
        # subdistrict), but it lets the database use the (subdistrict, created_at) index.
        joined &= Q(issues__subdistrict_id=F(_SUBDISTRICT_OF[kind]))
    rows = Issue.objects.filter(issues & filters.condition())
    row = next(
        iter(
            units.annotate(f=FilteredRelation("issues", condition=joined))
            .values("pk", "name", *_PARENT_VALUES[kind])
            .annotate(
                **figure_aggregates(now=now, prefix="f__"),
                **median_aggregates(rows, prefix="f__"),
            )
            .order_by()
        ),
        None,
    )
    if row is None:
        return None
    subdistrict_id = row["pk" if kind == "subdistrict" else _SUBDISTRICT_OF[kind]]
    if kind != "subdistrict":
        issues &= Q(subdistrict_id=subdistrict_id)
    return Unit(
        kind=kind,
        pk=row["pk"],
        name=row["name"],
        issues=issues,
        figures=Figures(row),
        parents=_crumbs(user, kind, row) if access else [],
    )


def _load_worker(user, pk: int, filters: Filters, *, now: datetime) -> Unit | None:
    posts = list(
        Post.objects.filter(user_id=pk, user__is_active=True).select_related(
            "user", "grid__community__subdistrict", "community__subdistrict", "department"
        )
    )
    if not posts:
        return None
    if not (
        user.is_superuser
        or user.pk == pk
        or any(may_see_unit(user, post.UNIT_FIELD[post.role], post.unit) for post in posts)
    ):
        return None
    person = posts[0].user
    issues = handler_condition(pk)
    visible = staff_issue_condition(user)
    if visible is not None:
        issues &= visible
    rows = Issue.objects.filter(issues & filters.condition())
    raw = rows.aggregate(**figure_aggregates(now=now), **median_aggregates(rows))
    parents = []
    for post in posts:
        kind = Post.UNIT_FIELD[post.role]
        parents.append(
            Crumb(kind, post.unit.pk, post.unit.name, may_see_unit(user, kind, post.unit))
        )
    return Unit(
        kind="worker",
        pk=pk,
        name=person.get_full_name() or person.username,
        issues=issues,
        figures=Figures(raw),
        parents=parents,
    )


def top_units(user) -> list[tuple[str, int, str]]:
    """The highest units the user holds posts on (kind, pk, name), where the dashboard
    starts; a unit below another of their units is left out. Superusers: every
    subdistrict. A few small queries on the unit tables, never on issues."""
    if user.is_superuser:
        return [("subdistrict", s.pk, s.name) for s in Subdistrict.objects.all()]
    s = scope_of(user)
    units = []
    if s.subdistricts:
        units += [
            ("subdistrict", x.pk, x.name) for x in Subdistrict.objects.filter(pk__in=s.subdistricts)
        ]
    if s.communities:
        units += [
            ("community", x.pk, x.name)
            for x in Community.objects.filter(pk__in=s.communities).exclude(
                subdistrict_id__in=s.subdistricts
            )
        ]
    if s.grids:
        units += [
            ("grid", x.pk, x.name)
            for x in Grid.objects.filter(pk__in=s.grids)
            .exclude(community_id__in=s.communities)
            .exclude(community__subdistrict_id__in=s.subdistricts)
        ]
    if s.departments:
        units += [
            ("department", x.pk, x.name)
            for x in Department.objects.filter(pk__in=s.departments).exclude(
                subdistrict_id__in=s.subdistricts
            )
        ]
    return units


# --- rankings of child units -------------------------------------------------------------

# What each kind ranks: (table name, child kind).
CHILD_TABLES = {
    "subdistrict": [("ranking", "community"), ("departments", "department")],
    "community": [("ranking", "grid")],
    "grid": [("ranking", "worker")],
    "department": [("ranking", "worker")],
    "worker": [],
}
_CHILD_PARENT_FIELD = {
    "community": "subdistrict_id",
    "grid": "community_id",
    "department": "subdistrict_id",
}


@dataclass
class RankingRow:
    kind: str
    pk: int | None
    name: str
    figures: Figures
    linked: bool = True

    def value(self, key: str):
        if key == "name":
            return self.name
        return self.figures.value(key)


def rankings(unit: Unit, filters: Filters, *, now: datetime | None = None) -> dict:
    """{table name: [RankingRow]} for the unit's children, in one query: every child unit
    (a child without issues has empty rates), or every person handling the unit's issues.
    Sorted by name here; the page re-sorts by the column asked for.

    For child units the query is a UNION ALL of the child lists (names, and a row for every
    child) and ONE scan of the unit's issues grouped by all child kinds at once (for a
    subdistrict: by community and department, a few dozen groups), which are then added up
    per child."""
    now = now or timezone.now()
    tables = CHILD_TABLES[unit.kind]
    if not tables:
        return {}
    if tables[0][1] == "worker":
        return {"ranking": _worker_rows(unit, filters, now)}
    kinds = [kind for _, kind in tables]
    id_columns = [f"id{n}" for n in range(len(kinds))]
    columns = ["part", *id_columns, "child_name", *RANKING_AGGREGATES]
    # Typed NULLs: PostgreSQL reads two untyped NULL columns in a UNION as text.
    no_id = Cast(Value(None), output_field=BigIntegerField())
    empty = {
        key: Cast(
            Value(None), output_field=BigIntegerField() if key in COUNT_KEYS else FloatField()
        )
        for key in RANKING_AGGREGATES
    }
    parts = [
        UNIT_MODELS[kind]
        .objects.filter(**{_CHILD_PARENT_FIELD[kind]: unit.pk})
        .annotate(
            part=Value(kind),
            **{column: F("pk") if n == k else no_id for n, column in enumerate(id_columns)},
            child_name=F("name"),
            **empty,
        )
        .values(*columns)
        .order_by()
        for k, kind in enumerate(kinds)
    ]
    parts.append(
        unit.rows(filters)
        .values(
            **{column: F(ISSUE_FIELD[kind]) for column, kind in zip(id_columns, kinds, strict=True)}
        )
        .annotate(
            part=Value(""),
            child_name=Value(None, output_field=CharField()),
            **figure_aggregates(now=now, keys=RANKING_AGGREGATES),
        )
        .values(*columns)
        .order_by()
    )
    names: dict[tuple, str] = {}
    sums: dict[tuple, dict] = {}
    for row in parts[0].union(*parts[1:], all=True):
        if row["part"]:
            kind = row["part"]
            names[(kind, row[id_columns[kinds.index(kind)]])] = row["child_name"]
            continue
        for column, kind in zip(id_columns, kinds, strict=True):
            if row[column] is None:
                continue
            total = sums.setdefault((kind, row[column]), {})
            for key in RANKING_AGGREGATES:
                total[key] = total.get(key, 0) + (row[key] or 0)
    result = {name: [] for name, _ in tables}
    table_of = {kind: name for name, kind in tables}
    for (kind, pk), name in names.items():
        result[table_of[kind]].append(RankingRow(kind, pk, name, Figures(sums.get((kind, pk), {}))))
    for rows in result.values():
        rows.sort(key=lambda r: (r.name, r.pk))
    return result


def _worker_rows(unit: Unit, filters: Filters, now: datetime) -> list[RankingRow]:
    """People handling the unit's issues, one GROUP BY over the issues. A row links to the
    person's page when they hold a post on this grid or department."""
    post_on_unit = Post.objects.filter(
        user_id=OuterRef("handler"), **{ISSUE_FIELD[unit.kind]: unit.pk}
    )
    query = (
        unit.rows(filters)
        .values(handler=Coalesce("resolved_by_id", "assignee_id"))
        .annotate(
            username=Max(Coalesce("resolved_by__username", "assignee__username")),
            first_name=Max(Coalesce("resolved_by__first_name", "assignee__first_name")),
            last_name=Max(Coalesce("resolved_by__last_name", "assignee__last_name")),
            holds_post=Exists(post_on_unit),
            **figure_aggregates(now=now, keys=RANKING_AGGREGATES),
        )
        .order_by()
    )
    rows = []
    for row in query:
        if row["handler"] is None:
            name, linked = str(_("Not yet assigned")), False
        else:
            # As User.get_full_name() says it everywhere else on the site.
            full = f"{row['first_name']} {row['last_name']}".strip()
            name = f"{full} ({row['username']})" if full else row["username"]
            linked = bool(row["holds_post"])
        rows.append(RankingRow("worker", row["handler"], name, Figures(row), linked=linked))
    rows.sort(key=lambda r: (r.pk is None, r.name))
    return rows


# --- weekly trend ------------------------------------------------------------------------

TREND_SERIES = [
    ("filed", _("Filed")),
    ("resolved", _("Resolved")),
    ("overdue", _("Went overdue")),
]
TREND_HELP = _(
    "Among the issues filed in the period: filed per week of filing, resolved per week of "
    "resolution, and overdue per week of the deadline they missed (resolved after it, or "
    "still open past it). Weeks start on Monday."
)


def trend(unit: Unit, filters: Filters, *, now: datetime | None = None) -> list[dict]:
    """Weekly counts [{week, filed, resolved, overdue}] in one query: the unit's issues are
    grouped by (week filed, week resolved, week of the missed deadline), a few hundred
    groups at most, which are then added up per series. Weeks without issues are filled
    with zeros, from the first week of the period to its last week or the last week with
    data (never after this week)."""
    now = now or timezone.now()

    def week(field_name):
        return TruncWeek(field_name, output_field=DateField())

    missed = Q(due_at__lt=now) & (Q(status__in=RUNNING_STATUSES) | Q(resolved_at__gt=F("due_at")))
    groups = (
        unit.rows(filters)
        .values(
            filed_week=week("created_at"),
            resolved_week=week("resolved_at"),
            overdue_week=Case(
                When(missed, then=week("due_at")), default=None, output_field=DateField()
            ),
        )
        .annotate(n=Count("id"))
        .values_list("filed_week", "resolved_week", "overdue_week", "n")
        .order_by()
    )
    counts: dict[date, dict] = {}
    for filed_week, resolved_week, overdue_week, n in groups:
        for name, day in (
            ("filed", filed_week),
            ("resolved", resolved_week),
            ("overdue", overdue_week),
        ):
            if day is not None:
                if isinstance(day, datetime):
                    # PostgreSQL answers DATE_TRUNC inside CASE as a (local) timestamp.
                    day = (timezone.localtime(day) if timezone.is_aware(day) else day).date()
                series = counts.setdefault(day, {})
                series[name] = series.get(name, 0) + n

    def monday(day: date) -> date:
        return day - timedelta(days=day.weekday())

    first = monday(filters.start)
    this_week = monday(timezone.localdate(now))
    # The whole period (up to this week), and later weeks where its issues were resolved
    # or went overdue.
    last = max([first, min(monday(filters.end), this_week), *[d for d in counts if d <= this_week]])
    weeks = []
    day = first
    while day <= last:
        found = counts.get(day, {})
        weeks.append({"week": day, **{name: found.get(name, 0) for name, _label in TREND_SERIES}})
        day += timedelta(days=7)
    return weeks


# --- recurrence alerts -------------------------------------------------------------------

# On the page: the latest few issues of each alert, and a bounded list (the CSV has all).
RECURRENCE_ISSUES_PER_GROUP = 5
RECURRENCE_MAX_ROWS = 60


@dataclass
class Recurrence:
    grid_id: int
    grid_name: str
    category_id: int
    category_name: str
    count: int
    issues: list[dict]


def recurrence_window(filters: Filters) -> tuple[datetime, datetime]:
    """The ``recurrence_days`` days up to the end of the period (it may reach before the
    period's start)."""
    return filters.end_at - timedelta(days=filters.recurrence_days), filters.end_at


def recurrences(
    unit: Unit,
    filters: Filters,
    *,
    per_group: int = RECURRENCE_ISSUES_PER_GROUP,
    max_rows: int = RECURRENCE_MAX_ROWS,
) -> list[Recurrence]:
    """Grids where one category was filed at least N times within the M days up to the end
    of the period, most frequent first, each with its latest ``per_group`` issues (at most
    ``max_rows`` issues in all). One query: window functions count each (grid, category)
    and number its issues."""
    since, until = recurrence_window(filters)
    partition = [F("grid_id"), F("category_id")]
    query = (
        Issue.objects.filter(
            unit.issues,
            filters.condition(dates=False),
            created_at__gte=since,
            created_at__lt=until,
        )
        .annotate(
            group_count=Window(Count("id"), partition_by=partition),
            position=Window(
                RowNumber(), partition_by=partition, order_by=[F("created_at").desc(), F("id")]
            ),
        )
        .filter(group_count__gte=filters.recurrence_count, position__lte=per_group)
        .values(
            "pk",
            "tracking_number",
            "title",
            "created_at",
            "grid_id",
            "grid__name",
            "category_id",
            "category__name",
            "group_count",
        )
        .order_by(
            "-group_count",
            "grid__name",
            "grid_id",
            "category__name",
            "category_id",
            "-created_at",
            "pk",
        )[:max_rows]
    )
    groups: dict[tuple, Recurrence] = {}
    for row in query:
        key = (row["grid_id"], row["category_id"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = Recurrence(
                grid_id=row["grid_id"],
                grid_name=row["grid__name"],
                category_id=row["category_id"],
                category_name=row["category__name"],
                count=row["group_count"],
                issues=[],
            )
        group.issues.append(
            {
                "pk": row["pk"],
                "tracking_number": row["tracking_number"],
                "title": row["title"],
                "created_at": row["created_at"],
            }
        )
    return list(groups.values())
