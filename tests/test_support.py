"""Nearby and similar before filing, and 附议 (+1): support an open issue instead of filing
it again; one per person, counted on the issue, the supporter then told like the reporter."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from issues import workflow
from issues.models import Issue, IssueEvent, Notification, Source, Status, Support
from issues.nearby import nearby_issues
from tests.factories import BuildingFactory, CategoryFactory, IssueFactory, ResidentFactory

HERE = (36.6150, 117.1250)


@pytest.fixture
def reported(territory, people):
    """An open issue of the territory's category filed at HERE by the resident."""
    return workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="井盖松动",
        description="私人描述：我家门口。",
        grid=territory.grid,
        latitude=HERE[0],
        longitude=HERE[1],
    )


def near(people, t, point=HERE, **kwargs):
    return nearby_issues(
        user=people.other_resident,
        category=kwargs.pop("category", t.category),
        latitude=point[0],
        longitude=point[1],
        **kwargs,
    )


def test_nearby_lists_open_issues_of_the_category_within_150_m(territory, people, reported):
    t = territory
    # ~100 m north: listed, with its distance.
    found = near(people, t, (HERE[0] + 0.0009, HERE[1]))
    assert [i.pk for i in found] == [reported.pk] and found[0].distance_m == 100
    assert found[0].can_support and not found[0].mine
    assert near(people, t, (HERE[0] + 0.0018, HERE[1])) == []  # ~200 m: too far
    assert near(people, t, category=CategoryFactory(name="噪音扰民")) == []


def test_nearby_leaves_out_old_and_settled_issues(territory, people, reported):
    Issue.objects.filter(pk=reported.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert near(people, territory) == []
    Issue.objects.filter(pk=reported.pk).update(created_at=timezone.now(), status=Status.CLOSED)
    assert near(people, territory) == []


def test_nearby_matches_the_same_building_without_a_point(territory, people):
    building = BuildingFactory(grid=territory.grid)
    issue = IssueFactory(grid=territory.grid, building=building, category=territory.category)
    found = nearby_issues(
        user=people.other_resident, category=territory.category, building=building
    )
    assert [i.pk for i in found] == [issue.pk] and found[0].distance_m is None


def test_nearby_runs_three_queries_for_any_number(territory, people, django_assert_max_num_queries):
    for n in range(15):
        IssueFactory(
            grid=territory.grid,
            category=territory.category,
            latitude=Decimal(str(HERE[0] + n * 0.00001)),
            longitude=Decimal(str(HERE[1])),
        )
    with django_assert_max_num_queries(3):
        assert len(near(people, territory)) == 10


def test_the_nearby_fragment_shows_public_fields_only(client, territory, people, reported):
    client.force_login(people.other_resident)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(
        reverse("report_nearby"),
        {"category": territory.category.pk, "latitude": HERE[0], "longitude": HERE[1]},
    )
    html = response.content.decode()
    assert "1 open report of this kind nearby" in html and "0 m away" in html
    assert "This is my problem too (+1)" in html
    for private in ("井盖松动", "私人描述", people.resident.username, reported.tracking_number):
        assert private not in html


def test_supporting_counts_once_notifies_like_the_reporter(
    client, territory, people, reported, django_capture_on_commit_callbacks
):
    supporter = people.other_resident
    client.force_login(supporter)
    response = client.post(reverse("support_issue", args=[reported.pk]))
    assert response.status_code == 302
    assert response["Location"] == f"/track/?number={reported.tracking_number}"
    reported.refresh_from_db()
    assert reported.support_count == 1
    event = reported.events.get(kind=IssueEvent.Kind.SUPPORTED)
    assert event.actor == supporter and not event.is_public
    # Twice is refused with a message; still one.
    client.post(reverse("support_issue", args=[reported.pk]))
    reported.refresh_from_db()
    assert reported.support_count == 1 and Support.objects.count() == 1
    # The supporter hears what the reporter hears.
    with django_capture_on_commit_callbacks(execute=True):
        workflow.accept(issue=reported, actor=people.worker)
    reasons = set(
        Notification.objects.filter(event__kind=IssueEvent.Kind.ACCEPTED).values_list(
            "user__username", "reason"
        )
    )
    assert reasons == {
        (people.resident.username, Notification.Reason.YOUR_ISSUE),
        (supporter.username, Notification.Reason.SUPPORTED_ISSUE),
    }


def test_nobody_supports_their_own_or_a_settled_issue(client, territory, people, reported):
    client.force_login(people.resident)
    assert client.post(reverse("support_issue", args=[reported.pk])).status_code == 404
    Issue.objects.filter(pk=reported.pk).update(status=Status.RESOLVED)
    with pytest.raises(workflow.WorkflowError):
        workflow.support(issue=reported, actor=ResidentFactory())
    assert Support.objects.count() == 0


def test_staff_sort_their_queue_by_supporters(client, territory, people):
    t = territory
    few = IssueFactory(grid=t.grid, category=t.category, title="少")
    many = IssueFactory(grid=t.grid, category=t.category, title="多", support_count=5)
    client.force_login(people.worker)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(reverse("staff_queue"), {"sort": "supporters"})
    assert [i.pk for i in response.context["page_obj"].object_list][:2] == [many.pk, few.pk]
    assert "+5 supporters" in response.content.decode()
