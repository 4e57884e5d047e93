"""Error pages are drawn in the site's layout, with its navigation, in the visitor's language:
403, 404, 500, a form refused for its security token, and the sign-in lockout (429)."""

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from tests.factories import ResidentFactory, UserFactory

ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en"}


def boom(request):
    raise RuntimeError("a fault the visitor must not see")


def fine(request):
    return HttpResponse("ok")


# A URL conf with a view that fails, for the 500 page; the handlers are the real ones.
urlpatterns = [path("boom/", boom), path("", include("config.urls"))]
handler500 = "config.views.server_error"


def in_layout(response, lang: str) -> None:
    text = response.content.decode()
    assert f'<html lang="{lang}">' in text
    assert 'id="main-nav"' in text  # the site's navigation bar
    assert reverse("home") in text


@pytest.mark.parametrize(
    ("headers", "lang", "heading"),
    [({}, "zh-Hans", "页面不存在"), (ENGLISH, "en", "Page not found")],
)
def test_not_found_page_in_the_visitors_language(client, db, headers, lang, heading):
    response = client.get("/no-such-page/", **headers)
    assert response.status_code == 404
    in_layout(response, lang)
    assert heading in response.content.decode()


def test_not_found_page_keeps_the_signed_in_menu(client, db):
    resident = ResidentFactory(first_name="王", last_name="芳")
    client.force_login(resident)
    response = client.get("/my/no-such-issue/x/y/")
    assert response.status_code == 404
    text = response.content.decode()
    assert reverse("my_issues") in text  # the resident's own navigation
    assert reverse("login") not in text


@pytest.mark.parametrize(
    ("headers", "lang", "heading"),
    [({}, "zh-Hans", "无权访问"), (ENGLISH, "en", "Not allowed")],
)
def test_forbidden_page_in_the_visitors_language(client, db, headers, lang, heading):
    client.force_login(ResidentFactory())
    response = client.get(reverse("staff_queue"), **headers)
    assert response.status_code == 403
    in_layout(response, lang)
    assert heading in response.content.decode()


@pytest.mark.parametrize(
    ("headers", "lang", "heading"),
    [({}, "zh-Hans", "出错了"), (ENGLISH, "en", "Something went wrong")],
)
def test_server_error_page_in_the_visitors_language(db, settings, headers, lang, heading):
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/", **headers)
    assert response.status_code == 500
    in_layout(response, lang)
    text = response.content.decode()
    assert heading in text
    assert "a fault the visitor must not see" not in text


@pytest.mark.parametrize(
    ("headers", "lang", "heading"),
    [({}, "zh-Hans", "表单已失效"), (ENGLISH, "en", "The form has expired")],
)
def test_refused_form_page_in_the_visitors_language(db, headers, lang, heading):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "x", "password": "y"}, **headers)
    assert response.status_code == 403
    in_layout(response, lang)
    text = response.content.decode()
    assert heading in text
    assert "cookie" in text.lower()  # no cookie was sent: the page says what to allow


@pytest.mark.parametrize(
    ("headers", "lang", "wait"),
    [({}, "zh-Hans", "请15分钟后再试"), (ENGLISH, "en", "Try again in 15 minutes")],
)
def test_lockout_page_says_how_long_it_lasts(client, db, settings, headers, lang, wait):
    UserFactory(username="walker")
    bad = {"username": "walker", "password": "wrong"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), bad, **headers)
    response = client.post(reverse("login"), bad, **headers)
    assert response.status_code == 429
    in_layout(response, lang)
    assert wait in response.content.decode()
