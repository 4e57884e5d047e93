"""The main navigation's links are drawn once per language, page and role, and kept
(issues/templatetags/navigation.py): what a page shows must be exactly what the template
draws for that person, page and language, with the person's own unread count."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import RequestContext, Template
from django.test import RequestFactory
from django.urls import resolve, reverse
from django.utils import translation

from issues.models import Notification
from issues.templatetags import navigation

KEPT = Template("{% load navigation %}{% nav_items %}")
DRAWN = Template('{% include "_nav_items.html" %}')
PAGES = [
    "home",
    "issue_report",
    "my_issues",
    "notifications",
    "staff_queue",
    "staff_patrol",
    "staff_hotline",
    "dashboard",
    "dashboard_public",
    "staff_map",
    "participate",
    "participate_community",
    "profile",
    "track",
]


@pytest.fixture
def forgotten():
    navigation._kept.clear()
    yield
    navigation._kept.clear()


def unread(user, count, grid):
    """``count`` unread digests for ``user`` (of issues arrived at ``grid``)."""
    Notification.objects.bulk_create(
        Notification(user=user, reason=Notification.Reason.NEW_AT_UNIT, issue_count=1, grid=grid)
        for _ in range(count)
    )


def both(user, page: str) -> tuple[str, str]:
    """The links as the kept tag gives them and as the template draws them, for ``user``
    on ``page``, in the active language."""
    request = RequestFactory().get(reverse(page))
    request.user = user
    request.resolver_match = resolve(request.path)
    return (
        KEPT.render(RequestContext(request, {})),
        DRAWN.render(RequestContext(request, {})),
    )


def test_the_kept_links_are_what_the_template_draws_for_everyone(
    db, territory, people, root, forgotten
):
    unread(people.worker, 3, territory.grid)
    unread(people.community_staff, 150, territory.grid)
    persons = [
        AnonymousUser(),
        people.resident,
        people.worker,
        people.community_staff,
        people.subdistrict_staff,
        people.department_staff,
        root,
    ]
    for language in ("zh-hans", "en"):
        with translation.override(language):
            for user in persons:
                for page in PAGES:
                    kept, drawn = both(user, page)
                    assert kept == drawn, (language, user, page)
    # Both languages, and the roles above, each drew a text of its own.
    assert len({key[0] for key in navigation._kept}) == 2
    assert len({key[4] for key in navigation._kept}) >= 5


def test_each_person_sees_their_own_unread_count(db, territory, people, forgotten):
    unread(people.worker, 3, territory.grid)
    unread(people.worker2, 150, territory.grid)
    first, _drawn = both(people.worker, "staff_queue")
    second, _drawn = both(people.worker2, "staff_queue")
    assert len(navigation._kept) == 1  # one text for both: same role, page and language
    assert ">3<" in first and "99+" not in first
    assert ">99+<" in second and ">3<" not in second
    assert navigation.BADGE not in first + second
    Notification.objects.filter(user=people.worker).update(is_read=True)
    after, drawn = both(people.worker, "staff_queue")
    assert after == drawn
    assert 'id="nav-notifications"' in after and "text-bg-danger" not in after


def test_no_more_texts_are_kept_than_the_bound(db, people, forgotten, monkeypatch):
    monkeypatch.setattr(navigation, "KEPT", 3)
    for page in PAGES[:6]:
        both(people.worker, page)
    assert len(navigation._kept) == 3
    # The most recently used are the ones kept.
    assert [key[3] for key in navigation._kept] == PAGES[3:6]


def test_the_kept_links_carry_nothing_of_the_person(db, people, forgotten):
    """The template is drawn from stand-ins: it cannot show a name, even if it asked."""
    kept, _drawn = both(people.worker, "staff_queue")
    assert people.worker.username not in kept
    assert people.worker.first_name not in kept
