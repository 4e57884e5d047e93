"""What a resident sees on a phone and on a laptop, in both languages: the home page's
buttons, the unread count (the workflow notifies the resident) on the collapsed menu
button, "My issues" with a dispatched issue and one waiting for evaluation, and a timeline
in the past tense."""

import pytest

from grids.models import User
from issues import workflow
from issues.models import Notification, Source
from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import ResidentFactory, staff_on

pytestmark = pytest.mark.django_db(transaction=True)

VISIBLE_IN_VIEWPORT = """
(element) => {
  const box = element.getBoundingClientRect();
  return box.width > 0 && box.left >= 0 && box.right <= window.innerWidth && box.top >= 0;
}
"""


def issues_of(resident, territory):
    worker = staff_on(territory.grid, username="gridworker", first_name="张伟")
    community = staff_on(territory.community, username="community")
    subdistrict = staff_on(territory.subdistrict, username="subdistrict")

    def file(title):
        return workflow.file_issue(
            actor=resident,
            source=Source.RESIDENT,
            category=territory.category,
            title=title,
            description="3号楼前的路灯晚上不亮。",
            building=resident.home_building,
        )

    issue = file("占道经营影响通行")
    issue = workflow.escalate(issue=issue, actor=worker, reason="需要社区协调")
    issue = workflow.escalate(issue=issue, actor=community, reason="需要执法")
    workflow.dispatch(issue=issue, actor=subdistrict, department=territory.department)
    done = workflow.accept(issue=file("路灯不亮"), actor=worker)
    done = workflow.suspend(issue=done, actor=worker, reason="等待配件")
    done = workflow.resume(issue=done, actor=worker)
    done = workflow.resolve(issue=done, actor=worker, note="已更换灯泡")
    Notification.objects.create(user=resident, issue=done, reason=Notification.Reason.YOUR_ISSUE)
    return done


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_resident_pages_on_a_phone_and_a_laptop(page, shot, live_server, territory, language):
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.goto("/")
    buttons = page.locator("main .home-actions a.btn")
    assert buttons.count() == 3
    for i in range(3):
        assert buttons.nth(i).evaluate(VISIBLE_IN_VIEWPORT)
    assert no_horizontal_scroll(page)
    shot(page, f"home-anonymous-{language}")

    resident = ResidentFactory(username="resident", home_building__grid=territory.grid)
    resident.set_password("demo12345")
    resident.save()
    resolved = issues_of(User.objects.get(pk=resident.pk), territory)
    login(page, "resident")
    badge = page.locator(".navbar-toggler .toggler-badge")
    unread = Notification.objects.filter(user=resident, is_read=False).count()
    assert unread and badge.inner_text() == str(unread)
    assert badge.evaluate(VISIBLE_IN_VIEWPORT)
    shot(page, f"home-resident-{language}")

    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto("/my/")
        assert page.locator(".evaluate-link").count() == 1
        assert no_horizontal_scroll(page)
        shot(page, f"my-issues-{width}-{language}")
        page.locator(".evaluate-link").click()
        page.wait_for_load_state()
        assert page.url.endswith(f"/my/{resolved.tracking_number}/#evaluate-heading")
        assert no_horizontal_scroll(page)
        shot(page, f"issue-{width}-{language}")
    # On a laptop the menu is open and the count sits on its link instead.
    assert not page.locator(".navbar-toggler").is_visible()
    assert page.locator("#nav-notifications .badge").is_visible()
