"""Webhooks: each API client with a URL is sent the public status changes of the requests
it filed, as the update feed's JSON array, signed with HMAC-SHA256 of the body:

    X-Open311-Signature: sha256=<hex digest of the body keyed with the client's secret>

Delivery runs off the request path, as a task (``issues.tasks.deliver_webhooks``, run by
the task worker): when an action's events commit, each client concerned gets a turn
``SETTLE`` later. A cursor per client (the last event delivered) says what is left, so a
turn sends whatever is due, however many tasks were enqueued. It reads committed rows
only, so nothing is sent for work that was rolled back; events younger than ``SETTLE`` are
left for the next turn (scheduled then), so a transaction committing late cannot be
skipped. A failure keeps the cursor, counts, records the error for the admin and waits
with exponential backoff (1, 2, 4 … 60 minutes): the failed turn schedules the retry.
``manage.py deliver_webhooks`` runs one round over every client whose turn it is: the
catch-up after an outage of the queue, or the delivery itself with a task backend that
cannot delay tasks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone

from .. import choices
from ..models import ApiClient, IssueEvent
from ..workflow import event_recorded
from . import rows
from .serializers import _plain

log = logging.getLogger("issues.open311")

BATCH = 100
SETTLE = timedelta(seconds=5)
TIMEOUT = 10
MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(seconds=3 * TIMEOUT)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(failures: int) -> timedelta:
    return min(timedelta(minutes=2 ** (failures - 1)), MAX_BACKOFF)


def _post(client: ApiClient, body: bytes, delivery: str) -> None:
    request = urllib.request.Request(
        client.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "grid-governance-open311-webhook",
            "X-Open311-Signature": signature(client.webhook_secret, body),
            "X-Open311-Delivery": delivery,
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(
                client.webhook_url, response.status, "not 2xx", response.headers, None
            )


def deliver_client(client: ApiClient, now=None) -> int:
    """Send one batch to one client; the number of updates delivered."""
    now = now or timezone.now()
    events = list(
        rows.updates_for(client)
        .filter(id__gt=client.webhook_cursor, created_at__lte=now - SETTLE)
        .order_by("id")[:BATCH]
    )
    if not events:
        return 0
    body = json.dumps([_plain(rows.update_row(e)) for e in events], ensure_ascii=False).encode()
    last = events[-1].pk
    try:
        _post(client, body, f"{client.pk}-{last}")
    except (OSError, ValueError) as error:  # URLError, HTTPError, timeouts, bad URLs
        failures = client.webhook_failures + 1
        ApiClient.objects.filter(pk=client.pk).update(
            webhook_failures=failures,
            webhook_retry_at=now + backoff(failures),
            webhook_last_error=f"{timezone.localtime(now):%Y-%m-%d %H:%M} {error}"[:300],
        )
        log.warning("webhook to %s failed (%s in a row): %s", client.name, failures, error)
        return 0
    ApiClient.objects.filter(pk=client.pk).update(
        webhook_cursor=last,
        webhook_failures=0,
        webhook_retry_at=None,
        webhook_last_error="",
        webhook_delivered_at=now,
    )
    return len(events)


def deliver_all(now=None) -> int:
    """One round over every client whose turn it is; the number of updates delivered.

    A client's turn is claimed with a conditional UPDATE that pushes ``webhook_retry_at``
    past the send's timeout (a lease), so several hosts running the command never send the
    same batch twice, and no transaction is held open during the HTTP call."""
    now = now or timezone.now()
    delivered = 0
    due = (
        ApiClient.objects.filter(is_active=True)
        .exclude(webhook_url="")
        .filter(Q(webhook_retry_at__isnull=True) | Q(webhook_retry_at__lte=now))
    )
    for client in due:
        delivered += _turn(client, now) or 0
    return delivered


def _turn(client: ApiClient, now) -> int | None:
    """Claim the client's turn and send one batch; None when another host took the turn."""
    lease = now + LEASE
    claimed = ApiClient.objects.filter(
        pk=client.pk, webhook_retry_at=client.webhook_retry_at
    ).update(webhook_retry_at=lease)
    if not claimed:
        return None
    sent = deliver_client(client, now)
    # Nothing to send: release the lease (a success or failure already set it).
    ApiClient.objects.filter(pk=client.pk, webhook_retry_at=lease).update(webhook_retry_at=None)
    return sent


def _schedule(client_id: int, at=None) -> None:
    from ..tasks import deliver_webhooks, enqueue

    enqueue(deliver_webhooks, client_id, run_after=at)


def take_turn(client_id: int, now=None) -> int:
    """The task's work: one turn of one client, then the next turn scheduled if anything
    is left (more than a batch: at once; too recent: after ``SETTLE``; a failure: when its
    backoff ends). The number of updates delivered."""
    now = now or timezone.now()
    client = ApiClient.objects.filter(pk=client_id, is_active=True).exclude(webhook_url="").first()
    if client is None:
        return 0
    if client.webhook_retry_at and client.webhook_retry_at > now:
        # Backing off: the failed turn scheduled the retry. A lease: another worker's turn
        # may have read its batch before this task's events committed, so look again.
        if not client.webhook_failures:
            _schedule(client.pk, client.webhook_retry_at)
        return 0
    sent = _turn(client, now)
    if sent is None:  # another worker claimed the turn in between
        _schedule(client.pk, now + LEASE)
        return 0
    client.refresh_from_db(fields=["webhook_failures", "webhook_retry_at", "webhook_cursor"])
    if client.webhook_failures:
        _schedule(client.pk, client.webhook_retry_at)
    elif sent == BATCH:
        _schedule(client.pk)
    elif rows.updates_for(client).filter(id__gt=client.webhook_cursor).exists():
        _schedule(client.pk, now + SETTLE)
    return sent


def clients_concerned(event_ids: list[int]) -> set[int]:
    """The active clients with a webhook that filed the requests of these public events."""
    if not choices.any_webhook_client():
        return set()
    clients = set()
    for start in range(0, len(event_ids), 5000):
        clients.update(
            IssueEvent.objects.filter(id__in=event_ids[start : start + 5000], is_public=True)
            .exclude(kind=IssueEvent.Kind.FILED)
            .filter(
                issue__api_request__client__is_active=True,
                issue__api_request__client__webhook_url__gt="",
            )
            .values_list("issue__api_request__client_id", flat=True)
            .distinct()
        )
    return clients


@receiver(event_recorded, dispatch_uid="open311_webhooks")
def _on_events(sender, event_ids, **kwargs):
    """Once the action commits (nothing is scheduled for a change that rolled back): a turn
    for each client concerned, once the events have settled."""
    transaction.on_commit(lambda: _schedule_turns(event_ids), robust=True)


def _schedule_turns(event_ids: list[int]) -> None:
    try:
        clients = clients_concerned(event_ids)
    except Exception:
        log.exception("could not find the webhooks of %d events", len(event_ids))
        raise
    at = timezone.now() + SETTLE
    for client_id in sorted(clients):
        _schedule(client_id, at)
