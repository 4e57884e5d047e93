"""Digest notifications: what a deadline sweep brings to a unit is told to its staff as one
notice per person and unit ("12 issues arrived overdue from the grid level") that opens the
queue on exactly those issues; residents are still told about each of their issues, and a
person acting still tells the next unit about each issue."""

import re
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from issues import workflow
from issues.models import Issue, Level, Notification, Source, Status, Support
from issues.sweep import run_sweep
from tests.factories import IssueFactory, ResidentFactory, issue_at

NEW = Notification.Reason.NEW_AT_UNIT
DUE_SOON = Notification.Reason.DUE_SOON
YOURS = Notification.Reason.YOUR_ISSUE


@pytest.fixture
def now():
    return timezone.now()


def overdue(t, p, n, *, now, grid=None, level=Level.GRID, status=Status.SUBMITTED):
    """``n`` issues reported by the resident, past their deadline at ``level``."""
    return [
        IssueFactory(
            grid=grid or t.grid,
            category=t.category,
            reporter=p.resident,
            source=Source.RESIDENT,
            level=level,
            status=status,
            due_at=now - timedelta(minutes=5 + i),
            level_entered_at=now - timedelta(hours=50),
        )
        for i in range(n)
    ]


def sweep(capture, **kwargs):
    """One sweep, with the notifications its batches write once they commit."""
    with capture(execute=True):
        return run_sweep(**kwargs)


def digests(user=None, reason=NEW):
    notes = Notification.objects.filter(reason=reason, issue_count__isnull=False)
    return notes.filter(user=user) if user is not None else notes


def english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})


def listed(html) -> set[str]:
    """The tracking numbers a queue page lists."""
    return set(re.findall(r'<span class="font-monospace">(\w+)</span>', html))


def test_one_notice_per_staff_member_per_unit_and_residents_per_issue(
    territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    ours = overdue(t, p, 12, now=now)
    cousins = overdue(t, p, 3, now=now, grid=t.cousin_grid)
    upstairs = overdue(t, p, 4, now=now, level=Level.COMMUNITY, status=Status.IN_PROGRESS)
    supporter = ResidentFactory(username="supporter")
    Support.objects.create(issue=ours[0], user=supporter)

    assert sweep(django_capture_on_commit_callbacks, now=now).escalated == 19

    # The staff: one digest each per unit, counting what arrived there from the level below.
    got = sorted(digests().values_list("user__username", "issue_count", "from_level", "created_at"))
    assert got == [
        ("community", 12, Level.GRID, now),
        ("othercommunity", 3, Level.GRID, now),
        ("subdistrict", 4, Level.COMMUNITY, now),
        ("subdistrict2", 4, Level.COMMUNITY, now),
    ]
    note = digests(p.community_staff).get()
    assert (note.community_id, note.issue_id, note.event_id, note.is_read) == (
        t.community.pk,
        None,
        None,
        False,
    )
    assert digests(p.subdistrict_staff).get().subdistrict_id == t.subdistrict.pk
    # And nothing per issue for any of them.
    assert not Notification.objects.filter(reason=NEW, issue_count__isnull=True).exists()
    for bystander in (p.worker, p.worker2, p.far_staff, p.department_staff):
        assert not bystander.notifications.exists()

    # The resident: one notification per issue, as before.
    mine = Notification.objects.filter(user=p.resident, reason=YOURS)
    assert sorted(mine.values_list("issue_id", flat=True)) == sorted(
        i.pk for i in ours + cousins + upstairs
    )
    assert {n.event.kind for n in mine.select_related("event")} == {"escalated"}
    # A supporter hears about the issue they support.
    assert list(supporter.notifications.values_list("issue_id", "reason")) == [
        (ours[0].pk, Notification.Reason.SUPPORTED_ISSUE)
    ]


def test_the_notice_opens_the_queue_on_exactly_those_issues(
    client, territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    # Already at the community before this run: not part of the notice.
    earlier = issue_at(t, "community", reporter=p.resident)
    arrived = overdue(t, p, 12, now=now)
    sweep(django_capture_on_commit_callbacks, now=now)
    # Escalated by a person a minute later: not part of it either.
    later = issue_at(t, "grid", reporter=p.resident)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(issue=later, actor=p.worker, reason="需要社区协调")

    note = digests(p.community_staff).get()
    client.force_login(p.community_staff)
    english(client)
    html = client.get(reverse("notifications")).text
    assert "12 issues arrived overdue from the grid level" in html
    assert t.community.name in html
    assert reverse("notification_read", args=[note.pk]) in html

    response = client.post(reverse("notification_read", args=[note.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("staff_queue") + "?")
    note.refresh_from_db()
    assert note.is_read

    page = client.get(response.url)
    assert page.status_code == 200
    assert listed(page.text) == {i.tracking_number for i in arrived}
    assert earlier.tracking_number not in page.text
    assert later.tracking_number not in page.text
    assert 'id="digest-list"' in page.text
    # The list keeps to them while searching within it: the filter rides along.
    assert 'name="arrived"' in page.text and 'name="unit"' in page.text
    narrowed = client.get(response.url + f"&q={arrived[3].tracking_number}")
    assert listed(narrowed.text) == {arrived[3].tracking_number}

    # Accepting one leaves it on the list (it is still one of them); one that moves on
    # (escalated again) leaves it.
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=arrived[0], actor=p.community_staff)
        workflow.escalate(issue=arrived[1], actor=p.community_staff, reason="需要街道协调")
    still = listed(client.get(response.url).text)
    assert arrived[0].tracking_number in still
    assert still == {i.tracking_number for i in arrived[2:]} | {arrived[0].tracking_number}

    # The default language renders it too (the wording falls back to English until the
    # catalogue has it).
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert client.get(reverse("notifications")).status_code == 200


def test_each_unit_gets_its_own_list(
    client, territory, people, now, django_capture_on_commit_callbacks
):
    """Someone on two communities gets two notices, each listing its community's issues."""
    from tests.factories import post_for

    t, p = territory, people
    post_for(p.community_staff, t.other_community)
    ours = overdue(t, p, 2, now=now)
    cousins = overdue(t, p, 3, now=now, grid=t.cousin_grid)
    sweep(django_capture_on_commit_callbacks, now=now)

    notes = {n.community_id: n for n in digests(p.community_staff)}
    assert {k: n.issue_count for k, n in notes.items()} == {
        t.community.pk: 2,
        t.other_community.pk: 3,
    }
    client.force_login(p.community_staff)
    for community, issues in ((t.community, ours), (t.other_community, cousins)):
        url = client.post(reverse("notification_read", args=[notes[community.pk].pk])).url
        assert listed(client.get(url).text) == {i.tracking_number for i in issues}


def test_batches_of_one_run_add_up_to_one_notice(
    client, territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    arrived = overdue(t, p, 12, now=now)
    assert sweep(django_capture_on_commit_callbacks, now=now, batch_size=5).escalated == 12

    note = digests(p.community_staff).get()
    assert (note.issue_count, note.issue_id) == (12, None)
    assert Notification.objects.filter(user=p.resident, reason=YOURS).count() == 12
    client.force_login(p.community_staff)
    url = client.post(reverse("notification_read", args=[note.pk])).url
    assert listed(client.get(url).text) == {i.tracking_number for i in arrived}


def test_a_new_batch_makes_a_read_notice_unread_again(
    territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    overdue(t, p, 2, now=now)
    sweep(django_capture_on_commit_callbacks, now=now, batch_size=1)
    note = digests(p.community_staff).get()
    assert not note.is_read
    Notification.objects.filter(pk=note.pk).update(is_read=True)
    # A later batch of the same run (the same time) adds to it.
    overdue(t, p, 1, now=now)
    sweep(django_capture_on_commit_callbacks, now=now)
    note.refresh_from_db()
    assert (note.issue_count, note.is_read) == (3, False)


def test_a_notice_about_one_issue_opens_that_issue(
    client, territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    (only,) = overdue(t, p, 1, now=now)
    sweep(django_capture_on_commit_callbacks, now=now)

    note = digests(p.community_staff).get()
    assert (note.issue_count, note.issue_id) == (1, only.pk)
    assert note.event.kind == "escalated"
    client.force_login(p.community_staff)
    english(client)
    html = client.get(reverse("notifications")).text
    assert "1 issue arrived overdue from the grid level" in html
    assert only.tracking_number in html
    response = client.post(reverse("notification_read", args=[note.pk]))
    assert response.url == reverse("staff_issue_detail", args=[only.tracking_number])


def test_a_person_acting_still_tells_the_next_unit_per_issue(
    territory, people, django_capture_on_commit_callbacks
):
    t, p = territory, people
    issue = issue_at(t, "grid", reporter=p.resident)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")
    note = Notification.objects.get(user=p.community_staff)
    assert (note.reason, note.issue_id, note.issue_count, note.event.kind) == (
        NEW,
        issue.pk,
        None,
        "escalated",
    )
    assert not digests().exists()


def test_due_soon_warnings_are_one_notice_per_person_and_unit(
    client, territory, people, now, django_capture_on_commit_callbacks
):
    t, p = territory, people
    soon = [
        issue_at(t, reporter=p.resident, due_at=now + timedelta(minutes=10 + i)) for i in range(4)
    ]
    later = issue_at(t, reporter=p.resident, due_at=now + timedelta(hours=3))
    at_department = issue_at(
        t, "department", reporter=p.resident, due_at=now + timedelta(minutes=20)
    )
    assert sweep(django_capture_on_commit_callbacks, now=now).warned == 5

    got = sorted(digests(reason=DUE_SOON).values_list("user__username", "issue_count"))
    assert got == [("department", 1), ("gridworker", 4), ("gridworker2", 4)]
    assert digests(p.department_staff, DUE_SOON).get().issue_id == at_department.pk
    assert not p.resident.notifications.exists()  # not news for the resident

    note = digests(p.worker, DUE_SOON).get()
    assert (note.grid_id, note.issue_id) == (t.grid.pk, None)
    client.force_login(p.worker)
    english(client)
    html = client.get(reverse("notifications")).text
    assert "4 issues are due within the hour" in html
    assert f"{t.community.name} · {t.grid.name}" in html
    url = client.post(reverse("notification_read", args=[note.pk])).url
    page = client.get(url).text
    assert listed(page) == {i.tracking_number for i in soon}
    assert later.tracking_number not in page


def test_bad_list_filters_are_ignored_not_an_error(client, territory, people):
    t, p = territory, people
    mine = issue_at(t, reporter=p.resident)
    client.force_login(p.worker)
    for query in ("unit=nowhere-1", "unit=grid-x", "arrived=yesterday", "due_soon=soon"):
        response = client.get(reverse("staff_queue") + "?" + query)
        assert response.status_code == 200
        assert mine.tracking_number in response.text


def test_a_digest_names_exactly_one_unit(territory, people):
    base = dict(user=people.worker, reason=NEW, issue_count=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(**base)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(**base, grid=territory.grid, community=territory.community)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(user=people.worker, reason=NEW)  # neither issue nor count
    Notification.objects.create(**base, grid=territory.grid)


def test_the_list_of_notifications_names_the_units_in_a_fixed_number_of_queries(
    client, territory, people, django_assert_max_num_queries
):
    t, p = territory, people
    now = timezone.now()
    issue = issue_at(t, reporter=p.resident)
    units = {"grid": t.grid, "community": t.community, "subdistrict": t.subdistrict}
    units["department"] = t.department
    for n in range(8):
        name, unit = list(units.items())[n % 4]
        Notification.objects.create(
            user=p.worker,
            reason=NEW,
            issue_count=3,
            from_level=Level.GRID,
            created_at=now - timedelta(minutes=n),
            **{name: unit},
        )
    Notification.objects.create(user=p.worker, reason=NEW, issue=issue)
    client.force_login(p.worker)
    english(client)
    with django_assert_max_num_queries(8):
        html = client.get(reverse("notifications")).text
    for unit in units.values():
        assert unit.name in html
    assert html.count("notification-digest") == 8
    assert Issue.objects.count() == 1
