"""Who is told what, after an action commits (listens to ``workflow.event_recorded``).

- The resident who reported an issue is told when it is accepted, escalated, dispatched,
  resolved, rejected, or commented on publicly by someone else: a notification, and an
  email when they gave an address.
- Everyone holding a post on a unit is told when an issue arrives there: filed in their
  grid, escalated to their community or subdistrict, dispatched to their department.

Set-based: a sweep batch of thousands of events costs a handful of queries. A failure here
is logged and never undoes or breaks the action that caused it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.dispatch import receiver
from django.utils import translation
from django.utils.translation import gettext as _

from grids.models import Post, User

from .models import RESIDENT_SOURCES, Issue, IssueEvent, Level, Notification
from .workflow import event_recorded

log = logging.getLogger(__name__)

Kind = IssueEvent.Kind
# Events the reporting resident hears about.
REPORTER_KINDS = {
    Kind.ACCEPTED,
    Kind.ESCALATED,
    Kind.DISPATCHED,
    Kind.RESOLVED,
    Kind.REJECTED,
    Kind.DUPLICATE,
    Kind.COMMENTED,
}
# Events that bring an issue to a unit's staff.
ARRIVAL_KINDS = {Kind.FILED, Kind.ESCALATED, Kind.DISPATCHED}


def _arrival_unit(event: IssueEvent, issue: Issue) -> Q | None:
    """The posts of the unit the issue has just arrived at."""
    if event.kind == Kind.DISPATCHED:
        return Q(department_id=issue.department_id)
    if event.to_level == Level.GRID:
        return Q(grid_id=issue.grid_id)
    if event.to_level == Level.COMMUNITY:
        return Q(community_id=issue.community_id)
    return Q(subdistrict_id=issue.subdistrict_id)


def notify(events: list[IssueEvent]) -> list[Notification]:
    """Create the notifications for these events (and send the emails)."""
    events = [e for e in events if e.kind in REPORTER_KINDS | ARRIVAL_KINDS]
    if not events:
        return []
    issues = {
        i.pk: i
        for i in Issue.objects.filter(pk__in={e.issue_id for e in events}).only(
            "pk",
            "source",
            "reporter_id",
            "grid_id",
            "community_id",
            "subdistrict_id",
            "department_id",
            "tracking_number",
            "title",
        )
    }
    notes: list[Notification] = []
    # Residents.
    for event in events:
        issue = issues[event.issue_id]
        if (
            event.kind in REPORTER_KINDS
            and issue.reporter_id
            and issue.source in RESIDENT_SOURCES
            and issue.reporter_id != event.actor_id
            and event.is_public
        ):
            notes.append(
                Notification(
                    user_id=issue.reporter_id,
                    issue_id=issue.pk,
                    event=event,
                    reason=Notification.Reason.YOUR_ISSUE,
                    created_at=event.created_at,
                )
            )
    # Staff of the unit an issue arrives at: one query for all the posts concerned.
    arrivals = [(e, issues[e.issue_id]) for e in events if e.kind in ARRIVAL_KINDS]
    if arrivals:
        condition = Q()
        for event, issue in arrivals:
            condition |= _arrival_unit(event, issue)
        posts = list(
            Post.objects.filter(condition, user__is_active=True).values_list(
                "user_id", "grid_id", "community_id", "subdistrict_id", "department_id"
            )
        )
        by_unit: dict[tuple[str, int], set[int]] = {}
        for user_id, grid, community, subdistrict, department in posts:
            for key in (
                ("grid", grid),
                ("community", community),
                ("subdistrict", subdistrict),
                ("department", department),
            ):
                if key[1] is not None:
                    by_unit.setdefault(key, set()).add(user_id)
        for event, issue in arrivals:
            if event.kind == Kind.DISPATCHED:
                key = ("department", issue.department_id)
            else:
                key = {
                    Level.GRID: ("grid", issue.grid_id),
                    Level.COMMUNITY: ("community", issue.community_id),
                    Level.SUBDISTRICT: ("subdistrict", issue.subdistrict_id),
                }[event.to_level]
            for user_id in sorted(by_unit.get(key, ())):
                if user_id != event.actor_id:
                    notes.append(
                        Notification(
                            user_id=user_id,
                            issue_id=issue.pk,
                            event=event,
                            reason=Notification.Reason.NEW_AT_UNIT,
                            created_at=event.created_at,
                        )
                    )
    Notification.objects.bulk_create(notes, batch_size=2000)
    _email_residents([n for n in notes if n.reason == Notification.Reason.YOUR_ISSUE], issues)
    return notes


def _email_residents(notes: list[Notification], issues: dict[int, Issue]) -> None:
    if not notes:
        return
    emails = dict(
        User.objects.filter(pk__in={n.user_id for n in notes})
        .exclude(email="")
        .values_list("pk", "email")
    )
    if not emails:
        return
    messages = []
    # Mail goes out in the default language (zh-hans): it has no request to read one from.
    with translation.override(settings.LANGUAGE_CODE):
        for note in notes:
            address = emails.get(note.user_id)
            if not address:
                continue
            issue = issues[note.issue_id]
            subject = _("Your issue %(number)s: %(what)s") % {
                "number": issue.tracking_number,
                "what": note.event.get_kind_display(),
            }
            body = _(
                "Your issue “%(title)s” (%(number)s) was updated: %(what)s.\n"
                "%(note)s\n\nSign in to see its timeline and to evaluate the result."
            ) % {
                "title": issue.title,
                "number": issue.tracking_number,
                "what": note.event.get_kind_display(),
                "note": note.event.note,
            }
            messages.append(EmailMessage(subject, body, to=[address]))
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages(messages)
    except Exception:  # a mail server down must not break anything; the notification stays
        log.exception("could not send %d notification emails", len(messages))


@receiver(event_recorded, dispatch_uid="issues_notify")
def _on_events(sender, events, **kwargs):
    try:
        notify(events)
    except Exception:
        log.exception("could not create notifications for %d events", len(events))
        raise
