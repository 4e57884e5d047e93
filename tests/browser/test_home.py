from tests.browser.conftest import login, no_horizontal_scroll
from tests.factories import UserFactory


def test_home_and_sign_in_on_a_phone(page, shot, db):
    UserFactory(username="visitor")
    page.goto("/")
    assert page.locator("h1").inner_text() == "网格化治理平台"
    assert no_horizontal_scroll(page)
    shot(page, "home")
    login(page, "visitor")
    assert page.locator("h1").count() == 1
    shot(page, "signed-in")
