"""Two app hosts, one database, one media folder, one task worker: what one host does, the
other sees, and work that several hosts do at once is done once.

Run by `make test-cluster` (tests/cluster/run.sh starts the hosts).
"""

from __future__ import annotations

import email
import email.policy
import io
import os
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from PIL import Image

from grids.management.commands.seed_demo import PASSWORD  # every demo account's
from grids.models import User
from issues.models import RUNNING_STATUSES, Issue, IssueEvent, Status
from issues.transitions import ESCALATES_TO

from .visitor import Visitor

pytestmark = pytest.mark.cluster

WAIT = 30  # seconds to wait for something another process does


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 60, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _mails(folder) -> list[email.message.EmailMessage]:
    """Every message the file mail backend wrote (several per file, separated by dashes)."""
    messages = []
    for path in sorted(folder.iterdir()):
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if raw.strip():
                messages.append(email.message_from_bytes(raw, policy=email.policy.default))
    return messages


def _until(check, what: str):
    """Wait for ``check()`` to be true (another process is doing it), at most WAIT s."""
    deadline = time.monotonic() + WAIT
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
        time.sleep(0.2)
    return result


def test_a_resident_files_on_host_a_and_staff_act_on_host_b(cluster):
    # A confirmed address, so that the resident is mailed when the issue is accepted.
    User.objects.filter(username="resident").update(
        email="resident@grid.example", confirmed_email="resident@grid.example"
    )

    # Host A: the resident signs in and files with a photo through the report form.
    resident = Visitor()
    landed = resident.sign_in(cluster.host_a, "resident", PASSWORD)
    assert (landed.status, landed.url) == (200, f"{cluster.host_a}/my/")
    page = resident.get(f"{cluster.host_a}/report/")
    form = page.form(id="report-form")
    assert form.value("csrfmiddlewaretoken") and form.value("submission_token")
    form.choose("category", "市容环境")
    form.set("title", "3号楼前垃圾桶满溢")
    form.set("description", "垃圾桶两天没有清运，气味很大。")
    filed = resident.submit(page, form, files=[("photos", "bins.png", _png(64, 48))])
    assert filed.status == 200 and "/my/" in filed.url, filed.text[:3000]
    number = filed.url.rstrip("/").rsplit("/", 1)[-1]
    issue = Issue.objects.select_related("grid").get(tracking_number=number)
    assert (issue.status, issue.grid.code) == (Status.SUBMITTED, "LD-QYC-01")
    photo = issue.photos.get()
    stored = cluster.media_root / photo.image.name
    assert stored.is_file()

    # The resident's session is valid on host B too (sessions live in the database).
    assert number in resident.get(f"{cluster.host_b}/my/").text

    # Host B: the grid worker finds it in the queue, sees the photo, and accepts it.
    staff = Visitor()
    queue = staff.sign_in(cluster.host_b, "gridworker", PASSWORD)
    assert queue.status == 200 and number in queue.text
    detail = staff.get(f"{cluster.host_b}/staff/issues/{number}/")
    assert detail.status == 200 and f"/photos/{photo.pk}/" in detail.text
    image = staff.get(f"{cluster.host_b}/photos/{photo.pk}/")
    assert image.status == 200 and image.headers["Content-Type"].startswith("image/")
    assert image.body == stored.read_bytes()
    assert Image.open(io.BytesIO(image.body)).size == (64, 48)

    accept = detail.form(action_ends=f"/{number}/accept/")
    done = staff.submit(detail, accept)
    assert (done.status, done.url) == (200, f"{cluster.host_b}/staff/issues/{number}/")
    issue.refresh_from_db()
    assert issue.status == Status.IN_PROGRESS
    assert issue.events.filter(kind=IssueEvent.Kind.ACCEPTED).count() == 1

    # Host A shows the resident the new status; the worker has mailed them.
    mine = resident.get(f"{cluster.host_a}/my/{number}/")
    assert mine.status == 200 and str(Status.IN_PROGRESS.label) in mine.text
    mailed = _until(
        lambda: [m for m in _mails(cluster.mail) if number in m["Subject"]],
        f"the task worker mails the resident about {number}",
    )
    assert [m["To"] for m in mailed] == ["resident@grid.example"]


def _escalations(ids) -> Counter:
    return Counter(
        IssueEvent.objects.filter(issue_id__in=ids, kind=IssueEvent.Kind.ESCALATED).values_list(
            "issue_id", flat=True
        )
    )


def _waiting_for_locks(sweeps) -> int:
    """How many of these sweeps wait for a lock (each has its own application_name)."""
    for sweep in sweeps:
        assert sweep.poll() is None, f"a sweep ended early: {sweep.communicate()[0]}"
    with connection.cursor() as cursor:
        # Within a transaction PostgreSQL keeps the first snapshot of pg_stat_activity.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name LIKE %s AND wait_event_type = 'Lock'",
            ["cluster-sweep-%"],
        )
        return cursor.fetchone()[0]


def test_the_sweep_on_both_hosts_at_once_escalates_each_issue_once(cluster):
    running = Issue.objects.filter(status__in=RUNNING_STATUSES, level__in=list(ESCALATES_TO))
    ids = list(running.values_list("pk", flat=True))
    assert len(ids) >= 10, "the demo data has running issues below the subdistrict"
    levels = dict(running.values_list("pk", "level"))
    before = _escalations(ids)
    Issue.objects.filter(pk__in=ids).update(due_at=timezone.now() - timedelta(hours=1))

    # Both sweeps start while this transaction holds the issues table; once both wait for
    # it, it is let go, and they race for the same rows (one issue a batch, many rounds).
    sweeps = []
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Issue._meta.db_table} IN ACCESS EXCLUSIVE MODE")
            for n in (1, 2):
                sweeps.append(
                    cluster.manage(
                        "escalate_overdue", "--batch-size", "1", name=f"cluster-sweep-{n}"
                    )
                )
            _until(lambda: _waiting_for_locks(sweeps) == 2, "both sweeps wait for the table")
        outputs = [sweep.communicate(timeout=WAIT)[0] for sweep in sweeps]
    finally:
        for sweep in sweeps:
            if sweep.poll() is None:
                sweep.kill()
            sweep.wait()
            sweep.stdout.close()
    for sweep, output in zip(sweeps, outputs, strict=True):
        assert sweep.returncode == 0, output

    added = _escalations(ids) - before
    assert added == Counter(ids), "each overdue issue is escalated exactly once"
    moved = dict(Issue.objects.filter(pk__in=ids).values_list("pk", "level"))
    assert moved == {pk: ESCALATES_TO[level] for pk, level in levels.items()}
    # The two summaries add up to the issues: no escalation is counted twice.
    counts = [re.search(r"escalated (\d+)", output) for output in outputs]
    assert all(counts), outputs
    assert sum(int(count[1]) for count in counts) == len(ids), outputs


def test_the_sign_in_throttle_counts_failures_on_both_hosts(cluster, settings):
    limit = settings.AXES_FAILURE_LIMIT
    hosts = [cluster.host_a, cluster.host_b]
    visitor = Visitor()
    # limit - 1 failures, alternating: neither host alone has seen enough to lock.
    for attempt in range(limit - 1):
        refused = visitor.sign_in(hosts[attempt % 2], "resident3", "wrong password")
        assert refused.status == 200 and "/accounts/login/" in refused.url
    # The next failure, on either host, reaches the limit counted over both.
    locked = visitor.sign_in(hosts[(limit - 1) % 2], "resident3", "wrong password")
    assert locked.status == 429
    # Now even the right password is refused, on both hosts.
    for host in hosts:
        assert visitor.sign_in(host, "resident3", PASSWORD).status == 429


def test_host_b_reads_its_figures_from_the_replica_and_writes_to_the_primary(cluster):
    """Host B has DATABASE_REPLICA_URL: a role that may only read. Its dashboards, public
    pages and API list are served through it; its writes (the grid worker's acceptance in
    the first test, which the reader could not have made) go to the primary."""
    reader = os.environ["CLUSTER_READER"]
    staff = Visitor()
    landed = staff.sign_in(cluster.host_b, "subdistrict", PASSWORD)
    assert landed.status == 200
    dashboard = staff.get(f"{cluster.host_b}/dashboard/")
    assert dashboard.status == 200 and 'data-figure="filed"' in dashboard.text
    visitor = Visitor()
    assert visitor.get(f"{cluster.host_b}/").status == 200
    assert visitor.get(f"{cluster.host_b}/dashboard/public/").status == 200
    listed = visitor.get(f"{cluster.host_b}/open311/v2/requests.json")
    assert listed.status == 200 and listed.text.startswith("[")
    # Host B's workers keep their replica connections open (CONN_MAX_AGE): there they are.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND "
            "application_name = 'grid_replica' AND datname = current_database()",
            [reader],
        )
        assert cursor.fetchone()[0] >= 1


def _signed_in_as(page) -> str:
    """The name the navigation bar shows for the person signed in."""
    found = re.search(r'<span class="navbar-text me-2">([^<]*)</span>', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def _rename(cluster, username: str, name: str) -> None:
    """Rename a person as an administrator would, in a process with the hosts' settings
    (their shared cache)."""
    script = (
        "from grids.models import User; "
        f"person = User.objects.get(username={username!r}); "
        f"person.first_name = {name!r}; person.save()"
    )
    shell = cluster.manage("shell", "-c", script, name="cluster-rename")
    output, _ = shell.communicate(timeout=WAIT)
    assert shell.returncode == 0, output


def test_who_is_signed_in_comes_from_the_shared_cache_and_changes_on_both_hosts(cluster):
    """With the hosts' shared cache, the person signed in and their posts are cached
    (grids/auth.py): a change saved anywhere is seen on the next request on either host."""
    assert cluster.env.get("CACHE_URL", "").startswith("dbcache://")
    visitor = Visitor()
    assert visitor.sign_in(cluster.host_a, "gridworker2", PASSWORD).status == 200
    hosts = [cluster.host_a, cluster.host_b]
    try:
        for host in hosts:  # both hosts read (and the first one caches) the person
            page = visitor.get(f"{host}/staff/")
            assert page.status == 200 and _signed_in_as(page) == "刘芳"
        table = cluster.env["CACHE_URL"].removeprefix("dbcache://")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} WHERE cache_key LIKE %s", ["%signed-in:%"]
            )
            assert cursor.fetchone()[0] >= 1, "nobody signed in is in the shared cache"
        _rename(cluster, "gridworker2", "刘芳芳")
        for host in hosts:
            assert _signed_in_as(visitor.get(f"{host}/staff/")) == "刘芳芳"
    finally:
        _rename(cluster, "gridworker2", "刘芳")
