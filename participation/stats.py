"""The figures of party members' and volunteers' part in the work (党建引领, 志愿服务), per
unit and period, like the governance figures: SQL aggregates, three queries whatever the
number of issues, helpers or units (one over the issues, one over the offers of help,
one over the registrations).

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
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, DecimalField, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from grids import units
from issues.models import Issue, Source, Status

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
    return Q(pk__in=[])  # a department has no registered members


def figures(kind: str | None, unit_id, start: datetime, end: datetime) -> dict:
    """The six figures of one unit (``kind`` a ``grids.units`` key, or None for the whole
    city) for issues filed, and events happening, in ``[start, end)``."""
    helped = Claim.objects.filter(issue_id=OuterRef("pk"), state__in=Claim.HELPING)
    partnered = IssuePartner.objects.filter(issue_id=OuterRef("pk"))
    closed = Q(status=Status.CLOSED)
    issues = Issue.objects.filter(_unit(kind, unit_id), created_at__gte=start, created_at__lt=end)
    values = issues.aggregate(
        found=Count("pk", filter=Q(source=Source.VOLUNTEER)),
        settled_with_help=Count("pk", filter=closed & Q(Exists(helped))),
        settled_with_partners=Count("pk", filter=closed & Q(Exists(partnered))),
    )
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=12, decimal_places=1))
    in_period = Q(hours_confirmed_at__gte=start, hours_confirmed_at__lt=end) | Q(
        decided_at__gte=start, decided_at__lt=end
    )
    claims = Claim.objects.filter(in_period, _unit(kind, unit_id, "issue__"))
    values.update(
        claims.aggregate(
            service_hours=Coalesce(
                Sum(
                    "hours",
                    filter=Q(hours_confirmed_at__gte=start, hours_confirmed_at__lt=end),
                ),
                zero,
            ),
            active_participants=Count(
                "helper",
                distinct=True,
                filter=Q(state__in=Claim.HELPING, decided_at__gte=start, decided_at__lt=end),
            ),
        )
    )
    values["registered"] = PartyRegistration.objects.filter(
        _registrations(kind, unit_id),
        state=PartyRegistration.State.CONFIRMED,
        decided_at__lt=end,
    ).count()
    return values
