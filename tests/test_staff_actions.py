"""The staff issue page: what it shows, and every action through it.

The matrix is written out by hand from DESIGN.md §5–6 (not recomputed from the rule book):
who sees an issue at each position, who handles it there, and which actions the flow
allows there.
"""

import io
import re

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.translation import gettext as _
from PIL import Image

from issues import permissions, workflow
from issues.models import Issue, IssueEvent, Level, Photo, Severity, Source, Status
from tests.factories import CategoryFactory, DepartmentFactory, issue_at

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


HANDLING_SUBMITTED = {"accept", "assign", "comment", "escalate", "reject", "duplicate"}
HANDLING_IN_PROGRESS = {
    "assign", "comment", "escalate", "suspend", "resolve", "reject", "duplicate"
}  # fmt: skip
AT_TOP_SUBMITTED = {"accept", "assign", "comment", "dispatch", "reject", "duplicate"}
DEPARTMENT_IN_PROGRESS = {"assign", "comment", "suspend", "resolve", "reject", "duplicate"}


@pytest.mark.parametrize(
    "position, status, role, actions",
    [
        ("grid", Status.SUBMITTED, "worker", HANDLING_SUBMITTED),
        ("grid", Status.IN_PROGRESS, "worker", HANDLING_IN_PROGRESS),
        ("grid", Status.SUBMITTED, "community_staff", {"comment"}),
        ("community", Status.SUSPENDED, "community_staff", {"comment", "resume"}),
        ("subdistrict", Status.SUBMITTED, "subdistrict_staff", AT_TOP_SUBMITTED),
        ("department", Status.SUBMITTED, "subdistrict_staff", {"comment", "dispatch"}),
        ("department", Status.IN_PROGRESS, "department_staff", DEPARTMENT_IN_PROGRESS),
        ("grid", Status.RESOLVED, "worker", {"comment"}),  # the resident evaluates
        ("grid", Status.CLOSED, "worker", set()),
    ],
)
def test_the_panel_offers_exactly_the_allowed_actions(
    client, t, people, position, status, role, actions
):
    issue = issue_at(t, position, status=status, reporter=people.resident)
    user = getattr(people, role)
    client.force_login(user)
    response = client.get(detail_url(issue))
    assert response.status_code == 200
    assert offered(response) == actions
    # … which is what the rule book says (duplicate is a kind of rejection).
    allowed = {str(a) for a in permissions.allowed_actions(user, issue)}
    assert {a if a != "duplicate" else "reject" for a in actions} == allowed


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
