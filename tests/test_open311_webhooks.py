"""Webhooks: the public changes of a client's requests, signed, delivered by the command
after commit, retried with backoff, failures shown on the client."""

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from issues import workflow
from issues.models import ApiClient, Issue
from issues.open311.webhooks import backoff, deliver_all
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
    assert "bare one-query view" in out.getvalue()
    assert not Issue.objects.exists()
