"""Tracking without signing in: status, category, level and dates, and nothing else."""

import pytest
from django.db import IntegrityError
from django.urls import reverse
from django.utils import timezone

from issues import workflow
from issues.models import Issue, Source
from issues.photos import clean_photo
from tests.factories import image_upload


def english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})


def filed(people, territory):
    people.resident.first_name = "李秀兰"
    people.resident.phone = "13953100001"
    people.resident.save()
    people.worker.phone = "13912345678"
    people.worker.save()
    issue = workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="秘密的标题",
        description="秘密的描述",
        building=people.resident.home_building,
        address="东门旁边",
        photos=[clean_photo(image_upload("p.png"))],
    )
    issue = workflow.accept(issue=issue, actor=people.worker)
    return workflow.comment(issue=issue, actor=people.worker, note="公开的回复")


def test_the_track_page_needs_no_sign_in(client, db):
    response = client.get(reverse("track"))
    assert response.status_code == 200
    assert 'name="number"' in response.text and 'for="id_number"' in response.text


def test_tracking_shows_status_category_level_and_dates_only(client, people, territory):
    issue = filed(people, territory)
    english(client)
    response = client.get(reverse("track"), {"number": issue.tracking_number})
    html = response.text
    assert response.status_code == 200
    assert response.context["issue"].pk == issue.pk
    assert territory.category.name in html
    assert "The grid worker is handling it" in html
    assert timezone.localtime(issue.created_at).strftime("%Y-%m-%d %H:%M") in html
    assert timezone.localtime(issue.accepted_at).strftime("%Y-%m-%d %H:%M") in html
    for secret in (
        "秘密的标题",
        "秘密的描述",
        "东门旁边",
        "公开的回复",
        "李秀兰",
        "13953100001",
        "13912345678",
        people.resident.username,
        people.worker.username,
        "张",
        people.resident.home_building.name,
        territory.grid.name,
        "/media/",
        "<img",
    ):
        assert secret not in html, secret


def test_spaces_and_case_are_forgiven(client, people, territory):
    issue = filed(people, territory)
    number = issue.tracking_number
    spaced = f" {number[:8]} {number[8:]} "
    response = client.get(reverse("track"), {"number": spaced})
    assert response.context["issue"].pk == issue.pk


def test_an_unknown_number_says_so(client, db):
    english(client)
    response = client.get(reverse("track"), {"number": "20990101999999"})
    assert response.status_code == 200
    assert response.context["issue"] is None
    assert "No issue has that tracking number" in response.text


def test_a_bad_number_is_a_form_error_not_a_500(client, db):
    response = client.get(reverse("track"), {"number": "x" * 300})
    assert response.status_code == 200
    assert "number" in response.context["form"].errors
    response = client.get(reverse("track"), {"number": ""})
    assert response.status_code == 200
    assert response.context["issue"] is None


def test_tracking_a_closed_issue_shows_when_it_closed(client, people, territory):
    issue = filed(people, territory)
    issue = workflow.resolve(issue=issue, actor=people.worker, note="好了")
    issue = workflow.evaluate(issue=issue, actor=people.resident, satisfaction="satisfied")
    english(client)
    html = client.get(reverse("track"), {"number": issue.tracking_number}).text
    assert "Closed" in html
    assert timezone.localtime(issue.closed_at).strftime("%Y-%m-%d %H:%M") in html


def test_track_link_is_in_the_navigation_for_everyone(client, people):
    assert reverse("track") in client.get(reverse("home")).text
    client.force_login(people.worker)
    assert f'href="{reverse("track")}"' in client.get(reverse("notifications")).text


# --- numbers that cannot be guessed, lookups that cannot be rushed ----------------------


def test_new_numbers_are_the_date_and_a_checked_random_part(people, territory):
    from issues.tracking import has_valid_check_digit

    numbers = [filed(people, territory).tracking_number for _ in range(3)]
    today = timezone.localdate().strftime("%Y%m%d")
    for number in numbers:
        assert len(number) == 16 and number.isdigit() and number.startswith(today)
        assert has_valid_check_digit(number)
    # Not a counter: the random parts are not one apart.
    tails = sorted(int(n[8:15]) for n in numbers)
    assert len(set(tails)) == 3 and tails != list(range(tails[0], tails[0] + 3))


def test_a_mistyped_digit_or_a_swap_is_caught_before_any_lookup(client, people, territory):
    number = filed(people, territory).tracking_number
    wrong_digit = number[:10] + str((int(number[10]) + 1) % 10) + number[11:]
    swapped = number[:11] + number[12] + number[11] + number[13:]
    english(client)
    for typo in {wrong_digit, swapped} - {number}:
        response = client.get(reverse("track"), {"number": typo})
        assert "Check it digit by digit" in str(response.context["form"].errors["number"])


def test_numbers_given_before_keep_working(client, people, territory):
    from tests.factories import IssueFactory

    old = IssueFactory(
        tracking_number="20251203000042", reporter=people.resident, grid=territory.grid
    )
    assert client.get(reverse("track"), {"number": "20251203000042"}).context["issue"] == old
    client.force_login(people.resident)
    assert client.get(reverse("my_issue_detail", args=[old.tracking_number])).status_code == 200


def test_lookups_are_throttled_per_client_address(client, db):
    english(client)
    statuses = [
        client.get(reverse("track"), {"number": f"2099010100{i:04d}"}).status_code
        for i in range(31)
    ]
    assert statuses == [200] * 30 + [429]
    response = client.get(reverse("track"), {"number": "20990101009999"})
    assert response.status_code == 429
    assert "Too many attempts. Please wait 10 minutes and try again." in response.text
    # Someone else is not held up.
    assert client.get(reverse("track"), {"number": "1"}, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_lookups_are_throttled_per_number(client, db):
    for i in range(10):
        ip = f"10.0.1.{i}"
        assert (
            client.get(reverse("track"), {"number": "20990101"}, REMOTE_ADDR=ip).status_code == 200
        )
    assert (
        client.get(reverse("track"), {"number": "20990101"}, REMOTE_ADDR="10.0.2.1").status_code
        == 429
    )


def test_behind_a_trusted_proxy_the_forwarded_address_counts(client, db, settings):
    settings.TRUSTED_PROXIES = 1
    for i in range(30):
        client.get(reverse("track"), {"number": f"9{i}"}, HTTP_X_FORWARDED_FOR="spoofed, 1.2.3.4")
    assert (
        client.get(reverse("track"), {"number": "x1"}, HTTP_X_FORWARDED_FOR="1.2.3.4").status_code
        == 429
    )
    assert (
        client.get(reverse("track"), {"number": "x1"}, HTTP_X_FORWARDED_FOR="5.6.7.8").status_code
        == 200
    )


def test_a_number_already_given_that_day_is_drawn_again(people, territory, monkeypatch):
    """The unique number refuses a second row; the filing draws again and files once."""
    import secrets

    from issues import tracking

    first = filed(people, territory)
    taken = int(first.tracking_number[8:15])
    draws = iter([taken, taken, taken + 1])
    monkeypatch.setattr(secrets, "randbelow", lambda _n: next(draws))
    second = filed(people, territory)
    assert second.tracking_number[8:15] == f"{taken + 1:0{tracking.RANDOM_DIGITS}d}"
    assert Issue.objects.count() == 2
    assert second.events.count() == first.events.count()  # its history, once
    # Every draw taken: refused whole, nothing half-written.
    monkeypatch.setattr(secrets, "randbelow", lambda _n: taken)
    with pytest.raises(IntegrityError):
        filed(people, territory)
    assert Issue.objects.count() == 2
