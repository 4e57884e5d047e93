"""Accounts: sign up with name, mobile number and home building (picked without JavaScript
through the finder, or through the JSON search), sign in with the mobile number or the
username, one account per mobile number, e-mail confirmed by a link, profile, password
change and a throttled reset."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from grids.models import User
from tests.factories import BuildingFactory, GridFactory, ResidentFactory, UserFactory


@pytest.fixture
def buildings(territory):
    t = territory
    return type(
        "Buildings",
        (),
        dict(
            home=BuildingFactory(grid=t.grid, name="全运村A区3号楼", address="经十东路1号"),
            neighbour=BuildingFactory(grid=t.grid, name="全运村A区5号楼", address="经十东路2号"),
            sibling=BuildingFactory(grid=t.sibling_grid, name="全运村B区2号楼", address=""),
            cousin=BuildingFactory(grid=t.cousin_grid, name="龙洞新村1号楼", address="龙洞路56号"),
        ),
    )


def signup_data(building, **overrides):
    data = {
        "home_building": building.pk,
        "first_name": "刘秀英",
        "phone": "139 5310 0009",
        "email": "liu@example.com",
        "password1": "Quiet-river-42",
        "password2": "Quiet-river-42",
    }
    data.update(overrides)
    return data


def test_signup_page_offers_buildings_grouped_by_community_and_grid(client, buildings):
    response = client.get(reverse("signup"))
    assert response.status_code == 200
    html = response.text
    assert '<optgroup label="全运村社区 · 第一网格">' in html
    assert "全运村A区3号楼（经十东路1号）" in html
    assert "龙洞新村1号楼" in html
    # Every field is labelled.
    for name in ("home_building", "first_name", "phone", "email", "password1", "password2"):
        assert f'for="id_{name}"' in html
    # Nobody is asked to invent a login name.
    assert 'name="username"' not in html
    assert 'for="id_find-community"' in html and 'for="id_find-q"' in html
    assert 'form="building-finder"' in html
    assert 'id="building-finder"' in html


def test_signup_creates_a_signed_in_resident(client, buildings):
    response = client.post(reverse("signup"), signup_data(buildings.home))
    assert response.status_code == 302
    assert response.url == reverse("issue_report")
    user = User.objects.get(phone="13953100009")  # spaces dropped
    assert user.first_name == "刘秀英"
    assert re.fullmatch(r"r[a-z0-9]{8}", user.username)  # made up, never asked for
    assert user.home_building == buildings.home
    assert user.email == "liu@example.com"
    assert user.check_password("Quiet-river-42")
    assert client.get(reverse("my_issues")).status_code == 200  # signed in


def test_signup_honours_a_safe_next_and_ignores_another_site(client, buildings):
    response = client.post(
        reverse("signup") + "?next=/track/", signup_data(buildings.home, next="/track/")
    )
    assert response.url == "/track/"
    client.logout()
    response = client.post(
        reverse("signup"),
        signup_data(buildings.home, phone="13953100008", next="https://evil.example/"),
    )
    assert response.url == reverse("issue_report")


@pytest.mark.parametrize(
    "overrides, field, code_text",
    [
        ({"phone": "12345678901"}, "phone", "mainland China mobile number"),
        ({"phone": "1395310000"}, "phone", "mainland China mobile number"),
        ({"phone": ""}, "phone", "This field is required"),
        ({"password1": "12345678", "password2": "12345678"}, "password2", "entirely numeric"),
        ({"password1": "password", "password2": "password"}, "password2", "too common"),
        ({"password1": "abc", "password2": "abc"}, "password2", "too short"),
        ({"password2": "Other-river-42"}, "password2", "didn’t match"),
        ({"home_building": ""}, "home_building", "This field is required"),
        ({"home_building": "999999"}, "home_building", "Select a valid choice"),
        ({"phone": "13953100001"}, "phone", "already has an account"),
        ({"phone": "139-5310-0001"}, "phone", "already has an account"),
        ({"phone": "+86 139 5310 0001"}, "phone", "already has an account"),
        ({"first_name": ""}, "first_name", "This field is required"),
    ],
)
def test_signup_refuses_bad_input_next_to_the_field(client, buildings, overrides, field, code_text):
    ResidentFactory(username="resident", phone="13953100001")
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.post(reverse("signup"), signup_data(buildings.home, **overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert code_text in " ".join(form.errors[field])
    # Shown next to the field, and nothing half-made.
    assert f'id="error_1_id_{field}"' in response.text
    assert not User.objects.filter(first_name="刘秀英").exists()


def test_signup_keeps_the_chosen_building_when_shown_again(client, buildings):
    response = client.post(
        reverse("signup") + "?find-q=龙洞",
        signup_data(buildings.home, phone="123"),
    )
    # The finder narrowed to 龙洞 buildings, but the chosen one is still offered and selected.
    assert f'<option value="{buildings.home.pk}" selected>' in response.text


def test_finder_narrows_by_community_then_grid_without_javascript(client, territory, buildings):
    t = territory
    url = reverse("signup")
    response = client.get(url, {"find-community": t.community.pk})
    html = response.text
    assert "全运村A区3号楼" in html and "全运村B区2号楼" in html
    assert "龙洞新村1号楼" not in html
    # Grids of the chosen community are offered.
    grid_select = re.search(r'<select name="find-grid".*?</select>', html, re.S).group(0)
    assert f'value="{t.grid.pk}"' in grid_select and f'value="{t.sibling_grid.pk}"' in grid_select
    assert f'value="{t.cousin_grid.pk}"' not in grid_select

    response = client.get(url, {"find-community": t.community.pk, "find-grid": t.sibling_grid.pk})
    html = response.text
    assert "全运村B区2号楼" in html and "全运村A区3号楼" not in html
    # A single match is chosen for you.
    assert f'<option value="{buildings.sibling.pk}" selected>' in html


def test_finder_finds_a_building_by_part_of_its_name_or_address(client, buildings):
    response = client.get(reverse("signup"), {"find-q": "5号楼"})
    html = response.text
    assert "全运村A区5号楼" in html
    assert "全运村A区3号楼" not in html
    response = client.get(reverse("signup"), {"find-q": "龙洞路"})
    assert "龙洞新村1号楼" in response.text and "全运村A区5号楼" not in response.text


def test_finder_ignores_a_grid_of_another_community(client, territory, buildings):
    t = territory
    response = client.get(
        reverse("signup"), {"find-community": t.community.pk, "find-grid": t.cousin_grid.pk}
    )
    assert response.status_code == 200
    assert "龙洞新村1号楼" not in response.text  # the mismatched grid did not narrow to it


def test_finder_shows_at_most_the_limit_and_says_more_match(client, territory):
    from grids.forms import BUILDING_CHOICES_LIMIT
    from grids.models import Building

    grid = GridFactory(community=territory.community)
    Building.objects.bulk_create(
        Building(grid=grid, name=f"{n}号楼") for n in range(BUILDING_CHOICES_LIMIT + 1)
    )
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("signup"), {"find-grid": grid.pk})
    assert response.text.count("号楼</option>") == BUILDING_CHOICES_LIMIT
    assert "More buildings match than are shown" in response.text


def test_building_search_json(client, territory, buildings):
    t = territory
    data = client.get(reverse("building_search"), {"community": t.community.pk}).json()
    assert {g["name"] for g in data["grids"]} == {"第一网格", "第二网格"}
    labels = [b["label"] for group in data["groups"] for b in group["buildings"]]
    assert "全运村A区3号楼（经十东路1号）" in labels and "龙洞新村1号楼（龙洞路56号）" not in labels
    assert data["groups"][0]["label"] == "全运村社区 · 第一网格"
    data = client.get(reverse("building_search"), {"q": "新村"}).json()
    assert [b["id"] for g in data["groups"] for b in g["buildings"]] == [buildings.cousin.pk]
    assert data["grids"] == [] and data["more"] is False
    # Nonsense is answered, not a 500.
    assert (
        client.get(reverse("building_search"), {"community": "x", "q": "a" * 80}).status_code == 200
    )


def test_signed_in_people_are_sent_away_from_signup(client, db):
    client.force_login(UserFactory())
    assert client.get(reverse("signup")).status_code == 302


def test_profile_needs_sign_in(client, db):
    response = client.get(reverse("profile"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_profile_edits_phone_email_and_home_building(client, buildings):
    user = ResidentFactory(home_building=buildings.home)
    client.force_login(user)
    response = client.get(reverse("profile"))
    assert response.status_code == 200
    assert f'<option value="{buildings.home.pk}" selected>' in response.text
    response = client.post(
        reverse("profile"),
        {
            "home_building": buildings.cousin.pk,
            "first_name": "新名字",
            "phone": "13700000000",
            "email": "new@example.com",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.phone, user.email, user.home_building) == (
        "13700000000",
        "new@example.com",
        buildings.cousin,
    )


def test_profile_refuses_a_bad_phone_and_changes_nothing(client, buildings):
    user = ResidentFactory(home_building=buildings.home, phone="13800000001")
    client.force_login(user)
    response = client.post(
        reverse("profile"),
        {"home_building": buildings.cousin.pk, "phone": "0531-888", "email": "x@example.com"},
    )
    assert response.status_code == 200
    assert "phone" in response.context["form"].errors
    user.refresh_from_db()
    assert (user.phone, user.email, user.home_building) == ("13800000001", "", buildings.home)


def test_password_change(client, db):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "demo12345",
            "new_password1": "Green-hill-77",
            "new_password2": "Green-hill-77",
        },
    )
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    user.refresh_from_db()
    assert user.check_password("Green-hill-77")


def test_password_reset_by_email(client, db):
    user = UserFactory(email="reset@example.com")
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": "reset@example.com"})
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["reset@example.com"]
    assert "\n" not in message.subject
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", message.body).group(1)
    response = client.get(link)
    assert response.status_code == 302  # to the set-password URL, token moved to the session
    form_url = response.url
    assert client.get(form_url).context["validlink"] is True
    response = client.post(
        form_url, {"new_password1": "Blue-lake-2025", "new_password2": "Blue-lake-2025"}
    )
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    user.refresh_from_db()
    assert user.check_password("Blue-lake-2025")


def test_password_reset_with_a_bad_link_says_so(client, db):
    response = client.get(
        reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "bad-token"})
    )
    assert response.status_code == 200
    assert response.context["validlink"] is False


def test_login_page_links_to_sign_up_and_reset(client, db):
    html = client.get(reverse("login")).text
    assert reverse("signup") in html and reverse("password_reset") in html


def test_sign_in_and_out(client, db):
    UserFactory(username="walker")
    response = client.post(reverse("login"), {"username": "walker", "password": "demo12345"})
    assert response.status_code == 302
    assert client.get(reverse("profile")).status_code == 200
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("profile")).status_code == 302


def test_signup_page_in_english(client, db):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get(reverse("signup"))
    assert response.headers["Content-Language"] == "en"
    assert "Where you live" in response.text


# --- one mobile number, one account ------------------------------------------------------


def test_the_database_keeps_one_account_per_mobile_number(db):
    from django.db import IntegrityError, transaction

    UserFactory(phone="13953100001")
    UserFactory(phone=""), UserFactory(phone="")  # many accounts may have none
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(phone="13953100001")


@pytest.mark.parametrize(
    "typed",
    ["13953100007", "139-5310-0007", "139 5310 0007", "+86 139 5310 0007", "008613953100007"],
)
def test_signup_stores_the_eleven_digits_however_they_are_typed(client, buildings, typed):
    response = client.post(reverse("signup"), signup_data(buildings.home, phone=typed))
    assert response.status_code == 302
    assert User.objects.get(first_name="刘秀英").phone == "13953100007"


def test_profile_refuses_another_accounts_number(client, buildings):
    UserFactory(phone="13953100001")
    user = ResidentFactory(home_building=buildings.home, phone="13800000001")
    client.force_login(user)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.post(
        reverse("profile"),
        {"home_building": buildings.home.pk, "first_name": "王", "phone": "139-5310-0001"},
    )
    assert response.status_code == 200
    assert "already has an account" in str(response.context["form"].errors["phone"])
    user.refresh_from_db()
    assert user.phone == "13800000001"


def test_sign_in_with_the_mobile_number_or_the_username(client, db):
    UserFactory(username="walker", phone="13953100005")
    html = client.get(reverse("login")).text
    assert "手机号或用户名" in html
    for typed in ("13953100005", "139-5310-0005", "walker"):
        response = client.post(reverse("login"), {"username": typed, "password": "demo12345"})
        assert response.status_code == 302, typed
        assert client.get(reverse("profile")).status_code == 200
        client.post(reverse("logout"))
    response = client.post(reverse("login"), {"username": "13953100005", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()


def test_a_new_resident_signs_in_with_the_number_they_signed_up_with(client, buildings):
    client.post(reverse("signup"), signup_data(buildings.home))
    client.post(reverse("logout"))
    response = client.post(
        reverse("login"), {"username": "139 5310 0009", "password": "Quiet-river-42"}
    )
    assert response.status_code == 302


# --- e-mail confirmed by a link ------------------------------------------------------------


def confirmation_link(message) -> str:
    return re.search(r"https?://[^/]+(/accounts/email/confirm/\S+)", message.body).group(1)


def test_an_address_given_at_signup_receives_mail_only_once_confirmed(client, buildings):
    client.post(reverse("signup"), signup_data(buildings.home))
    user = User.objects.get(phone="13953100009")
    assert user.notification_email == ""
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["liu@example.com"]
    response = client.get(confirmation_link(mail.outbox[0]))
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.notification_email == "liu@example.com"


def test_a_changed_address_needs_confirming_again(client, buildings):
    user = ResidentFactory(home_building=buildings.home, email="old@example.com")
    assert user.notification_email == "old@example.com"
    client.force_login(user)
    client.post(
        reverse("profile"),
        {
            "home_building": buildings.home.pk,
            "first_name": "王",
            "phone": user.phone,
            "email": "new@example.com",
        },
    )
    user.refresh_from_db()
    assert user.notification_email == ""
    assert "尚未确认" in client.get(reverse("profile")).text
    # A link for the old address does not confirm the new one.
    old = ResidentFactory(email="x@example.com", confirmed_email="")
    link = confirmation_link(mail.outbox[-1])
    client.post(reverse("email_confirm_send"))
    assert len(mail.outbox) == 2
    client.get(link)
    user.refresh_from_db()
    assert user.notification_email == "new@example.com"
    old.refresh_from_db()
    assert old.notification_email == ""


def test_a_link_for_an_address_since_replaced_confirms_nothing(client, buildings):
    user = ResidentFactory(email="first@example.com", confirmed_email="")
    client.force_login(user)
    client.post(reverse("email_confirm_send"))
    link = confirmation_link(mail.outbox[0])
    User.objects.filter(pk=user.pk).update(email="second@example.com")
    response = client.get(link, follow=True)
    assert "not valid" in response.text or "无效" in response.text
    user.refresh_from_db()
    assert user.notification_email == ""


def test_notifications_are_mailed_to_confirmed_addresses_only(
    territory, people, django_capture_on_commit_callbacks
):
    from issues import workflow
    from issues.models import Source

    resident = people.resident
    resident.email, resident.confirmed_email = "r@example.com", ""
    resident.save()
    with django_capture_on_commit_callbacks(execute=True):
        issue = workflow.file_issue(
            actor=resident,
            source=Source.RESIDENT,
            category=territory.category,
            title="路灯坏了",
            description="不亮",
            building=resident.home_building,
        )
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=issue, actor=people.worker)
    assert mail.outbox == []
    resident.confirmed_email = "r@example.com"
    resident.save()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.comment(issue=issue, actor=people.worker, note="马上到", is_public=True)
    assert [m.to for m in mail.outbox] == [["r@example.com"]]


# --- password reset: confirmed addresses, throttled ------------------------------------------


def test_password_reset_goes_to_confirmed_addresses_only(client, db):
    UserFactory(email="typed@example.com", confirmed_email="")
    client.post(reverse("password_reset"), {"email": "typed@example.com"})
    assert mail.outbox == []


def test_password_reset_is_throttled_per_address(client, db):
    UserFactory(email="reset@example.com")
    statuses = [
        client.post(reverse("password_reset"), {"email": "reset@example.com"}).status_code
        for _ in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert len(mail.outbox) == 3
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.post(reverse("password_reset"), {"email": "reset@example.com"})
    assert "Too many attempts. Please wait 60 minutes" in response.text


def test_password_reset_is_throttled_per_client_address(client, db):
    statuses = [
        client.post(reverse("password_reset"), {"email": f"n{i}@example.com"}).status_code
        for i in range(11)
    ]
    assert statuses == [302] * 10 + [429]
    # Another client is not held up.
    other = client.__class__(REMOTE_ADDR="10.0.0.2")
    assert other.post(reverse("password_reset"), {"email": "n0@example.com"}).status_code == 302
