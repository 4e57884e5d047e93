"""A volunteer in the loop, on a phone: the grid worker opens a small matter to the
volunteers of the grid; a volunteer offers to help (认领) from their workspace; the grid
worker accepts; the volunteer adds a note with a photo and marks their part done; the grid
worker confirms the service hours and resolves; the resident reads the volunteer's note on
their timeline. Every step through the pages; screenshots in test-artifacts/."""

from decimal import Decimal

import pytest
from PIL import Image

from issues.models import Issue, IssueEvent, Photo, Status
from participation.models import Claim
from tests.browser.conftest import no_horizontal_scroll
from tests.browser.test_staff_ladder import act, open_issue_from_queue, sign_in_as
from tests.factories import ResidentFactory, issue_at

K = IssueEvent.Kind
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_volunteer_helps_and_the_resident_reads_it(page, shot, territory, people, tmp_path):
    t, p = territory, people
    ResidentFactory(
        username="volunteer", first_name="王芳", is_volunteer=True, home_building__grid=t.grid
    )
    issue = issue_at(
        t, status=Status.IN_PROGRESS, reporter=p.resident, title="绿地白色垃圾", assignee=p.worker
    )
    number = issue.tracking_number
    photo = tmp_path / "cleaned.png"
    Image.new("RGB", (320, 240), (60, 160, 90)).save(photo)

    # The grid worker opens it to the volunteers of the grid.
    sign_in_as(page, "gridworker")
    open_issue_from_queue(page, number)
    act(page, "open_to_volunteers", fill={"note": "欢迎志愿者帮忙捡拾"})

    # The volunteer finds it in their workspace and offers to help.
    sign_in_as(page, "volunteer")
    page.goto("/participate/")
    assert no_horizontal_scroll(page)
    shot(page, "workspace")
    page.click(f'#open-issues a[href="/participate/issues/{number}/"]')
    page.wait_for_load_state()
    page.fill("#id_offer", "周六上午有空")
    page.click("#claim-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    assert page.locator("#my-part").count() == 1
    shot(page, "offered")

    # The grid worker accepts the offer from the queue's tab.
    sign_in_as(page, "gridworker")
    page.goto("/staff/?scope=offers")
    page.click(f'a[href="/staff/issues/{number}/"]')
    page.wait_for_load_state()
    act(page, "accept_claim", fill={"note": "工具在网格站领取"})

    # The volunteer reports what they did, with a photo, and marks their part done.
    sign_in_as(page, "volunteer")
    page.goto(f"/participate/issues/{number}/")
    assert "工具在网格站领取" in page.locator("#my-part").inner_text()
    page.fill("#id_note", "已把绿地里的塑料袋和瓶子捡干净")
    page.set_input_files("#id_photos", str(photo))
    page.check("#id_done")
    assert no_horizontal_scroll(page)
    shot(page, "note-form")
    page.click("#note-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    assert page.locator("#timeline img").count() == 1

    # The grid worker confirms the hours and resolves.
    sign_in_as(page, "gridworker")
    page.goto(f"/staff/issues/{number}/")
    claim = Claim.objects.get(issue__tracking_number=number)
    panel = page.locator("#action-confirm_hours")
    panel.locator("summary").click()
    panel.locator(f'input[name="confirm_hours-claim"][value="{claim.pk}"]').check()
    panel.locator("#id_confirm_hours-hours").fill("2.5")
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".alert-success").count() == 1
    act(page, "resolve", fill={"note": "绿地已清理干净"})
    shot(page, "staff-resolved")

    claim.refresh_from_db()
    assert (claim.state, claim.hours) == (Claim.State.DONE, Decimal("2.5"))
    issue = Issue.objects.get(pk=issue.pk)
    assert issue.status == Status.RESOLVED
    assert Photo.objects.filter(event__kind=K.HELPER_NOTE, issue=issue).count() == 1

    # The resident reads the volunteer's note, with its photo, on their timeline.
    sign_in_as(page, "resident")
    page.goto(f"/my/{number}/")
    timeline = page.locator("#timeline")
    assert "已把绿地里的塑料袋和瓶子捡干净" in timeline.inner_text()
    assert "王芳" not in page.content()  # the public reads "志愿者王某", never the full name
    assert timeline.locator("img").count() == 1
    assert no_horizontal_scroll(page)
    shot(page, "resident-timeline")

    # The volunteer's record shows the hours.
    sign_in_as(page, "volunteer")
    page.goto("/participate/")
    assert "2.5" in page.locator("#service-record").inner_text()
