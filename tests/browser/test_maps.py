"""Maps on a phone (360 px) with no tile server: file a report by tapping the map and by
"use my location", see a nearby issue and support it instead, and the staff map."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from issues.models import Issue
from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import BuildingFactory, ResidentFactory
from tests.test_routing import OWN, SIBLING

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def mapped(territory, settings):
    settings.MAP_TILES_URL = ""  # no tile server: the map draws on a plain background
    t = territory
    t.grid.boundary = OWN
    t.grid.save()
    t.sibling_grid.boundary = SIBLING
    t.sibling_grid.save()
    t.home = BuildingFactory(
        grid=t.grid,
        name="全运村A区3号楼",
        latitude=Decimal("36.6150"),
        longitude=Decimal("117.1250"),
    )
    BuildingFactory(
        grid=t.sibling_grid,
        name="全运村B区2号楼",
        latitude=Decimal("36.6150"),
        longitude=Decimal("117.1350"),
    )
    t.resident = ResidentFactory(username="liuxiuying", home_building=t.home)
    return t


def check(page, shot, name):
    assert no_horizontal_scroll(page), f"horizontal scroll on {name}: {page.url}"
    shot(page, name)


def tap_map(page, dx=0.0, dy=0.0):
    """Tap the map at a fraction (dx, dy) of its size away from its centre."""
    box = page.locator("#report-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] * (0.5 + dx), box["y"] + box["height"] * (0.5 + dy))


def fill_problem(page, t, title):
    page.select_option("#id_category", str(t.category.pk))
    page.fill("#id_title", title)
    page.fill("#id_description", "东侧井盖松动，有绊倒风险。")


def test_file_by_tapping_the_map(page, shot, mapped):
    t = mapped
    errors = []
    page.on(
        "response",
        lambda r: r.status >= 400 and "favicon" not in r.url and errors.append(r.url),
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, "liuxiuying")
    page.goto("/report/")
    page.wait_for_timeout(1500)
    assert not errors, errors
    page.wait_for_selector("#report-map svg path")  # the grid boundaries drawn
    check(page, shot, "report-map")
    tap_map(page)
    expect(page.locator("#report-map-status")).to_contain_text("·")
    assert "全运村社区" in page.text_content("#report-map-status")
    assert page.input_value("#id_latitude")
    check(page, shot, "pinned")
    fill_problem(page, t, "井盖松动")
    page.click("#report-form button[type=submit]:not([form])")
    page.wait_for_url("**/my/2*/")
    issue = Issue.objects.get()
    assert issue.grid == t.grid and issue.latitude is not None


def test_file_by_use_my_location(browser, live_server, shot, mapped):
    t = mapped
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        base_url=live_server.url,
        geolocation={"latitude": 36.6152, "longitude": 117.1352},
        permissions=["geolocation"],
    )
    page = context.new_page()
    login(page, "liuxiuying")
    page.goto("/report/")
    page.click("[data-locate]")
    expect(page.locator("#report-map-status")).to_contain_text("全运村B区2号楼")
    check(page, shot, "located")
    assert page.input_value("#id_building") == str(t.sibling_grid.buildings.get().pk)
    fill_problem(page, t, "路灯不亮")
    page.click("#report-form button[type=submit]:not([form])")
    page.wait_for_url("**/my/2*/")
    issue = Issue.objects.get()
    assert issue.grid == t.sibling_grid
    assert (issue.latitude, issue.longitude) == (Decimal("36.615200"), Decimal("117.135200"))
    context.close()


def test_a_nearby_issue_is_offered_and_supported_instead(page, shot, mapped):
    t = mapped
    neighbour = ResidentFactory(username="neighbour", home_building=t.home)
    from issues import workflow
    from issues.models import Source

    earlier = workflow.file_issue(
        actor=neighbour,
        source=Source.RESIDENT,
        category=t.category,
        title="井盖松动",
        description="东侧井盖松动。",
        building=t.home,
    )
    login(page, "liuxiuying")
    page.goto("/report/")
    page.wait_for_selector("#report-map svg path")
    tap_map(page, 0.05, 0.05)
    expect(page.locator("#report-map-status")).to_contain_text("·")
    page.select_option("#id_category", str(t.category.pk))
    button = page.locator("#nearby button")
    expect(button).to_be_visible()
    check(page, shot, "nearby-offered")
    button.click()
    page.wait_for_url("**/track/**")
    check(page, shot, "supported")
    earlier.refresh_from_db()
    assert earlier.support_count == 1
    assert Issue.objects.count() == 1


def test_the_staff_map_shows_markers(page, shot, mapped):
    from tests.factories import IssueFactory, staff_on

    t = mapped
    staff_on(t.grid, username="gridworker")
    IssueFactory(
        grid=t.grid, title="井盖松动", latitude=Decimal("36.6150"), longitude=Decimal("117.1250")
    )
    IssueFactory(
        grid=t.grid, title="路灯不亮", latitude=Decimal("36.6170"), longitude=Decimal("117.1230")
    )
    IssueFactory(
        grid=t.far_grid, title="别处", latitude=Decimal("36.6160"), longitude=Decimal("117.1240")
    )
    login(page, "gridworker")
    page.goto("/staff/map/")
    markers = page.locator("#staff-map path.issue-marker")
    expect(markers).to_have_count(2)
    check(page, shot, "staff-map")
    markers.first.click(force=True)
    expect(page.locator(".leaflet-popup-content a")).to_be_visible()
    check(page, shot, "staff-map-popup")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_map_pages_at_phone_width_in_both_languages(
    page, shot, live_server, settings, language
):
    from io import StringIO

    from django.core.management import call_command

    settings.MAP_TILES_URL = ""
    call_command("seed_demo", stdout=StringIO())
    cookie = {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}
    page.context.add_cookies([cookie])
    page.goto("/map/")
    expect(page.locator("#public-map path.report-marker").first).to_be_attached()
    check(page, shot, f"public-map-{language}")
    login(page, "gridworker")
    page.goto("/staff/map/")
    expect(page.locator("#staff-map path.issue-marker").first).to_be_attached()
    check(page, shot, f"staff-map-{language}")
    login(page, "resident")
    page.goto("/report/")
    page.wait_for_selector("#report-map svg path")
    check(page, shot, f"report-{language}")


def test_the_hotline_finds_the_place_by_address(page, shot, mapped):
    from tests.factories import staff_on

    t = mapped
    staff_on(t.community, username="community")
    login(page, "community")
    page.goto("/staff/hotline/")
    page.fill("#address-search", "B区2号")
    page.click("#address-results button")
    expect(page.locator("#hotline-map-status")).to_contain_text("全运村B区2号楼")
    assert page.input_value("#id_grid") == str(t.sibling_grid.pk)
    check(page, shot, "hotline-found")
    page.fill("#id_caller_name", "李先生")
    page.fill("#id_caller_phone", "13912345678")
    page.select_option("#id_category", str(t.category.pk))
    page.fill("#id_title", "噪音扰民")
    page.fill("#id_description", "夜间施工噪音")
    page.click("#hotline-form button[type=submit]")
    page.wait_for_url("**/staff/issues/**")
    issue = Issue.objects.get()
    assert issue.grid == t.sibling_grid and issue.building.name == "全运村B区2号楼"


def wiggly(west, south, east, north, points=50, nudge=0.0001):
    """A rectangle whose sides zigzag inward by ``nudge`` degrees, ``points`` per side."""
    from itertools import pairwise

    corners = [(west, south), (east, south), (east, north), (west, north), (west, south)]
    ring = []
    for (x0, y0), (x1, y1) in pairwise(corners):
        inward = (
            (y1 - y0) and (x0 == west) - (x0 == east),
            (x1 - x0) and (y0 == south) - (y0 == north),
        )
        for i in range(points):
            x = x0 + (x1 - x0) * i / points + (i % 2) * nudge * inward[0]
            y = y0 + (y1 - y0) * i / points + (i % 2) * nudge * inward[1]
            ring.append([round(x, 6), round(y, 6)])
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_a_closer_view_draws_the_boundaries_finer(page, mapped):
    """The grid shapes come simplified to the view: the first, wide view gets the corners
    of a grid whose sides wiggle by 11 m; zoomed in, the map draws it again with its
    wiggles, and never draws a grid twice."""
    from tests.factories import GridFactory
    from tests.test_geo import square

    t = mapped
    t.grid.boundary = wiggly(117.12, 36.61, 117.13, 36.62)
    t.grid.save()
    # Two grids far to either side: the first view, fitted to every grid, is 150 km wide
    # and centred on this one; seven steps closer it shows this grid's sides.
    GridFactory(code="G-FW", boundary=square(116.32, 36.61, 116.33, 36.62))
    GridFactory(code="G-FE", boundary=square(117.92, 36.61, 117.93, 36.62))
    ResidentFactory(username="newcomer", home_building=None)
    login(page, "newcomer")
    page.goto("/report/")
    page.wait_for_selector("#report-map svg path")
    drawn = """() => Array.from(document.querySelectorAll('#report-map svg path')).map(
        p => (p.getAttribute('d').match(/L/g) || []).length)"""
    first = page.evaluate(drawn)
    assert max(first) < 10, first  # corners only
    for _ in range(7):
        with page.expect_response(lambda r: "grids.geojson" in r.url):
            page.click(".leaflet-control-zoom-in")
        page.wait_for_timeout(300)
    closer = page.evaluate(drawn)
    assert max(closer) > 150, closer  # the wiggles, point by point
    assert len(first) == len(closer) == 4, closer  # the four grids, each drawn once
