"""Template helpers for issues: words, badges and time left. No rules live here."""

from datetime import datetime

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from config.widgets import plain_escape
from grids import units

from ..models import Issue, IssueEvent, IssueTask, Level, Satisfaction, Severity, Status

register = template.Library()


STATUS_BADGE = {
    Status.SUBMITTED: "text-bg-warning",
    Status.IN_PROGRESS: "text-bg-primary",
    Status.SUSPENDED: "text-bg-secondary",
    Status.RESOLVED: "text-bg-info",
    Status.CLOSED: "text-bg-success",
    Status.REJECTED: "text-bg-dark",
}


@register.simple_tag
def status_badge(issue, for_resident=False):
    """The status as a coloured badge; residents read it in their words (resident_status).
    Written in Python: it is drawn on every row of every list."""
    return format_html(
        '<span class="badge text-wrap text-start {}">{}</span>',
        STATUS_BADGE.get(issue.status, "text-bg-light"),
        resident_status(issue) if for_resident else issue.get_status_display(),
    )


@register.simple_tag
def resident_status(issue) -> str:
    """Where the issue stands, as a resident would say it: the status and, while it waits
    or is handled, who has it now (the grid worker, the community, the subdistrict or the
    department it was dispatched to). Every resident page takes its wording from here."""
    department = issue.department.name if issue.department_id else ""
    if issue.status == Status.SUBMITTED:
        if department:
            return _("Dispatched to %(department)s") % {"department": department}
        return {
            Level.GRID: _("Waiting for the grid worker"),
            Level.COMMUNITY: _("Escalated to the community, waiting to be taken on"),
            Level.SUBDISTRICT: _("Escalated to the subdistrict, waiting to be taken on"),
        }[issue.level]
    if issue.status == Status.IN_PROGRESS:
        if department:
            return _("%(department)s is handling it") % {"department": department}
        return {
            Level.GRID: _("The grid worker is handling it"),
            Level.COMMUNITY: _("The community is handling it"),
            Level.SUBDISTRICT: _("The subdistrict is handling it"),
        }[issue.level]
    if issue.status == Status.SUSPENDED:
        return _("Paused")
    return issue.get_status_display()


@register.simple_tag
def time_left(issue, now=None):
    """Time until the deadline (red and "overdue" when past); a dash for stopped clocks.
    Written in Python: it is drawn on every row of the queue."""
    if issue.status not in (Status.SUBMITTED, Status.IN_PROGRESS):
        return mark_safe('<span class="text-body-secondary">—</span>')
    seconds = int((issue.due_at - (now or timezone.now())).total_seconds())
    parts = {"h": abs(seconds) // 3600, "m": (abs(seconds) % 3600) // 60}
    due = timezone.localtime(issue.due_at).isoformat()  # date_format's "c", without its lookups
    if seconds < 0:
        text = _("overdue by %(h)s h %(m)s min") % parts
        return format_html('<time datetime="{}" class="overdue">{}</time>', due, text)
    return format_html('<time datetime="{}">{}</time>', due, _("%(h)s h %(m)s min left") % parts)


@register.simple_tag
def queue_item(issue, now):
    """One row of the staff queue. Written in Python: a page of 25 rows drawn through the
    template language cost a quarter of the page. The view sets ``handler_label``; the row
    reads only the fields the queue loads (QUEUE_ROW_FIELDS)."""
    badges = [status_badge(issue)]
    if issue.is_supervised:
        badges.append(format_html('<span class="badge text-bg-danger">{}</span>', _("Supervised")))
    if issue.extension_until:
        badges.append(
            format_html('<span class="badge text-bg-info">{}</span>', _("Extension pending"))
        )
    if count := issue.open_task_count:
        text = ngettext("%(counter)s open sub-task", "%(counter)s open sub-tasks", count)
        badges.append(
            format_html(
                '<span class="badge text-bg-secondary">{}</span>', text % {"counter": count}
            )
        )
    if count := issue.support_count:
        text = ngettext("+%(counter)s supporter", "+%(counter)s supporters", count)
        badges.append(
            format_html(
                '<span class="badge text-bg-warning" title="{}">{}</span>',
                _("Residents who said this is their problem too"),
                text % {"counter": count},
            )
        )
    if issue.assignee_id:
        assignee = issue.assignee.get_full_name() or issue.assignee.username
    else:
        assignee = _("Unassigned")
    facts = "".join(
        f"<span>{plain_escape(fact)}</span>"
        for fact in (issue.grid.name, issue.get_severity_display(), issue.handler_label, assignee)
    )
    return mark_safe(
        '<li class="list-group-item">'
        '<div class="d-flex flex-wrap justify-content-between gap-1 small">'
        f'<span class="font-monospace">{plain_escape(issue.tracking_number)}</span>'
        f"<span>{time_left(issue, now)}</span></div>"
        f'<a class="fw-semibold" href="'
        f'{plain_escape(reverse("staff_issue_detail", args=[issue.tracking_number]))}">'
        f"{plain_escape(issue.title)}</a>"
        '<div class="small text-body-secondary d-flex flex-wrap column-gap-2">'
        f"{''.join(badges)}{facts}</div></li>"
    )


@register.simple_tag
def recurrence_alert(group):
    """One recurrence alert of the dashboard: a grid where one category was filed again and
    again, with its latest issues (``stats.recurrences``; the view adds each issue's link
    and filing time as text). Written in Python: a year's alerts, some twenty with sixty
    issues, drawn through the template language were a third of the page's drawing."""
    items = []
    for issue in group.issues:
        number = plain_escape(issue["tracking_number"])
        if issue.get("url"):
            number = f'<a href="{plain_escape(issue["url"])}">{number}</a>'
        items.append(
            f'<li><time datetime="{plain_escape(issue["filed_iso"])}">'
            f"{plain_escape(issue['filed_short'])}</time> {number} "
            f"{plain_escape(issue['title'])}</li>"
        )
    heading = _("%(grid)s · %(category)s: %(count)s issues") % {
        "grid": group.grid_name,
        "category": group.category_name,
        "count": group.count,
    }
    more = ""
    if len(group.issues) < group.count:
        shown = _("The latest %(shown)s are listed.") % {"shown": len(group.issues)}
        more = f'<p class="small text-body-secondary mb-0">{plain_escape(shown)}</p>'
    return mark_safe(
        '<div class="card mb-2 recurrence"><div class="card-body p-2">'
        f'<h3 class="h6 mb-1">{plain_escape(heading)}</h3>'
        f'<ul class="list-unstyled mb-0 small">{"".join(items)}</ul>{more}</div></div>'
    )


@register.filter
def parse_iso(value):
    """A time an event's details hold as ISO text, as a datetime (None if it is not one)."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _at(value) -> str:
    when = parse_iso(value)
    if when is None:
        return str(value or "")
    return date_format(timezone.localtime(when) if timezone.is_aware(when) else when, "Y-m-d H:i")


# The closed loop's events (退单, 延期, 联办, 回访, 督办) name their department in their own
# words, not as "to department".
_OWN_DEPARTMENT_WORDS = {
    IssueEvent.Kind.RETURNED,
    IssueEvent.Kind.JOINT_DISPATCHED,
    IssueEvent.Kind.TASK_COMPLETED,
    IssueEvent.Kind.TASK_CANCELLED,
}


def _closed_loop_details(event, data) -> list[str]:
    Kind = IssueEvent.Kind
    lines = []
    if event.kind == Kind.RETURNED:
        if data.get("department"):
            lines.append(_("Returned by: %(name)s") % {"name": data["department"]})
        if data.get("reason"):
            lines.append(_("Reason: %(reason)s") % {"reason": data["reason"]})
    elif event.kind == Kind.EXTENSION_REQUESTED:
        lines.append(_("Asked for: %(until)s") % {"until": _at(data.get("until"))})
        if data.get("due_at"):
            lines.append(_("Deadline then: %(due)s") % {"due": _at(data["due_at"])})
    elif event.kind == Kind.EXTENSION_APPROVED:
        lines.append(_("New deadline: %(due)s") % {"due": _at(data.get("until"))})
    elif event.kind == Kind.EXTENSION_REFUSED:
        lines.append(_("Asked for: %(until)s") % {"until": _at(data.get("until"))})
    elif event.kind == Kind.JOINT_DISPATCHED:
        if data.get("department"):
            lines.append(_("Lead department: %(name)s") % {"name": data["department"]})
        if data.get("co_handlers"):
            names = pgettext("list separator", ", ").join(data["co_handlers"])
            lines.append(_("Co-handling departments: %(names)s") % {"names": names})
        if data.get("due_at"):
            lines.append(_("Sub-tasks due: %(due)s") % {"due": _at(data["due_at"])})
    elif event.kind in (Kind.TASK_COMPLETED, Kind.TASK_CANCELLED):
        if data.get("department"):
            lines.append(_("Sub-task of: %(name)s") % {"name": data["department"]})
        if data.get("role") in IssueTask.Role.values:
            lines.append(str(IssueTask.Role(data["role"]).label))
        if event.kind == Kind.TASK_COMPLETED and data.get("on_time") is False:
            lines.append(_("Completed after its due time"))
    elif event.kind == Kind.CALLBACK_MISSED:
        lines.append(_("The caller could not be reached"))
    elif event.kind == Kind.SUPERVISION_NOTE and data.get("due_at"):
        lines.append(_("New deadline: %(due)s") % {"due": _at(data["due_at"])})
    return lines


@register.simple_tag
def event_details(event) -> list[str]:
    """What an event's details say, in words: who it went to, what was confirmed. (Read on
    the staff timeline only: residents read theirs in their own words.)"""
    data = event.data or {}
    lines = _closed_loop_details(event, data)
    if data.get("department") and event.kind not in _OWN_DEPARTMENT_WORDS:
        lines.append(_("To department: %(name)s") % {"name": data["department"]})
    if data.get("assignee"):
        # The person's name, looked up by the view for the whole timeline.
        name = getattr(event, "assignee_name", data["assignee"])
        lines.append(_("Assigned to: %(name)s") % {"name": name})
    if data.get("category"):
        lines.append(_("Category: %(name)s") % {"name": data["category"]})
    if data.get("severity") in Severity.values:
        lines.append(_("Severity: %(name)s") % {"name": Severity(data["severity"]).label})
    if data.get("duplicate_of"):
        lines.append(_("Duplicate of: %(number)s") % {"number": data["duplicate_of"]})
    if data.get("satisfaction") in Satisfaction.values:
        label = Satisfaction(data["satisfaction"]).label
        if data.get("channel") == "callback":
            lines.append(_("Caller's answer on the call-back: %(name)s") % {"name": label})
        else:
            lines.append(_("Evaluation: %(name)s") % {"name": label})
    if event.kind == IssueEvent.Kind.EDITED:
        for name, after in (data.get("after") or {}).items():
            lines.append(
                _("%(field)s: “%(before)s” → “%(after)s”")
                % {
                    "field": Issue._meta.get_field(name).verbose_name,
                    "before": data["before"].get(name, ""),
                    "after": after,
                }
            )
    for key, names in (data.get("moved") or {}).items():
        if key in units.KINDS and len(names) == 2:
            lines.append(
                _("%(unit)s: %(old)s → %(new)s")
                % {"unit": units.KINDS[key].label, "old": names[0], "new": names[1]}
            )
    if data.get("assignee_cleared"):
        lines.append(_("Assignee cleared: the issue waits for the new unit's staff"))
    lines += _participation_details(event, data)
    return lines


def _participation_details(event, data) -> list[str]:
    """The helper a decision is about, the hours confirmed, a part done, a partner unit."""
    lines = []
    if data.get("helper_id") is not None and data["helper_id"] != event.actor_id:
        name = getattr(event, "helper_name", "")
        if name:
            lines.append(_("Helper: %(name)s") % {"name": name})
    if data.get("hours"):
        lines.append(_("Service hours: %(hours)s") % {"hours": data["hours"]})
    if data.get("done"):
        lines.append(_("The helper's part is done"))
    if data.get("partner"):
        lines.append(_("Partner unit: %(name)s") % {"name": data["partner"]})
    return lines
