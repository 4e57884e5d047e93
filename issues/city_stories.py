"""The stories of a city's issues (DESIGN.md §8), for ``issues.city`` to write with ``COPY``.

Each issue lives a story, drawn at random and told in time order by the rules of the
workflow and the sweep (``issues.workflow``, ``issues.sweep``): filed at its grid, accepted
by the staff of its unit, escalated by a person toward its target level (小事 the grid, 急事
the community, 难事 the subdistrict) or by the sweep when its clock runs out, dispatched to a
department, suspended and resumed, resolved, then evaluated by its resident reporter (or
closed by the sweep after ``AUTO_CLOSE_DAYS`` without one), called back (hotline and API
callers) or verified by a second person; a few are rejected or marked duplicates, and a
dissatisfied evaluation sends one back. The story stops at the present moment, so an issue
filed an hour ago is still waiting and one filed in spring is long closed: statuses,
levels and timestamps agree because they come from the same steps.

Every step writes what its workflow function writes: the issue's fields (status, level,
assignee, department, the deadlines through ``due_after``'s policies and working
calendar, counters, ``accepted_at`` … ``closed_at``) and one ``IssueEvent`` with the same
kind, actor, statuses, levels, notes and data. The sweep's steps come exactly when it
would have run (at most a minute after a deadline), so the city as built is what the
sweep leaves behind: running it at the moment the city was built (``as_of``) changes
nothing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from grids.city import Territory

from .models import (
    RESIDENT_SOURCES,
    IssueEvent,
    Level,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    Status,
)
from .permissions import CALLBACK_SOURCES

HOUR = 3600.0
DAY = 24 * HOUR
K = IssueEvent.Kind
S = Status
LEVELS = [Level.GRID, Level.COMMUNITY, Level.SUBDISTRICT]
RUNNING = (S.SUBMITTED, S.IN_PROGRESS)

# Where matters end up, per severity: the slogan's target level is the most likely one,
# and some climb further or settle lower (the figures on the dashboard need both).
TARGET_LEVEL = {
    Severity.MINOR: [(0, 94), (1, 5), (2, 1)],
    Severity.URGENT: [(0, 25), (1, 70), (2, 5)],
    Severity.DIFFICULT: [(0, 5), (1, 20), (2, 75)],
}
SOURCES = [
    (Source.PATROL, 35),
    (Source.RESIDENT, 38),
    (Source.HOTLINE, 15),
    (Source.VOLUNTEER, 5),
    (Source.API, 7),
]
# Category names (as the demo names them) and how often each comes up.
CATEGORY_WEIGHTS = {
    "环境卫生": 20,
    "市容环境": 18,
    "道路设施": 12,
    "物业管理": 10,
    "噪音扰民": 8,
    "占道经营": 8,
    "邻里纠纷": 6,
    "安全隐患": 6,
    "市场秩序": 4,
    "治安问题": 3,
    "违章搭建": 3,
    "其他": 2,
}
# The department a category's dispatches go to, by the city's department names.
CATEGORY_DEPARTMENT = {
    "环境卫生": "环卫所",
    "市容环境": "城管执法中队",
    "占道经营": "城管执法中队",
    "违章搭建": "城管执法中队",
    "噪音扰民": "城管执法中队",
    "道路设施": "住建办",
    "物业管理": "住建办",
    "市场秩序": "市场监管所",
    "治安问题": "派出所",
    "邻里纠纷": "司法所",
}
# Median hours of each step and the spread (σ of the logarithm): most steps are quick,
# a few take far longer, as on a real platform.
ACCEPT_HOURS = {Severity.MINOR: 1.5, Severity.URGENT: 0.3, Severity.DIFFICULT: 1.0}
RESOLVE_HOURS = {
    Severity.MINOR: (10, 20, 72, 96),  # grid, community, subdistrict, department
    Severity.URGENT: (3, 6, 24, 36),
    Severity.DIFFICULT: (20, 40, 240, 300),
}
LEVEL_ACCEPT_FACTOR = (1.0, 1.5, 2.0, 2.5)
SPREAD = 1.1

RESOLUTIONS = [
    "已现场处置完毕，恢复正常。",
    "已联系物业整改到位。",
    "已协调相关部门处理，现场已恢复。",
    "已清理完毕并加强日常巡查。",
    "已约谈当事人，问题已解决。",
]
ESCALATION_REASONS = [
    "超出网格处置能力，提请社区协调。",
    "涉及多个单位，需上级协调处理。",
    "需专业部门执法，提请上报。",
]
REJECTIONS = ["经核实情况不属实。", "不属于本平台受理范围，已告知反映人渠道。"]
SUSPENSIONS = ["等待维修资金审批。", "需待天气好转后施工。", "等待当事人返回后处理。"]
REOPEN_REASONS = ["问题没有彻底解决。", "处理后又出现同样问题。"]
DISPATCH_NOTE = "请按职责尽快处置并反馈。"
HOURLY_FILINGS = [
    1, 0.5, 0.3, 0.3, 0.4, 0.8, 2, 4, 7, 9, 9, 8, 6, 7, 8, 8, 7, 6, 5, 4, 4, 3, 2, 1.5,
]  # fmt: skip
ADDRESS_DETAILS = ["", "", "单元门口", "楼下", "东侧路边", "小区南门", "地下车库入口"]


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class Clock:
    """The deadline policies and working calendar of ``SlaTable``, as arithmetic on epoch
    seconds: working days become a table of working intervals with the working time
    before each, so a deadline is two binary searches instead of a walk over the days.
    Gives the deadlines ``workflow.due_after`` gives (a test ties them together)."""

    def __init__(self, sla, *, first: date, last: date):
        calendar = sla.calendar
        zone = timezone.get_current_timezone()
        self.opens: list[float] = []
        self.lengths: list[float] = []
        self.before: list[float] = []  # working seconds before each interval
        self.ends: list[float] = []  # working seconds at each interval's end
        worked = 0.0
        day = first
        while day <= last:
            if calendar.is_working_day(day):
                opens = datetime.combine(day, calendar.opens, tzinfo=zone).timestamp()
                closes = datetime.combine(day, calendar.closes, tzinfo=zone).timestamp()
                self.opens.append(opens)
                self.lengths.append(closes - opens)
                self.before.append(worked)
                worked += closes - opens
                self.ends.append(worked)
            day += timedelta(days=1)
        day_seconds = calendar.day_length.total_seconds()
        self.policies = {
            key: (True, policy.amount * day_seconds)
            if policy.counts_working_days
            else (False, policy.amount * HOUR)
            for key, policy in sla.items()
        }

    def _worked_until(self, ts: float) -> float:
        i = bisect.bisect_right(self.opens, ts) - 1
        if i < 0:
            return 0.0
        return self.before[i] + min(ts - self.opens[i], self.lengths[i])

    def deadline(self, severity: str, level: str, start: float, left: float | None = None):
        working, amount = self.policies[(severity, level)]
        if left is None:
            left = amount
        if not working or left < 0:
            return start + left
        target = self._worked_until(start) + left
        j = bisect.bisect_left(self.ends, target)
        return self.opens[j] + (target - self.before[j])

    def time_left(self, severity: str, level: str, *, at: float, due: float) -> float:
        if self.policies[(severity, level)][0]:
            return self._worked_until(due) - self._worked_until(at)
        return due - at


@dataclass
class Story:
    """One issue as its steps leave it, and its events."""

    values: dict
    events: list = field(default_factory=list)


class Teller:
    """Draws and tells the stories of a city's issues, in filing order."""

    def __init__(self, territory: Territory, categories: list, *, now: datetime, days: int, rng):
        self.t = territory
        self.rng = rng
        self.now = now.timestamp()
        self.days = days
        first = (timezone.localtime(now) - timedelta(days=days + 2)).date()
        last = (timezone.localtime(now) + timedelta(days=400)).date()
        self.clock = Clock(SlaPolicy.table(), first=first, last=last)
        self.auto_close = settings.AUTO_CLOSE_DAYS * DAY
        self.categories = categories  # [(id, name, default severity, [(title, description)])]
        self.category_weights = list(
            _cumulative([CATEGORY_WEIGHTS.get(c[1], 2) for c in categories])
        )
        self.source_weights = list(_cumulative([w for _s, w in SOURCES]))
        # Some grids are busier than others (a market, a school, an old estate).
        self.grid_weights = list(
            _cumulative([math.exp(rng.gauss(0, 0.6)) for _g in territory.grids])
        )
        self.departments = {
            subdistrict_id: ({kind: pk for pk, kind, _name in found}, [pk for pk, *_n in found])
            for subdistrict_id, found in territory.departments.items()
        }
        self.department_names = {
            pk: name for found in territory.departments.values() for pk, _kind, name in found
        }
        self.originals: dict[int, tuple[int, str, float]] = {}  # grid → recent original

    # --- drawing ----------------------------------------------------------------------

    def hours(self, median: float, spread: float = SPREAD) -> float:
        return median * HOUR * math.exp(self.rng.gauss(0, spread))

    def pick(self, cumulative: list[float]) -> int:
        return bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])

    def filing_times(self, n: int) -> Iterator[float]:
        """``n`` filing moments over the last ``days`` days, in order: fewer at weekends
        and at night, most in the working day."""
        zone = local_zone()
        # Filings per local hour of the day, relative: quiet nights, busy mornings.
        hour_weights = list(_cumulative(HOURLY_FILINGS))
        today = datetime.fromtimestamp(self.now, zone).date()
        days = [today - timedelta(days=k) for k in range(self.days - 1, -1, -1)]
        starts = [datetime.combine(d, datetime.min.time(), tzinfo=zone).timestamp() for d in days]
        weights = [(0.75 if d.weekday() >= 5 else 1.0) for d in days]
        # Today counts only for the part of it that has passed.
        weights[-1] *= min(1.0, (self.now - starts[-1]) / DAY)
        total = sum(weights)
        carried = 0.0
        made = 0
        for day_index, start in enumerate(starts):
            carried += n * weights[day_index] / total
            count = round(carried) - made if day_index < len(starts) - 1 else n - made
            made += count
            moments = []
            for _k in range(count):
                moment = start + (self.pick(hour_weights) + self.rng.random()) * HOUR
                if moment >= self.now:
                    moment = start + self.rng.random() * (self.now - start)
                moments.append(moment)
            moments.sort()
            yield from moments

    # --- telling ----------------------------------------------------------------------

    def tell(self, issue_id: int, created: float, number: str, event_ids: Callable) -> Story:
        rng, clock, now = self.rng, self.clock, self.now
        t = self.t
        grid_id, community_id, subdistrict_id, box = t.grids[self.pick(self.grid_weights)]
        category_id, category_name, default_severity, matters = self.categories[
            self.pick(self.category_weights)
        ]
        severity = default_severity
        if rng.random() < 0.1:
            severity = rng.choice([s for s in Severity.values if s != default_severity])
        source = SOURCES[self.pick(self.source_weights)][0]
        title, description = rng.choice(matters)
        worker = t.worker_of_grid[grid_id]
        community_staff = t.community_staff[community_id]
        subdistrict_staff = t.subdistrict_staff[subdistrict_id]

        reporter = filer = None
        caller_name = caller_phone = ""
        building = None
        if source == Source.PATROL:
            reporter = filer = worker
            building = rng.choice(t.buildings[grid_id]) if rng.random() < 0.5 else None
        elif source == Source.RESIDENT:
            reporter = filer = rng.choice(t.residents_of_grid[grid_id])
            building = rng.choice(t.buildings[grid_id]) if rng.random() < 0.85 else None
        elif source == Source.VOLUNTEER:
            volunteers = t.volunteers_of_community[community_id] or t.residents_of_grid[grid_id]
            reporter = filer = rng.choice(volunteers)
            building = rng.choice(t.buildings[grid_id]) if rng.random() < 0.7 else None
        elif source == Source.HOTLINE:
            filer = rng.choice(community_staff)
            caller_name = rng.choice(SURNAME_TITLES)
            caller_phone = f"13{rng.randint(3, 9)}{rng.randrange(10**8):08d}"
            building = rng.choice(t.buildings[grid_id]) if rng.random() < 0.6 else None
        else:  # API: another system files, nobody in particular
            caller_phone = f"15{rng.randint(0, 9)}{rng.randrange(10**8):08d}"
        if building is not None:
            building_id, lat, lng, address = building
        else:
            west, south, east, north = box
            building_id, address = None, ""
            lat = round(south + (0.05 + 0.9 * rng.random()) * (north - south), 6)
            lng = round(west + (0.05 + 0.9 * rng.random()) * (east - west), 6)
        if rng.random() < 0.05:
            lat = lng = None  # filed without a point (a hotline call about "the estate")

        target = _weighted_index(rng, TARGET_LEVEL[severity])
        fate = rng.random()
        rejected = fate < 0.03
        duplicate = None
        original = self.originals.get(grid_id)
        if 0.03 <= fate < 0.04 and original is not None and created - original[2] < 3 * DAY:
            duplicate = original
        elif not rejected:
            self.originals[grid_id] = (issue_id, number, created)
        dispatch = rng.random() < 0.65
        suspend = rng.random() < 0.06
        department = None
        names, department_ids = self.departments[subdistrict_id]
        wanted = CATEGORY_DEPARTMENT.get(category_name)
        department_choice = names.get(wanted) if wanted else None
        if department_choice is None and department_ids:
            department_choice = rng.choice(department_ids)

        evaluates = reporter is not None and source in RESIDENT_SOURCES
        calls_back = source in CALLBACK_SOURCES and bool(caller_phone)

        # The issue as filing leaves it (workflow._create_issue).
        level_index = 0
        level = Level.GRID
        status = S.SUBMITTED
        due = clock.deadline(severity, level, created)
        values = {
            "id": issue_id,
            "tracking_number": number,
            "title": title,
            "description": description,
            "category_id": category_id,
            "severity": severity,
            "source": source,
            "reporter_id": reporter,
            "caller_name": caller_name,
            "caller_phone": caller_phone,
            "grid_id": grid_id,
            "community_id": community_id,
            "subdistrict_id": subdistrict_id,
            "building_id": building_id,
            "address": address + (rng.choice(ADDRESS_DETAILS) if address else ""),
            "latitude": lat,
            "longitude": lng,
            "response_due_at": _dt(due),
            "created_at": _dt(created),
            "answers": {},
        }
        events = []

        def record(kind, at, actor, from_status, from_level, **extra):
            events.append(
                {
                    "id": event_ids(),
                    "issue_id": issue_id,
                    "actor_id": actor,
                    "kind": kind,
                    "from_status": from_status,
                    "to_status": status,
                    "from_level": from_level,
                    "to_level": level,
                    "note": extra.get("note", ""),
                    "internal_note": extra.get("internal_note", ""),
                    "is_public": extra.get("is_public", True),
                    "data": extra.get("data", {}),
                    "created_at": _dt(at),
                }
            )

        record(
            K.FILED,
            created,
            filer,
            "",
            "",
            data={"api_client": "12345热线"} if source == Source.API else {},
        )
        entered = created
        assignee = accepted = resolved = resolved_by = closed = None
        supervised_at = suspended_at = dispatched_at = None
        satisfaction = ""
        escalations = reopens = suspended_seconds = callback_attempts = 0
        supervised = False
        resolver_unit = None
        moment = created
        action = None  # (time, name): the next step a person takes

        def unit_staff() -> list[int]:
            if department is not None:
                return [t.department_staff[department]]
            return ([worker], community_staff, subdistrict_staff)[level_index]

        for _step in range(40):
            if action is None:
                action = self._next(
                    status=status,
                    level_index=level_index,
                    target=target,
                    severity=severity,
                    department=department,
                    dispatch=dispatch and department_choice is not None,
                    suspend=suspend and suspended_seconds == 0 and suspended_at is None,
                    rejected=rejected or duplicate is not None,
                    evaluates=evaluates,
                    calls_back=calls_back and callback_attempts < settings.CALLBACK_TRIES,
                    reopens=reopens,
                    moment=moment,
                    suspended_at=suspended_at,
                    resolved=resolved,
                )
                if action is None:
                    break
            when, name = action
            # The sweep runs every minute: a running clock that ran out is its first.
            if status in RUNNING and due < when and due < now:
                swept = min(max(due, moment) + rng.random() * 60, now)
                if level_index < 2 and department is None:
                    from_status, from_level = status, level
                    level_index += 1
                    level = LEVELS[level_index]
                    status = S.SUBMITTED
                    assignee = None
                    due = clock.deadline(severity, level, swept)
                    entered = swept
                    escalations += 1
                    record(K.ESCALATED, swept, None, from_status, from_level)
                    moment, action = swept, None
                    continue
                if not supervised:
                    supervised, supervised_at = True, swept
                    record(K.SUPERVISED, swept, None, status, level)
                    # The person's step still comes, later.
            if name == "auto_close" and resolved + self.auto_close < now:
                when = min(when, now)  # the sweep closes what is past AUTO_CLOSE_DAYS
            if when >= now:
                break
            from_status, from_level = status, level
            moment, action = when, None
            if name == "accept":
                actor = rng.choice(unit_staff())
                status, assignee = S.IN_PROGRESS, actor
                accepted = accepted or when
                record(
                    K.ACCEPTED,
                    when,
                    actor,
                    from_status,
                    from_level,
                    data={"category": None, "severity": None},
                )
            elif name == "escalate":
                actor = assignee
                level_index += 1
                level = LEVELS[level_index]
                status, assignee = S.SUBMITTED, None
                due = clock.deadline(severity, level, when)
                entered = when
                escalations += 1
                record(
                    K.ESCALATED,
                    when,
                    actor,
                    from_status,
                    from_level,
                    internal_note=rng.choice(ESCALATION_REASONS),
                )
            elif name == "dispatch":
                actor = assignee or rng.choice(subdistrict_staff)
                department = department_choice
                status, assignee, dispatched_at = S.SUBMITTED, None, when
                record(
                    K.DISPATCHED,
                    when,
                    actor,
                    from_status,
                    from_level,
                    internal_note=DISPATCH_NOTE,
                    data={
                        "department": self.department_names[department],
                        "department_id": department,
                    },
                )
            elif name == "suspend":
                status, suspended_at = S.SUSPENDED, when
                record(
                    K.SUSPENDED,
                    when,
                    assignee,
                    from_status,
                    from_level,
                    internal_note=rng.choice(SUSPENSIONS),
                )
            elif name == "resume":
                left = clock.time_left(severity, level, at=suspended_at, due=due)
                due = clock.deadline(severity, level, when, left)
                suspended_seconds += int(when - suspended_at)
                status, suspended_at = S.IN_PROGRESS, None
                record(K.RESUMED, when, assignee, from_status, from_level)
            elif name == "resolve":
                status, resolved, resolved_by = S.RESOLVED, when, assignee
                resolver_unit = (department, level_index)
                record(
                    K.RESOLVED,
                    when,
                    assignee,
                    from_status,
                    from_level,
                    note=rng.choice(RESOLUTIONS),
                )
            elif name == "reject":
                actor = assignee or worker
                status, closed = S.REJECTED, when
                if duplicate is not None:
                    values["duplicate_of_id"] = duplicate[0]
                    record(
                        K.DUPLICATE,
                        when,
                        actor,
                        from_status,
                        from_level,
                        data={"duplicate_of": duplicate[1]},
                    )
                else:
                    record(
                        K.REJECTED,
                        when,
                        actor,
                        from_status,
                        from_level,
                        note=rng.choice(REJECTIONS),
                    )
            elif name in ("evaluate", "callback"):
                answer = _satisfaction(rng, reopens)
                actor = (
                    reporter
                    if name == "evaluate"
                    else self._caller(community_staff, subdistrict_staff, resolved_by)
                )
                data = {"satisfaction": answer}
                if name == "callback":
                    data["channel"] = "callback"
                if answer == Satisfaction.DISSATISFIED:
                    # 不满意重办: handled again at the same level, with a fresh clock.
                    status = S.IN_PROGRESS
                    reopens += 1
                    resolved = resolved_by = None
                    due = clock.deadline(severity, level, when)
                    entered = when
                    record(
                        K.REOPENED,
                        when,
                        actor,
                        from_status,
                        from_level,
                        note=rng.choice(REOPEN_REASONS),
                        data=data,
                    )
                else:
                    status, satisfaction, closed = S.CLOSED, answer, when
                    kind = K.EVALUATED if name == "evaluate" else K.CALLED_BACK
                    record(kind, when, actor, from_status, from_level, data=data)
            elif name == "callback_missed":
                callback_attempts += 1
                actor = self._caller(community_staff, subdistrict_staff, resolved_by)
                record(
                    K.CALLBACK_MISSED,
                    when,
                    actor,
                    from_status,
                    from_level,
                    is_public=False,
                    data={"outcome": "unreachable", "channel": "callback"},
                )
            elif name == "verify":
                actor = self._verifier(
                    resolver_unit, resolved_by, community_staff, subdistrict_staff
                )
                status, closed = S.CLOSED, when
                record(K.VERIFIED, when, actor, from_status, from_level)
            elif name == "auto_close":
                status, closed = S.CLOSED, when
                record(K.AUTO_CLOSED, when, None, from_status, from_level)

        values.update(
            level=level,
            status=status,
            assignee_id=assignee,
            department_id=department,
            due_at=_dt(due),
            level_entered_at=_dt(entered),
            is_supervised=supervised,
            supervised_at=_dt(supervised_at),
            satisfaction=satisfaction,
            reopen_count=reopens,
            escalation_count=escalations,
            suspended_at=_dt(suspended_at),
            suspended_seconds=suspended_seconds,
            resolved_by_id=resolved_by,
            accepted_at=_dt(accepted),
            dispatched_at=_dt(dispatched_at),
            resolved_at=_dt(resolved),
            closed_at=_dt(closed),
            updated_at=events[-1]["created_at"],
            callback_attempts=callback_attempts,
            # The sweep warns once per deadline about running issues due within the hour.
            warned_due_at=_dt(due) if status in RUNNING and due < now + HOUR else None,
        )
        return Story(values=values, events=events)

    def _next(
        self,
        *,
        status,
        level_index,
        target,
        severity,
        department,
        dispatch,
        suspend,
        rejected,
        evaluates,
        calls_back,
        reopens,
        moment,
        suspended_at,
        resolved,
    ):
        """The next step a person (or, for a resolved issue nobody evaluates, the sweep)
        takes, and when: (time, name), or None when the story is over."""
        rng = self.rng
        unit = 3 if department is not None else level_index
        if status == S.SUBMITTED:
            if rejected and level_index == 0:
                return moment + self.hours(1.0), "reject"
            hours = ACCEPT_HOURS[severity] * LEVEL_ACCEPT_FACTOR[unit]
            return moment + self.hours(hours), "accept"
        if status == S.IN_PROGRESS:
            if department is None and level_index < target:
                return moment + self.hours(0.5, 0.8), "escalate"
            if department is None and level_index == 2 and dispatch:
                return moment + self.hours(2.0, 0.8), "dispatch"
            if suspend:
                return moment + self.hours(2.0), "suspend"
            median = RESOLVE_HOURS[severity][unit] * (0.6 if reopens else 1.0)
            return moment + self.hours(median), "resolve"
        if status == S.SUSPENDED:
            # Waiting for funds, the weather, someone away: weeks rather than days.
            return suspended_at + self.hours(25 * 24, 1.0), "resume"
        if status == S.RESOLVED:
            if evaluates:
                if rng.random() < 0.25:
                    return resolved + self.auto_close + rng.random() * 60, "auto_close"
                when = moment + self.hours(12, 1.2)
                if when > resolved + self.auto_close:
                    return resolved + self.auto_close + rng.random() * 60, "auto_close"
                return when, "evaluate"
            if calls_back:
                when = moment + self.hours(20, 0.8)
                return when, "callback_missed" if rng.random() < 0.1 else "callback"
            return moment + self.hours(8, 1.0), "verify"
        return None

    def _caller(self, community_staff, subdistrict_staff, resolved_by):
        """回访: community or subdistrict staff over the issue, not whoever fixed it."""
        choices = [p for p in community_staff if p != resolved_by] or subdistrict_staff
        return self.rng.choice(choices)

    def _verifier(self, resolver_unit, resolved_by, community_staff, subdistrict_staff):
        """核查: another member of the unit that resolved it, or, with nobody else there,
        staff of the level above (``permissions.may_verify``)."""
        department, level_index = resolver_unit
        if department is not None or level_index == 2:
            pool = subdistrict_staff
        elif level_index == 1:
            pool = community_staff
        else:
            pool = []
        others = [p for p in pool if p != resolved_by]
        if not others:
            others = [
                p
                for p in (community_staff if level_index == 0 else subdistrict_staff)
                if p != resolved_by
            ]
        return self.rng.choice(others or subdistrict_staff)


SURNAME_TITLES = ["王女士", "李先生", "张女士", "刘先生", "陈女士", "杨先生", "赵女士", "黄先生"]


def _cumulative(weights) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def _weighted_index(rng, choices) -> int:
    x = rng.random() * sum(w for _v, w in choices)
    for value, weight in choices:
        x -= weight
        if x < 0:
            return value
    return choices[-1][0]


def _satisfaction(rng, reopens: int) -> str:
    x = rng.random()
    if x < 0.72:
        return Satisfaction.SATISFIED
    if x < 0.90 or reopens:
        return Satisfaction.BASICALLY_SATISFIED
    return Satisfaction.DISSATISFIED
