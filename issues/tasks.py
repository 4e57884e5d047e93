"""Work that leaves the request: resident emails and API clients' webhooks.

Tasks go through the Tasks API (``django.tasks`` in Django 6, the ``django-tasks`` backport
here), to the backend ``settings.TASKS`` names: the database by default, run by
``manage.py db_worker``; Celery or RQ where a city runs one. Tasks are enqueued after the
action's transaction commits, with ids only; each task reads what it needs.

The database backend has no retries of its own, so a task that fails re-enqueues itself
with a delay (``run_after``) and the next attempt's number in its arguments, then raises:
the failed attempt shows in the admin (Tasks Database Backend → DB task results) with its
traceback, and the retry waits there as Ready. Attempts are bounded.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django_tasks import task

log = logging.getLogger(__name__)

# Resident emails: tried this many times, waiting 1, 2, 4, 8 … minutes between attempts.
EMAIL_ATTEMPTS = 5


def email_backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based)."""
    return min(timedelta(minutes=2 ** (attempt - 1)), timedelta(hours=1))


def enqueue(task_, *args, run_after: datetime | None = None):
    """Enqueue ``task_``; a queue that is down or refuses never breaks the caller (it is
    logged). With ``run_after`` on a backend that cannot delay a task (the immediate one)
    nothing is enqueued: there is no way to wait, and ``deliver_webhooks`` catches up."""
    try:
        if run_after is not None:
            if not task_.get_backend().supports_defer:
                log.info("%s not scheduled: the task backend cannot delay tasks", task_.name)
                return None
            task_ = task_.using(run_after=run_after)
        return task_.enqueue(*args)
    except Exception:
        log.exception("could not enqueue %s", task_.name)
        return None


class EmailNotSent(Exception):
    """Some notification emails could not be sent on this attempt."""


@task()
def send_notification_emails(notification_ids: list[int], attempt: int = 1) -> int:
    """Email these notifications to their residents; the number sent. The ones that fail
    are tried again later, up to ``EMAIL_ATTEMPTS`` in all."""
    from django.utils import timezone

    from .notifications import send_emails

    sent, failed, error = send_emails(notification_ids)
    if not failed:
        return sent
    wait = email_backoff(attempt)
    retry = attempt < EMAIL_ATTEMPTS and enqueue(
        send_notification_emails, failed, attempt + 1, run_after=timezone.now() + wait
    )
    if retry:
        log.warning(
            "could not send %d notification emails (attempt %d of %d), retrying in %s: %s",
            len(failed),
            attempt,
            EMAIL_ATTEMPTS,
            wait,
            error,
        )
    else:
        log.error(
            "could not send %d notification emails (attempt %d), not retried: %s",
            len(failed),
            attempt,
            error,
        )
    # Marks this attempt as failed, with the traceback, for the admin.
    raise EmailNotSent(f"{len(failed)} of {len(failed) + sent} emails not sent") from error


@task()
def deliver_webhooks(client_id: int) -> int:
    """One turn of an API client's webhook; the number of updates delivered. Schedules the
    next turn when updates are left or the send failed (issues/open311/webhooks.py)."""
    from .open311.webhooks import take_turn

    return take_turn(client_id)
