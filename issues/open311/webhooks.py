"""Webhooks: each API client with a URL is sent the public status changes of the requests
it filed, as the update feed's JSON array, signed with HMAC-SHA256 of the body:

    X-Open311-Signature: sha256=<hex digest of the body keyed with the client's secret>

Delivery runs off the request path (``manage.py deliver_webhooks``, every minute or with
``--loop``): there is no task queue in the project yet, and a cursor per client (the last
event delivered) needs none. It reads committed rows only, so nothing is sent for work
that was rolled back; events younger than ``SETTLE`` are left for the next round, so a
transaction committing late cannot be skipped. A failure keeps the cursor, counts, records
the error for the admin and waits with exponential backoff (1, 2, 4 … 60 minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ..models import ApiClient
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
        lease = now + LEASE
        claimed = ApiClient.objects.filter(
            pk=client.pk, webhook_retry_at=client.webhook_retry_at
        ).update(webhook_retry_at=lease)
        if not claimed:
            continue  # another host took this turn
        sent = deliver_client(client, now)
        delivered += sent
        # Nothing to send: release the lease (a success or failure already set it).
        ApiClient.objects.filter(pk=client.pk, webhook_retry_at=lease).update(webhook_retry_at=None)
    return delivered
