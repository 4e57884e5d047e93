"""Webhooks: the public changes of a client's requests, signed, delivered after commit by
the task worker (and by the catch-up command), retried with backoff, failures shown on the
client."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from issues import workflow
from issues.models import ApiClient, Issue, IssueEvent
from issues.open311.webhooks import SETTLE, backoff, deliver_all
from issues.tasks import deliver_webhooks
from tests.test_open311 import api, body, post  # noqa: F401  (fixture)


class Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802
        length = int(self.headers["Content-Length"])
        Receiver.received.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(Receiver.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def later():
    """Past the settling delay, so the events just written count as committed long ago."""
    return timezone.now() + timedelta(seconds=30)


@pytest.fixture
def filed(api, people):  # noqa: F811
    (row,) = body(post(api))
    issue = Issue.objects.get(tracking_number=row["service_request_id"])
    issue = workflow.accept(issue=issue, actor=people.worker, message="马上处理。")
    workflow.comment(issue=issue, actor=people.worker, note="内部", is_public=False)
    return issue


def test_delivers_signed_updates_once(api, filed, receiver):  # noqa: F811
    api.client.webhook_url = receiver
    api.client.save()
    assert api.client.webhook_secret  # generated
    assert deliver_all(later()) == 1
    ((headers, raw),) = Receiver.received
    expected = hmac.new(api.client.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Open311-Signature"] == f"sha256={expected}"
    (update,) = json.loads(raw)
    assert update["service_request_id"] == filed.tracking_number
    assert (update["status"], update["description"]) == ("IN_PROGRESS", "马上处理。")
    # Nothing new: nothing sent again.
    assert deliver_all(later()) == 0
    assert len(Receiver.received) == 1
    api.client.refresh_from_db()
    assert api.client.webhook_delivered_at is not None
    assert api.client.webhook_retry_at is None


def test_recent_events_wait_for_the_next_round(api, filed, receiver):  # noqa: F811
    api.client.webhook_url = receiver
    api.client.save()
    assert deliver_all(timezone.now()) == 0
    assert Receiver.received == []


def test_failures_back_off_and_show_on_the_client(api, filed, receiver):  # noqa: F811
    api.client.webhook_url = receiver
    api.client.save()
    Receiver.status = 500
    now = later()
    assert deliver_all(now) == 0
    api.client.refresh_from_db()
    assert api.client.webhook_failures == 1
    assert api.client.webhook_retry_at == now + backoff(1)
    assert "500" in api.client.webhook_last_error
    assert api.client.webhook_cursor == 0
    # Before the backoff ends nothing is tried.
    assert deliver_all(now + timedelta(seconds=30)) == 0
    assert len(Receiver.received) == 1
    # Then it is, and a success clears the failure.
    Receiver.status = 204
    assert deliver_all(now + backoff(1) + timedelta(seconds=1)) == 1
    api.client.refresh_from_db()
    assert (api.client.webhook_failures, api.client.webhook_last_error) == (0, "")
    assert api.client.webhook_cursor > 0


def test_backoff_doubles_up_to_an_hour():
    assert [backoff(n).total_seconds() / 60 for n in (1, 2, 3, 7, 20)] == [1, 2, 4, 60, 60]


def test_unreachable_url_is_a_recorded_failure(api, filed):  # noqa: F811
    ApiClient.objects.filter(pk=api.client.pk).update(
        webhook_url="http://127.0.0.1:9/hook", webhook_secret="s"
    )
    assert deliver_all(later()) == 0
    api.client.refresh_from_db()
    assert api.client.webhook_failures == 1
    assert api.client.webhook_last_error


def test_command_runs_a_round(api, filed, receiver, capsys):  # noqa: F811
    api.client.webhook_url = receiver
    api.client.save()
    call_command("deliver_webhooks")
    assert "webhooks:" in capsys.readouterr().out


def test_bench_open311_runs_and_cleans_up(db):
    from io import StringIO

    out = StringIO()
    call_command("bench_open311", "--issues", "300", "--repeat", "2", "--yes", stdout=out)
    assert "open311 requests.json" in out.getvalue()
    assert "of bare" in out.getvalue()  # beside the bare one-query view, and their ratio
    assert not Issue.objects.exists()


# --- delivered by the task worker as events are recorded ----------------------------------

DATABASE_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
WEBHOOK_TASK = "issues.tasks.deliver_webhooks"


def settle(issue):
    """The events were recorded long enough ago to have settled."""
    IssueEvent.objects.filter(issue=issue).update(created_at=F("created_at") - timedelta(minutes=1))


def work():
    """What `manage.py db_worker` does, until nothing is ready."""
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_an_event_enqueues_a_delivery_that_the_worker_sends(
    api,  # noqa: F811
    filed,
    receiver,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.TASKS = DATABASE_BACKEND
    api.client.webhook_url = receiver
    api.client.save()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(issue=filed, actor=filed.assignee, note="明天来修", is_public=True)
    (queued,) = DBTaskResult.objects.filter(task_path=WEBHOOK_TASK)
    assert queued.args_kwargs == {"args": [api.client.pk], "kwargs": {}}
    # A turn once the events have settled, not before.
    assert timezone.now() < queued.run_after <= timezone.now() + SETTLE
    work()
    assert Receiver.received == []
    settle(filed)
    DBTaskResult.objects.filter(pk=queued.pk).update(run_after=timezone.now())
    work()
    queued.refresh_from_db()
    assert queued.status == TaskResultStatus.SUCCESSFUL
    ((headers, raw),) = Receiver.received
    expected = hmac.new(api.client.webhook_secret.encode(), raw, hashlib.sha256).hexdigest()
    assert headers["X-Open311-Signature"] == f"sha256={expected}"
    assert [u["description"] for u in json.loads(raw)] == ["马上处理。", "明天来修"]
    api.client.refresh_from_db()
    assert api.client.webhook_cursor == IssueEvent.objects.filter(issue=filed).latest("id").pk
    assert api.client.webhook_retry_at is None


def test_no_task_for_events_no_client_hears_about(
    api,  # noqa: F811
    filed,
    receiver,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.TASKS = DATABASE_BACKEND
    api.client.webhook_url = receiver
    api.client.save()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(issue=filed, actor=filed.assignee, note="内部", is_public=False)
    assert not DBTaskResult.objects.filter(task_path=WEBHOOK_TASK).exists()


# db_worker closes a connection it finds inside a transaction (close_old_connections), so
# these run outside the test's transaction.
@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_task_schedules_its_retry_at_the_backoff(
    api,  # noqa: F811
    filed,
    receiver,
    settings,
):
    settings.TASKS = DATABASE_BACKEND
    api.client.webhook_url = receiver
    api.client.save()
    settle(filed)
    Receiver.status = 500
    deliver_webhooks.enqueue(api.client.pk)
    work()
    api.client.refresh_from_db()
    assert api.client.webhook_failures == 1
    assert "500" in api.client.webhook_last_error
    assert api.client.webhook_cursor == 0
    retry = DBTaskResult.objects.get(task_path=WEBHOOK_TASK, status=TaskResultStatus.READY)
    assert retry.run_after == api.client.webhook_retry_at
    assert retry.run_after - timezone.now() > backoff(1) - timedelta(seconds=10)
    # When the backoff ends, the retry delivers and clears the failure.
    Receiver.status = 204
    ApiClient.objects.filter(pk=api.client.pk).update(webhook_retry_at=timezone.now())
    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())
    work()
    api.client.refresh_from_db()
    assert (api.client.webhook_failures, api.client.webhook_last_error) == (0, "")
    assert api.client.webhook_cursor > 0
    assert len(Receiver.received) == 2


def test_the_delivery_task_posts_under_the_immediate_backend(api, filed, receiver):  # noqa: F811
    api.client.webhook_url = receiver
    api.client.save()
    settle(filed)
    result = deliver_webhooks.enqueue(api.client.pk)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 1
    ((_headers, raw),) = Receiver.received
    assert json.loads(raw)[0]["service_request_id"] == filed.tracking_number
