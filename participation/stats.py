"""The figures of party members' and volunteers' part in the work (党建引领, 志愿服务), per
unit and period, like the governance figures: SQL aggregates, three queries whatever the
number of issues, helpers or units: one statement, which never reads the issues table
as a whole (the participants' reports come from the daily rollups).

Definitions (each shown next to the figure):
- Found by participants (主动发现): issues of the unit filed in the period as reports by a
  volunteer or party member (source VOLUNTEER, which only participants may choose).
- Settled with their help: of the issues filed in the period, those now closed on which a
  helper was accepted (their offer accepted, or their part done).
- Settled with partner units: of the issues filed in the period, those now closed with a
  partner unit (红色合伙人) listed as co-handler.
- Service hours (志愿服务时长): the hours confirmed in the period for help with the unit's
  issues.
- Active participants: people whose offer of help on the unit's issues was accepted in the
  period.
- Party members registered (报到): registrations confirmed by the end of the period with
  the unit's communities (for a grid: registered party members whose home is in it);
  departments have none.
The public page shows the same counts (no names) for its subdistrict, cached like the
other public figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum, Value
from django.utils.translation import gettext_lazy as _

from grids import units
from issues.models import DailyRollup, Source, Status

from .models import Claim, IssuePartner, PartyRegistration

KEYS = (
    "found",
    "settled_with_help",
    "settled_with_partners",
    "service_hours",
    "active_participants",
    "registered",
)


@dataclass(frozen=True)
class ParticipationFigure:
    key: str
    label: str
    help: str
    kind: str  # "count" or "hours"


FIGURES = [
    ParticipationFigure(
        "found",
        _("Found by party members and volunteers"),
        _("Issues filed in the period as reports by a volunteer or party member."),
        "count",
    ),
    ParticipationFigure(
        "settled_with_help",
        _("Settled with their help"),
        _("Of those issues, the ones now closed on which a volunteer or party member helped."),
        "count",
    ),
    ParticipationFigure(
        "settled_with_partners",
        _("Settled with partner units"),
        _("Of those issues, the ones now closed with a partner unit as co-handler."),
        "count",
    ),
    ParticipationFigure(
        "service_hours",
        _("Service hours"),
        _("Volunteer service hours confirmed by grid workers in the period."),
        "hours",
    ),
    ParticipationFigure(
        "active_participants",
        _("Active participants"),
        _("People whose offer of help was accepted in the period."),
        "count",
    ),
    ParticipationFigure(
        "registered",
        _("Party members registered"),
        _("Party members whose registration with a community was confirmed by the period's end."),
        "count",
    ),
]


def _unit(kind: str | None, unit_id, prefix: str = "") -> Q:
    """Issues of the unit (all of them for the whole city: ``kind`` None)."""
    if kind is None:
        return Q()
    return Q(**{f"{prefix}{units.KINDS[kind].field}_id": unit_id})


def _registrations(kind: str | None, unit_id) -> Q:
    if kind is None:
        return Q()
    if kind == "grid":
        return Q(user__home_building__grid_id=unit_id)
    if kind == "community":
        return Q(community_id=unit_id)
    if kind == "subdistrict":
        return Q(community__subdistrict_id=unit_id)
    return Q(pk__isnull=True)  # a department has no registered members (and no empty IN)


def _scalar(queryset, expression) -> tuple[str, list]:
    """``queryset`` reduced to one value (``expression``, an aggregate) as SQL for a scalar
    subquery: no row (nothing matched) reads as NULL."""
    one = queryset.order_by().annotate(_one=Value(1)).values("_one").annotate(value=expression)
    sql, params = one.values("value").query.sql_with_params()
    return f"({sql})", list(params)


def figures(kind: str | None, unit_id, filters) -> dict:
    """The six figures of one unit (``kind`` a ``grids.units`` key, or None for the whole
    city) for the period of ``filters`` (``issues.stats.Filters``): issues filed, and
    hours confirmed and helpers accepted, in it. The category, severity and source filters
    apply to the issues and to the help given with them; registrations have none.

    One statement of scalar subqueries, none of which reads the issues table as a whole:
    the participants' own reports are counted from the daily rollups, the issues settled
    with help from the offers of help and the partner links (joined to their issue)."""
    start, end = filters.start_at, filters.end_at
    in_unit = _unit(kind, unit_id, "issue__")
    of_issues = in_unit & filters.condition("issue__")
    closed = Q(issue__status=Status.CLOSED)
    parts = {
        "found": _scalar(
            DailyRollup.objects.filter(
                _unit(kind, unit_id), filters.rollup_condition(), source=Source.VOLUNTEER
            ),
            Sum("filed"),
        ),
        "settled_with_help": _scalar(
            Claim.objects.filter(of_issues, closed, state__in=Claim.HELPING),
            Count("issue", distinct=True),
        ),
        "settled_with_partners": _scalar(
            IssuePartner.objects.filter(of_issues, closed), Count("issue", distinct=True)
        ),
        "service_hours": _scalar(
            Claim.objects.filter(
                in_unit,
                filters.condition("issue__", dates=False),
                hours_confirmed_at__gte=start,
                hours_confirmed_at__lt=end,
            ),
            Sum("hours"),
        ),
        "active_participants": _scalar(
            Claim.objects.filter(
                in_unit,
                filters.condition("issue__", dates=False),
                state__in=Claim.HELPING,
                decided_at__gte=start,
                decided_at__lt=end,
            ),
            Count("helper", distinct=True),
        ),
        "registered": _scalar(
            PartyRegistration.objects.filter(
                _registrations(kind, unit_id),
                state=PartyRegistration.State.CONFIRMED,
                decided_at__lt=end,
            ),
            Count("pk"),
        ),
    }
    sql = "SELECT " + ", ".join(f"COALESCE({part}, 0)" for part, _params in parts.values())
    params = [param for _sql, part_params in parts.values() for param in part_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    values = dict(zip(parts, row, strict=True))
    # The database's own number types: hours as a decimal, counts as integers.
    values["service_hours"] = Decimal(str(values["service_hours"])).quantize(Decimal("0.1"))
    return {key: (value if key == "service_hours" else int(value)) for key, value in values.items()}
