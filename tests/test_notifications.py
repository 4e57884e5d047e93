"""A resident hears about their issue: accepted, escalated, resolved, commented on by staff.
An unread count in the navigation bar, a list, mark read; an email when they gave an
address; a failing mail server never breaks the action."""

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from issues import workflow
from issues.models import Issue, Notification, Source, Status
from tests.factories import ResidentFactory


class BrokenMailBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


def english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})


@pytest.fixture
def issue(people, territory, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return workflow.file_issue(
            actor=people.resident,
            source=Source.RESIDENT,
            category=territory.category,
            title="路灯不亮",
            description="3号楼前路灯不亮",
            building=people.resident.home_building,
        )


def resident_notes(people):
    return Notification.objects.filter(
        user=people.resident, reason=Notification.Reason.YOUR_ISSUE
    ).select_related("event")


@pytest.mark.parametrize(
    "act, kind",
    [
        (lambda i, p: workflow.accept(issue=i, actor=p.worker), "accepted"),
        (lambda i, p: workflow.escalate(issue=i, actor=p.worker, reason="需要社区"), "escalated"),
        (
            lambda i, p: workflow.resolve(
                issue=workflow.accept(issue=i, actor=p.worker), actor=p.worker, note="修好了"
            ),
            "resolved",
        ),
        (lambda i, p: workflow.comment(issue=i, actor=p.worker, note="明天来修"), "commented"),
    ],
    ids=["accepted", "escalated", "resolved", "commented"],
)
def test_the_resident_is_told(people, issue, act, kind, django_capture_on_commit_callbacks):
    assert not resident_notes(people).exists()  # filing it is not news to them
    with django_capture_on_commit_callbacks(execute=True):
        act(issue, people)
    assert kind in [n.event.kind for n in resident_notes(people)]
    assert all(not n.is_read for n in resident_notes(people))


def test_the_notices_commit_with_the_action_and_the_mail_waits_for_the_commit(
    people, issue, django_capture_on_commit_callbacks
):
    """Written in the action's transaction (a crash after the commit cannot lose them), while
    the email is only enqueued once that transaction has committed."""
    people.resident.email = people.resident.confirmed_email = "li@example.com"
    people.resident.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        workflow.accept(issue=issue, actor=people.worker)
        assert [n.event.kind for n in resident_notes(people)] == ["accepted"]
    assert mail.outbox == []
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_a_failing_notice_undoes_only_itself(
    people, issue, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    """A statement of the notifications that fails in the database (which, on PostgreSQL,
    aborts the transaction it is in) is rolled back to its savepoint: the action commits,
    logged, with its event and without half its notices."""
    from issues import notifications

    def broken(event_ids, happened):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM issues_no_such_table")
        return 0

    monkeypatch.setattr(notifications, "_insert_arrival_notes", broken)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = workflow.accept(issue=issue, actor=people.worker)
    assert Issue.objects.get(pk=issue.pk).status == accepted.status == Status.IN_PROGRESS
    assert accepted.events.filter(kind="accepted").count() == 1
    assert not resident_notes(people).exists()  # written before the failure, rolled back
    assert "could not create notifications" in caplog.text


def test_internal_notes_and_own_comments_are_not_news(
    people, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(issue=issue, actor=people.worker, note="内部备注", is_public=False)
        workflow.comment(issue=issue, actor=people.resident, note="我补充一句")
    assert not resident_notes(people).exists()


def test_an_email_goes_to_a_resident_with_a_confirmed_address(
    people, issue, django_capture_on_commit_callbacks
):
    # Confirmed through the link (tests/test_accounts.py: an unconfirmed one gets nothing).
    people.resident.email = people.resident.confirmed_email = "li@example.com"
    people.resident.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=people.worker)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li@example.com"]
    assert issue.tracking_number in mail.outbox[0].subject


def test_no_email_without_an_address(people, issue, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=people.worker)
    assert mail.outbox == []
    assert resident_notes(people).count() == 1


def test_a_failing_mail_server_breaks_nothing(
    client, people, issue, settings, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND = "tests.test_notifications.BrokenMailBackend"
    # Confirmed through the link (tests/test_accounts.py: an unconfirmed one gets nothing).
    people.resident.email = people.resident.confirmed_email = "li@example.com"
    people.resident.save()
    client.force_login(people.worker)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = workflow.accept(issue=issue, actor=people.worker)
    assert accepted.status == Status.IN_PROGRESS
    assert Issue.objects.get(pk=issue.pk).status == Status.IN_PROGRESS
    assert [n.event.kind for n in resident_notes(people)] == ["accepted"]
    assert "could not send" in caplog.text

    # And through a page: the resident evaluates while the mail server is still down.
    with django_capture_on_commit_callbacks(execute=True):
        workflow.resolve(issue=accepted, actor=people.worker, note="修好了")
    client.force_login(people.resident)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("my_issue_evaluate", args=[issue.tracking_number]),
            {"satisfaction": "satisfied"},
        )
    assert response.status_code == 302
    assert Issue.objects.get(pk=issue.pk).status == Status.CLOSED


def test_unread_count_in_the_navigation_bar(
    client, people, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issue = workflow.accept(issue=issue, actor=people.worker)
        workflow.comment(issue=issue, actor=people.worker, note="明天来修")
    client.force_login(people.resident)
    english(client)
    html = client.get(reverse("home")).text
    assert 'id="nav-notifications"' in html
    assert (
        '<span class="badge rounded-pill text-bg-danger">2<span class="visually-hidden"> unread'
        in html
    )


def test_staff_see_their_unread_count_too(client, people, issue):
    # Filing the issue told the grid's workers it arrived.
    assert Notification.objects.filter(user=people.worker, reason="new_at_unit").count() == 1
    client.force_login(people.worker)
    html = client.get(reverse("notifications")).text
    assert '<span class="badge rounded-pill text-bg-danger">1<span' in html


def test_no_badge_without_unread_notifications(client, people):
    client.force_login(people.resident)
    html = client.get(reverse("home")).text
    assert 'id="nav-notifications"' in html
    assert "text-bg-danger" not in html


def test_the_list_shows_what_happened_and_opens_the_issue(
    client, people, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(issue=issue, actor=people.worker, note="明天上午来修")
    note = resident_notes(people).get()
    client.force_login(people.resident)
    english(client)
    html = client.get(reverse("notifications")).text
    assert "Commented" in html and issue.tracking_number in html and "明天上午来修" in html
    assert reverse("notification_read", args=[note.pk]) in html
    response = client.post(reverse("notification_read", args=[note.pk]))
    assert response.status_code == 302
    assert response.url == reverse("my_issue_detail", args=[issue.tracking_number])
    note.refresh_from_db()
    assert note.is_read


def test_staff_notifications_open_the_staff_page_when_there_is_one(client, people, issue):
    note = Notification.objects.get(user=people.worker)
    client.force_login(people.worker)
    response = client.post(reverse("notification_read", args=[note.pk]))
    try:
        expected = reverse("staff_issue_detail", args=[issue.tracking_number])
    except NoReverseMatch:  # the staff workspace is not there yet
        expected = reverse("my_issue_detail", args=[issue.tracking_number])
    assert response.url == expected


def test_someone_elses_notification_is_a_404(client, people, issue):
    note = Notification.objects.get(user=people.worker)
    client.force_login(people.resident)
    assert client.post(reverse("notification_read", args=[note.pk])).status_code == 404
    note.refresh_from_db()
    assert not note.is_read


def test_marking_is_post_only(client, people, issue):
    note = Notification.objects.get(user=people.worker)
    client.force_login(people.worker)
    assert client.get(reverse("notification_read", args=[note.pk])).status_code == 405
    assert client.get(reverse("notifications_read_all")).status_code == 405


def test_mark_all_as_read_only_touches_mine(
    client, people, issue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issue = workflow.accept(issue=issue, actor=people.worker)
        workflow.escalate(issue=issue, actor=people.worker, reason="需要社区")
    assert resident_notes(people).filter(is_read=False).count() == 2
    client.force_login(people.resident)
    response = client.post(reverse("notifications_read_all"))
    assert response.url == reverse("notifications")
    assert not resident_notes(people).filter(is_read=False).exists()
    assert Notification.objects.filter(user=people.community_staff, is_read=False).exists()


def test_notification_list_runs_a_constant_number_of_queries(
    client, people, territory, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    def count_for(n):
        Notification.objects.all().delete()
        resident = ResidentFactory(home_building__grid=territory.grid)
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(n):
                issue = workflow.file_issue(
                    actor=resident,
                    source=Source.RESIDENT,
                    category=territory.category,
                    title=f"问题{i}",
                    description="描述",
                    building=resident.home_building,
                )
                workflow.comment(issue=issue, actor=people.worker, note=f"回复{i}")
        client.force_login(resident)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("notifications"))
        assert response.status_code == 200
        assert response.text.count("notification-open") == min(n, 30)
        return len(captured)

    assert count_for(3) == count_for(35)
    with django_assert_max_num_queries(8):
        client.get(reverse("notifications"), {"page": 2})


def test_notifications_need_sign_in(client, db):
    response = client.get(reverse("notifications"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_large_sweep_batch_notifies_everyone_in_a_fixed_number_of_queries(
    territory, people, django_capture_on_commit_callbacks
):
    """1,200 overdue issues escalate in one sweep batch: the community's staff are told in
    one digest counting them, and every resident reporter is told, with no per-issue query
    (SQLite once refused an OR of 1,000+ terms here and the notifications were lost)."""
    from datetime import timedelta

    from django.utils import timezone

    from issues.sweep import run_sweep
    from tests.factories import IssueFactory

    past = timezone.now() - timedelta(hours=1)
    issues = IssueFactory.build_batch(
        1200,
        grid=territory.grid,
        category=territory.category,
        reporter=people.resident,
        due_at=past,
    )
    for n, item in enumerate(issues):
        item.community, item.subdistrict = territory.community, territory.subdistrict
        item.tracking_number = f"BULK{n:08d}"
    Issue.objects.bulk_create(issues)
    # Nothing waits for a commit: the notices are written in the batch's own transaction,
    # so a sweep killed after a batch commits has told everyone of that batch.
    with django_capture_on_commit_callbacks(execute=False):
        with CaptureQueriesContext(connection) as queries:
            result = run_sweep(batch_size=5000)
    assert result.escalated == 1200
    arrivals = Notification.objects.filter(reason=Notification.Reason.NEW_AT_UNIT)
    assert list(arrivals.values_list("user__username", "issue_count", "community")) == [
        ("community", 1200, territory.community.pk)
    ]
    assert (
        Notification.objects.filter(
            reason=Notification.Reason.YOUR_ISSUE, user=people.resident
        ).count()
        == 1200
    )
    # The whole run, its notices included (written in each batch's transaction): four
    # passes, the rollups (the grids' rows, then their subdistricts' and the city's, 64 in
    # all on PostgreSQL), and a fixed handful of statements for the notices of the batch.
    assert len(queries) < 70, len(queries)


# --- staff hear of the closed loop: a returned dispatch, a sub-task ------------------------


def _arrivals(user) -> list[str]:
    return list(
        Notification.objects.filter(user=user, reason=Notification.Reason.NEW_AT_UNIT)
        .order_by("id")
        .values_list("event__kind", flat=True)
    )


def test_the_subdistrict_is_told_when_a_department_returns_an_issue(
    people, territory, django_capture_on_commit_callbacks
):
    from issues.models import ReturnReason
    from tests.factories import issue_at

    p = people
    issue = issue_at(territory, "department", status=Status.IN_PROGRESS, reporter=p.resident)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.return_dispatch(
            issue=issue,
            actor=p.department_staff,
            reason=ReturnReason.objects.get_or_create(name="不属于本部门职责")[0],
        )
    assert _arrivals(p.subdistrict_staff) == ["returned"]
    assert _arrivals(p.subdistrict_staff2) == ["returned"]
    for outsider in (p.department_staff, p.community_staff, p.worker, p.far_staff):
        assert _arrivals(outsider) == []
    assert not resident_notes(people).exists()  # between staff: the reporter is not told


def test_every_department_of_a_joint_dispatch_is_told(
    people, territory, django_capture_on_commit_callbacks
):
    from tests.factories import DepartmentFactory, issue_at, post_for, staff_on

    p, t = people, territory
    sister = DepartmentFactory(subdistrict=t.subdistrict, name="市场监管")
    third = DepartmentFactory(subdistrict=t.subdistrict, name="住建")
    sister_staff = staff_on(sister, username="sister")
    both = staff_on(third, username="both")
    post_for(both, sister)  # on two of the departments: told once
    bystander = staff_on(DepartmentFactory(subdistrict=t.subdistrict), username="bystander")
    issue = issue_at(t, "subdistrict", reporter=p.resident)
    with django_capture_on_commit_callbacks(execute=True):
        workflow.dispatch_joint(
            issue=issue,
            actor=p.subdistrict_staff,
            lead=t.department,
            co_handlers=[sister, third],
            instruction="联合整治",
        )
    for told in (p.department_staff, sister_staff, both):
        assert _arrivals(told) == ["joint_dispatched"], told.username
    for outsider in (bystander, p.other_department_staff, p.subdistrict_staff2, p.worker):
        assert _arrivals(outsider) == [], outsider.username


def test_the_unread_badge_counts_up_to_99_then_says_99_plus(client, people, issue):
    worker = people.worker
    Notification.objects.bulk_create(
        Notification(user=worker, issue=issue, reason="new_at_unit") for _ in range(120)
    )
    client.force_login(worker)
    english(client)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(reverse("home")).text
    assert '<span class="badge rounded-pill text-bg-danger">99+<span' in html
    assert 'aria-label="Toggle navigation (99+ unread notifications)"' in html
    # The count reads at most a hundred rows, however many are unread.
    (count,) = [q["sql"] for q in queries if "issues_notification" in q["sql"]]
    assert "LIMIT 100" in count
    Notification.objects.filter(user=worker).update(is_read=True)
    Notification.objects.create(user=worker, issue=issue, reason="new_at_unit")
    html = client.get(reverse("home")).text
    assert '<span class="badge rounded-pill text-bg-danger">1<span' in html
    assert 'aria-label="Toggle navigation (1 unread notification)"' in html


def test_what_an_action_tells_with_its_events_is_what_the_database_holds(
    people, territory, django_capture_on_commit_callbacks
):
    """An action sends what happened (kind, level, whether the system did it) with its
    events, so that notifications need not read them back: it must be what reading them
    back gives, for filing, accepting, escalating, dispatching (alone and jointly),
    returning and moving a unit's issues (many events at once)."""
    from issues import notifications
    from issues.models import ReturnReason
    from tests.factories import DepartmentFactory, issue_at

    p, t = people, territory
    sent = []

    def record(sender, event_ids, happened, **kwargs):
        sent.append((list(event_ids), happened))

    workflow.event_recorded.connect(record, dispatch_uid="test-told-with-events")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            filed = workflow.file_issue(
                actor=p.resident, source=Source.RESIDENT, category=t.category,
                title="路灯不亮", description="3号楼前路灯不亮",
                building=p.resident.home_building,
            )  # fmt: skip
            workflow.accept(issue=filed, actor=p.worker)
            workflow.escalate(issue=filed, actor=p.worker, reason="需要社区")
            dispatched = issue_at(t, "subdistrict", reporter=p.resident)
            workflow.dispatch(
                issue=dispatched, actor=p.subdistrict_staff, department=t.department,
                message="请处理",
            )  # fmt: skip
            workflow.return_dispatch(
                issue=dispatched,
                actor=p.department_staff,
                reason=ReturnReason.objects.get_or_create(name="不属于本部门职责")[0],
            )
            joint = issue_at(t, "subdistrict", reporter=p.resident)
            workflow.dispatch_joint(
                issue=joint, actor=p.subdistrict_staff, lead=t.department,
                co_handlers=[DepartmentFactory(subdistrict=t.subdistrict, name="住建")],
                instruction="联合整治",
            )  # fmt: skip
            issue_at(t, "grid", reporter=p.resident)
            t.grid.community = t.other_community
            t.grid.save()
            workflow.follow_unit_move(unit=t.grid, actor=p.subdistrict_staff)
    finally:
        workflow.event_recorded.disconnect(dispatch_uid="test-told-with-events")
    assert len(sent) >= 7
    assert any(len(ids) > 1 for ids, _happened in sent)  # the unit move: several at once
    for event_ids, happened in sent:
        assert happened is not None
        assert happened == notifications._what_happened(event_ids), event_ids
