"""The demo data (DESIGN.md §7): every account logs in, every status and level is there,
and loading it twice changes nothing."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.http import HttpRequest

from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User
from issues.models import Category, Issue, IssueEvent, Level, Photo, SlaPolicy, Status
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


@pytest.fixture
def demo(db):
    return seed()


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
