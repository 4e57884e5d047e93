"""People, not login names: pages show a person's name; residents read staff as the Chinese
convention names them to the public (网格员王某); one 姓名 field in the admin and forms."""

from django.urls import reverse

from issues import workflow
from issues.models import Source


def filed(people, territory):
    return workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="路灯坏了",
        description="不亮",
        building=people.resident.home_building,
    )


def test_the_staff_timeline_says_who_was_assigned_by_name(client, people, territory):
    people.worker2.first_name = "刘芳"
    people.worker2.save()
    issue = workflow.accept(issue=filed(people, territory), actor=people.worker)
    workflow.assign(issue=issue, actor=people.worker, assignee=people.worker2)
    client.force_login(people.worker)
    html = client.get(reverse("staff_issue_detail", args=[issue.tracking_number])).text
    assert "指派给：刘芳" in html
    assert people.worker2.username not in html and people.worker.username not in html
    assert "张伟" in html  # the actor, by name


def test_residents_read_staff_as_role_and_surname(client, people, territory):
    issue = workflow.accept(issue=filed(people, territory), actor=people.worker)
    workflow.comment(issue=issue, actor=people.community_staff, note="社区已知悉", is_public=True)
    people.community_staff.first_name = "王磊"
    people.community_staff.save()
    client.force_login(people.resident)
    html = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "网格员张某" in html
    assert "社区工作人员王某" in html
    for hidden in ("张伟", "王磊", "…", people.worker.username, people.community_staff.username):
        assert hidden not in html, hidden


def test_a_staff_member_without_a_name_is_named_by_role_only(client, people, territory):
    people.worker.first_name = ""
    people.worker.save()
    issue = workflow.accept(issue=filed(people, territory), actor=people.worker)
    client.force_login(people.resident)
    html = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "网格员" in html and people.worker.username not in html


def test_the_admin_has_one_name_field(admin_client, people):
    html = admin_client.get(reverse("admin:grids_user_change", args=[people.worker.pk])).text
    assert 'name="first_name"' in html and 'name="last_name"' not in html
    assert "姓名" in html
    add = admin_client.get(reverse("admin:grids_user_add")).text
    assert 'name="first_name"' in add and 'name="last_name"' not in add


def test_the_admin_normalises_and_keeps_mobile_numbers_unique(admin_client, people):
    response = admin_client.post(
        reverse("admin:grids_user_add"),
        {
            "username": "chenchen",
            "password1": "Quiet-river-42",
            "password2": "Quiet-river-42",
            "usable_password": "true",
            "first_name": "陈晨",
            "phone": people.worker.phone[:3] + "-" + people.worker.phone[3:],
            "posts-TOTAL_FORMS": "0",
            "posts-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "already has an account" in response.text or "已注册账号" in response.text
