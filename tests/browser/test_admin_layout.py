"""The admin's pages fit their screens: the issue list at 1280 px, the home page at 360 px."""

import pytest
from django.urls import reverse

from grids.models import User
from issues.models import Level, Status
from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import IssueFactory

pytestmark = pytest.mark.django_db(transaction=True)

FITS = "(element) => element.scrollWidth <= element.clientWidth"
# How many lines a piece of text takes: one rectangle per line box.
LINES = """
([selector, text]) => {
  const element = document.querySelector(selector);
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  let found = null;
  while (walker.nextNode()) {
    if (walker.currentNode.textContent.includes(text)) { found = walker.currentNode; break; }
  }
  const range = document.createRange();
  const start = found.textContent.indexOf(text);
  range.setStart(found, start);
  range.setEnd(found, start + text.length);
  return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
}
"""


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("root", "root@example.com", "demo12345")


def open_as(page, live_server, language, width):
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "root")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_issue_list_fits_a_laptop(page, shot, live_server, admin_user, language):
    IssueFactory(title="路灯不亮")
    for n in range(3):
        IssueFactory(
            title="小区东门外的人行道上长期堆放大量建筑垃圾和废旧家具，雨天污水横流" + str(n),
            status=Status.IN_PROGRESS,
            level=Level.SUBDISTRICT,
        )
    open_as(page, live_server, language, 1280)
    page.goto("/admin/issues/issue/")
    shot(page, f"issues-{language}")
    assert page.locator("#result_list tbody tr").count() == 4
    assert page.locator(".results").evaluate(FITS)
    assert no_horizontal_scroll(page)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_admin_home_fits_a_phone(page, shot, live_server, admin_user, language):
    open_as(page, live_server, language, 360)
    page.goto("/admin/")
    shot(page, f"home-{language}")
    assert page.locator("#coverage-module").evaluate(FITS)
    assert page.locator("#coverage-module").evaluate(
        "(module) => module.getBoundingClientRect().right <= window.innerWidth"
    )
    # The page's name for the coverage check stays on one line.
    name = "一网覆盖" if language == "zh-hans" else "Network coverage"
    assert page.evaluate(LINES, ["#coverage-module", name]) == 1
    page.goto(reverse("admin:coverage"))
    shot(page, f"coverage-{language}")
    assert page.evaluate(LINES, ["#content h1", name]) == 1
