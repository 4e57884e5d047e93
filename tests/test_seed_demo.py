"""The demo data (DESIGN.md §7): every account logs in, every status and level is there,
the past looks like a working subdistrict's, and loading it twice changes nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User
from issues import stats, workflow
from issues.models import (
    OPEN_STATUSES,
    RUNNING_STATUSES,
    Category,
    Issue,
    IssueEvent,
    Level,
    Photo,
    SlaPolicy,
    Status,
)
from issues.permissions import visible_issues

DEMO_ACCOUNTS = ["admin", "resident", "gridworker", "community", "subdistrict", "department"]
STAFF_ACCOUNTS = ["gridworker", "community", "subdistrict", "department"]
MODELS = [
    Subdistrict,
    Community,
    Grid,
    Building,
    Department,
    User,
    Post,
    Category,
    SlaPolicy,
    Issue,
    IssueEvent,
    Photo,
]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seeded once for the module, rolled back at its end; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


@pytest.fixture
def demo(seeded, db):
    return seeded


def test_prints_accounts_and_password(demo):
    for username in DEMO_ACCOUNTS:
        assert username in demo
    assert "demo12345" in demo


@pytest.mark.parametrize("username", DEMO_ACCOUNTS)
def test_demo_accounts_log_in(demo, client, username):
    # django-axes wants the request passed to authenticate().
    assert client.login(request=HttpRequest(), username=username, password="demo12345")


def test_accounts_hold_the_documented_posts(demo):
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    first_grid = Grid.objects.filter(community__name="全运村社区").order_by("code").first()
    resident = User.objects.get(username="resident")
    assert resident.home_building.grid == first_grid
    assert resident.phone and resident.get_full_name()
    assert Post.objects.filter(
        user__username="gridworker", role=Post.Role.GRID_WORKER, grid=first_grid
    ).exists()
    assert Post.objects.filter(
        user__username="community", role=Post.Role.COMMUNITY_STAFF, community__name="全运村社区"
    ).exists()
    assert Post.objects.filter(
        user__username="subdistrict", role=Post.Role.SUBDISTRICT_STAFF, subdistrict__code="LD"
    ).exists()
    assert Post.objects.filter(user__username="department", role=Post.Role.DEPARTMENT_STAFF)
    # Every grid has a worker.
    assert not Grid.objects.exclude(posts__role=Post.Role.GRID_WORKER).exists()


def test_every_status_and_level_appears(demo):
    issues = Issue.objects.filter(subdistrict__code="LD")
    assert set(issues.values_list("status", flat=True)) == set(Status.values)
    assert set(issues.values_list("level", flat=True)) == set(Level.values)
    assert issues.filter(department__isnull=False).exists()
    assert issues.filter(reopen_count__gt=0, status=Status.IN_PROGRESS).exists()
    assert issues.filter(duplicate_of__isnull=False, status=Status.REJECTED).exists()
    assert issues.filter(source="hotline").exists()
    assert issues.filter(source="patrol", status=Status.CLOSED).exists()
    # Made through the workflow: every issue was filed, with a history.
    assert IssueEvent.objects.filter(kind=IssueEvent.Kind.FILED).count() == issues.count()


def test_every_demo_staff_account_sees_work(demo):
    for username in STAFF_ACCOUNTS:
        user = User.objects.get(username=username)
        assert visible_issues(user).exists(), username
    resident = User.objects.get(username="resident")
    assert visible_issues(resident).filter(status=Status.RESOLVED).exists()


def test_second_run_changes_nothing(demo):
    before = counts()
    issue_rows = list(Issue.objects.order_by("pk").values())
    out = seed()
    assert counts() == before
    assert list(Issue.objects.order_by("pk").values()) == issue_rows
    assert "demo12345" in out


K = IssueEvent.Kind


def dashboard(days: int):
    """The demo subdistrict on its dashboard over the last ``days`` days, and that period."""
    today = timezone.localdate()
    period = stats.Filters(start=today - timedelta(days=days - 1), end=today)
    subdistrict = Subdistrict.objects.get(code="LD")
    user = User.objects.get(username="subdistrict")
    return stats.load_unit(user, "subdistrict", subdistrict.pk, period), period


def test_the_past_covers_ninety_days_week_by_week(demo):
    unit, period = dashboard(90)
    weeks = stats.trend(unit, period)
    assert len(weeks) >= 13
    assert all(week["filed"] for week in weeks), weeks
    assert sum(week["resolved"] for week in weeks) > 80
    assert any(week["overdue"] for week in weeks)  # some were settled late
    oldest = Issue.objects.order_by("created_at").first().created_at
    assert timezone.now() - timedelta(days=90) < oldest < timezone.now() - timedelta(days=80)


def test_times_to_accept_and_resolve_look_real(demo):
    figures = dashboard(30)[0].figures
    assert 0.5 < figures.accept_hours_median < 8
    assert 8 < figures.resolve_hours_median < 72
    assert 50 < figures.on_time_rate < 100
    assert 50 < figures.satisfaction_rate < 100


def test_issues_and_their_events_were_moved_back_together(demo):
    now = timezone.now()
    events = {}
    for event in IssueEvent.objects.order_by("id"):
        events.setdefault(event.issue_id, []).append(event)
    for issue in Issue.objects.all():
        timeline = events[issue.pk]
        times = [event.created_at for event in timeline]
        assert times == sorted(times) and times[-1] < now, issue.title
        assert (timeline[0].kind, timeline[0].created_at) == (K.FILED, issue.created_at)
        assert issue.updated_at == times[-1]
        at = {event.kind: event.created_at for event in reversed(timeline)}  # the first of each
        assert issue.accepted_at == at.get(K.ACCEPTED)
        # Each dispatch (a re-dispatch after a return, a joint one) sets it anew: the last.
        dispatches = [
            e.created_at for e in timeline if e.kind in (K.DISPATCHED, K.JOINT_DISPATCHED)
        ]
        assert issue.dispatched_at == (dispatches[-1] if dispatches else None)
        arrivals = [e.created_at for e in timeline if e.kind in (K.FILED, K.ESCALATED, K.REOPENED)]
        assert issue.level_entered_at == arrivals[-1]
        # The deadlines as the clock set them: from the arrival at the level, and the first
        # (the grid's) from filing, in hours or working days as the policies say.
        # A deadline a person set by date (督办 with a new deadline) is that date.
        sla = SlaPolicy.table()
        set_by_hand = [e for e in timeline if e.kind == K.SUPERVISION_NOTE and e.data.get("due_at")]
        if set_by_hand:
            assert issue.due_at == parse_datetime(set_by_hand[-1].data["due_at"])
        else:
            assert issue.due_at == workflow.due_after(
                severity=issue.severity, level=issue.level, start=issue.level_entered_at, sla=sla
            )
        assert issue.response_due_at == workflow.due_after(
            severity=issue.severity, level=Level.GRID, start=issue.created_at, sla=sla
        )
        if issue.status not in OPEN_STATUSES:
            assert issue.closed_at == times[-1]


def test_open_issues_are_recent_and_inside_their_deadlines(demo):
    now = timezone.now()
    open_issues = Issue.objects.filter(status__in=OPEN_STATUSES)
    assert open_issues.exists()
    assert not open_issues.filter(created_at__lt=now - timedelta(days=3)).exists()
    assert not Issue.objects.filter(status__in=RUNNING_STATUSES, due_at__lt=now).exists()
    out = StringIO()
    call_command("escalate_overdue", stdout=out)
    assert "escalated 0, put under supervision 0, closed unevaluated 0" in out.getvalue()


def test_the_demo_has_real_shapes_that_tile_without_gaps(demo):
    from shapely import union_all

    from grids import geo

    grids = list(Grid.objects.all())
    assert grids and all(g.boundary for g in grids)
    shapes = [geo.geometry(g.boundary) for g in grids]
    whole = union_all(shapes)
    # No overlaps: the parts add up to the whole; no gaps: the whole is one ring, no holes.
    assert sum(s.area for s in shapes) == pytest.approx(whole.area, rel=1e-9)
    assert whole.geom_type == "Polygon" and not whole.interiors
    assert whole.contains(geo.geometry({"type": "Point", "coordinates": [117.13, 36.62]}))
    for building in Building.objects.select_related("grid"):
        assert geo.grid_at(building.latitude, building.longitude) == building.grid
    issues = Issue.objects.all()
    assert issues and not issues.filter(latitude=None).exists()
    for issue in issues:
        assert geo.grid_at(issue.latitude, issue.longitude).pk == issue.grid_id


def test_seeding_again_keeps_every_place(demo):
    def places():
        return (
            list(Grid.objects.values_list("code", "boundary")),
            list(Building.objects.values_list("pk", "latitude", "longitude")),
            list(Issue.objects.values_list("pk", "latitude", "longitude")),
        )

    before = places()
    seed()
    assert places() == before
