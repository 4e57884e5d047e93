import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import IssueFactory, UserFactory


def test_home_page_says_what_the_site_is(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    assert 'lang="zh-Hans"' in response.text


def test_home_page_in_english(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("home"))
    assert response.headers["Content-Language"] == "en"
    assert "Grid governance platform" in response.text


@pytest.mark.parametrize("url", ["/", "/map/", "/accounts/login/", "/admin/login/"])
def test_every_page_names_its_icon_so_no_browser_asks_for_favicon_ico(client, db, url):
    """Without an icon of its own a page makes each browser ask for /favicon.ico: a 404
    (a rendered page, a logged warning) on every first visit."""
    page = client.get(url).text
    found = re.search(r'<link rel="icon" href="/static/([^"]+)"', page)
    assert found, url
    assert finders.find(found.group(1)), found.group(1)


ADMIN_LISTS = [
    "grids_subdistrict",
    "grids_community",
    "grids_grid",
    "grids_building",
    "grids_department",
    "grids_user",
    "grids_post",
    "issues_category",
    "issues_slapolicy",
    "issues_issue",
    "issues_issueevent",
]


@pytest.mark.parametrize("name", ADMIN_LISTS)
def test_admin_changelists_render(client, db, name, django_assert_max_num_queries):
    IssueFactory.create_batch(3)
    admin = UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    with django_assert_max_num_queries(15):
        response = client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200


def test_admin_issue_page_is_read_only_for_workflow_fields(client, db):
    issue = IssueFactory()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.get(reverse("admin:issues_issue_change", args=[issue.pk]))
    assert response.status_code == 200
    assert 'name="status"' not in response.text
    assert 'name="level"' not in response.text
    response = client.get(reverse("admin:issues_issue_add"))
    assert response.status_code == 403
