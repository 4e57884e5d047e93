"""The coverage page (一网覆盖): every gap in the network, each linked to its fix."""

from datetime import date
from urllib.parse import parse_qs, urlsplit

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.admin_views import SECTION_LIMIT, calendar_sections
from grids.models import Building, Grid, Post
from issues.models import Category, Holiday
from tests.factories import (
    BuildingFactory,
    CategoryFactory,
    CommunityFactory,
    DepartmentFactory,
    GridFactory,
    UserFactory,
    post_for,
)
from tests.test_geo import square

URL = reverse("admin:coverage")
# Sections checked on the shapes (tests/test_coverage_geometry.py), and the calendar's,
# whose gaps depend on the date (below).
GEOMETRY = {"overlaps", "holes", "misplaced_buildings"}
DATED = {"calendar"}


def gaps(client):
    """{section key: [(label, fix url)]} as the page lists them."""
    response = client.get(URL)
    assert response.status_code == 200
    return {s.key: [(g.label, g.fix_url) for g in s.gaps] for s in response.context["sections"]}


def query(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_page_finds_each_kind_of_gap_and_links_to_its_fix(admin_en, territory, people):
    t, p = territory, people
    # Every unit of the territory fixture is staffed except these:
    lonely_grid = GridFactory(community=t.community, name="孤网格", code="LD-QYC-09")
    p.sibling_worker.is_active = False  # a grid whose only worker left
    p.sibling_worker.save()
    lonely_community = CommunityFactory(subdistrict=t.subdistrict, name="新社区", code="LD-NEW")
    lonely_department = DepartmentFactory(subdistrict=t.subdistrict, name="住建")
    doubtful = BuildingFactory(grid=t.grid, name="存疑楼", stated_community=t.other_community)
    BuildingFactory(grid=t.grid, name="8号楼", stated_community=t.community)  # agrees
    headless = CategoryFactory(name="噪音扰民")

    found = gaps(admin_en)

    grids = dict(found["grids"])
    assert set(grids) == {"孤网格 (LD-QYC-09)", "第二网格 (LD-QYC-02)", "第一网格 (LD-LD-01)"} | {
        f"{t.far_grid.name} (YJ-01-01)"
    }
    assert urlsplit(grids["孤网格 (LD-QYC-09)"]).path == reverse("admin:grids_post_add")
    assert query(grids["孤网格 (LD-QYC-09)"]) == {
        "role": "grid_worker",
        "grid": str(lonely_grid.pk),
    }

    communities = dict(found["communities"])
    assert "新社区 (LD-NEW)" in communities and "全运村社区 (LD-QYC)" not in communities
    assert query(communities["新社区 (LD-NEW)"]) == {
        "role": "community_staff",
        "community": str(lonely_community.pk),
    }

    subdistricts = dict(found["subdistricts"])
    assert "龙洞街道 (LD)" not in subdistricts  # staffed
    assert list(subdistricts) == []  # the far subdistrict has staff too (farstaff)

    departments = dict(found["departments"])
    assert set(departments) == {"住建"}
    assert query(departments["住建"]) == {
        "role": "department_staff",
        "department": str(lonely_department.pk),
    }

    assert found["buildings"] == [
        ("存疑楼", reverse("admin:grids_building_change", args=[doubtful.pk]))
    ]
    assert found["categories"] == [
        ("噪音扰民", reverse("admin:issues_category_change", args=[headless.pk]))
    ]


def test_each_fix_link_leads_to_a_page_that_closes_the_gap(admin_en, territory, people):
    t = territory
    lonely_grid = GridFactory(community=t.community, name="孤网格", code="LD-QYC-09")
    [fix] = [url for label, url in gaps(admin_en)["grids"] if "LD-QYC-09" in label]
    form = admin_en.get(fix).context["adminform"].form
    assert form.initial["role"] == "grid_worker"
    newcomer = UserFactory(username="newcomer")
    admin_en.post(
        urlsplit(fix).path,
        {"user": newcomer.pk, "role": form.initial["role"], "grid": form.initial["grid"]},
    )
    assert Post.objects.filter(user=newcomer, grid=lonely_grid).exists()
    assert "孤网格 (LD-QYC-09)" not in dict(gaps(admin_en)["grids"])

    doubtful = BuildingFactory(grid=t.grid, name="存疑楼", stated_community=t.other_community)
    [(_label, fix)] = gaps(admin_en)["buildings"]
    page = admin_en.get(fix)
    assert page.status_code == 200
    assert 'name="stated_community"' in page.content.decode()
    Building.objects.filter(pk=doubtful.pk).update(grid=t.cousin_grid)  # moved to LD-LD
    assert gaps(admin_en)["buildings"] == []


def test_a_fully_covered_network_says_so(admin_en, territory, people):
    t = territory
    for grid in Grid.objects.filter(posts__isnull=True):
        post_for(UserFactory(), grid)
    post_for(UserFactory(), t.other_department)
    post_for(UserFactory(), t.far_grid.community)
    Category.objects.filter(department__isnull=True).update(department=t.department)
    # Every grid has a boundary: the two of 全运村社区 side by side, the others apart.
    for grid, west in ((t.grid, 117.10), (t.sibling_grid, 117.11)):
        grid.boundary = square(west, 36.60, west + 0.01, 36.61)
        grid.save()
    for grid, south in ((t.cousin_grid, 36.62), (t.far_grid, 36.64)):
        grid.boundary = square(117.10, south, 117.11, south + 0.01)
        grid.save()
    # ...and the working calendar has this year and, in December, next year.
    today = timezone.localdate()
    for year in (today.year, today.year + 1):
        Holiday.objects.get_or_create(
            date=date(year, 1, 1), defaults={"kind": Holiday.Kind.DAY_OFF, "name": "元旦"}
        )
    response = admin_en.get(URL)
    assert response.context["gap_total"] == 0
    assert "No gaps: one network covers everything." in response.content.decode()


def test_the_page_runs_the_same_queries_however_many_gaps(admin_en, territory):
    # One gap of each kind at first (no one holds a post in the bare territory)...
    CategoryFactory()
    BuildingFactory(grid=territory.grid, stated_community=territory.other_community)
    admin_en.get(URL)
    sections = admin_en.get(URL).context["sections"]
    assert all(s.count for s in sections if s.key not in GEOMETRY | DATED)
    with CaptureQueriesContext(connection) as few:
        admin_en.get(URL)
    community = CommunityFactory(subdistrict=territory.subdistrict)
    Grid.objects.bulk_create(
        Grid(community=community, name=f"网格{i}", code=f"BULK-{i:03d}")
        for i in range(SECTION_LIMIT + 5)
    )
    CategoryFactory.create_batch(3)
    for _ in range(5):
        BuildingFactory(grid=territory.grid, stated_community=territory.other_community)
        DepartmentFactory(subdistrict=territory.subdistrict)
        CommunityFactory(subdistrict=territory.subdistrict)
    # ...then many: the same queries.
    with CaptureQueriesContext(connection) as many:
        response = admin_en.get(URL)
    assert len(many) == len(few)
    grids = next(s for s in response.context["sections"] if s.key == "grids")
    assert grids.count == SECTION_LIMIT + 5 + 4  # the bulk ones and the fixture's four
    assert len(grids.gaps) == SECTION_LIMIT
    page = response.content.decode()
    assert "And 9 more: see them all." in page
    # "See them all" opens the grid list filtered to the same grids.
    listed = admin_en.get(reverse("admin:grids_grid_changelist") + "?staffing=none")
    assert listed.context["cl"].result_count == grids.count


def test_only_staff_with_the_permission_see_the_page(client, territory):
    assert client.get(URL).status_code == 302  # to the admin's sign-in
    client.force_login(UserFactory(is_staff=True))  # staff without model permissions
    assert client.get(URL).status_code == 403
    client.force_login(UserFactory(is_staff=False))
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response.url


def test_the_admin_index_links_to_the_page(admin_en):
    assert URL in admin_en.get(reverse("admin:index")).content.decode()


def test_a_missing_year_of_the_working_calendar_is_a_gap_from_december(db):
    Holiday.objects.all().delete()
    Holiday.objects.create(date=date(2026, 10, 1), kind=Holiday.Kind.DAY_OFF, name="国庆节")

    def missing(today):
        (section,) = calendar_sections(today)
        return [gap.label for gap in section.gaps]

    # Through November only the present year is needed; from 1 December the next as well.
    assert missing(date(2026, 11, 30)) == []
    assert missing(date(2026, 12, 1)) == ["2027"]
    assert missing(date(2027, 3, 1)) == ["2027"]
    Holiday.objects.create(date=date(2027, 1, 1), kind=Holiday.Kind.DAY_OFF, name="元旦")
    assert missing(date(2026, 12, 1)) == []
    (section,) = calendar_sections(date(2027, 12, 2))
    assert [gap.label for gap in section.gaps] == ["2028"]
    assert section.gaps[0].fix_url == reverse("admin:issues_holiday_add")
