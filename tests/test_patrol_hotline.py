"""Patrol (行走网格), hotline intake and the staff's arrival notices."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from issues import workflow
from issues.models import Issue, IssueEvent, Notification, Photo, Severity, Source, Status
from tests.factories import BuildingFactory, IssueFactory, issue_at

K = IssueEvent.Kind
PATROL = "/staff/patrol/"
PATROL_LIST = "/staff/patrol/reports/"
HOTLINE = "/staff/hotline/"


def _png(name="photo.png", colour="red"):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def select(html, name) -> str:
    """The options of the form's <select name=...>."""
    match = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert match, name
    return match.group(0)


def patrol_data(t, **extra):
    data = {
        "grid": t.grid.pk,
        "category": t.category.pk,
        "title": "井盖松动",
        "description": "3号楼北侧井盖松动，有绊倒风险。",
        "address": "3号楼北侧",
        "submission_token": str(uuid.uuid4()),
    }
    data.update(extra)
    return data


# --- patrol -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status",
    [
        ("worker", 200),
        ("community_staff", 403),
        ("subdistrict_staff", 403),
        ("department_staff", 403),
        ("resident", 403),
    ],
)
def test_patrol_is_for_grid_workers(client, territory, people, role, status):
    client.force_login(getattr(people, role))
    assert client.get(PATROL).status_code == status
    assert client.get(PATROL_LIST).status_code == status


def test_patrol_offers_only_the_workers_own_grids(client, territory, people):
    t = territory
    own = BuildingFactory(grid=t.grid, name="巡查测试楼")
    BuildingFactory(grid=t.sibling_grid, name="邻网格商铺")
    client.force_login(people.worker)
    response = client.get(PATROL)
    text = response.text
    grids = select(text, "grid")
    assert f'<option value="{t.grid.pk}" selected>' in grids  # their only grid, preselected
    assert f'value="{t.sibling_grid.pk}"' not in grids
    assert f'value="{own.pk}"' in select(text, "building")
    assert "邻网格商铺" not in text
    assert 'enctype="multipart/form-data"' in text


def test_a_patrol_report_is_filed_in_the_grid(
    client, territory, people, django_capture_on_commit_callbacks
):
    t, p = territory, people
    client.force_login(p.worker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PATROL, patrol_data(t, photos=[_png()]))
    assert response.status_code == 302
    assert response.url == PATROL_LIST
    issue = Issue.objects.get()
    assert (issue.source, issue.reporter, issue.grid, issue.status) == (
        Source.PATROL,
        p.worker,
        t.grid,
        Status.SUBMITTED,
    )
    assert issue.address == "3号楼北侧"
    assert [e.kind for e in issue.events.all()] == [K.FILED]
    assert Photo.objects.filter(issue=issue, event__kind=K.FILED).count() == 1
    # The colleague on the grid hears of it; the worker who filed it does not.
    assert set(Notification.objects.values_list("user__username", "reason")) == {
        ("gridworker2", Notification.Reason.NEW_AT_UNIT)
    }


def test_settled_on_the_spot_is_three_events_in_one_step(
    client, territory, people, django_capture_on_commit_callbacks
):
    t, p = territory, people
    client.force_login(p.worker)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            PATROL,
            patrol_data(
                t,
                settled="on",
                resolution="已现场固定井盖",
                photos=[_png("before.png")],
                after_photos=[_png("after.png", "blue")],
            ),
        )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert (issue.status, issue.assignee, issue.resolved_by) == (
        Status.RESOLVED,
        p.worker,
        p.worker,
    )
    events = list(issue.events.all())
    assert [e.kind for e in events] == [K.FILED, K.ACCEPTED, K.RESOLVED]
    assert all(e.actor == p.worker for e in events)
    assert events[2].note == "已现场固定井盖"
    assert Photo.objects.filter(event=events[0]).count() == 1
    assert Photo.objects.filter(event=events[2]).count() == 1
    # Nobody reported it as a resident: a second staff member verifies it later.
    assert not issue.has_resident_reporter
    # Already settled, it does not arrive in the colleagues' work as something new.
    assert not Notification.objects.filter(reason=Notification.Reason.NEW_AT_UNIT).exists()


def test_settled_without_saying_how_is_a_form_error(client, territory, people):
    client.force_login(people.worker)
    response = client.post(PATROL, patrol_data(territory, settled="on", resolution=" "))
    assert response.status_code == 200
    assert 'id="id_resolution"' in response.text
    assert "is-invalid" in response.text
    assert not Issue.objects.exists()
    assert "井盖松动" in response.text  # what was typed is kept


def test_settling_on_the_spot_is_all_or_nothing(territory, people):
    """If the last step fails, the filing and acceptance are not kept either."""
    t, p = territory, people

    def fail_on_resolution(sender, instance, **kwargs):
        if instance.kind == K.RESOLVED:
            raise RuntimeError("storage down")

    pre_save.connect(fail_on_resolution, sender=IssueEvent)
    try:
        with pytest.raises(RuntimeError):
            workflow.file_settled_on_spot(
                actor=p.worker,
                category=t.category,
                title="井盖松动",
                description="北侧",
                grid=t.grid,
                note="已固定",
            )
    finally:
        pre_save.disconnect(fail_on_resolution, sender=IssueEvent)
    assert not Issue.objects.exists()
    assert not IssueEvent.objects.exists()


def test_settling_on_the_spot_needs_a_note_before_anything_is_stored(territory, people):
    with pytest.raises(workflow.WorkflowError):
        workflow.file_settled_on_spot(
            actor=people.worker,
            category=territory.category,
            title="井盖松动",
            description="北侧",
            grid=territory.grid,
            note="",
        )
    assert not Issue.objects.exists()


def test_a_resent_patrol_form_files_once(client, territory, people):
    client.force_login(people.worker)
    data = patrol_data(territory, settled="on", resolution="已固定")
    assert client.post(PATROL, data).status_code == 302
    assert client.post(PATROL, data).status_code == 302
    issue = Issue.objects.get()
    assert issue.events.count() == 3


@pytest.mark.parametrize(
    "change",
    [
        {"grid": "sibling"},  # not their grid
        {"building": "elsewhere"},  # a building outside the chosen grid
        {"title": ""},
        {"category": "999999"},
    ],
)
def test_bad_patrol_input_is_refused_on_the_form(client, territory, people, change):
    t = territory
    BuildingFactory(grid=t.sibling_grid, name="邻网格商铺")
    data = patrol_data(t)
    if change.get("grid") == "sibling":
        data["grid"] = t.sibling_grid.pk
    elif change.get("building") == "elsewhere":
        data["building"] = t.sibling_grid.buildings.get().pk
    else:
        data.update(change)
    client.force_login(people.worker)
    response = client.post(PATROL, data)
    assert response.status_code == 200
    assert "is-invalid" in response.text
    assert not Issue.objects.exists()


def test_the_patrol_list_shows_own_reports_by_day(client, territory, people):
    t, p = territory, people
    now = timezone.now()
    today = issue_at(t, reporter=p.worker, source=Source.PATROL, title="今天的")
    yesterday = issue_at(
        t,
        reporter=p.worker,
        source=Source.PATROL,
        title="昨天的",
        created_at=now - timedelta(days=1),
    )
    issue_at(t, reporter=p.worker2, source=Source.PATROL, title="同事的")
    issue_at(t, reporter=p.resident, source=Source.RESIDENT, title="居民的")
    client.force_login(p.worker)
    text = client.get(PATROL_LIST).text
    assert "同事的" not in text and "居民的" not in text
    assert text.index("今天的") < text.index("昨天的")
    assert text.count("<h2 ") == 2
    assert f"{timezone.localdate(today.created_at):%Y-%m-%d}" in text
    assert f"{timezone.localdate(yesterday.created_at):%Y-%m-%d}" in text


def test_the_patrol_list_runs_the_same_queries_for_3_and_60_reports(client, territory, people):
    t, p = territory, people
    now = timezone.now()

    def make(n, offset):
        Issue.objects.bulk_create(
            IssueFactory.build(
                grid=t.grid,
                community=t.community,
                subdistrict=t.subdistrict,
                category=t.category,
                reporter=p.worker,
                source=Source.PATROL,
                created_at=now - timedelta(hours=offset + i * 5),
            )
            for i in range(n)
        )

    client.force_login(p.worker)
    make(3, 0)
    with CaptureQueriesContext(connection) as few:
        client.get(PATROL_LIST)
    make(57, 100)
    with CaptureQueriesContext(connection) as many:
        response = client.get(PATROL_LIST)
    assert len(many) == len(few)
    assert "page=2" in response.text


# --- hotline ------------------------------------------------------------------------------


def hotline_data(t, **extra):
    data = {
        "caller_name": "李先生",
        "caller_phone": "13912345678",
        "grid": t.grid.pk,
        "category": t.category.pk,
        "severity": "",
        "title": "噪音扰民",
        "description": "夜间施工噪音",
        "submission_token": str(uuid.uuid4()),
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    "role, status",
    [
        ("community_staff", 200),
        ("subdistrict_staff", 200),
        ("worker", 403),
        ("department_staff", 403),
        ("resident", 403),
    ],
)
def test_hotline_is_for_community_and_subdistrict_staff(client, territory, people, role, status):
    client.force_login(getattr(people, role))
    assert client.get(HOTLINE).status_code == status


def test_a_hotline_call_is_filed_for_the_caller(
    client, territory, people, django_capture_on_commit_callbacks
):
    t, p = territory, people
    client.force_login(p.community_staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            HOTLINE, hotline_data(t, caller_phone="0531-8888 9999", severity=Severity.URGENT)
        )
    issue = Issue.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("staff_issue_detail", args=[issue.tracking_number])
    assert (issue.source, issue.reporter, issue.caller_name, issue.caller_phone) == (
        Source.HOTLINE,
        None,
        "李先生",
        "0531-88889999",
    )
    assert (issue.grid, issue.severity, issue.status) == (t.grid, Severity.URGENT, Status.SUBMITTED)
    assert issue.events.get().actor == p.community_staff
    # The grid's workers are told it arrived.
    assert set(Notification.objects.values_list("user__username", flat=True)) == {
        "gridworker",
        "gridworker2",
    }


def test_a_resent_hotline_form_files_one_issue(client, territory, people):
    client.force_login(people.community_staff)
    data = hotline_data(territory)
    first = client.post(HOTLINE, data)
    second = client.post(HOTLINE, data)
    issue = Issue.objects.get()
    assert first.status_code == second.status_code == 302
    assert second.url == reverse("staff_issue_detail", args=[issue.tracking_number])
    assert issue.events.count() == 1


def test_another_person_cannot_reuse_a_hotline_form_token(client, territory, people):
    data = hotline_data(territory)
    client.force_login(people.community_staff)
    client.post(HOTLINE, data)
    client.force_login(people.subdistrict_staff)
    response = client.post(HOTLINE, data)
    assert response.status_code == 200
    assert _("This form was already sent. Open the form again to file a new report.") in (
        response.context["form"].non_field_errors()
    )
    assert Issue.objects.count() == 1


@pytest.mark.parametrize(
    "phone, ok",
    [
        ("13912345678", True),
        ("+86 139 1234 5678", True),
        ("0531-88889999", True),
        ("053188889999", True),
        ("88889999", True),
        ("0531-88889999-123", True),
        ("12345", False),
        ("23912345678", False),
        ("call me", False),
        ("0531/88889999", False),
        ("", False),
    ],
)
def test_the_callers_phone_is_checked_loosely(client, territory, people, phone, ok):
    client.force_login(people.community_staff)
    response = client.post(HOTLINE, hotline_data(territory, caller_phone=phone))
    assert (response.status_code == 302) is ok
    assert Issue.objects.exists() is ok


@pytest.mark.parametrize(
    "role, grid, ok",
    [
        ("community_staff", "grid", True),
        ("community_staff", "sibling_grid", True),
        ("community_staff", "cousin_grid", False),  # another community
        ("subdistrict_staff", "cousin_grid", True),
        ("subdistrict_staff", "far_grid", False),  # another subdistrict
    ],
)
def test_hotline_grids_are_those_of_the_staffs_area(client, territory, people, role, grid, ok):
    t = territory
    client.force_login(getattr(people, role))
    target = getattr(t, grid)
    assert (f'value="{target.pk}"' in select(client.get(HOTLINE).text, "grid")) is ok
    response = client.post(HOTLINE, hotline_data(t, grid=target.pk))
    assert (response.status_code == 302) is ok
    assert Issue.objects.filter(grid=target).exists() is ok


def test_a_hotline_call_without_the_callers_name_is_a_form_error(client, territory, people):
    client.force_login(people.subdistrict_staff)
    response = client.post(HOTLINE, hotline_data(territory, caller_name="  "))
    assert response.status_code == 200
    assert not Issue.objects.exists()


# --- staff hear of new arrivals -----------------------------------------------------------


def _arrivals(user):
    return list(
        Notification.objects.filter(user=user, reason=Notification.Reason.NEW_AT_UNIT)
        .order_by("id")
        .values_list("issue__tracking_number", "event__kind")
    )


def test_new_issues_reach_the_unit_they_arrive_at(
    client, territory, people, django_capture_on_commit_callbacks
):
    """Filed → the grid's workers; escalated → the community's staff, then the
    subdistrict's; dispatched → the department's. Each is in their unread count."""
    t, p = territory, people
    with django_capture_on_commit_callbacks(execute=True):
        issue = workflow.file_issue(
            actor=p.resident,
            source=Source.RESIDENT,
            category=t.category,
            title="路灯不亮",
            description="三号楼前",
            grid=t.grid,
        )
    number = issue.tracking_number
    assert _arrivals(p.worker) == [(number, K.FILED)]
    assert _arrivals(p.worker2) == [(number, K.FILED)]
    assert _arrivals(p.sibling_worker) == []
    assert _arrivals(p.community_staff) == []

    for actor, action, data in [
        (p.worker, "escalate", {"escalate-reason": "需社区协调"}),
        (p.community_staff, "escalate", {"escalate-reason": "需街道协调"}),
        (p.subdistrict_staff, "dispatch", {"dispatch-department": t.department.pk}),
    ]:
        client.force_login(actor)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("staff_issue_action", args=[number, action]), data)
        assert response.status_code == 302

    assert _arrivals(p.community_staff) == [(number, K.ESCALATED)]
    assert _arrivals(p.other_community_staff) == []
    assert _arrivals(p.subdistrict_staff2) == [(number, K.ESCALATED)]
    assert _arrivals(p.subdistrict_staff) == [(number, K.ESCALATED)]
    assert _arrivals(p.department_staff) == [(number, K.DISPATCHED)]
    assert _arrivals(p.other_department_staff) == []
    assert _arrivals(p.far_staff) == []
    # The unread count everyone with a post on the department sees.
    client.force_login(p.department_staff)
    assert p.department_staff.notifications.filter(is_read=False).count() == 1
