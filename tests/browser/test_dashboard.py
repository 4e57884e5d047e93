"""The dashboard in a phone-sized browser: the subdistrict account opens it, the charts are
drawn, and it drills down to a community and a grid."""

from datetime import timedelta

import pytest
from django.utils import timezone

from issues import rollups
from issues.models import Level, Satisfaction, Severity, Source, Status
from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import (
    CategoryFactory,
    CommunityFactory,
    DepartmentFactory,
    GridFactory,
    IssueFactory,
    SubdistrictFactory,
    UserFactory,
    staff_on,
)

CHART_STATE = """
(canvas) => {
  const chart = Chart.getChart(canvas);
  const context = canvas.getContext("2d");
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { painted += 1; } }
  const points = chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0;
  return {width: canvas.width, height: canvas.height, painted: painted, chart: !!chart,
          points: points};
}
"""


def build_subdistrict():
    subdistrict = SubdistrictFactory(name="龙洞街道", code="LD")
    community = CommunityFactory(subdistrict=subdistrict, name="全运村社区", code="LD-QYC")
    other = CommunityFactory(subdistrict=subdistrict, name="龙洞社区", code="LD-LD")
    grid = GridFactory(community=community, name="第一网格", code="LD-QYC-01")
    grids = [grid, GridFactory(community=community, name="第二网格", code="LD-QYC-02")]
    grids.append(GridFactory(community=other, name="第三网格", code="LD-LD-01"))
    staff_on(subdistrict, username="subdistrict")
    worker = staff_on(grid, username="gridworker", first_name="张伟")
    department = DepartmentFactory(subdistrict=subdistrict, name="城管执法中队")
    categories = [CategoryFactory(name=name) for name in ("市容环境", "噪音扰民", "道路设施")]
    now = timezone.now()
    fates = [
        dict(status=Status.CLOSED, level=Level.GRID, satisfaction=Satisfaction.SATISFIED),
        dict(status=Status.CLOSED, level=Level.COMMUNITY, severity=Severity.URGENT),
        dict(status=Status.IN_PROGRESS, level=Level.GRID),
        dict(status=Status.SUBMITTED, level=Level.SUBDISTRICT, is_supervised=True, department=None),
        dict(status=Status.RESOLVED, level=Level.GRID, source=Source.PATROL),
    ]
    for n in range(40):
        fate = dict(fates[n % len(fates)])
        if "department" in fate:
            fate["department"] = department
        created = now - timedelta(days=n % 28, hours=n % 5 + 1)
        running = fate["status"] in (Status.SUBMITTED, Status.IN_PROGRESS)
        settled = fate["status"] in (Status.CLOSED, Status.RESOLVED)
        IssueFactory(
            grid=grids[n % 3],
            category=categories[n % 3],
            reporter=None,
            created_at=created,
            level_entered_at=created,
            accepted_at=None
            if fate["status"] == Status.SUBMITTED
            else created + timedelta(hours=2),
            resolved_at=created + timedelta(hours=20 + n) if settled else None,
            due_at=created + timedelta(hours=48) if not running else now - timedelta(hours=n % 4),
            assignee=worker if grids[n % 3] == grid else None,
            **fate,
        )
    rollups.rebuild()  # the rows above were written directly, not by the workflow
    return grid


def charts_are_drawn(page):
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() >= 3
    for i in range(canvases.count()):
        state = canvases.nth(i).evaluate(CHART_STATE)
        assert state["chart"], state
        assert state["width"] > 0 and state["height"] > 0, state
        assert state["points"] > 0, state
        assert state["painted"] > 100, state  # something was drawn, not a blank canvas


@pytest.mark.django_db(transaction=True)
def test_subdistrict_opens_the_dashboard_and_drills_down(page, shot):
    grid = build_subdistrict()
    login(page, "subdistrict")
    page.goto("/dashboard/")
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("龙洞街道")
    assert page.locator('[data-figure="filed"] .figure-value').inner_text() == "40"
    charts_are_drawn(page)
    # Every chart has a table with the same numbers under it.
    assert (
        page.locator("section:has(canvas[data-chart]) table").count()
        == page.locator("canvas[data-chart]").count()
    )
    assert page.locator("#departments-table tbody tr").count() == 1
    shot(page, "subdistrict")
    assert no_horizontal_scroll(page)

    # Sort the communities by the number filed; the heading says so.
    page.locator("#ranking-table thead a").nth(1).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#ranking-table th[aria-sort]").count() == 1
    shot(page, "sorted")

    page.locator("#ranking-table tbody a", has_text="全运村社区").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("全运村社区")
    charts_are_drawn(page)
    shot(page, "community")

    page.locator("#ranking-table tbody a", has_text="第一网格").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("第一网格")
    assert (
        page.url.endswith(f"/dashboard/grid/{grid.pk}/")
        or f"/dashboard/grid/{grid.pk}/?" in page.url
    )
    charts_are_drawn(page)
    assert page.locator("#ranking-table tbody a", has_text="张伟").count() == 1
    assert no_horizontal_scroll(page)
    shot(page, "grid")


@pytest.mark.django_db(transaction=True)
def test_an_administrator_sees_the_whole_city_and_goes_down_to_a_subdistrict(page, shot):
    build_subdistrict()
    UserFactory(username="cityadmin", is_superuser=True, is_staff=True)
    login(page, "cityadmin")
    page.goto("/dashboard/")
    page.locator("a", has_text="全市").first.click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("全市")
    assert page.locator('[data-figure="filed"] .figure-value').inner_text() == "40"
    charts_are_drawn(page)
    assert no_horizontal_scroll(page)
    shot(page, "city")
    page.locator("#ranking-table tbody a", has_text="龙洞街道").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("h1").inner_text().startswith("龙洞街道")
    # Its breadcrumb leads back to the city.
    page.locator("nav .breadcrumb a", has_text="全市").click()
    page.wait_for_load_state("networkidle")
    assert page.url.split("?")[0].endswith("/dashboard/city/")


@pytest.mark.django_db(transaction=True)
def test_public_figures_on_a_phone(page, shot):
    build_subdistrict()
    page.goto("/dashboard/public/")
    assert page.locator('[data-figure="filed"] .figure-value').inner_text() == "40"
    assert no_horizontal_scroll(page)
    shot(page, "public")


TABLE_FITS = """
(table) => table.scrollWidth <= table.parentElement.clientWidth
"""


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_dashboard_is_compact_on_a_phone_and_fits_on_a_laptop(page, shot, live_server, language):
    build_subdistrict()
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    login(page, "subdistrict")
    page.goto("/dashboard/")
    page.wait_for_load_state("networkidle")
    shot(page, f"phone-{language}")
    height = page.evaluate("document.documentElement.scrollHeight")
    figures_height = page.locator("section:has(#figures-heading)").bounding_box()["height"]
    cards = page.locator(".figure-card")
    first, second = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
    phone_scrolls = not no_horizontal_scroll(page)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    page.wait_for_load_state("networkidle")
    shot(page, f"laptop-{language}")
    tables = ("#ranking-table", "#departments-table")
    fits = {table: page.locator(table).evaluate(TABLE_FITS) for table in tables}
    print(f"360 px: page {height}, figures {figures_height}; tables fit at 1280 px: {fits}")

    assert first["y"] == second["y"], "two figure cards per row on a phone"
    # With one card per row and every explanation shown, the figures alone took about
    # 2,000 px (three screens) and the page 5,000 (zh) to 5,700 (en) px.
    # (The medians read from the rollups say the range they lie in: a line more each.)
    assert figures_height < 900, figures_height
    # The closed loop's eight figures and the list awaiting verification add a section
    # (about 400 px in English), the party members' and volunteers' six figures another
    # (about 350 px).
    assert height < 5500, height
    assert not phone_scrolls
    assert all(fits.values()), fits
