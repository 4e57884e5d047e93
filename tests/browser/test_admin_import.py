"""An administrator builds the grid network from a file, in a desktop browser:
a grid file with one bad row is refused (nothing imported), the corrected file is
checked and imported (by the task worker: under the tests' immediate backend, at once),
and the coverage page flags the new grid that has no worker yet. The import's pages pass
axe at 360 px in both languages. A screenshot per step goes to test-artifacts/."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from grids.models import Grid, User
from tests.browser.conftest import no_horizontal_scroll
from tests.factories import CommunityFactory, GridFactory, SubdistrictFactory, staff_on

pytestmark = pytest.mark.django_db(transaction=True)

BAD = (
    "code,name,community_code\n"
    "LD-QYC-02,第二网格,LD-QYC\n"
    "LD-XX-01,错社区网格,LD-XX\n"  # no community has this code
)
GOOD = "code,name,community_code\nLD-QYC-02,第二网格,LD-QYC\nLD-QYC-03,第三网格,LD-QYC\n"


@pytest.fixture
def desktop(browser, live_server):
    """The admin is a desktop tool: a 1280 px wide page in Simplified Chinese."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=live_server.url
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def upload(page, path):
    page.goto("/admin/grids/grid/import/")
    page.set_input_files("#id_import_file", str(path))
    page.select_option("#id_format", label="csv")
    page.click("#content-main input[type=submit], #content input[type=submit]")
    page.wait_for_load_state()


def serious_findings(browser, live_server, desktop, url, shot=None) -> list[str]:
    """axe on one admin page at 360 px, in Chinese and in English (signed in as the
    desktop page is); the page must not scroll sideways either."""
    found = []
    state = desktop.context.storage_state()
    for locale in ("zh-CN", "en-US"):
        context = browser.new_context(
            viewport={"width": 360, "height": 800},
            locale=locale,
            base_url=live_server.url,
            storage_state=state,
        )
        page = context.new_page()
        page.goto(url)
        if shot is not None:
            shot(page, f"phone-{locale}")
        if not no_horizontal_scroll(page):
            found.append(f"{locale} scrolls sideways at 360 px")
        found += [
            f"{locale} {v['id']}"
            for v in Axe().run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        context.close()
    return found


def test_admin_imports_grids_and_sees_the_coverage_gap(
    desktop, shot, tmp_path, browser, live_server
):
    page = desktop
    subdistrict = SubdistrictFactory(code="LD", name="龙洞街道")
    community = CommunityFactory(subdistrict=subdistrict, code="LD-QYC", name="全运村社区")
    staffed = GridFactory(community=community, code="LD-QYC-01", name="第一网格")
    staff_on(staffed, username="gridworker")
    User.objects.create_superuser("admin", "admin@grid.example", "demo12345")

    page.goto("/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "demo12345")
    page.click("input[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#site-name").inner_text() == "网格化治理后台管理"
    shot(page, "admin-home")

    # A file with one bad row: every bad row is shown, nothing is imported.
    bad = tmp_path / "grids.csv"
    bad.write_text(BAD, encoding="utf-8")
    upload(page, bad)
    bad_row = page.locator("#bad-rows tbody tr")
    assert bad_row.count() == 1
    assert bad_row.locator("th").inner_text() == "2"
    message = bad_row.locator(".errorlist li")
    assert message.is_visible()  # in plain sight, not only on hover
    assert "community_code" in message.inner_text() and "LD-XX" in message.inner_text()
    assert page.locator(".errornote").first.is_visible()
    assert page.locator("input[type=submit]").count() == 0  # nothing to confirm
    assert Grid.objects.count() == 1
    shot(page, "bad-row-refused")
    assert serious_findings(browser, live_server, page, page.url, shot) == []

    # The corrected file: a preview, then the import on confirmation.
    good = tmp_path / "grids-fixed.csv"
    good.write_text(GOOD, encoding="utf-8")
    upload(page, good)
    assert "导入将新增 2" in page.locator("#content-main").inner_text()
    assert Grid.objects.count() == 1  # still only checked
    shot(page, "checked")
    assert serious_findings(browser, live_server, page, page.url, shot) == []
    page.click("#content-main input[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#content-main .success").count() == 1
    assert set(Grid.objects.values_list("code", flat=True)) == {
        "LD-QYC-01",
        "LD-QYC-02",
        "LD-QYC-03",
    }
    shot(page, "imported")

    # The coverage page, from the admin's home page, flags the new grids without a worker.
    page.goto("/admin/")
    page.click("#coverage-module a")
    page.wait_for_load_state()
    gaps = page.locator("#gaps-grids")
    text = gaps.inner_text()
    assert "第三网格 (LD-QYC-03)" in text and "第二网格 (LD-QYC-02)" in text
    assert "LD-QYC-01" not in text
    shot(page, "coverage")

    # Its fix link opens the add-post page with the grid already chosen.
    gaps.locator("tr", has_text="LD-QYC-03").locator("a.addlink").click()
    page.wait_for_load_state()
    assert page.locator("#id_role").input_value() == "grid_worker"
    assert "第三网格" in page.locator("#post_form").inner_text()
    shot(page, "add-grid-worker")
