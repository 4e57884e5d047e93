"""The figures: the aggregate expressions behind them, their definitions (labels and
one-line explanations) and the rates computed from the counts; the full definitions are
in the package docstring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Avg, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.db.models.lookups import GreaterThanOrEqual, LessThan
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..models import (
    OPEN_STATUSES,
    RESIDENT_SOURCES,
    RUNNING_STATUSES,
    Level,
    Satisfaction,
    Severity,
    Source,
    Status,
)
from ..permissions import CALLBACK_SOURCES

# The units with the loop's department counts (returns, sub-tasks).
from .loop import UNIT_KINDS as DEPARTMENT_LOOP_KINDS
from .sql import Median, Seconds, _count

# --- the figures ------------------------------------------------------------------------


def _accept_seconds(prefix: str = "") -> Seconds:
    return Seconds(F(f"{prefix}accepted_at"), F(f"{prefix}created_at"))


def _resolve_seconds(prefix: str = ""):
    return Seconds(F(f"{prefix}resolved_at"), F(f"{prefix}created_at")) - F(
        f"{prefix}suspended_seconds"
    )


def figure_aggregates(*, now: datetime, prefix: str = "", keys=None) -> dict:
    """The aggregate expressions behind every figure, over issue fields named ``prefix…``
    (``""`` on ``Issue`` itself, ``"f__"`` through a FilteredRelation); only ``keys`` if
    given. The daily rollups store ``STORED_KEYS`` computed by these same expressions."""
    aggregates = _figure_aggregates(now=now, prefix=prefix)
    if keys is None:
        return aggregates
    return {key: aggregates[key] for key in keys}


# Counts of the loop that are not on the issue row: dispatches and returns (from the
# events), sub-tasks (from IssueTask), and the resolved issues left unverified too long;
# ``issues.stats.loop`` computes them.
LOOP_KEYS = (
    "dispatches_received",
    "returned",
    "tasks_done",
    "tasks_on_time",
    "tasks_open_late",
    "unverified_stale",
)

# The counts that depend on the moment they are read ("past its deadline now"). Each is
# over open issues only (``live_condition``), so it is counted live, bounded by the open
# work and served by the open issues' partial indexes; every other figure is stored in
# the daily rollups.
LIVE_KEYS = ("overdue_now", "unanswered_open")

# Every count figure_aggregates() returns (the rest are averages and sums in seconds).
COUNT_KEYS = frozenset(
    {
        "filed",
        "open",
        "minor_closed",
        "minor_settled",
        "urgent_closed",
        "urgent_settled",
        "difficult_closed",
        "difficult_settled",
        "response_on_time",
        "unanswered_closed",
        "unanswered_open",
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
        # The closed loop, over the same issues.
        "extended",
        "extension_pending",
        "satisfied_online",
        "evaluated_online",
        "reopens_online",
        "satisfied_callback",
        "evaluated_callback",
        "reopens_callback",
        "supervised_resolved",
        # The closed loop, counted apart from the issue rows (``issues.stats.loop``).
        *LOOP_KEYS,
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
    "accepted",
    "unanswered_closed",
    "unanswered_open",
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
    "extended",
    "extension_pending",
    "supervised_resolved",
]


def live_condition(key: str, *, now: datetime, prefix: str = "") -> Q:
    """The condition of a count that depends on ``now`` (``LIVE_KEYS``), on open issues."""
    p = prefix
    if key == "overdue_now":
        # Running past the deadline (suspended issues have a stopped clock).
        return Q(**{f"{p}status__in": RUNNING_STATUSES, f"{p}due_at__lt": now})
    if key == "unanswered_open":
        # Still open, never accepted, and past the first deadline: not answered in time.
        return Q(
            **{
                f"{p}status__in": OPEN_STATUSES,
                f"{p}accepted_at__isnull": True,
                f"{p}response_due_at__lt": now,
            }
        )
    raise KeyError(key)


def _figure_aggregates(*, now: datetime, prefix: str) -> dict:
    p = prefix

    def q(**kwargs) -> Q:
        return Q(**{f"{p}{key}": value for key, value in kwargs.items()})

    closed = q(status=Status.CLOSED)
    accepted = q(accepted_at__isnull=False)
    resolved = q(resolved_at__isnull=False)
    satisfied = q(satisfaction__in=[Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
    evaluated = ~q(satisfaction="")
    # The channel of an evaluation follows the source: a resident evaluates online; a
    # hotline or API caller is asked on a call-back (回访). No other source is evaluated.
    online = q(source__in=RESIDENT_SOURCES)
    callback = q(source__in=CALLBACK_SOURCES)
    return {
        "filed": _count(None, p),
        # Open now (waiting, in progress, suspended or awaiting evaluation): the home page.
        "open": _count(q(status__in=OPEN_STATUSES), p),
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
        # The first deadline (to be accepted at the grid) as the clock set it on filing,
        # in hours or working days: the same deadline the sweep and the queue use. The
        # issues due a response are the accepted ones and the unanswered ones: never
        # accepted and closed (a closed record is final), or never accepted, still open
        # and past the first deadline now. Rejected issues are left out.
        "response_on_time": _count(accepted & q(accepted_at__lte=F(f"{p}response_due_at")), p),
        "unanswered_closed": _count(closed & q(accepted_at__isnull=True), p),
        "unanswered_open": _count(live_condition("unanswered_open", now=now, prefix=p), p),
        "resolution_on_time": _count(resolved & q(resolved_at__lte=F(f"{p}due_at")), p),
        "overdue_now": _count(live_condition("overdue_now", now=now, prefix=p), p),
        "satisfied": _count(satisfied, p),
        "evaluated_stored": _count(evaluated, p),
        "reopens": Coalesce(Sum(f"{p}reopen_count"), Value(0)),
        "satisfied_online": _count(satisfied & online, p),
        "evaluated_online": _count(evaluated & online, p),
        "reopens_online": Coalesce(Sum(f"{p}reopen_count", filter=online), Value(0)),
        "satisfied_callback": _count(satisfied & callback, p),
        "evaluated_callback": _count(evaluated & callback, p),
        "reopens_callback": Coalesce(Sum(f"{p}reopen_count", filter=callback), Value(0)),
        "patrol": _count(q(source=Source.PATROL), p),
        "reached_community": _count(q(level__in=[Level.COMMUNITY, Level.SUBDISTRICT]), p),
        "reached_subdistrict": _count(q(level=Level.SUBDISTRICT), p),
        "dispatched": _count(q(department__isnull=False), p),
        "reopened": _count(q(reopen_count__gt=0), p),
        "resolved_once": _count(resolved | q(reopen_count__gt=0), p),
        "supervised": _count(q(is_supervised=True), p),
        "supervised_resolved": _count(
            q(is_supervised=True, resolved_at__gt=F(f"{p}supervised_at")), p
        ),
        # 延期: granted at least once; a request still waiting for the level above (an
        # issue resolved, closed or rejected meanwhile has nothing left to extend).
        "extended": _count(q(extension_count__gt=0), p),
        "extension_pending": _count(
            q(
                extension_until__isnull=False,
                status__in=[*RUNNING_STATUSES, Status.SUSPENDED],
            ),
            p,
        ),
        "accepted": _count(accepted, p),
        "accept_seconds_avg": Avg(_accept_seconds(p), filter=accepted),
        "resolved": _count(resolved, p),
        "resolve_seconds_avg": Avg(_resolve_seconds(p), filter=resolved),
        # Sums add up across groups (averages do not): the rankings and the rollups divide
        # by "accepted" and "resolved".
        "accept_seconds_sum": Sum(_accept_seconds(p), filter=accepted),
        "resolve_seconds_sum": Sum(_resolve_seconds(p), filter=resolved),
    }


# The figures' aggregates the daily rollups store: every one that does not depend on the
# moment it is read, with sums instead of averages.
STORED_KEYS = tuple(
    key
    for key in _figure_aggregates(now=datetime(2000, 1, 1, tzinfo=UTC), prefix="")
    if key not in LIVE_KEYS and not key.endswith("_avg")
)

# --- medians from a histogram ----------------------------------------------------------
#
# Medians do not add up, so the rollups keep a histogram of each duration instead: how many
# issues took less than 5 minutes, 5 to 10 minutes, … 60 days or more. The median read
# from it is known to lie within one bucket (or between two, for an even count), and the
# page says so; the live computation (``median_aggregates``) gives it exactly.
MEDIAN_EDGES_HOURS = (
    1 / 12, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 3 / 4, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48,
    72, 96, 120, 168, 240, 336, 504, 720, 1440,
)  # fmt: skip
MEDIAN_BUCKETS = len(MEDIAN_EDGES_HOURS) + 1
MEDIAN_MEASURES = ("accept", "resolve")


def histogram_key(measure: str, bucket: int) -> str:
    return f"{measure}_b{bucket}"


HISTOGRAM_KEYS = tuple(
    histogram_key(measure, n) for measure in MEDIAN_MEASURES for n in range(MEDIAN_BUCKETS)
)


def histogram_aggregates(prefix: str = "") -> dict:
    """For each duration (time to accept, time to resolve), the count of issues in each
    bucket of ``MEDIAN_EDGES_HOURS``: the same durations and conditions as the averages."""
    p = prefix
    measures = {
        "accept": (_accept_seconds(p), Q(**{f"{p}accepted_at__isnull": False})),
        "resolve": (_resolve_seconds(p), Q(**{f"{p}resolved_at__isnull": False})),
    }
    edges = [None, *(hours * 3600 for hours in MEDIAN_EDGES_HOURS), None]
    aggregates = {}
    for measure, (seconds, condition) in measures.items():
        for n in range(MEDIAN_BUCKETS):
            low, high = edges[n], edges[n + 1]
            bucket = condition
            if low is not None:
                bucket &= GreaterThanOrEqual(seconds, Value(float(low)))
            if high is not None:
                bucket &= LessThan(seconds, Value(float(high)))
            aggregates[histogram_key(measure, n)] = _count(bucket, p)
    return aggregates


@dataclass(frozen=True)
class HistogramMedian:
    """A median read from a histogram: it lies between ``low`` and ``high`` hours (``high``
    None: no upper bound, the last bucket); ``hours`` is the estimate inside that range
    (the middle ranks placed evenly within their buckets)."""

    hours: float
    low: float
    high: float | None


def histogram_median(counts: list[int]) -> HistogramMedian | None:
    total = sum(counts)
    if not total:
        return None
    edges = [0.0, *MEDIAN_EDGES_HOURS, None]

    def place(rank: int) -> tuple[int, float]:
        seen = 0
        for n, count in enumerate(counts):
            if rank < seen + count:
                low, high = edges[n], edges[n + 1]
                if high is None:
                    return n, low
                return n, low + (rank - seen + 0.5) / count * (high - low)
            seen += count
        raise ValueError(rank)

    # The median is the middle rank, or the mean of the two middle ranks.
    (first, lower), (last, upper) = place((total - 1) // 2), place(total // 2)
    return HistogramMedian(hours=(lower + upper) / 2, low=edges[first], high=edges[last + 1])


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
    # A department handles what the subdistrict dispatched to it: where an issue was
    # settled, how fast the grid answered and who found it say nothing about a department.
    for_departments: bool = True
    # The only unit kinds the figure means something for (empty: every kind). Returns and
    # sub-tasks are a department's: its own page, and its subdistrict's (all of them).
    kinds: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        """Where the cards show it: the headline figures, or the closed loop's (闭环)."""
        return "loop" if self.key in LOOP_FIGURES else "main"


# The closed loop's figures (回访, 督办, 延期, 退单, 联办, 核查), shown together under their
# own heading after the headline figures.
LOOP_FIGURES = frozenset(
    {
        "satisfaction_online_rate",
        "satisfaction_callback_rate",
        "supervised_resolved",
        "extended",
        "extension_pending",
        "return_rate",
        "task_on_time_rate",
        "unverified_stale",
    }
)


def figures_for(kind: str) -> list[FigureDef]:
    """The figures that mean something for a unit of this kind ("department", "grid", …),
    in display order (the headline figures, then the closed loop's): cards, ranking
    columns and CSV exports all use this one list."""
    chosen = [
        f
        for f in FIGURES
        if (kind != "department" or f.for_departments) and (not f.kinds or kind in f.kinds)
    ]
    return sorted(chosen, key=lambda f: f.group == "loop")


def _unverified_help() -> str:
    return gettext(
        "Of those, resolved issues that no resident evaluates, still waiting for "
        "verification or a call-back more than %(days)s days after they were resolved."
    ) % {"days": settings.UNVERIFIED_DAYS}


# The figures in display order, each with the one line that says how it is computed. Each
# figure has one name, used on the cards, in the ranking tables, in charts and in CSV files.
FIGURES: list[FigureDef] = [
    FigureDef(
        "filed",
        _("Issues filed"),
        _("Issues filed in the period that match the filters."),
        "count",
    ),
    FigureDef(
        "closed",
        _("Issues closed"),
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
        for_departments=False,
    ),
    FigureDef(
        "urgent_settled_rate",
        _("Urgent matters settled in the community"),
        _("Closed urgent issues settled at grid or community level ÷ closed urgent issues."),
        "rate",
        for_departments=False,
    ),
    FigureDef(
        "difficult_settled_rate",
        _("Difficult matters settled in the subdistrict"),
        _(
            "Closed difficult issues never put under supervision (which marks an issue still "
            "overdue at the subdistrict) ÷ closed difficult issues."
        ),
        "rate",
        for_departments=False,
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
        for_departments=False,
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
        "satisfaction_online_rate",
        _("Satisfaction rate: online evaluation"),
        _(
            "The satisfaction rate of residents' own reports, evaluated online by the "
            "resident (reports by residents and volunteers)."
        ),
        "rate",
    ),
    FigureDef(
        "satisfaction_callback_rate",
        _("Satisfaction rate: call-back"),
        _(
            "The satisfaction rate of hotline and API reports, asked of the caller on a "
            "call-back (回访); the overall rate counts both channels."
        ),
        "rate",
    ),
    FigureDef(
        "patrol_rate",
        _("Patrol discovery rate"),
        _("Issues found by grid workers on patrol ÷ issues filed."),
        "rate",
        for_departments=False,
    ),
    FigureDef(
        "reopen_rate",
        _("Reopen rate"),
        _("Issues reopened at least once ÷ issues resolved at least once."),
        "rate",
    ),
    FigureDef(
        "supervised",
        _("Supervised issues"),
        _(
            "Issues put under supervision (督办): by the deadline sweep when overdue at the "
            "subdistrict, or by a supervision note from the level above."
        ),
        "count",
    ),
    FigureDef(
        "supervised_resolved",
        _("Resolved after supervision"),
        _(
            "Of the supervised issues, those now resolved or closed, resolved after they "
            "were put under supervision."
        ),
        "count",
    ),
    FigureDef(
        "extended",
        _("Extensions granted"),
        _("Issues whose deadline was extended (延期) at least once."),
        "count",
        public=False,
    ),
    FigureDef(
        "extension_pending",
        _("Extension requests pending"),
        _("Open issues with an extension request waiting for the level above to decide."),
        "count",
        public=False,
    ),
    FigureDef(
        "return_rate",
        _("Return rate"),
        _(
            "Of those issues: dispatches the department handed back as outside its duties "
            "(退单) ÷ dispatches it received (alone, or as lead of a joint dispatch)."
        ),
        "rate",
        public=False,
        kinds=DEPARTMENT_LOOP_KINDS,
    ),
    FigureDef(
        "task_on_time_rate",
        _("Sub-tasks done on time"),
        _(
            "The department's joint-handling sub-tasks (联办) of those issues done by their "
            "due time ÷ sub-tasks done, plus open ones past their due time (counted as late); "
            "cancelled ones are left out."
        ),
        "rate",
        public=False,
        kinds=DEPARTMENT_LOOP_KINDS,
    ),
    FigureDef(
        "unverified_stale",
        _("Awaiting verification too long"),
        lazy(_unverified_help, str)(),
        "count",
        public=False,
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
    def response_due(self) -> int:
        # Accepted, or never accepted and closed, or never accepted and open past the first
        # deadline; the three never overlap.
        return self.accepted + self.unanswered_closed + self.unanswered_open

    @property
    def tasks_due(self) -> int:
        # Sub-tasks judged: done, or still open past their due time (late).
        return self.tasks_done + self.tasks_open_late

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
    def satisfaction_online_rate(self):
        return _ratio(self.satisfied_online, self.evaluated_online + self.reopens_online)

    @property
    def satisfaction_callback_rate(self):
        return _ratio(self.satisfied_callback, self.evaluated_callback + self.reopens_callback)

    @property
    def return_rate(self):
        return _ratio(self.returned, self.dispatches_received)

    @property
    def task_on_time_rate(self):
        return _ratio(self.tasks_on_time, self.tasks_due)

    @property
    def patrol_rate(self):
        return _ratio(self.patrol, self.filed)

    @property
    def reopen_rate(self):
        return _ratio(self.reopened, self.resolved_once)

    def _average_hours(self, measure: str, count: int):
        if f"{measure}_seconds_avg" in self.raw:
            return _hours(self.raw[f"{measure}_seconds_avg"])
        total = self.raw.get(f"{measure}_seconds_sum")
        return _hours(total / count) if total is not None and count else None

    @property
    def accept_hours_avg(self):
        return self._average_hours("accept", self.accepted)

    @property
    def resolve_hours_avg(self):
        return self._average_hours("resolve", self.resolved)

    def histogram_median(self, measure: str) -> HistogramMedian | None:
        """The median of a duration ("accept" or "resolve") read from the rollups'
        histogram, or None when the figures were computed live (exact medians) or there is
        nothing to take the median of."""
        if histogram_key(measure, 0) not in self.raw:
            return None
        return histogram_median(
            [self.raw.get(histogram_key(measure, n)) or 0 for n in range(MEDIAN_BUCKETS)]
        )

    def _median_hours(self, measure: str):
        if f"{measure}_seconds_median" in self.raw:
            return _hours(self.raw[f"{measure}_seconds_median"])
        found = self.histogram_median(measure)
        return None if found is None else found.hours

    @property
    def accept_hours_median(self):
        return self._median_hours("accept")

    @property
    def resolve_hours_median(self):
        return self._median_hours("resolve")

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
