"""Resident emails leave the request as a task: the action only enqueues it once its
transaction commits; the task sends, and a send that fails is tried again later, a bounded
number of times, each failed attempt shown in the admin. Real database, real worker."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from issues import workflow
from issues.models import Issue, Notification, Status
from issues.tasks import EMAIL_ATTEMPTS, email_backoff, send_notification_emails
from tests.test_notifications import issue, resident_notes  # noqa: F401  (fixture)

DATABASE_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
BROKEN_MAIL = "tests.test_notifications.BrokenMailBackend"
EMAIL_TASK = "issues.tasks.send_notification_emails"


@pytest.fixture
def confirmed(people):
    people.resident.email = people.resident.confirmed_email = "li@example.com"
    people.resident.save()
    return people.resident


def work():
    """What `manage.py db_worker` does, until nothing is ready."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


def test_the_task_sends_the_residents_email(
    people,
    issue,  # noqa: F811
    confirmed,
    django_capture_on_commit_callbacks,
):
    """Under the tests' immediate backend the task runs as it is enqueued."""
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=people.worker)
    (note,) = resident_notes(people)
    (message,) = mail.outbox
    assert message.to == ["li@example.com"]
    assert issue.tracking_number in message.subject
    # Enqueued by hand, again: it reads the notification and sends.
    result = send_notification_emails.enqueue([note.pk])
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 1
    assert len(mail.outbox) == 2


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_the_action_only_enqueues_and_the_worker_sends(
    people,
    issue,  # noqa: F811
    confirmed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.TASKS = DATABASE_BACKEND
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=people.worker)
    (note,) = resident_notes(people)
    assert mail.outbox == []  # the action did not wait for the mail server
    (queued,) = DBTaskResult.objects.filter(task_path=EMAIL_TASK)
    assert queued.status == TaskResultStatus.READY
    assert queued.args_kwargs == {"args": [[note.pk]], "kwargs": {}}
    work()
    queued.refresh_from_db()
    assert queued.status == TaskResultStatus.SUCCESSFUL
    assert [m.to for m in mail.outbox] == [["li@example.com"]]


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_a_failing_send_is_retried_later_and_breaks_nothing(
    client,
    people,
    issue,  # noqa: F811
    confirmed,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.TASKS = DATABASE_BACKEND
    settings.EMAIL_BACKEND = BROKEN_MAIL
    mail.outbox.clear()
    client.force_login(people.worker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("staff_issue_action", args=[issue.tracking_number, "accept"]),
            {"accept-category": issue.category_id, "accept-severity": issue.severity},
        )
    assert response.status_code == 302  # the click did not fail because of mail
    assert Issue.objects.get(pk=issue.pk).status == Status.IN_PROGRESS
    (note,) = resident_notes(people)

    work()  # the first attempt: the mail server is down
    first = DBTaskResult.objects.get(task_path=EMAIL_TASK, args_kwargs__args=[[note.pk]])
    assert first.status == TaskResultStatus.FAILED
    assert first.exception_class_path == "issues.tasks.EmailNotSent"
    assert "mail server down" in first.traceback  # shown in the admin
    retry = DBTaskResult.objects.exclude(pk=first.pk).get(task_path=EMAIL_TASK)
    assert retry.status == TaskResultStatus.READY
    assert retry.args_kwargs == {"args": [[note.pk], 2], "kwargs": {}}
    wait = retry.run_after - first.finished_at
    assert email_backoff(1) - timedelta(seconds=5) < wait <= email_backoff(1)
    assert mail.outbox == []
    # Not before its time.
    work()
    retry.refresh_from_db()
    assert retry.status == TaskResultStatus.READY

    # The mail server is back when the retry's time comes.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    work()
    retry.refresh_from_db()
    assert retry.status == TaskResultStatus.SUCCESSFUL
    assert [m.to for m in mail.outbox] == [["li@example.com"]]
    assert Notification.objects.filter(pk=note.pk).exists()


def notified(people, issue, django_capture_on_commit_callbacks, *actions):  # noqa: F811
    """Run the actions; their email tasks are dropped, for the test to enqueue its own."""
    with django_capture_on_commit_callbacks(execute=True):
        for action in actions:
            action()
    DBTaskResult.objects.all().delete()
    return list(resident_notes(people).order_by("id"))


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_retries_are_bounded(
    people,
    issue,  # noqa: F811
    confirmed,
    settings,
    caplog,
    django_capture_on_commit_callbacks,
):
    settings.TASKS = DATABASE_BACKEND
    settings.EMAIL_BACKEND = BROKEN_MAIL
    (note,) = notified(
        people,
        issue,
        django_capture_on_commit_callbacks,
        lambda: workflow.accept(issue=issue, actor=people.worker),
    )
    send_notification_emails.enqueue([note.pk], EMAIL_ATTEMPTS)
    work()
    (last,) = DBTaskResult.objects.filter(task_path=EMAIL_TASK)
    assert last.status == TaskResultStatus.FAILED
    assert "not retried" in caplog.text


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_only_the_failed_emails_are_retried(
    people,
    issue,  # noqa: F811
    confirmed,
    settings,
    django_capture_on_commit_callbacks,
):
    """The server takes the first message and refuses the second: the retry carries only
    the refused one, so nobody gets an email twice."""
    settings.TASKS = DATABASE_BACKEND
    settings.EMAIL_BACKEND = "tests.test_tasks.TakesOneMessage"
    first, second = notified(
        people,
        issue,
        django_capture_on_commit_callbacks,
        lambda: workflow.accept(issue=issue, actor=people.worker),
        lambda: workflow.comment(issue=issue, actor=people.worker, note="明天来修"),
    )
    TakesOneMessage.sent = []
    send_notification_emails.enqueue([first.pk, second.pk])
    work()
    assert len(TakesOneMessage.sent) == 1
    retry = DBTaskResult.objects.get(task_path=EMAIL_TASK, status=TaskResultStatus.READY)
    assert retry.args_kwargs["args"] == [[second.pk], 2]


class TakesOneMessage(BaseEmailBackend):
    """A mail server that accepts one message, then refuses the rest."""

    sent: list = []

    def send_messages(self, email_messages):
        if TakesOneMessage.sent:
            raise ConnectionResetError("too many messages")
        TakesOneMessage.sent.extend(email_messages)
        return len(email_messages)
