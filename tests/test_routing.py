"""Routing by point: a report with a pin and no building goes to the grid holding the pin;
outside every grid it is refused with a message and nothing is saved."""

import uuid
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from issues import workflow
from issues.models import Issue, IssueEvent, Source
from tests.factories import BuildingFactory
from tests.test_geo import square

# The territory's two grids of 全运村社区 side by side; they share the meridian 117.13.
OWN = square(117.12, 36.61, 117.13, 36.62)
SIBLING = square(117.13, 36.61, 117.14, 36.62)
INSIDE_OWN = (36.615, 117.125)
INSIDE_SIBLING = (36.615, 117.135)
ON_BORDER = (36.615, 117.13)
OUTSIDE = (36.70, 117.30)


@pytest.fixture
def mapped(territory):
    territory.grid.boundary = OWN
    territory.grid.save()
    territory.sibling_grid.boundary = SIBLING
    territory.sibling_grid.save()
    return territory


def file_at(people, t, point, **kwargs):
    return workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=t.category,
        title="井盖松动",
        description="井盖松动，有绊倒风险。",
        latitude=point[0],
        longitude=point[1],
        **kwargs,
    )


def test_a_point_inside_a_grid_files_there_and_keeps_the_point(mapped, people):
    issue = file_at(people, mapped, INSIDE_SIBLING)
    assert issue.grid == mapped.sibling_grid
    assert issue.community == mapped.community
    assert (issue.latitude, issue.longitude) == (Decimal("36.615000"), Decimal("117.135000"))


def test_a_point_on_a_shared_border_goes_to_the_same_grid_every_time(mapped, people):
    grids = {file_at(people, mapped, ON_BORDER).grid_id for _ in range(3)}
    assert grids == {mapped.grid.pk}  # LD-QYC-01 < LD-QYC-02


def test_a_point_outside_every_grid_is_refused_and_nothing_is_saved(mapped, people, settings):
    settings.LANGUAGE_CODE = "en"
    with pytest.raises(workflow.WorkflowError) as exc:
        file_at(people, mapped, OUTSIDE)
    assert exc.value.code == "outside_grids"
    assert "outside" in exc.value.message and "龙洞街道" in exc.value.message
    assert not Issue.objects.exists() and not IssueEvent.objects.exists()


def test_a_point_far_outside_china_is_refused(mapped, people):
    with pytest.raises(workflow.WorkflowError) as exc:
        file_at(people, mapped, (117.125, 36.615))  # axes swapped
    assert exc.value.code == "bad_point"
    assert not Issue.objects.exists()


def test_a_building_places_the_issue_at_its_point(mapped, people):
    building = BuildingFactory(
        grid=mapped.grid, latitude=Decimal("36.6151"), longitude=Decimal("117.1251")
    )
    issue = workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=mapped.category,
        title="t",
        description="d",
        building=building,
    )
    assert (issue.grid, issue.latitude, issue.longitude) == (
        mapped.grid,
        Decimal("36.615100"),
        Decimal("117.125100"),
    )


def report(client, t, **place):
    data = {
        "category": t.category.pk,
        "title": "井盖松动",
        "description": "井盖松动，有绊倒风险。",
        "submission_token": str(uuid.uuid4()),
        **place,
    }
    return client.post(reverse("issue_report"), data)


def test_the_report_form_files_by_pin_without_a_building(client, mapped, people):
    client.force_login(people.resident)
    response = report(client, mapped, latitude=INSIDE_SIBLING[0], longitude=INSIDE_SIBLING[1])
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert issue.grid == mapped.sibling_grid and issue.building is None


def test_the_report_form_refuses_a_pin_outside_and_keeps_the_input(client, mapped, people):
    client.force_login(people.resident)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = report(client, mapped, latitude=OUTSIDE[0], longitude=OUTSIDE[1])
    assert response.status_code == 200
    assert "This place is outside 龙洞街道、姚家街道&#x27;s grids" in response.content.decode()
    assert "井盖松动" in response.content.decode()
    assert not Issue.objects.exists()


def test_the_report_form_needs_a_pin_or_a_building(client, mapped, people):
    client.force_login(people.resident)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = report(client, mapped)
    assert response.status_code == 200
    assert "Put a pin on the map, or choose from this list." in response.content.decode()
    response = report(client, mapped, latitude=INSIDE_OWN[0])
    assert "The point on the map is incomplete" in response.content.decode()
    assert not Issue.objects.exists()


def test_patrol_and_hotline_route_by_pin(client, mapped, people):
    client.force_login(people.worker)
    data = {
        "category": mapped.category.pk,
        "title": "井盖松动",
        "description": "井盖松动",
        "submission_token": str(uuid.uuid4()),
        "latitude": INSIDE_OWN[0],
        "longitude": INSIDE_OWN[1],
    }
    assert client.post(reverse("staff_patrol"), data).status_code == 302
    # A worker's pin in a grid that is not theirs is refused.
    data.update(submission_token=str(uuid.uuid4()), latitude=INSIDE_SIBLING[0])
    data["longitude"] = INSIDE_SIBLING[1]
    assert client.post(reverse("staff_patrol"), data).status_code == 200
    client.force_login(people.community_staff)
    call = {
        **data,
        "caller_name": "李先生",
        "caller_phone": "13912345678",
        "submission_token": str(uuid.uuid4()),
    }
    assert client.post(reverse("staff_hotline"), call).status_code == 302
    assert sorted(Issue.objects.values_list("source", "grid__code")) == [
        (Source.HOTLINE, "LD-QYC-02"),
        (Source.PATROL, "LD-QYC-01"),
    ]


def test_the_hotline_files_for_a_building_found_by_address(client, mapped, people):
    from tests.factories import BuildingFactory

    building = BuildingFactory(
        grid=mapped.sibling_grid,
        name="全运村B区2号楼",
        address="经十东路33388号",
        latitude=Decimal("36.6151"),
        longitude=Decimal("117.1351"),
    )
    found = client.get(reverse("building_lookup"), {"q": "33388 B区"}).json()["buildings"]
    assert [b["id"] for b in found] == [building.pk]
    assert found[0]["grid"]["id"] == mapped.sibling_grid.pk and found[0]["lat"] == 36.6151
    assert client.get(reverse("building_lookup"), {"q": "x"}).json() == {"buildings": []}
    client.force_login(people.community_staff)
    call = {
        "caller_name": "李先生",
        "caller_phone": "13912345678",
        "category": mapped.category.pk,
        "title": "噪音扰民",
        "description": "夜间施工噪音",
        "building": building.pk,
        "submission_token": str(uuid.uuid4()),
    }
    assert client.post(reverse("staff_hotline"), call).status_code == 302
    issue = Issue.objects.get()
    assert (issue.grid, issue.building, issue.latitude) == (
        mapped.sibling_grid,
        building,
        Decimal("36.615100"),
    )
    # A building outside the staff member's area is not accepted.
    client.force_login(people.other_community_staff)
    call["submission_token"] = str(uuid.uuid4())
    assert client.post(reverse("staff_hotline"), call).status_code == 200
    assert Issue.objects.count() == 1
