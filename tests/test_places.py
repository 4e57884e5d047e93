"""What the maps ask the server: grid shapes in a box, what lies at a point, and the
map's configuration (tiles, coordinate system) as the page carries it."""

import json
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse

from tests.factories import BuildingFactory, GridFactory
from tests.test_geo import EAST, WEST, square


@pytest.fixture
def grids(db):
    return GridFactory(code="G-A", boundary=WEST), GridFactory(code="G-B", boundary=EAST)


def test_grid_shapes_returns_the_grids_in_the_box(client, grids, django_assert_max_num_queries):
    GridFactory(boundary=None)
    with django_assert_max_num_queries(1):
        data = client.get(reverse("grid_shapes"), {"bbox": "117.10,36.60,117.115,36.61"}).json()
    assert [f["properties"]["code"] for f in data["features"]] == ["G-A"]
    assert data["features"][0]["geometry"] == WEST
    data = client.get(reverse("grid_shapes"), {"bbox": "117.0,36.0,118.0,37.0"}).json()
    assert [f["properties"]["code"] for f in data["features"]] == ["G-A", "G-B"]


def test_grid_shapes_are_as_detailed_as_the_view(client, db, django_assert_max_num_queries):
    """A street view gets every point of a traced boundary; a view of a whole district
    gets it simplified to within a pixel (its corners), and a grid smaller than a pixel
    keeps its shape rather than vanishing."""
    from shapely.geometry import shape

    # A 2 km square whose south side wiggles by 2 to 4 m over 200 points.
    south = [
        [round(117.10 + i / 10000, 6), round(36.60 + (i % 2) * (0.00002 + i / 10**7), 7)]
        for i in range(200)
    ]
    ring = [*south, [117.12, 36.60], [117.12, 36.62], [117.10, 36.62], south[0]]
    traced = GridFactory(code="G-T", boundary={"type": "Polygon", "coordinates": [ring]})
    tiny = GridFactory(code="G-U", boundary=square(117.13, 36.61, 117.13001, 36.61001))

    def shapes(bbox):
        with django_assert_max_num_queries(1):
            response = client.get(reverse("grid_shapes"), {"bbox": bbox})
        assert response["Content-Type"] == "application/json"
        return {f["properties"]["code"]: f for f in response.json()["features"]}

    street = shapes("117.099,36.599,117.121,36.621")
    assert street["G-T"]["geometry"] == traced.boundary
    assert street["G-T"]["properties"] == {
        "id": traced.pk,
        "code": "G-T",
        "name": traced.name,
        "community": traced.community.name,
    }
    district = shapes("116.9,36.4,117.3,36.8")
    simplified = district["G-T"]["geometry"]["coordinates"][0]
    assert len(simplified) < 10 < len(ring)
    assert shape(district["G-T"]["geometry"]).area == pytest.approx(
        shape(traced.boundary).area, rel=1e-3
    )
    assert shape(district["G-U"]["geometry"]).equals(shape(tiny.boundary))


@pytest.mark.parametrize("bbox", ["", "1,2,3", "a,b,c,d", "118,37,117,36", "nan,1,2,3"])
def test_grid_shapes_refuses_a_bad_box(client, db, bbox):
    assert client.get(reverse("grid_shapes"), {"bbox": bbox}).status_code == 400


def test_place_at_names_the_grid_and_the_nearest_building(client, grids):
    west, _ = grids
    BuildingFactory(
        grid=west, name="近楼", latitude=Decimal("36.6101"), longitude=Decimal("117.1101")
    )
    BuildingFactory(
        grid=west, name="远楼", latitude=Decimal("36.6110"), longitude=Decimal("117.1110")
    )
    data = client.get(reverse("place_at"), {"lat": "36.61", "lng": "117.11"}).json()
    assert data["grid"]["code"] == "G-A"
    assert data["building"]["name"] == "近楼" and data["building"]["distance_m"] == 14
    data = client.get(reverse("place_at"), {"lat": "36.70", "lng": "117.11"}).json()
    assert data == {"grid": None, "building": None}
    assert client.get(reverse("place_at"), {"lat": "x"}).status_code == 400


def render_config(user=None):
    html = Template("{% load maps %}{% map_config %}").render(Context({"user": user}))
    return json.loads(html.split(">", 1)[1].rsplit("<", 1)[0])


def test_the_map_works_without_tiles_by_default(db, settings):
    settings.MAP_TILES_URL = ""
    config = render_config()
    assert config["tilesUrl"] == "" and config["coordinates"] == "wgs84"
    assert config["gridsUrl"] == "/places/grids.geojson"


def test_a_tile_server_is_allowed_by_the_content_security_policy():
    from config.settings import _tile_origin

    url = "https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
    assert _tile_origin(url) == "https://*.tianditu.gov.cn"
    assert _tile_origin("https://gis.city.example/tiles/{z}/{x}/{y}.png") == (
        "https://gis.city.example"
    )


def test_pages_naming_a_grid_leave_its_boundary_out(client, territory, people):
    """The pages that only name an issue's or a notice's grid (the issue pages, the patrol
    list, the notices, a helper's pages) never fetch its boundary: a grid traced on a real
    map is kilobytes of GeoJSON per row. Each shows the grid's name all the same."""
    from issues import workflow
    from issues.models import Notification, Source, Status
    from tests.factories import ResidentFactory, issue_at

    t, p = territory, people
    ring = [[117.0 + i / 1000, 36.0] for i in range(300)] + [[117.1, 36.1], [117.0, 36.0]]
    t.grid.boundary = {"type": "Polygon", "coordinates": [ring]}
    t.grid.name = "第一网格（边界）"
    t.grid.save()
    filed = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident, building=None)
    patrol = issue_at(t, status=Status.IN_PROGRESS, reporter=p.worker, source=Source.PATROL)
    volunteer = ResidentFactory(is_volunteer=True, home_building__grid=t.grid)
    opened = workflow.open_to_volunteers(
        issue=issue_at(t, status=Status.IN_PROGRESS, building=None), actor=p.worker
    )
    Notification.objects.create(
        user=p.worker, reason=Notification.Reason.NEW_AT_UNIT, issue_count=3, grid=t.grid
    )
    pages = [
        (p.worker, reverse("staff_issue_detail", args=[filed.tracking_number]), "issue"),
        (p.resident, reverse("my_issue_detail", args=[filed.tracking_number]), "issue"),
        (p.worker, reverse("staff_patrol_list"), "reports"),
        (p.worker, reverse("notifications"), "page"),
        (volunteer, reverse("participate"), "open_issues"),
        (volunteer, reverse("participate_issue", args=[opened.tracking_number]), "issue"),
    ]
    assert patrol.grid_id == t.grid.pk
    for user, url, name in pages:
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        shown = response.context[name]
        rows = [shown] if hasattr(shown, "grid_id") else list(shown)
        assert rows, url
        for row in rows:
            assert "boundary" in row.grid.get_deferred_fields(), url
        assert "第一网格（边界）" in response.text, url


def test_forms_routing_admin_and_exports_leave_the_boundary_out(admin_en, territory, people):
    """The building pickers, the nearest building to a point, the admin's lists of
    issues, buildings, posts and people, the exports of buildings and posts, and the
    finder's, patrol's and hotline's grid choices read a grid's name but never its
    boundary; each list still names the grid."""
    from grids import geo
    from grids.forms import buildings_with_units
    from grids.models import Building, Post
    from grids.resources.staff import PostResource
    from grids.resources.territory import BuildingResource, GridResource
    from tests.factories import issue_at

    t, client = territory, admin_en
    t.grid.boundary = WEST
    t.grid.name = "第一网格（边界）"
    t.grid.save()
    BuildingFactory(
        grid=t.grid, name="近楼", latitude=Decimal("36.6101"), longitude=Decimal("117.1101")
    )
    issue_at(t, reporter=people.resident)

    def left_out(grid):
        return "boundary" in grid.get_deferred_fields()

    assert geo.nearest_building(36.61, 117.11).grid == t.grid
    assert left_out(geo.nearest_building(36.61, 117.11).grid)
    assert all(left_out(b.grid) for b in buildings_with_units().filter(grid=t.grid))
    for resource in (BuildingResource(), PostResource()):
        rows = list(resource.get_queryset().filter(grid=t.grid))
        assert rows and all(left_out(row.grid) for row in rows), resource
    assert left_out(GridResource().get_queryset().get(pk=t.grid.pk))
    lists = {
        "admin:issues_issue_changelist": lambda row: [row.grid],
        "admin:grids_building_changelist": lambda row: [row.grid],
        "admin:grids_grid_changelist": lambda row: [row],
        "admin:grids_post_changelist": lambda row: [row.grid] if row.grid_id else [],
        "admin:grids_user_changelist": lambda row: [p.grid for p in row.posts.all() if p.grid_id],
    }
    for name, grids_of in lists.items():
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        grids = [grid for row in response.context["cl"].result_list for grid in grids_of(row)]
        assert grids and all(left_out(grid) for grid in grids), name
        assert "第一网格（边界）" in response.text, name
    assert Post.objects.filter(grid=t.grid).exists() and Building.objects.filter(grid=t.grid)
    # The choices of the building finder and of the patrol and hotline forms.
    from grids.forms import BuildingFinder
    from issues.forms.staff import HotlineForm, PatrolForm

    finder = BuildingFinder({"find-community": t.community.pk})
    assert all(left_out(grid) for grid in finder.fields["grid"].queryset)
    for form in (PatrolForm(user=people.worker), HotlineForm(user=people.community_staff)):
        grids = list(form.fields["grid"].queryset)
        buildings = list(form.fields["building"].queryset)
        assert t.grid in grids and any(b.grid == t.grid for b in buildings), form
        assert all(left_out(g) for g in grids) and all(left_out(b.grid) for b in buildings)
