"""The staff issue page: what it shows, and every action through it.

The matrix is written out by hand from DESIGN.md §5–6 (not recomputed from the rule book):
who sees an issue at each position, who handles it there, and which actions the flow
allows there.
"""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image

from issues import permissions, workflow
from issues.models import (
    Issue,
    IssueEvent,
    Level,
    Photo,
    ReturnReason,
    Severity,
    Source,
    Status,
)
from issues.views.staff import ISSUE_PAGE_UNREAD
from participation.models import PartnerUnit
from tests.factories import (
    CategoryFactory,
    DepartmentFactory,
    ResidentFactory,
    issue_at,
    staff_on,
)

K = IssueEvent.Kind

ROLES = [
    "resident",  # reported it: sees it on the resident pages, never here
    "worker",  # the issue's grid
    "sibling_worker",
    "community_staff",  # the parent community
    "other_community_staff",
    "subdistrict_staff",  # the parent subdistrict
    "far_staff",  # another subdistrict
    "department_staff",  # the department it is dispatched to at position "department"
    "other_department_staff",
]
POSITIONS = ["grid", "community", "subdistrict", "department"]
# Who sees an issue of t.grid as staff, by position.
SEES = {
    "grid": {"worker", "community_staff", "subdistrict_staff"},
    "community": {"worker", "community_staff", "subdistrict_staff"},
    "subdistrict": {"worker", "community_staff", "subdistrict_staff"},
    "department": {"worker", "community_staff", "subdistrict_staff", "department_staff"},
}
# Who handles it (the current unit's staff), by position.
HANDLER = {
    "grid": "worker",
    "community": "community_staff",
    "subdistrict": "subdistrict_staff",
    "department": "department_staff",
}
# A colleague on the current unit to assign it to, by position.
COLLEAGUE = {
    "grid": "worker2",
    "community": "community_staff",
    "subdistrict": "subdistrict_staff2",
    "department": "department_staff",
}

# action: (status it starts in, extra fields, event kind written, status it ends in)
SETUP = {
    "accept": (Status.SUBMITTED, {}, K.ACCEPTED, Status.IN_PROGRESS),
    "assign": (Status.IN_PROGRESS, {}, K.ASSIGNED, Status.IN_PROGRESS),
    "comment": (Status.IN_PROGRESS, {}, K.COMMENTED, Status.IN_PROGRESS),
    "escalate": (Status.SUBMITTED, {}, K.ESCALATED, Status.SUBMITTED),
    "dispatch": (Status.SUBMITTED, {}, K.DISPATCHED, Status.SUBMITTED),
    "suspend": (Status.IN_PROGRESS, {}, K.SUSPENDED, Status.SUSPENDED),
    "resume": (Status.SUSPENDED, {}, K.RESUMED, Status.IN_PROGRESS),
    "resolve": (Status.IN_PROGRESS, {}, K.RESOLVED, Status.RESOLVED),
    "verify": (Status.RESOLVED, {"source": Source.PATROL}, K.VERIFIED, Status.CLOSED),
    "reject": (Status.SUBMITTED, {}, K.REJECTED, Status.REJECTED),
    "duplicate": (Status.SUBMITTED, {}, K.DUPLICATE, Status.REJECTED),
}


def photo_url(photo) -> str:
    return reverse("photo", args=[photo.pk])


def expected(action: str, position: str, role: str) -> str:
    if role == "resident":
        return "403"  # holds no post: the staff workspace is closed to them
    if role not in SEES[position]:
        return "404"
    at_subdistrict = position in ("subdistrict", "department")
    if action == "escalate" and at_subdistrict:
        return "refused"  # nothing above the subdistrict: it dispatches instead
    if action == "dispatch" and not at_subdistrict:
        return "refused"  # only the subdistrict dispatches
    if action == "comment":
        return "ok"  # every staff member who sees it
    if action == "dispatch":
        return "ok" if role == "subdistrict_staff" else "refused"
    return "ok" if role == HANDLER[position] else "refused"


def post_data(action, position, t, p):
    data = {
        "accept": {"category": t.category.pk, "severity": Severity.URGENT, "note": ""},
        "assign": {"assignee": getattr(p, COLLEAGUE[position]).pk},
        "comment": {"note": "已联系物业", "visibility": "internal"},
        "escalate": {"reason": "需社区协调"},
        "dispatch": {"department": t.sister_department.pk},
        "suspend": {"reason": "等待业主回来"},
        "resume": {},
        "resolve": {"note": "已修好"},
        "verify": {"note": "现场核实"},
        "reject": {"reason": "不属于受理范围"},
        "duplicate": {"original": t.original.tracking_number},
    }[action]
    return {f"{action}-{key}": value for key, value in data.items()}


def action_url(issue, action):
    return reverse("staff_issue_action", args=[issue.tracking_number, action])


def detail_url(issue):
    return reverse("staff_issue_detail", args=[issue.tracking_number])


def row(issue):
    return Issue.objects.filter(pk=issue.pk).values().get()


@pytest.fixture
def t(territory, people):
    territory.sister_department = DepartmentFactory(
        subdistrict=territory.subdistrict, name="市场监管"
    )
    # An original for "mark as duplicate", seen by everyone who sees the issues below.
    territory.original = issue_at(
        territory, "department", status=Status.CLOSED, reporter=people.other_resident
    )
    return territory


def one_case_per_outcome() -> list[tuple[str, str, str]]:
    """For each action, one (position, role) for each outcome it can have.

    The rule book's matrix (tests/test_permissions.py) covers every role at every position;
    through HTTP it is enough that each answer the page can give is given once per action.
    Each action starts looking at the next position, so the cases visit every position.
    """
    cases = {}
    for number, action in enumerate(SETUP):
        for position in POSITIONS[number % 4 :] + POSITIONS[: number % 4]:
            for role in ROLES[::-1] if number % 2 else ROLES:
                cases.setdefault((action, expected(action, position, role)), (position, role))
    return [(action, position, role) for (action, _), (position, role) in cases.items()]


@pytest.mark.parametrize(("action", "position", "role"), one_case_per_outcome())
def test_every_action_through_the_page(client, t, people, action, position, role):
    p = people
    status, extra, kind, to_status = SETUP[action]
    issue = issue_at(t, position, status=status, reporter=p.resident, **extra)
    if action == "verify":
        Issue.objects.filter(pk=issue.pk).update(reporter=p.worker2, resolved_by=p.worker2)
    before, events = row(issue), IssueEvent.objects.count()
    client.force_login(getattr(p, role))

    response = client.post(action_url(issue, action), post_data(action, position, t, p))

    outcome = expected(action, position, role)
    if outcome in ("403", "404"):
        assert response.status_code == int(outcome)
        assert row(issue) == before
        assert IssueEvent.objects.count() == events
        return
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == detail_url(issue)
    notes = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    if outcome == "ok":
        assert IssueEvent.objects.count() == events + 1
        event = IssueEvent.objects.latest("id")
        assert (event.issue_id, event.kind, event.actor) == (issue.pk, kind, getattr(p, role))
        assert row(issue)["status"] == to_status
        assert [level for level, _ in notes] == ["success"]
    else:
        assert row(issue) == before
        assert IssueEvent.objects.count() == events
        assert [level for level, _ in notes] == ["error"]


def test_the_outcome_table_covers_every_kind_of_answer():
    outcomes = {
        expected(action, position, role)
        for action in SETUP
        for position in POSITIONS
        for role in ROLES
    }
    assert outcomes == {"ok", "refused", "403", "404"}


# --- what the actions do ------------------------------------------------------------------


def test_accept_confirms_category_and_severity(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    noise = CategoryFactory(name="噪音扰民")
    client.force_login(people.worker)
    client.post(
        action_url(issue, "accept"),
        {"accept-category": noise.pk, "accept-severity": Severity.DIFFICULT},
    )
    issue.refresh_from_db()
    assert (issue.status, issue.assignee, issue.category, issue.severity) == (
        Status.IN_PROGRESS,
        people.worker,
        noise,
        Severity.DIFFICULT,
    )


def test_escalate_and_dispatch_move_the_issue(client, t, people):
    p = people
    issue = issue_at(t, reporter=p.resident)
    client.force_login(p.worker)
    client.post(action_url(issue, "escalate"), {"escalate-reason": "需社区协调"})
    client.force_login(p.community_staff)
    client.post(action_url(issue, "escalate"), {"escalate-reason": "需街道协调"})
    issue.refresh_from_db()
    assert issue.level == Level.SUBDISTRICT
    client.force_login(p.subdistrict_staff)
    client.post(action_url(issue, "dispatch"), {"dispatch-department": t.department.pk})
    issue.refresh_from_db()
    assert issue.department == t.department
    assert [e.kind for e in issue.events.all()] == [K.ESCALATED, K.ESCALATED, K.DISPATCHED]


def test_dispatch_offers_the_departments_of_the_subdistrict(client, t, people):
    issue = issue_at(t, "subdistrict", reporter=people.resident)
    client.force_login(people.subdistrict_staff)
    text = client.get(detail_url(issue)).text
    assert f'value="{t.department.pk}"' in text
    assert f'value="{t.sister_department.pk}"' in text
    assert f'value="{t.other_department.pk}"' not in text
    response = client.post(
        action_url(issue, "dispatch"), {"dispatch-department": t.other_department.pk}
    )
    assert response.status_code == 200  # not a choice: the form says so
    assert row(issue)["department_id"] is None


def test_assign_offers_colleagues_on_the_unit(client, t, people):
    p = people
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident, assignee=p.worker)
    client.force_login(p.worker)
    text = client.get(detail_url(issue)).text
    assert f'<option value="{p.worker2.pk}"' in text
    assert f'<option value="{p.sibling_worker.pk}"' not in text
    response = client.post(action_url(issue, "assign"), {"assign-assignee": p.sibling_worker.pk})
    assert response.status_code == 200
    assert "assign-assignee" in response.text
    assert row(issue)["assignee_id"] == p.worker.pk
    client.post(action_url(issue, "assign"), {"assign-assignee": p.worker2.pk})
    assert row(issue)["assignee_id"] == p.worker2.pk


def _png(name="after.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "green").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_resolve_with_after_photos(client, t, people):
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=people.resident)
    client.force_login(people.worker)
    response = client.post(
        action_url(issue, "resolve"),
        {"resolve-note": "已更换灯泡", "resolve-photos": [_png(), _png("b.png")]},
    )
    assert response.status_code == 302
    event = issue.events.get()
    assert event.kind == K.RESOLVED
    assert Photo.objects.filter(issue=issue, event=event).count() == 2


def test_a_bad_photo_is_an_error_on_the_form(client, t, people):
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=people.resident)
    client.force_login(people.worker)
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = client.post(
        action_url(issue, "resolve"), {"resolve-note": "已修好", "resolve-photos": [fake]}
    )
    assert response.status_code == 200
    assert "x.png" in response.text
    assert row(issue)["status"] == Status.IN_PROGRESS
    assert not Photo.objects.exists()


def test_comment_public_or_internal(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    client.force_login(people.community_staff)
    client.post(
        action_url(issue, "comment"),
        {"comment-note": "内部说明", "comment-visibility": "internal"},
    )
    client.post(
        action_url(issue, "comment"), {"comment-note": "已转告", "comment-visibility": "public"}
    )
    assert [(e.note, e.is_public) for e in issue.events.all()] == [
        ("内部说明", False),
        ("已转告", True),
    ]


@pytest.mark.parametrize(
    "action, data, field",
    [
        ("escalate", {"escalate-reason": "  "}, "escalate-reason"),
        ("reject", {}, "reject-reason"),
        ("accept", {"accept-category": "1", "accept-severity": "tiny"}, "accept-severity"),
        ("comment", {"comment-note": "", "comment-visibility": "public"}, "comment-note"),
        ("duplicate", {"duplicate-original": "NOPE"}, "duplicate-original"),
    ],
)
def test_invalid_input_shows_the_page_again_and_changes_nothing(
    client, t, people, action, data, field
):
    issue = issue_at(t, reporter=people.resident)
    before = row(issue)
    client.force_login(people.worker)
    response = client.post(action_url(issue, action), data)
    assert response.status_code == 200
    assert re.search(
        rf'id="id_{field}"[^>]*is-invalid|is-invalid[^>]*id="id_{field}"', response.text
    )
    assert f'id="action-{action}" open' in response.text
    assert row(issue) == before
    assert not IssueEvent.objects.filter(issue=issue).exists()


def test_duplicate_of_an_issue_you_cannot_see_is_unknown(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    far = issue_at(t, grid=t.far_grid, reporter=people.resident, title="姚家街道的井盖")
    client.force_login(people.worker)
    response = client.post(
        action_url(issue, "duplicate"), {"duplicate-original": far.tracking_number}
    )
    assert response.status_code == 200
    assert far.tracking_number in response.text  # named in the error, nothing else shown
    assert far.title not in response.text
    assert row(issue)["status"] == Status.SUBMITTED


def test_duplicate_of_itself_is_refused_on_the_form(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    client.force_login(people.worker)
    response = client.post(
        action_url(issue, "duplicate"), {"duplicate-original": issue.tracking_number}
    )
    assert response.status_code == 200
    assert row(issue)["status"] == Status.SUBMITTED


def test_mark_duplicate_points_at_the_original(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    client.force_login(people.worker)
    response = client.post(
        action_url(issue, "duplicate"), {"duplicate-original": f" {t.original.tracking_number} "}
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.duplicate_of) == (Status.REJECTED, t.original)
    assert t.original.tracking_number in client.get(detail_url(issue)).text


def test_a_workflow_refusal_shows_its_message(client, t, people):
    """Stale page: someone escalated the issue meanwhile; the worker's accept is refused."""
    issue = issue_at(t, reporter=people.resident)
    workflow.escalate(issue=issue, actor=people.worker2, reason="先上报")
    before = row(issue)
    client.force_login(people.worker)
    response = client.post(
        action_url(issue, "accept"),
        {"accept-category": t.category.pk, "accept-severity": Severity.MINOR},
        follow=True,
    )
    [message] = list(response.context["messages"])
    assert message.level_tag == "error"
    assert str(message) in response.text
    assert row(issue) == before


def test_a_stale_form_that_no_longer_fits_says_the_action_is_refused(client, t, people):
    """Escalated meanwhile: the colleague offered is no longer on the issue's unit, but the
    answer is that the worker may not assign it any more, not a form error."""
    p = people
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident, assignee=p.worker)
    workflow.escalate(issue=issue, actor=p.worker, reason="上报")
    client.force_login(p.worker)
    response = client.post(action_url(issue, "assign"), {"assign-assignee": p.worker2.pk})
    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"


def test_actions_are_post_only_and_named(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    client.force_login(people.worker)
    assert client.get(action_url(issue, "accept")).status_code == 405
    assert client.post(action_url(issue, "explode"), {}).status_code == 404
    assert client.post(action_url(issue, "evaluate"), {}).status_code == 404
    assert client.post(reverse("staff_issue_action", args=["NOSUCH", "accept"])).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    for response in (
        client.get(detail_url(issue)),
        client.post(action_url(issue, "accept"), {}),
    ):
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))
    assert not IssueEvent.objects.exists()


# --- what the page shows ------------------------------------------------------------------


def offered(response) -> set[str]:
    return set(re.findall(r'<details class="card mb-2" id="action-(\w+)"', response.text))


# The unit handling a small matter may open it to the volunteers of its grid.
HANDLING_SUBMITTED = {
    "accept", "assign", "comment", "escalate", "reject", "duplicate", "request_extension",
    "open_to_volunteers",
}  # fmt: skip
HANDLING_IN_PROGRESS = {
    "assign", "comment", "escalate", "suspend", "resolve", "reject", "duplicate",
    "request_extension", "open_to_volunteers",
}  # fmt: skip
AT_TOP_SUBMITTED = {
    "accept", "assign", "comment", "dispatch", "dispatch_joint", "reject", "duplicate",
    "request_extension", "supervise_note", "open_to_volunteers",
}  # fmt: skip
DEPARTMENT_IN_PROGRESS = {
    "assign", "comment", "suspend", "resolve", "reject", "duplicate", "return",
    "request_extension", "open_to_volunteers",
}  # fmt: skip
# Forms that stand for more than one action: marking a duplicate is a kind of rejection;
# the call-back's answer closes the issue, counts an unanswered call, or reopens it.
FORM_ACTIONS = {"duplicate": {"reject"}, "callback": {"callback", "callback_missed", "reopen"}}


@pytest.mark.parametrize(
    "position, status, role, fields, actions",
    [
        ("grid", Status.SUBMITTED, "worker", {}, HANDLING_SUBMITTED),
        ("grid", Status.IN_PROGRESS, "worker", {}, HANDLING_IN_PROGRESS),
        ("grid", Status.SUBMITTED, "community_staff", {}, {"comment", "supervise_note"}),
        ("community", Status.SUSPENDED, "community_staff", {}, {"comment", "resume"}),
        ("subdistrict", Status.SUBMITTED, "subdistrict_staff", {}, AT_TOP_SUBMITTED),
        (
            "department", Status.SUBMITTED, "subdistrict_staff", {},
            {"comment", "dispatch", "dispatch_joint", "supervise_note"},
        ),
        ("department", Status.IN_PROGRESS, "department_staff", {}, DEPARTMENT_IN_PROGRESS),
        ("grid", Status.RESOLVED, "worker", {}, {"comment"}),  # the resident evaluates
        ("grid", Status.CLOSED, "worker", set(), set()),
        # 延期: one request at a time; the level above decides.
        ("grid", Status.IN_PROGRESS, "worker", {"extension_until": "later"},
         HANDLING_IN_PROGRESS - {"request_extension"}),
        ("grid", Status.IN_PROGRESS, "community_staff", {"extension_until": "later"},
         {"comment", "supervise_note", "approve_extension", "refuse_extension"}),
        (
            "department", Status.IN_PROGRESS, "subdistrict_staff", {"extension_until": "later"},
            {"comment", "dispatch", "dispatch_joint", "supervise_note", "approve_extension",
             "refuse_extension"},
        ),
        # 回访: a hotline caller is called back by the community or the subdistrict.
        ("grid", Status.RESOLVED, "community_staff", {"source": Source.HOTLINE},
         {"comment", "callback"}),
        # The caller is asked first; verification closes it once nobody answered the tries.
        ("grid", Status.RESOLVED, "worker", {"source": Source.HOTLINE}, {"comment"}),
        ("grid", Status.RESOLVED, "worker", {"source": Source.HOTLINE, "callback_attempts": 3},
         {"comment", "verify"}),
    ],
)  # fmt: skip
def test_the_panel_offers_exactly_the_allowed_actions(
    client, t, people, position, status, role, fields, actions
):
    fields = dict(fields)
    if fields.get("extension_until"):
        fields["extension_until"] = timezone.now() + timedelta(days=5)
    if fields.get("source") == Source.HOTLINE:
        fields.update(reporter=None, caller_name="李先生", caller_phone="13800138000")
    else:
        fields["reporter"] = people.resident
    issue = issue_at(t, position, status=status, **fields)
    user = getattr(people, role)
    # The community has a partner unit (红色合伙人): its staff may list it on the issue.
    PartnerUnit.objects.create(community=t.community, name="物业服务中心党支部")
    if role == "community_staff" and status in (
        Status.SUBMITTED,
        Status.IN_PROGRESS,
        Status.SUSPENDED,
    ):
        actions = actions | {"add_partner"}
    client.force_login(user)
    response = client.get(detail_url(issue))
    assert response.status_code == 200
    assert offered(response) == actions
    # … which is what the rule book says: every allowed action has its form.
    allowed = {str(a) for a in permissions.allowed_actions(user, issue)}
    assert {a for name in actions for a in FORM_ACTIONS.get(name, {name})} == allowed


def test_verify_is_offered_to_a_second_staff_member_only(client, t, people):
    p = people
    issue = issue_at(
        t, status=Status.RESOLVED, source=Source.PATROL, reporter=p.worker, resolved_by=p.worker
    )
    client.force_login(p.worker)
    assert "verify" not in offered(client.get(detail_url(issue)))
    client.force_login(p.worker2)
    assert "verify" in offered(client.get(detail_url(issue)))


def test_the_page_shows_the_full_timeline_with_internal_notes_and_names(client, t, people):
    p = people
    issue = workflow.file_issue(
        actor=p.resident,
        source=Source.RESIDENT,
        category=t.category,
        title="路灯不亮",
        description="三号楼前路灯不亮",
        grid=t.grid,
    )
    workflow.comment(issue=issue, actor=p.worker, note="内部：周五去看", is_public=False)
    workflow.accept(issue=issue, actor=p.worker)
    client.force_login(p.community_staff)
    response = client.get(detail_url(issue))
    text = response.text
    assert "内部：周五去看" in text
    assert p.worker.get_full_name() in text
    assert text.count('<li class="internal">') == 1
    assert "三号楼前路灯不亮" in text


def test_filing_photos_are_shown(client, t, people):
    from issues.photos import clean_photo

    issue = workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=t.category,
        title="路灯不亮",
        description="三号楼前",
        grid=t.grid,
        photos=[clean_photo(_png())],
    )
    client.force_login(people.worker)
    text = client.get(detail_url(issue)).text
    photo = Photo.objects.get(issue=issue)
    assert text.count(photo_url(photo)) >= 2  # under the description and on the timeline


@pytest.mark.parametrize(
    "position, role, shown",
    [
        ("grid", "worker", True),
        ("grid", "community_staff", False),
        ("community", "worker", False),  # escalated: the worker still sees it, not the phone
        ("community", "community_staff", True),
        ("subdistrict", "subdistrict_staff", True),
        ("department", "department_staff", True),
        ("department", "subdistrict_staff", False),
        ("department", "worker", False),
    ],
)
def test_the_reporters_phone_is_for_the_handling_unit_only(
    client, t, people, position, role, shown
):
    p = people
    resident_issue = issue_at(t, position, reporter=p.resident)
    hotline_issue = issue_at(
        t,
        position,
        reporter=None,
        source=Source.HOTLINE,
        caller_name="李先生",
        caller_phone="0531-88889999",
    )
    client.force_login(getattr(p, role))
    text = client.get(detail_url(resident_issue)).text
    assert p.resident.username in text or p.resident.get_full_name() in text
    assert (p.resident.phone in text) is shown
    text = client.get(detail_url(hotline_issue)).text
    assert "李先生" in text
    assert ("0531-88889999" in text) is shown


def test_a_resident_never_gets_the_staff_page(client, t, people):
    issue = issue_at(t, reporter=people.resident)
    client.force_login(people.resident)
    assert client.get(detail_url(issue)).status_code == 403  # no post at all
    # A resident who also holds a post elsewhere: the issue is theirs but not their unit's.
    from tests.factories import post_for

    post_for(people.resident, t.far_grid)
    assert client.get(detail_url(issue)).status_code == 404


def test_the_page_runs_the_same_queries_for_a_long_history(client, t, people):
    p = people
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident, assignee=p.worker)
    client.force_login(p.worker)

    def comments(n):
        for i in range(n):
            workflow.comment(issue=issue, actor=p.worker2, note=f"记录{i}", is_public=i % 2 == 0)

    comments(2)
    with CaptureQueriesContext(connection) as short:
        client.get(detail_url(issue))
    comments(30)
    with CaptureQueriesContext(connection) as long:
        response = client.get(detail_url(issue))
    assert len(re.findall(r"记录\d+", response.text)) == 32
    assert len(long) == len(short)


def test_the_page_never_goes_back_for_the_columns_it_leaves_out(client, t, people):
    """The issue page leaves the related rows' unread columns out of its fetch (a person's
    password and flags, the duplicated issue's fields, the grid's boundary): on every kind
    of page, for every post that sees it, none is read afterwards, one query at a time,
    and what the page shows of them is there."""
    p = people
    p.resident.phone = "13800001111"
    p.resident.first_name = "王小明"
    p.resident.save()
    building = p.resident.home_building
    common = dict(reporter=p.resident, building=building, assignee=p.worker2)
    resolved = issue_at(t, status=Status.RESOLVED, resolved_by=p.worker2, **common)
    duplicate = issue_at(t, status=Status.REJECTED, duplicate_of=resolved, **common)
    dispatched = issue_at(t, "department", status=Status.IN_PROGRESS, **common)
    pages = [
        (resolved, ["worker", "community_staff", "subdistrict_staff"]),
        (duplicate, ["worker", "community_staff"]),
        (dispatched, ["department_staff", "subdistrict_staff"]),
    ]
    left_out = {
        "reporter": p.resident,
        "assignee": p.worker2,
        "duplicate_of": resolved,
        "grid": t.grid,
    }
    for issue, roles in pages:
        for role in roles:
            client.force_login(getattr(p, role))
            response = client.get(detail_url(issue))
            assert response.status_code == 200, (issue, role)
            shown = response.context["issue"]
            assert not Issue.resolved_by.is_cached(shown), role  # compared by id, never read
            for relation in left_out:
                related = getattr(shown, relation)
                if related is None:
                    continue
                assert related.get_deferred_fields(), relation  # something was left out...
                unread = {
                    type(related)._meta.get_field(name.split("__", 1)[1]).attname
                    for name in ISSUE_PAGE_UNREAD
                    if name.startswith(relation + "__")
                }
                assert related.get_deferred_fields() == unread, (role, relation)  # ...for good
            assert "王小明" in response.text
            assert (p.worker2.get_full_name() or p.worker2.username) in response.text
            if issue == duplicate:
                link = f'<a href="{detail_url(resolved)}">{resolved.tracking_number}</a>'
                assert link in response.text


def test_the_timeline_says_where_an_issue_went_and_to_whom(client, territory, people):
    t, p = territory, people
    issue = issue_at(t, "subdistrict")
    workflow.assign(issue=issue, actor=p.subdistrict_staff, assignee=p.subdistrict_staff2)
    workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.department)
    client.force_login(p.subdistrict_staff)
    page = client.get(detail_url(issue)).text
    assert _("Assigned to: %(name)s") % {"name": "subdistrict2"} in page
    assert _("To department: %(name)s") % {"name": t.department.name} in page


# --- a resent form, and who reads a note --------------------------------------------------


def test_a_resent_action_form_changes_nothing(client, t, people):
    p = people
    issue = issue_at(t, "grid", status=Status.SUBMITTED, reporter=p.resident)
    client.force_login(p.worker)
    page = client.get(detail_url(issue))
    token = page.context["action_forms"][0]["form"]["submission_token"].value()
    assert token and f'name="accept-submission_token" value="{token}"' in page.text
    data = {**post_data("accept", "grid", t, p), "accept-submission_token": str(token)}

    first = client.post(action_url(issue, "accept"), data)
    after_first = row(issue)
    second = client.post(action_url(issue, "accept"), data)  # the browser resends it

    assert (first.status_code, second.status_code) == (302, 302)
    assert row(issue) == after_first and after_first["status"] == Status.IN_PROGRESS
    assert issue.events.count() == 1
    assert "error" not in [m.level_tag for m in get_messages(second.wsgi_request)]
    # A fresh form (a new token) is a new action.
    comment = {"comment-note": "已联系物业", "comment-visibility": "internal"}
    client.post(action_url(issue, "comment"), comment)
    client.post(action_url(issue, "comment"), comment)
    assert issue.events.count() == 3


def test_every_action_form_says_who_reads_its_note(client, t, people):
    p = people
    client.force_login(p.worker)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    pages = [
        client.get(detail_url(issue_at(t, "grid", status=status, reporter=p.resident))).context
        for status in (Status.SUBMITTED, Status.IN_PROGRESS)
    ]
    pages.append(
        client.get(
            detail_url(
                issue_at(t, "grid", status=Status.SUSPENDED, suspended_at=t.original.created_at)
            )
        ).context
    )
    readers = {}
    for context in pages:
        for action in context["action_forms"]:
            form = action["form"]
            for name, field in form.fields.items():
                if name in ("note", "reason", "message"):
                    readers[(action["name"], name)] = str(field.help_text)
                if name == "visibility":
                    readers[(action["name"], name)] = " ".join(str(c) for _, c in field.choices)
    staff_only = "Staff only"
    for key in [("accept", "note"), ("assign", "note"), ("escalate", "reason"),
                ("suspend", "reason"), ("resume", "note")]:  # fmt: skip
        assert staff_only in readers[key], key
    for key in [("accept", "message"), ("escalate", "message"), ("suspend", "message"),
                ("resume", "message"), ("resolve", "note"), ("reject", "reason"),
                ("duplicate", "note")]:  # fmt: skip
        assert "the reporter reads it" in readers[key].lower(), key
    assert "Public" in readers[("resolve", "note")]
    assert "staff only" in readers[("comment", "visibility")]
    assert {action for action, _ in readers} >= {
        "accept", "assign", "comment", "escalate", "suspend", "resume", "resolve", "reject",
        "duplicate",
    }  # fmt: skip


def test_an_escalation_reason_stays_with_staff_and_the_message_reaches_the_reporter(
    client, t, people, django_capture_on_commit_callbacks
):
    p = people
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
    client.force_login(p.worker)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            action_url(issue, "escalate"),
            {
                "escalate-reason": "业主情绪激动，需社区出面",
                "escalate-message": "已提交社区协调处理。",
            },
        )
    issue.refresh_from_db()
    assert issue.level == Level.COMMUNITY
    staff_page = client.get(detail_url(issue)).text
    assert "业主情绪激动，需社区出面" in staff_page and "已提交社区协调处理。" in staff_page

    client.force_login(p.resident)
    resident_page = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "已提交社区协调处理。" in resident_page
    assert "业主情绪激动" not in resident_page
    note = p.resident.notifications.get()
    assert note.event.kind == K.ESCALATED
    notifications = client.get(reverse("notifications")).text
    assert "业主情绪激动" not in notifications


# --- the closed loop through the page: 退单, 延期, 联办, 回访, 督办 ----------------------------


def _day(days: int) -> str:
    """A calendar day ``days`` from today, as the date picker sends it."""
    return (timezone.localdate() + timedelta(days=days)).isoformat()


def _return_reason():
    return ReturnReason.objects.get_or_create(name="不属于本部门职责")[0]


def _post(client, issue, action, data):
    return client.post(action_url(issue, action), {f"{action}-{k}": v for k, v in data.items()})


def _said(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def _listed(client, scope, issue) -> bool:
    """Whether the queue's tab lists the issue."""
    page = client.get("/staff/", {"scope": scope}).text
    return page.count(f'href="{detail_url(issue)}"') == 1


def _field_error(response, action, field) -> bool:
    name = f"id_{action}-{field}"
    return bool(
        re.search(rf'id="{name}[^"]*"[^>]*is-invalid|is-invalid[^>]*id="{name}', response.text)
    )


def _joint(t, p, **kwargs):
    """An issue at the subdistrict dispatched jointly: t.department leads, the sister
    department co-handles (its staff: ``p.sister_staff``)."""
    p.sister_staff = staff_on(t.sister_department, username="sister")
    issue = issue_at(t, "subdistrict", reporter=p.resident)
    return workflow.dispatch_joint(
        issue=issue,
        actor=p.subdistrict_staff,
        lead=t.department,
        co_handlers=[t.sister_department],
        instruction="清理占道经营",
        **kwargs,
    )


def _hotline_resolved(t, p, **fields):
    return issue_at(
        t,
        "grid",
        status=Status.RESOLVED,
        source=Source.HOTLINE,
        reporter=None,
        caller_name="李先生",
        caller_phone="13800138000",
        resolved_by=p.worker,
        **fields,
    )


def test_a_department_returns_a_wrong_dispatch(client, t, people):
    p = people
    issue = issue_at(t, "department", status=Status.IN_PROGRESS, reporter=p.resident)
    reason = _return_reason()
    client.force_login(p.department_staff)
    response = _post(client, issue, "return", {"reason": reason.pk, "note": "应由住建处理"})
    assert response.status_code == 302 and _said(response)[-1][0] == "success"
    issue.refresh_from_db()
    assert (issue.status, issue.department_id, issue.return_count) == (Status.SUBMITTED, None, 1)
    event = issue.events.get()
    assert event.kind == K.RETURNED and not event.is_public
    client.force_login(p.subdistrict_staff)
    page = client.get(detail_url(issue)).text
    assert _("Returned by: %(name)s") % {"name": t.department.name} in page
    assert _("Reason: %(reason)s") % {"reason": reason.name} in page


def test_a_return_needs_an_active_reason(client, t, people):
    p = people
    issue = issue_at(t, "department", status=Status.IN_PROGRESS, reporter=p.resident)
    retired = ReturnReason.objects.create(name="旧理由", is_active=False)
    client.force_login(p.department_staff)
    page = client.get(detail_url(issue)).text
    assert _return_reason().name in page and "旧理由" not in page
    for data in ({}, {"reason": retired.pk}):
        response = _post(client, issue, "return", data)
        assert response.status_code == 200 and _field_error(response, "return", "reason")
    issue.refresh_from_db()
    assert issue.department_id == t.department.pk and not issue.events.exists()


def test_an_extension_is_asked_and_approved(client, t, people):
    p = people
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
    due = issue.due_at
    client.force_login(p.worker)
    response = _post(client, issue, "request_extension", {"until": _day(10), "reason": "等材料"})
    assert response.status_code == 302, response.text[:500]
    issue.refresh_from_db()
    assert issue.extension_until is not None and issue.due_at == due
    assert timezone.localdate(issue.extension_until) == timezone.localdate() + timedelta(10)

    client.force_login(p.community_staff)
    page = client.get(detail_url(issue)).text
    assert 'id="extension-request"' in page and "等材料" in page
    assert 'id="action-approve_extension"' in page
    assert _listed(client, "extensions", issue)
    response = _post(client, issue, "approve_extension", {"note": "同意"})
    assert response.status_code == 302 and _said(response)[-1][0] == "success"
    requested = issue.extension_until
    issue.refresh_from_db()
    assert (issue.due_at, issue.extension_until, issue.extension_count) == (requested, None, 1)
    assert [e.kind for e in issue.events.all()] == [
        K.EXTENSION_REQUESTED,
        K.EXTENSION_APPROVED,
    ]


@pytest.mark.parametrize(
    "data, field",
    [
        ({"until": "", "reason": "等材料"}, "until"),
        ({"until": "2026-13-40", "reason": "等材料"}, "until"),
        ({"until": _day(-3), "reason": "等材料"}, "until"),  # refused by the workflow
        ({"until": _day(200), "reason": "等材料"}, "until"),  # too far: by the workflow
        ({"until": _day(10), "reason": " "}, "reason"),
    ],
)
def test_a_bad_extension_request_is_shown_on_its_field(client, t, people, data, field):
    p = people
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
    before = row(issue)
    client.force_login(p.worker)
    response = _post(client, issue, "request_extension", data)
    assert response.status_code == 200
    assert _field_error(response, "request_extension", field)
    assert 'id="action-request_extension" open' in response.text
    assert row(issue) == before and not issue.events.exists()


def test_an_extension_is_refused_with_a_reason(client, t, people):
    p = people
    asked = timezone.now() + timedelta(days=5)
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, extension_until=asked)
    due = issue.due_at
    client.force_login(p.community_staff)
    response = _post(client, issue, "refuse_extension", {"reason": ""})
    assert response.status_code == 200 and _field_error(response, "refuse_extension", "reason")
    assert row(issue)["extension_until"] == asked
    response = _post(client, issue, "refuse_extension", {"reason": "时限足够"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.extension_until, issue.due_at) == (None, due)
    assert issue.events.get().kind == K.EXTENSION_REFUSED
    # Only the level above decides: the worker who asked may not approve.
    Issue.objects.filter(pk=issue.pk).update(extension_until=asked)
    client.force_login(p.worker)
    response = _post(client, issue, "approve_extension", {})
    assert _said(response)[-1][0] == "error"
    assert row(issue)["extension_until"] == asked


def test_a_joint_dispatch_gives_each_department_a_sub_task(client, t, people):
    p = people
    issue = issue_at(t, "subdistrict", reporter=p.resident)
    client.force_login(p.subdistrict_staff)
    page = client.get(detail_url(issue))
    form = next(a["form"] for a in page.context["action_forms"] if a["name"] == "dispatch_joint")
    assert set(form.fields["co_handlers"].queryset) == {t.department, t.sister_department}
    assert "<fieldset" in page.text  # the checkboxes are a group with its legend
    response = _post(
        client,
        issue,
        "dispatch_joint",
        {
            "lead": t.department.pk,
            "co_handlers": [t.sister_department.pk],
            "instruction": "城管清理，市场监管查处",
            "due": _day(7),
            "message": "已安排多部门联合处理。",
        },
    )
    assert response.status_code == 302, response.text[:500]
    issue.refresh_from_db()
    assert (issue.department_id, issue.open_task_count) == (t.department.pk, 2)
    tasks = {task.department_id: task.role for task in issue.tasks.all()}
    assert tasks == {t.department.pk: "lead", t.sister_department.pk: "co"}
    page = client.get(detail_url(issue)).text
    assert 'id="sub-tasks"' in page and page.count("城管清理，市场监管查处") >= 3
    assert _("Co-handling departments: %(names)s") % {"names": t.sister_department.name} in page


@pytest.mark.parametrize(
    "data, field",
    [
        ({"co_handlers": []}, "co_handlers"),
        ({"co_handlers": ["LEAD"]}, "co_handlers"),  # the lead is not also a co-handler
        ({"instruction": ""}, "instruction"),
        ({"due": _day(-1)}, "due"),  # refused by the workflow
    ],
)
def test_a_bad_joint_dispatch_changes_nothing(client, t, people, data, field):
    p = people
    issue = issue_at(t, "subdistrict", reporter=p.resident)
    values = {
        "lead": t.department.pk,
        "co_handlers": [t.sister_department.pk],
        "instruction": "联合处理",
        **data,
    }
    values["co_handlers"] = [t.department.pk if d == "LEAD" else d for d in values["co_handlers"]]
    before = row(issue)
    client.force_login(p.subdistrict_staff)
    response = _post(client, issue, "dispatch_joint", values)
    assert response.status_code == 200 and _field_error(response, "dispatch_joint", field)
    assert row(issue) == before and not issue.tasks.exists() and not issue.events.exists()


def test_a_co_handler_completes_its_sub_task(client, t, people):
    p = people
    issue = _joint(t, p)
    co_task = issue.tasks.get(department=t.sister_department)
    client.force_login(p.sister_staff)
    page = client.get(detail_url(issue))
    assert offered(page) == {"comment", "complete_task"}
    # Its one sub-task is chosen for it.
    assert f'name="complete_task-task" value="{co_task.pk}"' in page.text
    response = _post(client, issue, "complete_task", {"task": co_task.pk, "note": ""})
    assert response.status_code == 200 and _field_error(response, "complete_task", "note")
    response = _post(client, issue, "complete_task", {"task": co_task.pk, "note": "已查处"})
    assert response.status_code == 302
    co_task.refresh_from_db()
    issue.refresh_from_db()
    assert (co_task.state, co_task.note, co_task.finished_by) == ("done", "已查处", p.sister_staff)
    assert issue.open_task_count == 1


def test_a_department_may_not_complete_another_departments_sub_task(client, t, people):
    p = people
    issue = _joint(t, p)
    lead_task = issue.tasks.get(department=t.department)
    client.force_login(p.sister_staff)
    response = _post(client, issue, "complete_task", {"task": lead_task.pk, "note": "代办"})
    assert response.status_code == 200
    assert _("That sub-task is not your department’s, or no longer open.") in response.text
    lead_task.refresh_from_db()
    assert lead_task.state == "open"
    assert not issue.events.exclude(kind=K.JOINT_DISPATCHED).exists()


def test_the_subdistrict_cancels_a_sub_task(client, t, people):
    p = people
    issue = _joint(t, p)
    co_task = issue.tasks.get(department=t.sister_department)
    client.force_login(p.subdistrict_staff)
    response = _post(client, issue, "cancel_task", {"task": co_task.pk, "reason": ""})
    assert response.status_code == 200 and _field_error(response, "cancel_task", "reason")
    response = _post(client, issue, "cancel_task", {"task": co_task.pk, "reason": "已无需要"})
    assert response.status_code == 302
    co_task.refresh_from_db()
    assert co_task.state == "cancelled"
    # The department may not cancel sub-tasks: no form, and a forged post is refused.
    client.force_login(p.department_staff)
    assert "cancel_task" not in offered(client.get(detail_url(issue)))
    lead_task = issue.tasks.get(department=t.department)
    response = _post(client, issue, "cancel_task", {"task": lead_task.pk, "reason": "不想做"})
    assert response.status_code == 404 or _said(response)[-1][0] == "error"
    lead_task.refresh_from_db()
    assert lead_task.state == "open"


@pytest.mark.parametrize(
    "outcome, said, status, satisfaction",
    [
        ("satisfied", "", Status.CLOSED, "satisfied"),
        ("basically_satisfied", "还行", Status.CLOSED, "basically_satisfied"),
        ("dissatisfied", "灯还是不亮", Status.IN_PROGRESS, ""),
        ("unreachable", "", Status.RESOLVED, ""),
    ],
)
def test_a_call_back_records_the_callers_answer(
    client, t, people, outcome, said, status, satisfaction
):
    p = people
    issue = _hotline_resolved(t, p)
    client.force_login(p.community_staff)
    assert _listed(client, "callback", issue)
    assert "13800138000" in client.get(detail_url(issue)).text  # the number to call
    response = _post(client, issue, "callback", {"outcome": outcome, "said": said})
    assert response.status_code == 302 and _said(response)[-1][0] == "success"
    issue.refresh_from_db()
    assert (issue.status, issue.satisfaction) == (status, satisfaction)
    assert issue.callback_attempts == (1 if outcome == "unreachable" else 0)
    if outcome == "unreachable":
        page = client.get(detail_url(issue)).text
        assert 'id="callback-attempts"' in page


def test_a_dissatisfied_caller_needs_their_words(client, t, people):
    p = people
    issue = _hotline_resolved(t, p)
    before = row(issue)
    client.force_login(p.community_staff)
    page = client.get(detail_url(issue)).text
    assert "<fieldset" in page and "<legend" in page  # the answers are a labelled group
    for data in ({"outcome": "dissatisfied", "said": " "}, {"said": "好"}):
        response = _post(client, issue, "callback", data)
        assert response.status_code == 200
        field = "said" if "outcome" in data else "outcome"
        assert _field_error(response, "callback", field), field
    assert row(issue) == before and not issue.events.exists()


def test_a_supervision_note_is_highlighted_for_everyone_on_the_page(client, t, people):
    p = people
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
    client.force_login(p.community_staff)
    response = _post(client, issue, "supervise_note", {"note": "请本周内解决", "until": _day(5)})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.is_supervised and issue.supervised_at is not None
    assert timezone.localdate(issue.due_at) == timezone.localdate() + timedelta(5)
    for who in (p.worker, p.community_staff, p.subdistrict_staff):
        client.force_login(who)
        page = client.get(detail_url(issue)).text
        alert = page[page.index('id="supervision-note"') :]
        assert "请本周内解决" in alert[: alert.index("</section>")]


def test_a_supervision_note_needs_words(client, t, people):
    p = people
    issue = issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)
    before = row(issue)
    client.force_login(p.community_staff)
    response = _post(client, issue, "supervise_note", {"note": "", "until": _day(5)})
    assert response.status_code == 200 and _field_error(response, "supervise_note", "note")
    # A grid worker does not supervise their own grid's issue.
    client.force_login(p.worker)
    response = _post(client, issue, "supervise_note", {"note": "自己督办"})
    assert _said(response)[-1][0] == "error"
    assert row(issue) == before and not issue.events.exists()


def test_the_sub_task_panel_runs_the_same_queries_for_many_departments(client, t, people):
    p = people
    short_issue = _joint(t, p)
    departments = [DepartmentFactory(subdistrict=t.subdistrict) for _ in range(6)]
    long_issue = workflow.dispatch_joint(
        issue=issue_at(t, "subdistrict", reporter=p.resident),
        actor=p.subdistrict_staff,
        lead=t.department,
        co_handlers=departments,
        instruction="多部门联办",
    )
    client.force_login(p.subdistrict_staff)
    client.get(detail_url(short_issue))
    with CaptureQueriesContext(connection) as short:
        client.get(detail_url(short_issue))
    with CaptureQueriesContext(connection) as long:
        page = client.get(detail_url(long_issue)).text
    assert page.count('class="list-group-item"') >= 7
    assert len(long) == len(short)


def test_every_action_form_is_drawn_as_crispy_draws_it(client, t, people):
    """The action panel's forms are written in Python (config.widgets.form_html): each one
    offered in the common situations, empty, left blank and filled with nonsense, has the
    tags, attributes and words crispy's Bootstrap 5 pack gives it."""
    from django.http import QueryDict
    from django.utils.datastructures import MultiValueDict

    from issues.views.staff import ACTIONS
    from tests.html_shape import same_as_crispy

    p = people
    PartnerUnit.objects.create(community=t.community, name="物业服务中心党支部")
    later = timezone.now() + timedelta(days=5)
    cases = [
        (p.worker, issue_at(t, "grid", status=Status.SUBMITTED, reporter=p.resident)),
        (p.worker, issue_at(t, "grid", status=Status.IN_PROGRESS, reporter=p.resident)),
        (p.community_staff, issue_at(t, "community", status=Status.SUSPENDED)),
        (p.subdistrict_staff, issue_at(t, "subdistrict", status=Status.SUBMITTED)),
        (p.department_staff, issue_at(t, "department", status=Status.IN_PROGRESS)),
        (
            p.community_staff,
            issue_at(t, "grid", status=Status.IN_PROGRESS, extension_until=later),
        ),
        (p.community_staff, _hotline_resolved(t, p)),
        (p.subdistrict_staff, _joint(t, p)),
        (
            p.worker2,
            issue_at(
                t,
                status=Status.RESOLVED,
                source=Source.PATROL,
                reporter=p.worker,
                resolved_by=p.worker,
            ),
        ),  # fmt: skip
    ]
    cases.append((p.sister_staff, cases[-2][1]))  # a co-handler's sub-task
    # Volunteers: one offer waiting, one helper done and waiting for the hours.
    issue = issue_at(t, status=Status.IN_PROGRESS, reporter=p.resident)
    issue = workflow.open_to_volunteers(issue=issue, actor=p.worker)
    waiting, done = (
        ResidentFactory(username=name, is_volunteer=True, home_building__grid=t.grid)
        for name in ("helper1", "helper2")
    )
    issue = workflow.claim(issue=issue, actor=waiting, offer="周六有空")
    issue = workflow.claim(issue=issue, actor=done)
    claim = issue.claims.get(helper=done)
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=claim)
    issue = workflow.helper_note(issue=issue, actor=done, note="已清理", done=True)
    cases.append((p.worker, issue))
    drawn, kinds = set(), set()
    for user, issue in cases:
        client.force_login(user)
        page = client.get(detail_url(issue))
        assert page.status_code == 200
        for action in page.context["action_forms"]:
            name, form = action["name"], action["form"]
            nonsense = QueryDict(mutable=True)
            for field in form:
                nonsense.setlist(field.html_name, ["<b>?</b>", "-1"])
            for data in (None, QueryDict(""), nonsense):
                if data is not None:
                    form = ACTIONS[name].form(
                        data, MultiValueDict(), issue=issue, user=user, prefix=name
                    )
                    form.is_valid()
                ours, theirs = same_as_crispy(form)
                assert ours == theirs, (name, data)
            drawn.add(name)
            kinds |= {type(field.widget).__name__ for field in form.fields.values()}
    assert drawn == set(ACTIONS), set(ACTIONS) - drawn
    assert kinds >= {
        "HiddenInput", "Select", "Textarea", "RadioSelect", "CheckboxSelectMultiple",
        "DateInput", "TextInput", "MultipleFileInput",
    }, kinds  # fmt: skip
