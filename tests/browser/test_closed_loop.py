"""The closed loop in a phone browser, as a 12345 platform runs it: a hotline call climbs to
the subdistrict, which dispatches it to the wrong department; the department returns it
(退单); the subdistrict dispatches it jointly to a lead and a co-handling department (联办);
both complete their sub-tasks; the lead resolves it; the community calls the caller back
(回访), who is not satisfied, so it is handled again; resolved again, the caller is
satisfied on the second call-back and the issue is closed. Every step goes through the
pages; the timeline reads each step in Chinese. Screenshots in test-artifacts/."""

import pytest

from issues.models import (
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    ReturnReason,
    Satisfaction,
    Source,
    Status,
)
from tests.browser.conftest import no_horizontal_scroll
from tests.browser.test_staff_ladder import act, open_issue_from_queue, sign_in_as
from tests.factories import DepartmentFactory, staff_on

K = IssueEvent.Kind
pytestmark = pytest.mark.django_db(transaction=True)


def open_issue(page, number):
    page.goto(f"/staff/issues/{number}/")
    page.wait_for_load_state()
    assert no_horizontal_scroll(page)


def open_panel(page, action):
    panel = page.locator(f"#action-{action}")
    panel.locator("summary").click()
    return panel


def send(page, panel):
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1, page.content()[:3000]


def test_hotline_return_joint_handling_and_call_back(page, shot, territory, people):
    t = territory  # and the people's accounts, signed in by name
    ReturnReason.objects.get_or_create(name="不属于本部门职责")
    market = DepartmentFactory(subdistrict=t.subdistrict, name="市场监管所")
    sanitation = DepartmentFactory(subdistrict=t.subdistrict, name="环卫所")
    staff_on(market, username="market")
    staff_on(sanitation, username="sanitation")

    # Subdistrict staff take a hotline call; it lands at the grid.
    sign_in_as(page, "subdistrict")
    page.goto("/staff/hotline/")
    page.fill("#id_caller_name", "刘先生")
    page.fill("#id_caller_phone", "13668881234")
    page.select_option("#id_grid", str(t.grid.pk))
    page.select_option("#id_category", str(t.category.pk))
    page.fill("#id_title", "市场东侧雨水井堵塞")
    page.fill("#id_description", "一下雨污水就漫进市场，摊位进水。")
    page.click("#hotline-form button[type=submit]")
    page.wait_for_load_state()
    issue = Issue.objects.get()
    number = issue.tracking_number
    assert (issue.source, issue.caller_phone) == (Source.HOTLINE, "13668881234")

    # It climbs: the grid and the community cannot settle it.
    sign_in_as(page, "gridworker")
    open_issue_from_queue(page, number)
    act(page, "escalate", fill={"reason": "涉及管网，网格无法处置"})
    sign_in_as(page, "community")
    open_issue_from_queue(page, number)
    act(page, "escalate", fill={"reason": "需街道派单"})

    # The subdistrict dispatches it to the wrong department.
    sign_in_as(page, "subdistrict")
    open_issue_from_queue(page, number)
    act(page, "dispatch", select={"department": str(market.pk)})

    # 退单: the market regulator returns it, with a reason from the list.
    sign_in_as(page, "market")
    open_issue_from_queue(page, number)
    panel = open_panel(page, "return")
    panel.locator("#id_return-reason").select_option(index=1)
    panel.locator("#id_return-note").fill("雨水管网养护不属于市场监管职责")
    shot(page, "department-returns")
    send(page, panel)
    issue.refresh_from_db()
    assert (issue.status, issue.level, issue.department, issue.return_count) == (
        Status.SUBMITTED,
        Level.SUBDISTRICT,
        None,
        1,
    )

    # 联办: the subdistrict dispatches it again, to a lead and a co-handling department.
    sign_in_as(page, "subdistrict")
    open_issue_from_queue(page, number)
    panel = open_panel(page, "dispatch_joint")
    panel.locator("#id_dispatch_joint-lead").select_option(str(sanitation.pk))
    panel.locator(f'input[name="dispatch_joint-co_handlers"][value="{t.department.pk}"]').check()
    panel.locator("#id_dispatch_joint-instruction").fill("环卫所疏通管网；城管查处倾倒油污的商户")
    shot(page, "subdistrict-dispatches-jointly")
    send(page, panel)
    issue.refresh_from_db()
    assert (issue.department, issue.open_task_count) == (sanitation, 2)

    # The co-handler finds its sub-task in its queue's 联办任务 tab and completes it.
    sign_in_as(page, "department")
    page.goto("/staff/?scope=tasks")
    assert page.locator(f'a[href="/staff/issues/{number}/"]').count() == 1
    shot(page, "co-handler-tasks")
    open_issue(page, number)
    assert page.locator("#action-resolve").count() == 0
    act(page, "complete_task", fill={"note": "已对两家倾倒油污的商户立案处罚"})

    # The lead cannot resolve before its own sub-task is done; then it does.
    sign_in_as(page, "sanitation")
    open_issue_from_queue(page, number)
    act(page, "accept")
    assert page.locator("#action-resolve").count() == 0
    act(page, "complete_task", fill={"note": "管网已疏通，垃圾已清运"})
    act(page, "resolve", fill={"note": "雨水井已疏通，周边商户已整改。"})
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    assert set(issue.tasks.values_list("state", flat=True)) == {IssueTask.State.DONE}

    # 回访: the community calls the caller, who is not satisfied: handled again.
    sign_in_as(page, "community")
    page.goto("/staff/?scope=callback")
    assert page.locator(f'a[href="/staff/issues/{number}/"]').count() == 1
    open_issue(page, number)
    assert page.get_by_text("13668881234").count() >= 1  # the number to call
    panel = open_panel(page, "callback")
    panel.locator(f'input[name="callback-outcome"][value="{Satisfaction.DISSATISFIED}"]').check()
    panel.locator("#id_callback-said").fill("下大雨时还是往市场里漫水")
    shot(page, "community-calls-back")
    send(page, panel)
    issue.refresh_from_db()
    assert (issue.status, issue.reopen_count, issue.department) == (
        Status.IN_PROGRESS,
        1,
        sanitation,
    )

    # The lead department handles it again and resolves it.
    sign_in_as(page, "sanitation")
    open_issue_from_queue(page, number)
    act(page, "resolve", fill={"note": "已加装截污格栅并扩大排水管径。"})

    # The second call-back: satisfied, and the issue is closed.
    sign_in_as(page, "community")
    open_issue(page, number)
    panel = open_panel(page, "callback")
    panel.locator(f'input[name="callback-outcome"][value="{Satisfaction.SATISFIED}"]').check()
    panel.locator("#id_callback-said").fill("这次下雨没有再漫水了")
    send(page, panel)
    issue.refresh_from_db()
    assert (issue.status, issue.satisfaction) == (Status.CLOSED, Satisfaction.SATISFIED)

    assert [e.kind for e in issue.events.all()] == [
        K.FILED,
        K.ESCALATED,
        K.ESCALATED,
        K.DISPATCHED,
        K.RETURNED,
        K.JOINT_DISPATCHED,
        K.TASK_COMPLETED,
        K.ACCEPTED,
        K.TASK_COMPLETED,
        K.RESOLVED,
        K.REOPENED,
        K.RESOLVED,
        K.CALLED_BACK,
    ]

    # The timeline tells each step in Chinese, at phone width.
    assert no_horizontal_scroll(page)
    timeline = page.locator("section[aria-labelledby=timeline-heading]").inner_text()
    for words in (
        "已被部门退单",
        "已派单联办",
        "已完成子任务",
        "已办结",
        "已回访",
        "不满意",
        "满意",
        "市场监管所",
        "环卫所",
    ):
        assert words in timeline, words
    shot(page, "timeline-closed")
