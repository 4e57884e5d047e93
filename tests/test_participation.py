"""Party members and volunteers in the loop: registration (报到), offers of help (认领)
decided by the unit handling the issue, helpers' public notes, service hours (志愿服务时长)
and partner units (红色合伙人). Each step is one workflow action with its event; a helper
sees the public part of their own grid's issues and nothing else."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.models import User
from issues import permissions, rollups, workflow
from issues.models import IssueEvent, Photo, Severity, Source, Status
from issues.permissions import can, helper_issues
from issues.photos import clean_photo
from issues.stats import Filters
from issues.transitions import Action
from issues.views.resident import participant_as_residents_read
from issues.workflow import WorkflowError
from participation import registry
from participation.models import Claim, IssuePartner, PartnerUnit, PartyRegistration
from participation.views import participants_of
from tests.factories import ResidentFactory, image_upload, issue_at

S, A, K = Status, Action, IssueEvent.Kind


@pytest.fixture
def helpers(territory, people):
    """A volunteer and a confirmed party member of the own grid; a volunteer of the
    sibling grid; a party member still waiting for confirmation."""
    t = territory
    volunteer = ResidentFactory(username="volunteer", first_name="王芳", is_volunteer=True)
    volunteer.home_building.grid = t.grid
    volunteer.home_building.save()
    member = ResidentFactory(
        username="partymember",
        first_name="李强",
        home_building__grid=t.grid,
        is_party_member=True,  # as confirming the registration set it
    )
    PartyRegistration.objects.create(
        user=member,
        community=t.community,
        organisation="济南某公司党支部",
        state=PartyRegistration.State.CONFIRMED,
        decided_at=timezone.now() - timedelta(hours=1),
    )
    sibling = ResidentFactory(
        username="siblingvolunteer", is_volunteer=True, home_building__grid=t.sibling_grid
    )
    waiting = ResidentFactory(username="waiting", home_building__grid=t.grid)
    PartyRegistration.objects.create(user=waiting, community=t.community, organisation="某支部")
    people.volunteer, people.member, people.sibling_volunteer = volunteer, member, sibling
    people.waiting = waiting
    return people


def opened(t, p, status=S.IN_PROGRESS, **fields):
    issue = issue_at(t, status=status, reporter=p.resident, **fields)
    return workflow.open_to_volunteers(issue=issue, actor=p.worker, note="需要两人帮忙清理")


def fresh(issue):
    issue.refresh_from_db()
    return issue


def test_the_whole_loop_each_step_one_event(territory, helpers):
    t, p = territory, helpers
    issue = opened(t, p)
    assert issue.open_to_volunteers
    issue = workflow.claim(issue=issue, actor=p.volunteer, offer="周六下午有空")
    assert issue.pending_claims == 1
    offer = Claim.objects.get(issue=issue, helper=p.volunteer)
    assert offer.state == Claim.State.OFFERED
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer, note="带上扫帚")
    assert issue.pending_claims == 0
    photo = clean_photo(image_upload())
    issue = workflow.helper_note(
        issue=issue, actor=p.volunteer, note="已清理一半", photos=[photo], done=True
    )
    offer.refresh_from_db()
    assert (offer.state, offer.decision_note) == (Claim.State.DONE, "带上扫帚")
    issue = workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=Decimal("2.5"))
    offer.refresh_from_db()
    assert offer.hours == Decimal("2.5") and offer.hours_confirmed_by == p.worker
    workflow.resolve(issue=issue, actor=p.worker, note="已清理完毕")

    events = list(IssueEvent.objects.filter(issue=issue).order_by("created_at", "id"))
    assert [(e.kind, e.is_public) for e in events] == [
        (K.OPENED_TO_VOLUNTEERS, True),
        (K.CLAIMED, False),
        (K.CLAIM_ACCEPTED, True),
        (K.HELPER_NOTE, True),
        (K.HOURS_CONFIRMED, False),
        (K.RESOLVED, True),
    ]
    note = events[3]
    assert note.actor == p.volunteer and note.note == "已清理一半"
    assert Photo.objects.filter(event=note).count() == 1
    # The offer and the note to the helper stay with staff; the reporter reads the rest.
    assert events[1].internal_note == "周六下午有空" and events[2].internal_note == "带上扫帚"


def test_the_resident_reads_the_helpers_public_note(client, territory, helpers):
    t, p = territory, helpers
    issue = opened(t, p)
    workflow.claim(issue=fresh(issue), actor=p.volunteer, offer="我来")
    offer = Claim.objects.get(issue=issue)
    workflow.accept_claim(issue=fresh(issue), actor=p.worker, claim=offer, note="只给志愿者看")
    workflow.helper_note(issue=fresh(issue), actor=p.volunteer, note="落叶已清扫干净")
    client.force_login(p.resident)
    page = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).content.decode()
    assert "落叶已清扫干净" in page
    # Named as the public reads a volunteer (志愿者王某), never in full.
    assert participant_as_residents_read(p.volunteer) in page and "王芳" not in page
    assert "只给志愿者看" not in page and "我来" not in page


@pytest.mark.parametrize(
    "status, may_open",
    [
        (S.SUBMITTED, True),
        (S.IN_PROGRESS, True),
        (S.SUSPENDED, False),
        (S.RESOLVED, False),
        (S.CLOSED, False),
        (S.REJECTED, False),
    ],
)
def test_opening_to_volunteers_over_statuses(territory, people, status, may_open):
    issue = issue_at(territory, status=status)
    assert can(people.worker, A.OPEN_TO_VOLUNTEERS, issue) is may_open


def test_who_opens_small_matters_to_volunteers(territory, people, root):
    t, p = territory, people
    issue = issue_at(t, status=S.IN_PROGRESS)
    assert can(p.worker, A.OPEN_TO_VOLUNTEERS, issue)
    assert can(root, A.OPEN_TO_VOLUNTEERS, issue)
    for outsider in (p.sibling_worker, p.community_staff, p.resident, p.department_staff):
        assert not can(outsider, A.OPEN_TO_VOLUNTEERS, issue)
    # The community opens it once it climbed there; an urgent matter is not for volunteers.
    climbed = issue_at(t, "community", status=S.IN_PROGRESS)
    assert can(p.community_staff, A.OPEN_TO_VOLUNTEERS, climbed)
    assert not can(p.worker, A.OPEN_TO_VOLUNTEERS, climbed)
    urgent = issue_at(t, status=S.IN_PROGRESS, severity=Severity.URGENT)
    assert not can(p.worker, A.OPEN_TO_VOLUNTEERS, urgent)
    with pytest.raises(WorkflowError):
        workflow.open_to_volunteers(issue=urgent, actor=p.worker)
    assert not IssueEvent.objects.filter(issue=urgent).exists()


def test_who_may_offer_to_help(territory, helpers):
    t, p = territory, helpers
    issue = opened(t, p)
    assert can(p.volunteer, A.CLAIM, issue)
    assert can(p.member, A.CLAIM, issue)  # a confirmed party member of the grid
    for outsider in (p.sibling_volunteer, p.waiting, p.other_resident, p.resident, p.worker):
        assert not can(outsider, A.CLAIM, issue), outsider.username
    # Not before it is opened, and not twice.
    closed_to_them = issue_at(t, status=S.IN_PROGRESS)
    assert not can(p.volunteer, A.CLAIM, closed_to_them)
    issue = workflow.claim(issue=issue, actor=p.volunteer)
    assert not can(p.volunteer, A.CLAIM, issue)
    with pytest.raises(WorkflowError):
        workflow.claim(issue=issue, actor=p.volunteer)
    assert Claim.objects.filter(issue=issue).count() == 1 and fresh(issue).pending_claims == 1


@pytest.mark.parametrize("status", [S.SUSPENDED, S.RESOLVED, S.CLOSED, S.REJECTED])
def test_no_offer_once_the_issue_is_not_waiting_or_handled(territory, helpers, status):
    issue = issue_at(territory, status=status, open_to_volunteers=True)
    assert not can(helpers.volunteer, A.CLAIM, issue)


def test_accepting_and_declining_belong_to_the_unit_handling_it(territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    issue = workflow.claim(issue=issue, actor=p.member)
    first, second = Claim.objects.filter(issue=issue).order_by("id")
    for outsider in (p.volunteer, p.sibling_worker, p.community_staff, p.resident):
        assert not can(outsider, A.ACCEPT_CLAIM, issue)
        assert not can(outsider, A.DECLINE_CLAIM, issue)
    with pytest.raises(WorkflowError):
        workflow.accept_claim(issue=issue, actor=p.volunteer, claim=first)
    issue = workflow.decline_claim(issue=issue, actor=p.worker, claim=second, reason="人手已够")
    second.refresh_from_db()
    assert second.state == Claim.State.DECLINED and second.decision_note == "人手已够"
    # A decided offer is not decided again; a reason is needed to decline.
    with pytest.raises(WorkflowError) as refused:
        workflow.accept_claim(issue=issue, actor=p.worker, claim=second)
    assert refused.value.code in ("bad_claim", "bad_state")
    with pytest.raises(WorkflowError):
        workflow.decline_claim(issue=issue, actor=p.worker, claim=first, reason=" ")
    assert fresh(issue).pending_claims == 1
    # The declined helper no longer sees it unless it is still open to volunteers in
    # their grid (it is); the sibling grid's volunteer never does.
    assert helper_issues(p.member).filter(pk=issue.pk).exists()
    assert not helper_issues(p.sibling_volunteer).filter(pk=issue.pk).exists()


def test_withdrawing_from_volunteers_declines_offers_still_waiting(territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    issue = workflow.claim(issue=issue, actor=p.member)
    accepted = Claim.objects.get(issue=issue, helper=p.volunteer)
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=accepted)
    issue = workflow.close_to_volunteers(issue=issue, actor=p.worker, reason="已解决大半")
    assert not issue.open_to_volunteers and issue.pending_claims == 0
    states = dict(Claim.objects.filter(issue=issue).values_list("helper__username", "state"))
    assert states == {"volunteer": Claim.State.ACCEPTED, "partymember": Claim.State.DECLINED}
    # The accepted helper goes on with their part and still sees the issue.
    assert can(p.volunteer, A.HELPER_NOTE, issue)
    assert helper_issues(p.volunteer).filter(pk=issue.pk).exists()
    assert not can(p.member, A.CLAIM, issue)


@pytest.mark.parametrize(
    "status, may_note",
    [
        (S.SUBMITTED, True),
        (S.IN_PROGRESS, True),
        (S.SUSPENDED, True),
        (S.RESOLVED, False),
        (S.CLOSED, False),
    ],
)
def test_helper_notes_while_the_issue_is_open(territory, helpers, status, may_note):
    issue = issue_at(territory, status=status, open_to_volunteers=True)
    Claim.objects.create(issue=issue, helper=helpers.volunteer, state=Claim.State.ACCEPTED)
    assert can(helpers.volunteer, A.HELPER_NOTE, issue) is may_note
    assert not can(helpers.member, A.HELPER_NOTE, issue)  # no accepted offer


def test_only_an_accepted_helper_adds_notes(territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    assert not can(p.volunteer, A.HELPER_NOTE, issue)  # offered, not accepted yet
    with pytest.raises(WorkflowError):
        workflow.helper_note(issue=issue, actor=p.volunteer, note="先做了")
    assert not IssueEvent.objects.filter(issue=issue, kind=K.HELPER_NOTE).exists()


def test_confirming_service_hours(territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    offer = Claim.objects.get(issue=issue)
    assert not can(p.worker, A.CONFIRM_HOURS, issue)  # nobody helping yet
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
    assert can(p.worker, A.CONFIRM_HOURS, issue)
    assert not can(p.volunteer, A.CONFIRM_HOURS, issue)
    for hours in (Decimal("0"), Decimal("0.3"), Decimal("24.5"), None):
        with pytest.raises(WorkflowError) as refused:
            workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=hours)
        assert refused.value.code == "bad_hours"
    workflow.resolve(issue=issue, actor=p.worker, note="好了")
    # Confirmed after the issue is resolved too, once.
    issue = workflow.confirm_hours(issue=fresh(issue), actor=p.worker, claim=offer, hours=3)
    assert not can(p.worker, A.CONFIRM_HOURS, issue)
    with pytest.raises(WorkflowError):
        workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=1)
    offer.refresh_from_db()
    assert offer.hours == Decimal("3.0")


def test_service_hour_sums(territory, helpers):
    """The record, the community's list and the CSV add up the hours as by hand."""
    t, p = territory, helpers
    given = {p.volunteer: ["1.5", "2", "0.5"], p.member: ["4"]}
    for person, hours_list in given.items():
        for hours in hours_list:
            issue = workflow.claim(issue=opened(t, p), actor=person)
            offer = Claim.objects.get(issue=issue, helper=person)
            issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
            workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=Decimal(hours))
    # An accepted helper whose time is not confirmed yet adds nothing.
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    workflow.accept_claim(issue=issue, actor=p.worker, claim=Claim.objects.get(issue=issue))

    listed = {
        u.username: (u.service_hours, u.contributions) for u in participants_of([t.community])
    }
    # The sibling grid's volunteer lives in the same community and served nothing yet.
    assert listed == {
        "volunteer": (Decimal("4.0"), 3),
        "partymember": (Decimal("4.0"), 1),
        "siblingvolunteer": (0, 0),
    }
    client_record = Claim.objects.filter(helper=p.volunteer, hours_confirmed_at__isnull=False)
    assert sum(c.hours for c in client_record) == Decimal("4.0")


def test_participants_listed_with_their_hours(client, territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    offer = Claim.objects.get(issue=issue)
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
    workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=Decimal("1.5"))
    people = {u.username: u for u in participants_of([t.community])}
    assert set(people) == {"volunteer", "partymember", "siblingvolunteer"}
    assert people["volunteer"].service_hours == Decimal("1.5")
    assert people["siblingvolunteer"].service_hours == 0
    assert people["partymember"].organisation == "济南某公司党支部"

    client.force_login(p.community_staff)
    csv = client.get(reverse("participate_records"))
    assert csv.status_code == 200
    body = b"".join(csv.streaming_content).decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert len(lines) == 2 and issue.tracking_number in lines[1] and lines[1].endswith("1.5")
    # Another community's staff export nothing of it; residents and grid workers are refused.
    client.force_login(p.other_community_staff)
    other = b"".join(client.get(reverse("participate_records")).streaming_content)
    assert issue.tracking_number.encode() not in other
    for outsider in (p.volunteer, p.worker):
        client.force_login(outsider)
        assert client.get(reverse("participate_records")).status_code == 404
        assert client.get(reverse("participate_community")).status_code == 404


def test_the_participant_reads_their_own_record(client, territory, helpers):
    t, p = territory, helpers
    for hours in ("2", "1.5"):
        issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
        offer = Claim.objects.get(issue=issue)
        issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
        workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=Decimal(hours))
    client.force_login(p.volunteer)
    page = client.get(reverse("participate")).content.decode()
    assert "3.5" in page and "2" in page


def test_a_helper_never_reaches_another_grids_issue(client, territory, helpers):
    t, p = territory, helpers
    elsewhere = issue_at(t, status=S.IN_PROGRESS, grid=t.sibling_grid, open_to_volunteers=True)
    closed_to_them = issue_at(t, status=S.IN_PROGRESS)
    client.force_login(p.volunteer)
    for issue in (elsewhere, closed_to_them):
        assert (
            client.get(reverse("participate_issue", args=[issue.tracking_number])).status_code
            == 404
        )
        response = client.post(reverse("participate_claim", args=[issue.tracking_number]), {})
        assert response.status_code == 404
        response = client.post(reverse("participate_note", args=[issue.tracking_number]), {})
        assert response.status_code == 404
        # Nor the staff page or the resident page.
        assert client.get(
            reverse("staff_issue_detail", args=[issue.tracking_number])
        ).status_code in (403, 404)
        assert (
            client.get(reverse("my_issue_detail", args=[issue.tracking_number])).status_code == 404
        )
    assert not Claim.objects.exists()


def test_a_helper_reads_no_phone_and_no_internal_note(client, territory, helpers):
    t, p = territory, helpers
    issue = opened(t, p)
    workflow.comment(issue=fresh(issue), actor=p.worker, note="内部：住户脾气急", is_public=False)
    client.force_login(p.volunteer)
    page = client.get(reverse("participate_issue", args=[issue.tracking_number])).content.decode()
    assert issue.title in page and "需要两人帮忙清理" in page
    assert p.resident.phone not in page and "住户脾气急" not in page
    assert p.resident.get_full_name() not in page or not p.resident.get_full_name()


def test_offer_and_note_through_the_pages(client, territory, helpers):
    t, p = territory, helpers
    issue = opened(t, p)
    client.force_login(p.volunteer)
    page = reverse("participate_issue", args=[issue.tracking_number])
    response = client.post(
        reverse("participate_claim", args=[issue.tracking_number]), {"offer": "我有工具"}
    )
    assert response.status_code == 302
    offer = Claim.objects.get(issue=issue, helper=p.volunteer)
    workflow.accept_claim(issue=fresh(issue), actor=p.worker, claim=offer)
    # A note without words loses nothing else and says what is missing.
    response = client.post(reverse("participate_note", args=[issue.tracking_number]), {"note": ""})
    assert response.status_code == 200 and "note-form" in response.content.decode()
    response = client.post(
        reverse("participate_note", args=[issue.tracking_number]),
        {"note": "已完成", "done": "on", "photos": image_upload()},
    )
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.state == Claim.State.DONE
    photo = Photo.objects.get(issue=issue)
    shown = client.get(reverse("photo", args=[photo.pk]))
    assert shown.status_code == 200 and b"".join(shown.streaming_content)
    assert "已完成" in client.get(page).content.decode()


def test_the_staff_page_offers_the_participation_actions(client, territory, helpers):
    t, p = territory, helpers
    issue = issue_at(t, status=S.IN_PROGRESS)
    client.force_login(p.worker)
    url = reverse("staff_issue_action", args=[issue.tracking_number, "open_to_volunteers"])
    assert client.post(url, {"open_to_volunteers-note": "欢迎帮忙"}).status_code == 302
    assert fresh(issue).open_to_volunteers
    workflow.claim(issue=fresh(issue), actor=p.volunteer, offer="周末")
    offer = Claim.objects.get(issue=issue)
    page = client.get(reverse("staff_issue_detail", args=[issue.tracking_number])).content.decode()
    assert "action-accept_claim" in page and "王芳" in page
    url = reverse("staff_issue_action", args=[issue.tracking_number, "accept_claim"])
    assert client.post(url, {"accept_claim-claim": offer.pk}).status_code == 302
    url = reverse("staff_issue_action", args=[issue.tracking_number, "confirm_hours"])
    response = client.post(url, {"confirm_hours-claim": offer.pk, "confirm_hours-hours": "0.3"})
    assert response.status_code == 200  # the form again, the hours refused next to the field
    assert not Claim.objects.filter(hours__isnull=False).exists()
    response = client.post(url, {"confirm_hours-claim": offer.pk, "confirm_hours-hours": "2"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.hours == Decimal("2.0")


def test_the_queue_lists_offers_waiting(client, territory, helpers):
    t, p = territory, helpers
    waiting = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    quiet = opened(t, p)
    client.force_login(p.worker)
    response = client.get(reverse("staff_queue"), {"scope": "offers"})
    numbers = [i.tracking_number for i in response.context["issues"]]
    assert numbers == [waiting.tracking_number]
    offers_tab = next(tab for tab in response.context["tabs"] if tab["key"] == "offers")
    assert offers_tab["count"] == 1 and offers_tab["active"]
    assert quiet.tracking_number not in numbers


def test_partner_units_on_an_issue(client, territory, helpers, root):
    t, p = territory, helpers
    partner = PartnerUnit.objects.create(community=t.community, name="济南某物业公司")
    elsewhere = PartnerUnit.objects.create(community=t.other_community, name="别处的学校")
    issue = issue_at(t, status=S.IN_PROGRESS)
    assert can(p.community_staff, A.ADD_PARTNER, issue)
    for outsider in (p.worker, p.other_community_staff, p.volunteer, p.resident):
        assert not can(outsider, A.ADD_PARTNER, issue)
    with pytest.raises(WorkflowError):
        workflow.add_partner(issue=issue, actor=p.community_staff, partner=elsewhere)
    issue = workflow.add_partner(
        issue=issue, actor=p.community_staff, partner=partner, note="提供清运车辆"
    )
    event = IssueEvent.objects.get(issue=issue, kind=K.PARTNER_ADDED)
    assert event.is_public and event.data["partner"] == "济南某物业公司"
    assert IssuePartner.objects.filter(issue=issue, partner=partner).count() == 1
    # Nobody left to add: the page offers no panel, and a second time is refused.
    client.force_login(p.community_staff)
    page = client.get(reverse("staff_issue_detail", args=[issue.tracking_number]))
    assert "action-add_partner" not in page.content.decode()
    with pytest.raises(WorkflowError):
        workflow.add_partner(issue=issue, actor=p.community_staff, partner=partner)


def test_registration_confirmed_by_the_community(client, territory, people):
    t, p = territory, people
    member = ResidentFactory(username="newmember", home_building__grid=t.grid)
    client.force_login(member)
    response = client.post(reverse("participate_register"), {"organisation": ""})
    assert response.status_code == 200 and not PartyRegistration.objects.exists()
    response = client.post(reverse("participate_register"), {"organisation": "某局机关党支部"})
    assert response.status_code == 302
    registration = PartyRegistration.objects.get(user=member)
    assert (registration.community, registration.state) == (t.community, "pending")
    assert not permissions.is_participant(member)
    # Twice is refused, with a message.
    with pytest.raises(WorkflowError):
        registry.register(user=member, organisation="又一次")
    # Another community's staff cannot decide it, nor see it.
    client.force_login(p.other_community_staff)
    url = reverse("participate_decide", args=[registration.pk])
    assert client.post(url, {"decision": "confirm"}).status_code == 404
    client.force_login(p.community_staff)
    pending = client.get(reverse("participate_community")).context["pending"]
    assert [r.pk for r in pending] == [registration.pk] and pending[0].decidable
    assert client.post(url, {"decision": "confirm"}).status_code == 302
    registration.refresh_from_db()
    member = User.objects.get(pk=member.pk)
    assert registration.state == "confirmed" and registration.decided_by == p.community_staff
    assert member.is_party_member
    assert permissions.is_participant(member)
    assert LogEntry.objects.filter(object_id=str(registration.pk)).count() == 2
    with pytest.raises(WorkflowError):
        registry.decide(registration=registration, actor=p.community_staff, confirm=False)


def test_registration_needs_a_home(client, territory):
    homeless = ResidentFactory(username="nohome", home_building=None)
    client.force_login(homeless)
    page = client.get(reverse("participate_register")).content.decode()
    assert reverse("profile") in page
    with pytest.raises(WorkflowError) as refused:
        registry.register(user=homeless, organisation="某支部")
    assert refused.value.code == "no_home"


def test_a_participant_files_as_volunteer(client, territory, helpers):
    from issues.permissions import can_file_in_grid

    assert can_file_in_grid(helpers.member, territory.grid, Source.VOLUNTEER)
    assert can_file_in_grid(helpers.volunteer, territory.grid, Source.VOLUNTEER)
    assert not can_file_in_grid(helpers.waiting, territory.grid, Source.VOLUNTEER)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_participant_pages_run_a_fixed_number_of_queries(client, territory, helpers):
    t, p = territory, helpers

    def helping(n):
        for _ in range(n):
            issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
            offer = Claim.objects.get(issue=issue, helper=p.volunteer)
            issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
            workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=1)
            opened(t, p)

    helping(1)
    client.force_login(p.volunteer)
    few = _queries(client, reverse("participate"))
    client.force_login(p.community_staff)
    few_staff = _queries(client, reverse("participate_community"))
    helping(6)
    client.force_login(p.volunteer)
    assert _queries(client, reverse("participate")) == few
    client.force_login(p.community_staff)
    assert _queries(client, reverse("participate_community")) == few_staff


def test_the_helpers_issue_page_records_and_admin_lists_run_the_same_queries_for_more(
    client, root, territory, helpers
):
    """A helper's issue page as its history grows; the community's service records and the
    admin's lists of offers and registrations as the help grows."""
    from django.test import Client

    t, p = territory, helpers
    staff, admin = Client(), Client()
    staff.force_login(p.community_staff)
    admin.force_login(root)

    def helping(n):
        done = None
        for _ in range(n):
            issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
            offer = Claim.objects.get(issue=issue, helper=p.volunteer)
            issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
            done = workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=1)
            helper = ResidentFactory(home_building__grid=t.grid)
            PartyRegistration.objects.create(
                user=helper, community=t.community, organisation="支部"
            )
        return done

    def queries(who, url):
        with CaptureQueriesContext(connection) as captured:
            response = who.get(url)
            assert response.status_code == 200
            body = b"".join(response.streaming_content) if response.streaming else response.content
        return len(captured), body.decode("utf-8-sig")

    issue = helping(1)
    page = reverse("participate_issue", args=[issue.tracking_number])
    lists = [
        (staff, reverse("participate_records")),
        (admin, reverse("admin:participation_claim_changelist")),
        (admin, reverse("admin:participation_partyregistration_changelist")),
    ]
    for who, url in lists:
        queries(who, url)  # the admin's caches (content types, site), warmed
    few_lists = [queries(who, url)[0] for who, url in lists]
    client.force_login(p.volunteer)
    few_page = queries(client, page)[0]
    for i in range(20):
        workflow.comment(issue=issue, actor=[p.worker, p.resident][i % 2], note=f"第{i}条")
    many_page, text = queries(client, page)
    assert many_page == few_page and "第19条" in text
    helping(15)
    many = [queries(who, url) for who, url in lists]
    assert [count for count, _body in many] == few_lists
    records = many[0][1].strip().splitlines()
    assert len(records) == 1 + 16  # a header and a line per confirmed service


def test_figures_against_hand_counts(territory, helpers, django_assert_num_queries):
    from participation import stats

    t, p = territory, helpers
    today = timezone.localdate()
    period = Filters(start=today - timedelta(days=1), end=today)

    def helped(person, hours, *, close=True, grid=None):
        issue = issue_at(t, status=S.IN_PROGRESS, grid=grid, reporter=p.resident)
        issue = workflow.open_to_volunteers(issue=issue, actor=p.worker)
        issue = workflow.claim(issue=issue, actor=person)
        offer = Claim.objects.get(issue=issue, helper=person)
        issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
        if hours:
            issue = workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=hours)
        if close:
            issue = workflow.resolve(issue=issue, actor=p.worker, note="好了")
            workflow.evaluate(issue=issue, actor=p.resident, satisfaction="satisfied")
        return issue

    helped(p.volunteer, Decimal("2"))
    helped(p.volunteer, Decimal("1.5"))
    helped(p.member, Decimal("3"), close=False)  # open: helped, not settled
    helped(p.member, None)  # settled with help, hours not confirmed yet
    issue_at(t, status=S.IN_PROGRESS, source=Source.VOLUNTEER, reporter=p.volunteer)
    issue_at(t, status=S.IN_PROGRESS, source=Source.VOLUNTEER, reporter=p.member)
    partner = PartnerUnit.objects.create(community=t.community, name="物业党支部")
    partnered = issue_at(t, "community", status=S.IN_PROGRESS, reporter=p.resident)
    partnered = workflow.add_partner(issue=partnered, actor=p.community_staff, partner=partner)
    partnered = workflow.resolve(issue=partnered, actor=p.community_staff, note="清运了")
    workflow.evaluate(issue=partnered, actor=p.resident, satisfaction="satisfied")
    # Elsewhere: the other community's issue and hours do not count for ours.
    other_worker = p.other_community_staff
    far = issue_at(t, "community", status=S.IN_PROGRESS, grid=t.cousin_grid)
    far = workflow.open_to_volunteers(issue=far, actor=other_worker)

    rollups.rebuild()  # the issues written directly above, as the rollups count them
    with django_assert_num_queries(1):
        community = stats.figures("community", t.community.pk, period)
    assert community == {
        "found": 2,
        "settled_with_help": 3,
        "settled_with_partners": 1,
        "service_hours": Decimal("6.5"),
        "active_participants": 2,
        "registered": 1,  # the waiting registration does not count
    }
    grid = stats.figures("grid", t.grid.pk, period)
    assert grid["service_hours"] == Decimal("6.5") and grid["registered"] == 1
    assert stats.figures("grid", t.sibling_grid.pk, period)["service_hours"] == 0
    city = stats.figures(None, None, period)
    assert city == community
    other = stats.figures("community", t.other_community.pk, period)
    assert other == dict.fromkeys(stats.KEYS, 0)
    # A period that ended before any of it counts nothing.
    before = Filters(start=today - timedelta(days=9), end=today - timedelta(days=2))
    assert stats.figures("community", t.community.pk, before) == dict.fromkeys(stats.KEYS, 0)
    # The filters apply as on every figure: another category counts none of the issues.
    other_category = Filters(start=period.start, end=period.end, category_id=t.category.pk + 99)
    filtered = stats.figures("community", t.community.pk, other_category)
    assert filtered == {**dict.fromkeys(stats.KEYS, 0), "registered": 1}


def test_the_dashboard_and_the_public_page_show_the_figures(client, territory, helpers):
    t, p = territory, helpers
    issue = workflow.claim(issue=opened(t, p), actor=p.volunteer)
    offer = Claim.objects.get(issue=issue)
    issue = workflow.accept_claim(issue=issue, actor=p.worker, claim=offer)
    workflow.confirm_hours(issue=issue, actor=p.worker, claim=offer, hours=Decimal("3.5"))

    client.force_login(p.community_staff)
    page = client.get(reverse("dashboard_unit", args=["community", t.community.pk]))
    cards = {card["key"]: card["text"] for card in page.context["participation_cards"]}
    assert cards["service_hours"] == page.context["participation_cards"][3]["text"]
    assert "3.5" in cards["service_hours"] and cards["active_participants"] == "1"
    assert cards["registered"] == "1"

    client.logout()
    url = reverse("dashboard_public") + f"?subdistrict={t.subdistrict.pk}&period=30"
    public = client.get(url)
    cards = {card["key"]: card["text"] for card in public.context["participation_cards"]}
    assert "3.5" in cards["service_hours"] and cards["active_participants"] == "1"
    text = public.content.decode()
    assert "王芳" not in text and "李强" not in text  # counts, no names
    # Cached: a second visitor costs no count over the issues or the offers of help.
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    tables = " ".join(q["sql"] for q in captured.captured_queries)
    assert "participation_claim" not in tables and "issues_issue" not in tables
