"""Issues and rules in the admin: actions through the workflow, read-only history,
export, categories and the deadline table."""

import io
import re

import openpyxl
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from issues import permissions, workflow
from issues.models import (
    DEFAULT_SLA,
    Issue,
    IssueEvent,
    Level,
    Satisfaction,
    Severity,
    SlaPolicy,
    SlaUnit,
    Source,
    Status,
)
from issues.transitions import Action
from tests.factories import CategoryFactory, IssueFactory, UserFactory, issue_at, staff_on

CHANGELIST = reverse("admin:issues_issue_changelist")


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, action, issues, **form):
    """The admin's two steps: choose the action (the intermediate page), then apply."""
    selected = {"action": action, "_selected_action": [i.pk for i in issues]}
    page = client.post(CHANGELIST, selected)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/issues/issue/workflow_action.html"
    return page, client.post(CHANGELIST, selected | form | {"apply": "1"})


# --- actions go through the workflow ------------------------------------------------------------


def test_escalate_writes_one_event_per_issue_with_the_reason(admin_en, root, territory):
    first = issue_at(territory, "grid")
    second = issue_at(territory, "community", status=Status.IN_PROGRESS)
    page, response = run_action(admin_en, "escalate", [first, second], reason="需要社区协调")
    assert first.tracking_number in page.content.decode()
    assert 'name="reason"' in page.content.decode()
    assert response.status_code == 302
    assert texts(response) == ["Escalated 2 issues."]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.level, first.status) == (Level.COMMUNITY, Status.SUBMITTED)
    assert (second.level, second.status) == (Level.SUBDISTRICT, Status.SUBMITTED)
    for issue in (first, second):
        [event] = issue.events.all()
        # The reason is for the staff who take it over, not the reporter.
        assert (event.kind, event.actor, event.internal_note, event.note) == (
            IssueEvent.Kind.ESCALATED,
            root,
            "需要社区协调",
            "",
        )


def test_an_action_the_workflow_refuses_changes_nothing_and_says_why(admin_en, territory):
    top = issue_at(territory, "subdistrict")  # nothing above the subdistrict
    closed = issue_at(territory, "grid", status=Status.CLOSED)
    fine = issue_at(territory, "grid")
    _page, response = run_action(admin_en, "escalate", [top, closed, fine], reason="超时")
    assert response.status_code == 302
    messages = texts(response)
    assert f"{top.tracking_number}: “Escalate” is not possible while the issue is Submitted." in (
        messages
    )
    assert f"{closed.tracking_number}: “Escalate” is not possible while the issue is Closed." in (
        messages
    )
    assert "Escalated 1 issue." in messages
    assert not top.events.exists() and not closed.events.exists()
    top.refresh_from_db()
    assert top.level == Level.SUBDISTRICT
    assert fine.events.count() == 1


def test_a_reason_is_required(admin_en, territory):
    issue = issue_at(territory, "grid")
    _page, response = run_action(admin_en, "reject", [issue], reason="   ")
    assert response.status_code == 200  # the intermediate page again, with the error
    assert response.context["form"].errors["reason"]
    issue.refresh_from_db()
    assert issue.status == Status.SUBMITTED and not issue.events.exists()


def test_reject_closes_with_the_reason(admin_en, root, territory):
    issue = issue_at(territory, "grid", status=Status.IN_PROGRESS)
    _page, response = run_action(admin_en, "reject", [issue], reason="不属于受理范围")
    assert texts(response) == ["Rejected 1 issue."]
    issue.refresh_from_db()
    assert issue.status == Status.REJECTED and issue.closed_at
    [event] = issue.events.all()
    assert (event.kind, event.actor, event.note) == (
        IssueEvent.Kind.REJECTED,
        root,
        "不属于受理范围",
    )


def test_reassign_offers_only_staff_of_the_current_units(admin_en, root, territory, people):
    p = people
    at_grid = issue_at(territory, "grid", assignee=p.worker)
    at_community = issue_at(territory, "community")
    page, _response = run_action(admin_en, "reassign", [at_grid, at_community], reason="x")
    offered = set(page.context["form"].fields["assignee"].queryset)
    assert offered == {p.worker, p.worker2, p.community_staff}

    _page, response = run_action(
        admin_en, "reassign", [at_grid, at_community], assignee=p.worker2.pk, reason="换人"
    )
    messages = texts(response)
    assert "Reassigned 1 issue." in messages
    assert any(
        m.startswith(f"{at_community.tracking_number}: ") and "holds no post" in m for m in messages
    )
    at_grid.refresh_from_db()
    assert at_grid.assignee == p.worker2
    [event] = at_grid.events.all()
    assert (event.kind, event.actor, event.note) == (IssueEvent.Kind.ASSIGNED, root, "换人")
    assert not at_community.events.exists()

    # Someone from elsewhere is not even a choice.
    _page, response = run_action(
        admin_en, "reassign", [at_grid], assignee=p.far_staff.pk, reason="x"
    )
    assert response.status_code == 200
    assert response.context["form"].errors["assignee"]


def test_staff_without_a_post_are_refused_by_the_workflow(client, territory):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_issue", "change_issue"])
    )
    client.force_login(clerk)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    issue = issue_at(territory, "grid")
    _page, response = run_action(client, "escalate", [issue], reason="试试")
    assert texts(response) == [f"{issue.tracking_number}: You may not “Escalate” this issue."]
    assert not issue.events.exists()


def test_superusers_pass_the_role_rule_but_never_the_flow_or_the_residents_part(
    root, territory, people
):
    submitted = issue_at(territory, "grid")
    assert {Action.ACCEPT, Action.ASSIGN, Action.ESCALATE, Action.REJECT} <= set(
        permissions.allowed_actions(root, submitted)
    )
    top = issue_at(territory, "subdistrict")
    assert not permissions.can(root, Action.ESCALATE, top)
    resolved = issue_at(
        territory, "grid", status=Status.RESOLVED, reporter=people.resident, resolved_by=root
    )
    assert not permissions.can(root, Action.EVALUATE, resolved)
    assert not permissions.can(root, Action.REOPEN, resolved)
    assert not permissions.can(root, Action.SUPERVISE, top)
    hotline = issue_at(
        territory, "grid", status=Status.RESOLVED, source=Source.HOTLINE, reporter=None
    )
    assert permissions.can(root, Action.VERIFY, hotline)
    hotline.resolved_by = root  # a second pair of eyes, even for an administrator
    assert not permissions.can(root, Action.VERIFY, hotline)


# --- read-only issue and events -------------------------------------------------------------------


def test_issue_fields_the_workflow_owns_cannot_be_edited(admin_en, territory, people):
    issue = issue_at(territory, "grid", assignee=people.worker)
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    page = admin_en.get(url).content.decode()
    for name in ("status", "level", "assignee", "department", "category", "severity", "grid"):
        assert f'name="{name}"' not in page, name
    response = admin_en.post(
        url,
        {
            "title": "改过的标题",
            "description": issue.description,
            "status": Status.CLOSED,
            "level": Level.SUBDISTRICT,
            "assignee": people.worker2.pk,
            "tasks-TOTAL_FORMS": 0,
            "tasks-INITIAL_FORMS": 0,
            "events-TOTAL_FORMS": 0,
            "events-INITIAL_FORMS": 0,
            "photos-TOTAL_FORMS": 0,
            "photos-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.title == "改过的标题"  # wording may be corrected (e.g. personal data removed)
    assert (issue.status, issue.level, issue.assignee) == (
        Status.SUBMITTED,
        Level.GRID,
        people.worker,
    )
    assert admin_en.get(reverse("admin:issues_issue_add")).status_code == 403


def test_every_field_but_the_reports_wording_is_read_only(admin_en, territory):
    """A field added to the issue later is the workflow's until said otherwise: the change
    form offers the report's wording and nothing else (the counters and deadlines of the
    closed loop included)."""
    from issues.workflow import EDITABLE_DETAILS

    issue = issue_at(territory, "grid")
    form = (
        admin_en.get(reverse("admin:issues_issue_change", args=[issue.pk]))
        .context["adminform"]
        .form
    )
    # (The answers to a category's questions are shown in the form too, as before.)
    assert set(form.fields) - {"answers"} == set(EDITABLE_DETAILS)
    assert admin_en.get(reverse("admin:issues_issue_delete", args=[issue.pk])).status_code == 403


def test_events_cannot_be_added_changed_or_deleted(admin_en, territory):
    issue = issue_at(territory, "grid")
    event = IssueEvent.objects.create(
        issue=issue, kind=IssueEvent.Kind.FILED, to_status=Status.SUBMITTED, to_level=Level.GRID
    )
    change = reverse("admin:issues_issueevent_change", args=[event.pk])
    assert admin_en.get(reverse("admin:issues_issueevent_add")).status_code == 403
    assert 'name="note"' not in admin_en.get(change).content.decode()  # view only
    assert admin_en.post(change, {"note": "改写历史"}).status_code == 403
    delete = reverse("admin:issues_issueevent_delete", args=[event.pk])
    assert admin_en.get(delete).status_code == 403
    assert admin_en.post(delete, {"post": "yes"}).status_code == 403
    changelist = admin_en.get(reverse("admin:issues_issueevent_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    event.refresh_from_db()
    assert event.note == ""

    # Nor through the issue's timeline inline.
    page = admin_en.get(reverse("admin:issues_issue_change", args=[issue.pk])).content.decode()
    assert 'name="events-0-note"' not in page and 'name="events-0-DELETE"' not in page
    issue_changelist = admin_en.get(CHANGELIST).content.decode()
    assert "delete_selected" not in issue_changelist


# --- export ---------------------------------------------------------------------------------------


def export(client, fmt, query=""):
    response = client.post(
        reverse("admin:issues_issue_export") + query, {"format": fmt, "resource": "0"}
    )
    assert response.status_code == 200
    return response


def test_issue_export_follows_the_filters_and_leaves_phones_out(admin_en, territory, people):
    phoned = issue_at(
        territory,
        "grid",
        title='=HYPERLINK("http://evil")',
        source=Source.HOTLINE,
        reporter=None,
        caller_name="王先生",
        caller_phone="13999990000",
        assignee=people.worker,
    )
    by_resident = issue_at(territory, "community", reporter=people.resident)
    issue_at(territory, "grid", status=Status.CLOSED, satisfaction=Satisfaction.SATISFIED)

    content = export(admin_en, "0", "?status__exact=submitted").content.decode("utf-8-sig")
    lines = content.splitlines()
    assert lines[0].split(",")[:5] == [
        "tracking number",
        "title",
        "category",
        "severity",
        "source",
    ]
    assert "reopen" in lines[0].lower() and "under supervision" in lines[0]
    numbers = {line.split(",")[0] for line in lines[1:]}
    assert numbers == {phoned.tracking_number, by_resident.tracking_number}
    row = next(line for line in lines if line.startswith(phoned.tracking_number))
    assert "'=HYPERLINK" in row  # a spreadsheet shows it as text, never runs it
    assert "Hotline call" in row and "gridworker" in row and "第一网格" in row
    for secret in ("13999990000", people.resident.phone, "王先生"):
        assert secret not in content

    book = openpyxl.load_workbook(io.BytesIO(export(admin_en, "1").content))
    rows = list(book.active.values)
    assert len(rows) == 4  # the header and three issues
    titles = [r[1] for r in rows[1:]]
    assert '\'=HYPERLINK("http://evil")' in titles  # text, not a formula
    created = rows[1][12]
    assert created.tzinfo is None and created.year >= 2026  # a real date cell, local time


def test_the_export_page_offers_csv_and_excel(admin_en, territory):
    page = admin_en.get(reverse("admin:issues_issue_export") + "?status__exact=submitted")
    assert page.status_code == 200
    text = page.content.decode()
    assert ">csv<" in text and ">xlsx<" in text
    assert "?status__exact=submitted" in admin_en.get(CHANGELIST + "?status__exact=submitted").text


# --- rules: categories and deadlines -----------------------------------------------------------


def test_categories_are_edited_with_their_default_department(admin_en, territory):
    category = CategoryFactory(name="噪音扰民", default_severity=Severity.MINOR)
    url = reverse("admin:issues_category_change", args=[category.pk])
    response = admin_en.post(
        url,
        {
            "name": "噪音扰民",
            "hint": "夜间施工、广场舞",
            "default_severity": Severity.URGENT,
            "department": territory.department.pk,
            "is_active": "on",
            "sort_order": 3,
            "code": category.code,
            "questions-TOTAL_FORMS": 0,
            "questions-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    category.refresh_from_db()
    assert (category.hint, category.default_severity, category.department) == (
        "夜间施工、广场舞",
        Severity.URGENT,
        territory.department,
    )
    listed = admin_en.get(reverse("admin:issues_category_changelist") + "?department__isnull=True")
    assert list(listed.context["cl"].result_list) == []


def sla_changelist_data(deadlines_by_pk):
    """The changelist's formset, each row's (unit, amount)."""
    data = {
        "form-TOTAL_FORMS": len(deadlines_by_pk),
        "form-INITIAL_FORMS": len(deadlines_by_pk),
        "form-MIN_NUM_FORMS": 0,
        "form-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }
    for i, (pk, (unit, amount)) in enumerate(deadlines_by_pk.items()):
        data |= {f"form-{i}-id": pk, f"form-{i}-unit": unit, f"form-{i}-amount": amount}
    return data


def deadlines() -> dict:
    return {pk: (unit, amount) for pk, unit, amount in SlaPolicy.objects.values_list(
        "pk", "unit", "amount"
    )}  # fmt: skip


def test_deadlines_are_edited_in_the_list_and_must_be_positive(admin_en, db):
    url = reverse("admin:issues_slapolicy_changelist")
    policies = list(SlaPolicy.objects.order_by("severity", "level"))
    assert len(policies) == 9
    before = deadlines()

    bad = before | {
        policies[0].pk: (SlaUnit.HOURS, 0),
        policies[1].pk: (SlaUnit.WORKING_DAYS, -3),
        policies[2].pk: ("fortnights", 2),
    }
    response = admin_en.post(url, sla_changelist_data(bad))
    assert response.status_code == 200
    errors = [form.errors for form in response.context["cl"].formset.forms]
    assert errors[0]["amount"] == ["A deadline is at least 1 hour or 1 working day."]
    assert "amount" in errors[1]
    assert "unit" in errors[2]
    assert deadlines() == before  # nothing saved

    # The length and what it counts are both edited in the list.
    good = before | {policies[0].pk: (SlaUnit.WORKING_DAYS, 2), policies[1].pk: (SlaUnit.HOURS, 36)}
    response = admin_en.post(url, sla_changelist_data(good))
    assert response.status_code == 302
    assert deadlines() == good
    table = SlaPolicy.table()
    assert (
        table[(policies[0].severity, policies[0].level)].unit,
        table[(policies[0].severity, policies[0].level)].amount,
    ) == (SlaUnit.WORKING_DAYS, 2)


def test_deadlines_cannot_be_deleted_or_doubled(admin_en, db):
    policy = SlaPolicy.objects.first()
    delete = reverse("admin:issues_slapolicy_delete", args=[policy.pk])
    assert admin_en.get(delete).status_code == 403
    assert admin_en.post(delete, {"post": "yes"}).status_code == 403
    page = admin_en.get(reverse("admin:issues_slapolicy_changelist")).content.decode()
    assert "delete_selected" not in page
    assert SlaPolicy.objects.count() == 9

    add = reverse("admin:issues_slapolicy_add")
    response = admin_en.post(
        add, {"severity": policy.severity, "level": policy.level, "unit": "hours", "amount": 5}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["__all__"]
    assert SlaPolicy.objects.count() == 9


def test_a_missing_deadline_is_flagged_with_a_link_to_add_it(admin_en, db):
    url = reverse("admin:issues_slapolicy_changelist")
    assert not list(admin_en.get(url).context["messages"])
    SlaPolicy.objects.filter(severity=Severity.URGENT, level=Level.COMMUNITY).delete()
    response = admin_en.get(url)
    [message] = list(response.context["messages"])
    assert message.level_tag == "warning"
    assert "Urgent matter · Community" in str(message)
    # The link carries the built-in default (what applies until the row is added).
    unit, amount = DEFAULT_SLA[(Severity.URGENT, Level.COMMUNITY)]
    query = f"?severity=urgent&amp;level=community&amp;unit={unit}&amp;amount={amount}"
    assert (unit, amount) == (SlaUnit.HOURS, 12)
    assert reverse("admin:issues_slapolicy_add") + query in response.content.decode()

    # The link opens the add page prefilled; saving it closes the gap.
    form = (
        admin_en.get(reverse("admin:issues_slapolicy_add") + query.replace("&amp;", "&"))
        .context["adminform"]
        .form
    )
    assert (form.initial["severity"], form.initial["level"]) == ("urgent", "community")
    assert (form.initial["unit"], form.initial["amount"]) == ("hours", "12")
    response = admin_en.post(
        reverse("admin:issues_slapolicy_add"),
        {"severity": "urgent", "level": "community", "unit": "hours", "amount": 0},
    )
    assert response.context["adminform"].form.errors["amount"] == [
        "A deadline is at least 1 hour or 1 working day."
    ]
    admin_en.post(
        reverse("admin:issues_slapolicy_add"),
        {"severity": "urgent", "level": "community", "unit": "working_days", "amount": 2},
    )
    deadline = SlaPolicy.table()[(Severity.URGENT, Level.COMMUNITY)]
    assert (deadline.unit, deadline.amount) == (SlaUnit.WORKING_DAYS, 2)
    after = admin_en.get(url).context["messages"]
    assert not [m for m in after if m.level_tag == "warning"]


def test_issue_changelist_filters_by_category(admin_en, territory):
    other = CategoryFactory(name="占道经营")
    IssueFactory(grid=territory.grid, category=other, title="摊贩占道")
    IssueFactory(grid=territory.grid, category=territory.category, title="垃圾成堆")
    page = admin_en.get(CHANGELIST + f"?category__id__exact={other.pk}").content.decode()
    assert "摊贩占道" in page and "垃圾成堆" not in page
    assert Issue.objects.count() == 2


# --- corrections are on the record ------------------------------------------------------------


def change_form(issue, **fields):
    data = {
        "title": issue.title,
        "description": issue.description,
        "address": issue.address,
        "caller_name": issue.caller_name,
        "caller_phone": issue.caller_phone,
        "tasks-TOTAL_FORMS": 0,
        "tasks-INITIAL_FORMS": 0,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
        "photos-TOTAL_FORMS": 0,
        "photos-INITIAL_FORMS": 0,
    }
    return data | fields


def test_corrections_reach_the_timeline_with_before_and_after(admin_en, root, territory):
    issue = issue_at(
        territory, "grid", status=Status.CLOSED, source=Source.HOTLINE, reporter=None,
        caller_name="王先生", caller_phone="13953100001", address="3号楼",
    )  # fmt: skip
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    data = change_form(issue, description="东门路灯不亮（已删除住户姓名）", caller_phone="")
    assert admin_en.post(url, data).status_code == 302
    assert admin_en.post(url, data).status_code == 302  # sent again: nothing more to record

    issue.refresh_from_db()
    assert (issue.description, issue.caller_phone) == ("东门路灯不亮（已删除住户姓名）", "")
    assert issue.status == Status.CLOSED
    [event] = issue.events.all()
    assert (event.kind, event.actor, event.is_public) == (IssueEvent.Kind.EDITED, root, False)
    assert event.data == {
        "before": {"description": "晚上小区路灯不亮，出行不便。", "caller_phone": "13953100001"},
        "after": {"description": "东门路灯不亮（已删除住户姓名）", "caller_phone": ""},
    }
    # The staff timeline says what changed.
    staff = staff_on(territory.grid, username="staff")
    admin_en.force_login(staff)
    page = admin_en.get(reverse("staff_issue_detail", args=[issue.tracking_number])).text
    assert "Details corrected" in page and "“13953100001” → “”" in page


def test_an_empty_title_is_a_form_error_and_changes_nothing(admin_en, territory):
    issue = issue_at(territory, "grid")
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    response = admin_en.post(url, change_form(issue, title=""))
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not issue.events.exists()


def test_staff_with_admin_access_but_no_superuser_cannot_correct(client, territory):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_issue", "change_issue"])
    )
    client.force_login(clerk)
    issue = issue_at(territory, "grid")
    url = reverse("admin:issues_issue_change", args=[issue.pk])
    assert 'name="title"' not in client.get(url).content.decode()
    client.post(url, change_form(issue, title="改过的标题"))
    issue.refresh_from_db()
    assert issue.title != "改过的标题" and not issue.events.exists()


def test_a_resent_admin_action_is_applied_once(admin_en, territory):
    issue = issue_at(territory, "grid")
    page = admin_en.post(CHANGELIST, {"action": "escalate", "_selected_action": [issue.pk]})
    token = page.context["form"]["submission_token"].value()
    assert f'value="{token}"' in page.content.decode()
    selected = {"action": "escalate", "_selected_action": [issue.pk], "apply": "1"}
    form = {"reason": "需要社区协调", "submission_token": str(token)}
    for _ in range(2):
        admin_en.post(CHANGELIST, selected | form)
    issue.refresh_from_db()
    assert issue.level == Level.COMMUNITY  # escalated once, not twice
    assert issue.events.count() == 1


def test_issue_changelist_has_few_columns_and_short_titles(admin_en, territory):
    long_title = "小区东门外的人行道上长期堆放大量建筑垃圾和废旧家具，雨天污水横流"
    IssueFactory(grid=territory.grid, title=long_title)
    page = admin_en.get(CHANGELIST).content.decode()
    columns = re.findall(
        r'<th scope="col" class="[^"]*column-([\w]+)',
        page.split('id="result_list"')[1].split("</thead>")[0],
    )
    assert columns == [
        "tracking_number",
        "short_title",
        "status",
        "level",
        "grid",
        "due",
    ]
    # The title is cut to one short line, the whole of it on hover.
    assert f'<span title="{long_title}">' in page
    assert f">{long_title}<" not in page


def test_admin_home_lists_coverage_without_a_table(admin_en, db):
    page = admin_en.get(reverse("admin:index")).content.decode()
    module = page.split('id="coverage-module"')[1].split("</div>")[0]
    assert "<table" not in module
    assert f'class="coverage-name" href="{reverse("admin:coverage")}"' in module
    assert "css/admin.css" in page


# --- query counts ---------------------------------------------------------------------------


def _queries(client, method, url, data=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert getattr(client, method)(url, data or {}).status_code == 200
    return len(captured)


def test_the_issue_page_runs_the_same_queries_however_long_its_history(admin_en, territory, people):
    p = people
    issue = issue_at(territory, "grid", status=Status.IN_PROGRESS, assignee=p.worker)
    url = reverse("admin:issues_issue_change", args=[issue.pk])

    def add_history(n):
        for i in range(n):
            actor = [p.worker, p.worker2, p.community_staff][i % 3]
            workflow.comment(issue=issue, actor=actor, note=f"第{i}条", is_public=bool(i % 2))

    add_history(2)
    _queries(admin_en, "get", url)  # the admin's caches (content types, site), warmed
    few = _queries(admin_en, "get", url)
    add_history(30)
    assert _queries(admin_en, "get", url) == few


@pytest.mark.parametrize("action", ["escalate", "reject", "reassign"])
def test_an_actions_page_runs_the_same_queries_for_3_and_43_issues(admin_en, territory, action):
    t = territory
    grids = [t.grid, t.sibling_grid, t.cousin_grid]
    chosen = [issue_at(t, "grid", grid=grids[i % 3]) for i in range(3)]

    def page(issues):
        selected = {"action": action, "_selected_action": [i.pk for i in issues]}
        return _queries(admin_en, "post", CHANGELIST, selected)

    page(chosen)  # the admin's caches, warmed
    few = page(chosen)
    chosen += [issue_at(t, "grid", grid=grids[i % 3]) for i in range(40)]
    assert page(chosen) == few
