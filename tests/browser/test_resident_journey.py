"""The resident's journey on a phone (360 px), in headless Chromium on a live server:
sign up choosing the building through the picker, report with a photo, see the tracking
number; staff resolve it (through the workflow); evaluate 不满意 with a reason; after a
second resolution evaluate 满意. Every page has no horizontal scroll; a screenshot per step.
"""

import pytest
from PIL import Image

from grids.models import User
from issues import workflow
from issues.models import Issue, Status
from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import BuildingFactory, CategoryFactory, ResidentFactory, staff_on

pytestmark = pytest.mark.django_db(transaction=True)


def check(page, shot, name):
    assert no_horizontal_scroll(page), f"horizontal scroll on {name}: {page.url}"
    shot(page, name)


def test_resident_journey(page, shot, territory, tmp_path):
    t = territory
    worker = staff_on(t.grid, username="gridworker", first_name="张伟")
    BuildingFactory(grid=t.grid, name="全运村A区1号楼")
    home = BuildingFactory(grid=t.grid, name="全运村A区3号楼", address="经十东路33366号")
    BuildingFactory(grid=t.sibling_grid, name="全运村B区2号楼")
    BuildingFactory(grid=t.cousin_grid, name="龙洞新村1号楼")
    CategoryFactory(name="路灯照明", hint="路灯不亮、闪烁")
    photo = tmp_path / "lamp.jpg"
    Image.new("RGB", (320, 240), (30, 60, 90)).save(photo, "JPEG")

    # 1. Sign up, choosing the building community → grid → building through the picker.
    page.goto("/accounts/signup/")
    check(page, shot, "signup")
    page.click("details.building-finder > summary")
    page.select_option("#id_find-community", str(t.community.pk))
    page.wait_for_selector(f'#id_find-grid option[value="{t.grid.pk}"]', state="attached")
    page.select_option("#id_find-grid", str(t.grid.pk))
    page.wait_for_selector(
        f'#id_home_building option[value="{t.sibling_grid.buildings.get().pk}"]',
        state="detached",
    )
    page.select_option("#id_home_building", str(home.pk))
    check(page, shot, "signup-building-chosen")
    page.fill("#id_first_name", "刘秀英")
    page.fill("#id_phone", "139-5310-0009")
    page.fill("#id_password1", "Quiet-river-42")
    page.fill("#id_password2", "Quiet-river-42")
    page.click("#signup-form button[type=submit]:not([form])")
    page.wait_for_url("**/report/")
    resident = User.objects.get(phone="13953100009")
    assert resident.home_building == home and resident.first_name == "刘秀英"

    # 2. Report with a photo; the home building is already chosen.
    check(page, shot, "report-form")
    assert page.input_value("#id_building") == str(home.pk)
    page.select_option("#id_category", label="路灯照明 — 路灯不亮、闪烁")
    page.fill("#id_title", "3号楼前路灯不亮")
    page.fill("#id_description", "晚上路灯不亮，老人出行不便。")
    page.set_input_files("#id_photos", str(photo))
    page.click("#report-form button[type=submit]:not([form])")
    page.wait_for_url("**/my/*/")
    issue = Issue.objects.get()
    assert issue.reporter == resident and issue.photos.count() == 1
    assert page.inner_text(".tracking-number") == issue.tracking_number
    assert "张某" in page.inner_text("main")
    assert page.locator("img.photo-thumb").count() == 1
    check(page, shot, "filed-tracking-number")

    # 3. The grid worker accepts and resolves it (staff pages are another issue's work).
    issue = workflow.accept(issue=issue, actor=worker)
    workflow.resolve(issue=issue, actor=worker, note="已更换灯泡")
    page.goto("/notifications/")
    page.click(".navbar-toggler")
    page.wait_for_selector("#main-nav.collapse.show")  # the menu has finished opening
    assert page.inner_text("#nav-notifications .badge").startswith("2")
    check(page, shot, "navigation-with-unread-count")
    page.reload()
    check(page, shot, "notifications")
    page.locator("button.notification-open").first.click()
    page.wait_for_url(f"**/my/{issue.tracking_number}/")

    # 4. Not satisfied: the reason is required, then the issue is handled again.
    check(page, shot, "resolved-evaluate")
    page.check("input[name=satisfaction][value=dissatisfied]")
    page.click("#evaluate-form button[type=submit]")
    page.wait_for_selector("#error_1_id_reason")
    check(page, shot, "dissatisfied-needs-reason")
    assert Issue.objects.get().status == Status.RESOLVED
    page.check("input[name=satisfaction][value=dissatisfied]")
    page.fill("#id_reason", "灯还是一闪一闪的")
    page.click("#evaluate-form button[type=submit]")
    page.wait_for_url(f"**/my/{issue.tracking_number}/")
    issue = Issue.objects.get()
    assert issue.status == Status.IN_PROGRESS and issue.reopen_count == 1
    assert "灯还是一闪一闪的" in page.inner_text("#timeline")
    check(page, shot, "reopened")

    # 5. Resolved again; this time satisfied, and the issue is closed.
    workflow.resolve(issue=issue, actor=worker, note="更换了整套灯具")
    page.reload()
    page.check("input[name=satisfaction][value=satisfied]")
    page.click("#evaluate-form button[type=submit]")
    page.wait_for_url(f"**/my/{issue.tracking_number}/")
    issue = Issue.objects.get()
    assert issue.status == Status.CLOSED and issue.satisfaction == "satisfied"
    check(page, shot, "closed")

    # 6. My issues, and tracking by number without signing in.
    page.goto("/my/")
    assert issue.tracking_number in page.inner_text("main")
    check(page, shot, "my-issues")
    page.context.clear_cookies()
    page.goto("/track/")
    page.fill("#id_number", issue.tracking_number)
    page.click("main form button[type=submit]")
    page.wait_for_selector("#track-result")
    assert "3号楼前路灯不亮" not in page.content()
    check(page, shot, "track")


def test_finding_a_building_by_name_without_javascript(browser, live_server, shot, territory):
    """The picker works with JavaScript off: "Find" reloads the page with the matches."""
    BuildingFactory(grid=territory.cousin_grid, name="龙洞农贸市场")
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        locale="zh-CN",
        base_url=live_server.url,
        java_script_enabled=False,
    )
    page = context.new_page()
    try:
        page.goto("/accounts/signup/")
        page.click("details.building-finder > summary")
        page.fill("#id_find-q", "农贸")
        page.click('button[form="building-finder"]')
        page.wait_for_url("**find-q=*")
        chosen = page.locator("#id_home_building option:checked").inner_text()
        assert "龙洞农贸市场" in chosen
        check(page, shot, "signup-no-javascript")
    finally:
        context.close()


def test_switching_to_english(page, shot, territory):
    ResidentFactory(username="resident", home_building__grid=territory.grid)
    login(page, "resident")
    page.goto("/my/")
    page.click(".navbar-toggler")
    # The menu slides open: click once it has settled (a click mid-slide can miss).
    page.wait_for_selector("#navbar-menu.show, .navbar-collapse.show", state="visible")
    page.wait_for_function("!document.querySelector('.navbar-collapse.collapsing')")
    with page.expect_navigation():
        page.click("#switch-language-en")
    assert page.get_attribute("html", "lang") == "en"
    assert page.get_by_role("link", name="Report a problem").count() == 1
    assert page.get_by_role("heading", name="My issues").count() == 1
    check(page, shot, "english")


def test_a_report_goes_as_multipart_only_with_a_photo(page, territory, tmp_path):
    """The page sends a report without a photo as plain form data (the server reads it
    several times faster than a multipart body), one with a photo as multipart; both file."""
    resident = ResidentFactory(home_building=BuildingFactory(grid=territory.grid))
    category = CategoryFactory(name="路灯照明")
    photo = tmp_path / "lamp.jpg"
    Image.new("RGB", (320, 240), (30, 60, 90)).save(photo, "JPEG")
    login(page, resident.username)
    for title, with_photo in (("路灯不亮", False), ("井盖松动", True), ("垃圾满溢", False)):
        page.goto("/report/")
        page.select_option("#id_category", str(category.pk))
        page.fill("#id_title", title)
        page.fill("#id_description", f"{title}，已经好几天了。")
        if with_photo:
            page.set_input_files("#id_photos", str(photo))
        with page.expect_request(lambda r: r.method == "POST" and "/report/" in r.url) as sent:
            page.click("#report-form button[type=submit]:not([form])")
        page.wait_for_url("**/my/*/")
        expected = "multipart/form-data" if with_photo else "application/x-www-form-urlencoded"
        assert sent.value.headers["content-type"].split(";")[0] == expected
        issue = Issue.objects.get(title=title)
        assert issue.reporter == resident and issue.photos.count() == int(with_photo)


def test_a_large_photo_is_shrunk_on_the_phone_before_it_is_sent(
    page, territory, tmp_path, settings
):
    """A photo larger than the server keeps is shrunk by the page as soon as it is chosen,
    drawn upright, so a resident on mobile data sends a fraction of it; the server keeps
    what came."""
    settings.PHOTO_MAX_SIDE = 800
    resident = ResidentFactory(home_building=BuildingFactory(grid=territory.grid))
    category = CategoryFactory(name="路灯照明")
    photo = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone turned: shown rotated 90° clockwise
    # Grain, as a phone's photo has, keeps the file large.
    Image.effect_noise((2400, 1600), 60).convert("RGB").save(
        photo, "JPEG", quality=95, exif=exif.tobytes()
    )
    original = photo.stat().st_size
    login(page, resident.username)
    page.goto("/report/")
    page.select_option("#id_category", str(category.pk))
    page.fill("#id_title", "路灯不亮")
    page.fill("#id_description", "路灯不亮，已经好几天了。")
    page.set_input_files("#id_photos", str(photo))
    page.wait_for_function(
        "size => { const input = document.querySelector('#id_photos');"
        " return !input.hasAttribute('aria-busy') && input.files[0].size < size; }",
        arg=original,
    )
    sending = page.evaluate(
        "() => { const file = document.querySelector('#id_photos').files[0];"
        " return {name: file.name, type: file.type, size: file.size}; }"
    )
    assert sending["name"] == "phone.jpg" and sending["type"] == "image/jpeg"
    assert sending["size"] < original / 3
    page.click("#report-form button[type=submit]:not([form])")
    page.wait_for_url("**/my/*/")
    kept = Issue.objects.get(title="路灯不亮").photos.get()
    # Upright and at most 800 pixels: 2400 × 1600 turned is 1600 × 2400, shrunk a third.
    assert (kept.width, kept.height) == (533, 800)
