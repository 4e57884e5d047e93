"""The governance figures (DESIGN.md §5, end): does "small matters stay in the grid" hold?

Every figure is an SQL aggregate over the issues of one unit (a subdistrict, community,
grid, department or worker) *filed in the chosen period* (and matching the category,
severity and source filters). Nothing here loops over issues in Python: the database counts
(``Count(..., filter=Q(...))``), averages and takes medians, and durations are computed by
the database too (``Seconds``). Python only divides the resulting counts and lays out the
few aggregated rows (one per child unit, per week, per recurring grid and category).

Queries per page, whatever the number of issues or child units:
- the unit with its figures: one query (the unit's row, LEFT JOINed to its filtered issues
  through a ``FilteredRelation`` and aggregated; an out-of-scope unit gives no row). The
  loop's counts that are not on the issue rows (dispatches and returns from the events,
  sub-tasks, the issues left unverified too long with the oldest few as a JSON list) are
  scalar subqueries of the same statement (``loop.py``);
- the ranking of child units: one query, a ``UNION ALL`` of the child units themselves
  (every child is listed, with or without issues) and the unit's issues grouped by child
  (one scan); for a subdistrict, communities and departments in the same statement, with
  the routing events and the sub-tasks of its issues grouped by department;
  workers: one ``GROUP BY`` over the unit's issues;
- the weekly trend: one query (the issues grouped by week filed, week resolved and week of
  the missed deadline);
- recurrence alerts: one query (window functions).

Two ways to the same figures. The dashboard and the public pages read them from the daily
rollups (``issues.rollups`` keeps them in the transactions that change the issues): the
rollup rows of the unit and period are added up (``load_unit(…, rollup=True)``, and the
rankings and the trend follow the unit), with the same number of queries as above, whose
cost follows the rollup rows (a grid's day, or with a category, severity or source chosen
a grid's day of that kind) and the unit's open issues, not the issues filed. The few
counts that depend on "now" (``LIVE_KEYS``: overdue now, never accepted past the first
deadline; a department's sub-tasks late; issues left unverified too long) are counted
live, over open issues only, in the same statements. Medians cannot be added up: the
rollups keep a histogram of each duration (``MEDIAN_EDGES_HOURS``, 28 buckets from 5
minutes to 60 days) and the median read from it is an estimate within a stated range
(``Figures.histogram_median``; the page says so). Counted live over the issues
(``rollup=False``, the default) they are the oracle the rollups are tested against, and a
person's figures are always counted so. Recurrence alerts are always counted live: they
look at the M days up to the end of the period, not at the period.

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
  accepted by ``response_due_at``, the grid-level deadline the clock set on filing (hours,
  or working days on the official calendar: the same ``due_after`` as every deadline); a
  later change of the policy does not rewrite it. Denominator: accepted issues, plus issues
  never accepted that are closed (only imported records can be: the workflow accepts
  before it resolves; a closed record is final, so its figure does not change with the
  clock) or still open past their first deadline (not answered in time); issues rejected
  without being accepted are left out, as are open unaccepted issues still within it.
- On-time resolution rate: issues resolved (``resolved_at`` set: RESOLVED or CLOSED) no later
  than their ``due_at`` (the deadline of the level where they were settled; suspension has
  already moved it), over those resolved plus the issues still running (SUBMITTED or
  IN_PROGRESS) past their deadline now, which count as late. Suspended issues have a stopped
  clock and are counted in neither.
- Satisfaction rate: counted per evaluation. Satisfied and basically satisfied evaluations
  over all evaluations; a dissatisfied evaluation reopens the issue (不满意重办), so the
  dissatisfied ones are ``Sum(reopen_count)`` (plus any stored DISSATISFIED value).
  Issues closed without an evaluation are not counted. The same counts hold for both ways
  of evaluating: a resident evaluates online (评价), and staff record a hotline or API
  caller's answer on a call-back (回访: 满意 / 基本满意 stored, 不满意 reopens the issue
  exactly like a resident's).
- Satisfaction by channel: the satisfaction rate over the issues of one channel, which
  follows the source: online evaluation = sources RESIDENT and VOLUNTEER (``RESIDENT_SOURCES``),
  call-back = HOTLINE and API (``permissions.CALLBACK_SOURCES``). No other source is ever
  evaluated (patrol reports are verified), so the overall rate is exactly the two channels
  together.
- Time to accept: ``accepted_at - created_at`` (an issue cannot be suspended before it is
  accepted, so there is nothing to subtract). Time to resolve: ``resolved_at - created_at -
  suspended_seconds``. Both in hours, average and median, over the issues that have them.
- 主动发现率: issues with source PATROL / issues filed.
- Escalation funnel: filed → reached the community (level COMMUNITY or SUBDISTRICT; the
  level never goes down) → reached the subdistrict → dispatched to a department.
- Reopen rate (不满意重办率): issues reopened at least once / issues resolved at least once
  (``resolved_at`` set, or reopened: a reopen clears ``resolved_at``).
- Supervised: issues with ``is_supervised`` (督办: set by the sweep on an issue overdue at
  the subdistrict, or by a supervision note from those above the acting unit; either way
  ``supervised_at`` records when, first). Resolved after supervision: of those, issues with
  ``resolved_at > supervised_at`` (resolved or closed now; a reopen clears ``resolved_at``,
  and an old flag without its time is not counted). 难事不出街道率 reads the same flag.
- Extensions (延期): granted = issues with ``extension_count > 0`` (approved at least once);
  pending = issues still open (waiting, in progress or suspended) with ``extension_until``
  set, a request the level above has not decided. A request left on an issue resolved,
  closed or rejected meanwhile has nothing left to extend and is not counted.
- Return rate (退单率, departments): among the issues filed in the period (like every
  figure here: the dashboard's period is the filing date, and the category, severity and
  source filters apply), the department's RETURNED events ÷ the dispatches it received
  (DISPATCHED, and JOINT_DISPATCHED as the lead: the lead holds the issue and only the
  holder returns it; a co-handler's part is its sub-task), whenever they happened. The
  department is the event's ``data.department_id`` (events recorded before the id was
  kept name the department, matched within the subdistrict). A return always follows a
  dispatch to the same department of the same issue, so the rate stays within 100%. Read
  by filing date rather than event date: it agrees with the other figures on the page, and
  the events have no index by date and kind (the issue's (subdistrict, created_at) index
  and the events' (issue, created_at) index serve this reading). A subdistrict's figure is
  all its departments together.
- Sub-tasks on time (联办, departments): the department's sub-tasks of the issues filed in
  the period: done no later than their ``due_at`` ÷ done, plus open ones past ``due_at``
  now (counted as late). Cancelled sub-tasks (including those a return cancels), and open
  ones not yet due, are left out. The lead's own sub-task counts like a co-handler's.
- Awaiting verification too long (待核查超期): the unit's filtered issues that
  ``issues.sweep.stale_unverified`` lists (the sweep's rule, in one place: RESOLVED, no
  resident evaluates it, resolved more than ``settings.UNVERIFIED_DAYS`` days ago), as the
  viewer sees them as staff; the page lists the oldest ``UNVERIFIED_LIST_ROWS`` with links
  to their staff pages, the CSV all of them.
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

# The package, by concern (each module keeps the section of the former issues/stats.py it
# came from): sql.py (database-side building blocks: Seconds, Median), filters.py (Filters),
# figures.py (the aggregates, FIGURES and Figures), loop.py (the closed loop's counts that
# are not on the issue rows), units.py (units, breadcrumbs, scope,
# load_unit, top_units), rankings.py, trend.py and recurrence.py. Everything the rest of the
# project uses is re-exported here, so ``from issues import stats; stats.X`` keeps working.

from .figures import (
    COUNT_KEYS,
    FIGURE_BY_KEY,
    FIGURES,
    FUNNEL_HELP,
    LIVE_KEYS,
    LOOP_KEYS,
    RANKING_AGGREGATES,
    STORED_KEYS,
    Figures,
    HistogramMedian,
    figure_aggregates,
    figures_for,
    histogram_aggregates,
)
from .filters import Filters
from .loop import UNVERIFIED_LIST_ROWS, unverified
from .rankings import CHILD_TABLES, rankings
from .recurrence import (
    RECURRENCE_ISSUES_PER_GROUP,
    RECURRENCE_MAX_ROWS,
    recurrence_window,
    recurrences,
)
from .trend import TREND_HELP, TREND_SERIES, trend
from .units import (
    CITY,
    KINDS,
    Crumb,
    Unit,
    handler_condition,
    kind_label,
    load_unit,
    rollup_sources,
    top_units,
    unit_url,
)

__all__ = [
    "CHILD_TABLES",
    "CITY",
    "COUNT_KEYS",
    "FIGURE_BY_KEY",
    "FIGURES",
    "FUNNEL_HELP",
    "KINDS",
    "LIVE_KEYS",
    "LOOP_KEYS",
    "RANKING_AGGREGATES",
    "RECURRENCE_ISSUES_PER_GROUP",
    "RECURRENCE_MAX_ROWS",
    "STORED_KEYS",
    "TREND_HELP",
    "TREND_SERIES",
    "UNVERIFIED_LIST_ROWS",
    "Crumb",
    "FigureDef",
    "Figures",
    "Filters",
    "HistogramMedian",
    "Unit",
    "figure_aggregates",
    "figures_for",
    "handler_condition",
    "histogram_aggregates",
    "kind_label",
    "load_unit",
    "rankings",
    "recurrence_window",
    "recurrences",
    "rollup_sources",
    "top_units",
    "trend",
    "unit_url",
    "unverified",
]
