"""The ladder in a phone browser: a resident reports; the grid worker accepts and
escalates; the community escalates; the subdistrict dispatches; the department accepts and
resolves with an after-photo; the resident evaluates. Then a patrol report settled on the
spot. Every step goes through the pages, with a screenshot in test-artifacts/."""

import io

import pytest
from PIL import Image

from issues.models import Issue, IssueEvent, Level, Satisfaction, Source, Status
from tests.browser.conftest import login, no_horizontal_scroll

K = IssueEvent.Kind
pytestmark = pytest.mark.django_db(transaction=True)


def png_file(tmp_path, name, colour):
    path = tmp_path / name
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


def sign_in_as(page, username):
    page.context.clear_cookies()
    login(page, username)


def open_issue_from_queue(page, number):
    """Staff land on their queue after signing in; the issue is listed there."""
    assert page.url.endswith("/staff/"), page.url
    page.click(f'a[href="/staff/issues/{number}/"]')
    page.wait_for_load_state()
    assert no_horizontal_scroll(page)


def act(page, action, fill=None, select=None, files=None):
    """Open an action's panel on the staff issue page, fill it in and send it."""
    panel = page.locator(f"#action-{action}")
    panel.locator("summary").click()
    for field, value in (fill or {}).items():
        panel.locator(f"#id_{action}-{field}").fill(value)
    for field, value in (select or {}).items():
        panel.locator(f"#id_{action}-{field}").select_option(value)
    for field, path in (files or {}).items():
        panel.locator(f"#id_{action}-{field}").set_input_files(path)
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1, page.content()[:3000]


def test_the_ladder_from_report_to_evaluation(page, shot, territory, people, tmp_path):
    t, p = territory, people

    # A resident reports a problem at their home building.
    sign_in_as(page, "resident")
    page.goto("/report/")
    page.select_option("#id_category", str(t.category.pk))
    page.fill("#id_title", "路灯不亮")
    page.fill("#id_description", "三号楼前的路灯坏了一周。")
    shot(page, "resident-reports")
    page.click("#report-form > button[type=submit]")
    page.wait_for_load_state()
    issue = Issue.objects.get()
    number = issue.tracking_number
    assert (issue.source, issue.reporter, issue.grid) == (Source.RESIDENT, p.resident, t.grid)
    shot(page, "resident-sees-tracking-number")

    # The grid worker finds it on the queue, accepts it (triage) and escalates it.
    sign_in_as(page, "gridworker")
    shot(page, "worker-queue")
    open_issue_from_queue(page, number)
    act(page, "accept", select={"severity": "urgent"})
    shot(page, "worker-accepted")
    act(page, "escalate", fill={"reason": "需要社区协调物业更换灯杆"})
    issue.refresh_from_db()
    assert (issue.level, issue.status, issue.severity) == (
        Level.COMMUNITY,
        Status.SUBMITTED,
        "urgent",
    )
    # The worker still follows it but has nothing left to do on it.
    assert page.locator("#action-escalate").count() == 0
    shot(page, "worker-escalated")

    # Community staff escalate it to the subdistrict.
    sign_in_as(page, "community")
    open_issue_from_queue(page, number)
    act(page, "escalate", fill={"reason": "需街道协调城管"})
    shot(page, "community-escalated")

    # Subdistrict staff dispatch it to a department.
    sign_in_as(page, "subdistrict")
    open_issue_from_queue(page, number)
    act(page, "dispatch", select={"department": str(t.department.pk)})
    issue.refresh_from_db()
    assert (issue.level, issue.department) == (Level.SUBDISTRICT, t.department)
    shot(page, "subdistrict-dispatched")

    # The department accepts and resolves it, with an after-photo.
    sign_in_as(page, "department")
    open_issue_from_queue(page, number)
    act(page, "accept")
    act(
        page,
        "resolve",
        fill={"note": "已更换灯泡，恢复照明。"},
        files={"photos": png_file(tmp_path, "after.png", "yellow")},
    )
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    assert issue.photos.filter(event__kind=K.RESOLVED).count() == 1
    shot(page, "department-resolved")

    # The resident evaluates the result.
    sign_in_as(page, "resident")
    page.goto(f"/my/{number}/")
    page.check(f'#evaluate-form input[value="{Satisfaction.SATISFIED}"]')
    shot(page, "resident-evaluates")
    page.click("#evaluate-form button[type=submit]")
    page.wait_for_load_state()
    issue.refresh_from_db()
    assert (issue.status, issue.satisfaction) == (Status.CLOSED, Satisfaction.SATISFIED)
    shot(page, "resident-closed")
    assert [e.kind for e in issue.events.all()] == [
        K.FILED,
        K.ACCEPTED,
        K.ESCALATED,
        K.ESCALATED,
        K.DISPATCHED,
        K.ACCEPTED,
        K.RESOLVED,
        K.EVALUATED,
    ]


def test_a_patrol_report_settled_on_the_spot(page, shot, territory, people, tmp_path):
    t, p = territory, people
    sign_in_as(page, "gridworker")
    page.goto("/staff/patrol/")
    assert no_horizontal_scroll(page)
    # The resolution fields show only once "settled on the spot" is ticked.
    assert page.locator("#div_id_resolution").is_hidden()
    page.select_option("#id_category", str(t.category.pk))
    page.fill("#id_title", "共享单车堵塞消防通道")
    page.fill("#id_description", "5号楼消防通道停放了十几辆共享单车。")
    page.set_input_files("#id_photos", png_file(tmp_path, "before.png", "red"))
    page.check("#id_settled")
    assert page.locator("#div_id_resolution").is_visible()
    page.fill("#id_resolution", "已联系运维人员清走，通道畅通。")
    page.set_input_files("#id_after_photos", png_file(tmp_path, "after.png", "green"))
    shot(page, "patrol-form")
    page.click(".patrol-form button[type=submit]")
    page.wait_for_load_state()

    issue = Issue.objects.get()
    assert (issue.source, issue.reporter, issue.status) == (
        Source.PATROL,
        p.worker,
        Status.RESOLVED,
    )
    assert [e.kind for e in issue.events.all()] == [K.FILED, K.ACCEPTED, K.RESOLVED]
    assert issue.photos.count() == 2
    assert page.url.endswith("/staff/patrol/reports/")
    assert issue.tracking_number in page.content()
    assert no_horizontal_scroll(page)
    shot(page, "patrol-list")
