"""Resident pages: report, my issues, the issue page (public timeline, photos, comment),
evaluation both ways, 404s for anyone else's issue, and constant queries on the list."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from issues import workflow
from issues.models import Issue, IssueEvent, Level, Notification, Satisfaction, Source, Status
from tests.conftest import requires_postgres
from tests.factories import (
    BuildingFactory,
    CategoryFactory,
    IssueFactory,
    ResidentFactory,
    image_upload,
    staff_on,
)


def photo_url(photo) -> str:
    return reverse("photo", args=[photo.pk])


def english(client):
    client.post(reverse("set_language"), {"language": "en", "next": "/"})


def file(people, territory, **kwargs):
    defaults = dict(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="路灯不亮",
        description="3号楼前的路灯晚上不亮。",
        building=people.resident.home_building,
    )
    defaults.update(kwargs)
    return workflow.file_issue(**defaults)


def report_data(building_, category_, **overrides):
    data = {
        "building": building_.pk,
        "address": "东门自行车棚旁",
        "category": category_.pk,
        "title": "路灯不亮",
        "description": "3号楼前的路灯晚上不亮，老人出行不便。",
        "submission_token": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def resolved(people, territory, **kwargs):
    issue = file(people, territory, **kwargs)
    issue = workflow.accept(issue=issue, actor=people.worker)
    return workflow.resolve(issue=issue, actor=people.worker, note="已更换灯泡")


RESIDENT_URLS = [
    ("issue_report", False),
    ("my_issues", False),
    ("my_issue_detail", True),
    ("my_issue_comment", True),
    ("my_issue_evaluate", True),
    ("notifications", False),
]


@pytest.mark.parametrize("name, takes_number", RESIDENT_URLS)
def test_anonymous_visitors_are_sent_to_sign_in(client, people, territory, name, takes_number):
    issue = file(people, territory)
    url = reverse(name, args=[issue.tracking_number] if takes_number else [])
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- report -------------------------------------------------------------------------------


def test_report_page_defaults_to_home_and_explains_each_category(client, people, territory):
    CategoryFactory(name="路灯照明", hint="路灯不亮、闪烁、倒杆")
    CategoryFactory(name="已停用", is_active=False)
    client.force_login(people.resident)
    response = client.get(reverse("issue_report"))
    assert response.status_code == 200
    html = response.text
    home = people.resident.home_building
    assert f'<option value="{home.pk}" selected>' in html
    assert "路灯照明 — 路灯不亮、闪烁、倒杆" in html
    assert "已停用" not in html
    assert 'name="submission_token"' in html and "data-once" in html
    assert 'enctype="multipart/form-data"' in html
    token = response.context["form"].initial["submission_token"]
    assert isinstance(token, uuid.UUID)
    # A fresh form, a fresh token.
    again = client.get(reverse("issue_report")).context["form"].initial["submission_token"]
    assert again != token
    for name in ("building", "address", "category", "title", "description", "photos"):
        assert f'for="id_{name}"' in html


def test_report_files_one_issue_and_shows_what_happens_next(client, people, territory):
    client.force_login(people.resident)
    building = people.resident.home_building
    response = client.post(reverse("issue_report"), report_data(building, territory.category))
    issue = Issue.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("my_issue_detail", args=[issue.tracking_number])
    assert (issue.source, issue.reporter, issue.building, issue.grid) == (
        Source.RESIDENT,
        people.resident,
        building,
        territory.grid,
    )
    assert issue.address == "东门自行车棚旁"
    assert issue.status == Status.SUBMITTED and issue.level == Level.GRID
    assert issue.events.get().kind == IssueEvent.Kind.FILED
    english(client)
    page = client.get(response.url).text
    assert issue.tracking_number in page
    due = timezone.localtime(issue.due_at).strftime("%Y-%m-%d %H:%M")
    # The grid worker of the grid, surname only, as Chinese says it: 张伟 → 张某 ("张." in English)
    assert f"Your grid worker 张. will respond by {due}." in page
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "张某" in client.get(response.url).text
    assert "伟" not in page


def test_a_residents_filing_reads_no_posts(client, people, territory):
    """Filing as a resident needs no posts (anyone signed in may): it reads the session,
    the person and the building, and writes the rest."""
    client.force_login(people.resident)
    data = report_data(people.resident.home_building, territory.category)
    client.post(reverse("issue_report"), data)  # the lists a first filing loads, kept
    data = report_data(people.resident.home_building, territory.category)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("issue_report"), data)
    assert response.status_code == 302
    read = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    assert not any('FROM "grids_post"' in sql for sql in read), read


def filing_queries(client, resident, category) -> list[str]:
    data = report_data(resident.home_building, category)
    with CaptureQueriesContext(connection) as queries:
        response = client.post(reverse("issue_report"), data)
    assert response.status_code == 302
    # Inside the test's transaction, the view's transaction is a savepoint of Django's.
    own = ('SAVEPOINT "', 'RELEASE SAVEPOINT "')
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(own)]


@pytest.mark.parametrize("delay", [0, 30])  # rollups rewritten in the filing, or noted
def test_a_filing_runs_the_same_queries_however_many_issues_there_are(
    client, people, territory, settings, delay
):
    settings.ROLLUP_DELAY = delay
    client.force_login(people.resident)
    filing_queries(client, people.resident, territory.category)  # the lists it loads, kept
    few = filing_queries(client, people.resident, territory.category)
    IssueFactory.create_batch(
        30, grid=territory.grid, category=territory.category, reporter=people.resident
    )
    many = filing_queries(client, people.resident, territory.category)
    assert len(few) == len(many)
    if connection.vendor == "postgresql" and delay:
        # The session, the person, the building; the issue, its first event and the
        # rollup note in one statement; the grid worker's notice, its savepoint sent
        # ahead of it (the notice's statement is prepared on the server: one statement).
        assert len(many) == 6, "\n".join(s[:150] for s in many)
        assert "SAVEPOINT undone_on_failure_1" in many
        (written,) = [sql for sql in many if 'INSERT INTO "issues_issue"' in sql]
        assert 'INSERT INTO "issues_issueevent"' in written
        assert "INSERT INTO issues_pendingrollup" in written
    assert Issue.objects.filter(reporter=people.resident).count() == 33


def test_report_for_another_building_files_in_its_grid(client, people, territory):
    elsewhere = BuildingFactory(grid=territory.far_grid)
    client.force_login(people.resident)
    client.post(reverse("issue_report"), report_data(elsewhere, territory.category))
    issue = Issue.objects.get()
    assert issue.grid == territory.far_grid and issue.subdistrict == territory.other_subdistrict


def test_report_finder_offers_other_buildings_without_javascript(client, people, territory):
    elsewhere = BuildingFactory(grid=territory.cousin_grid, name="龙洞农贸市场")
    client.force_login(people.resident)
    response = client.get(reverse("issue_report"), {"find-q": "农贸"})
    assert f'<option value="{elsewhere.pk}" selected>' in response.text


def test_a_resent_form_files_one_issue(client, people, territory):
    client.force_login(people.resident)
    data = report_data(people.resident.home_building, territory.category)
    first = client.post(reverse("issue_report"), data)
    second = client.post(reverse("issue_report"), data)
    assert Issue.objects.count() == 1
    assert IssueEvent.objects.count() == 1
    assert first.url == second.url
    # A new form (new token) files a new issue.
    client.post(reverse("issue_report"), {**data, "submission_token": str(uuid.uuid4())})
    assert Issue.objects.count() == 2


def test_another_person_cannot_reuse_a_token(client, people, territory):
    data = report_data(people.resident.home_building, territory.category)
    client.force_login(people.resident)
    client.post(reverse("issue_report"), data)
    client.force_login(people.other_resident)
    english(client)
    response = client.post(reverse("issue_report"), data)
    assert response.status_code == 200
    assert "This form was already sent" in response.text
    assert Issue.objects.count() == 1


def test_file_issue_returns_the_issue_already_filed_with_the_token(people, territory):
    token = uuid.uuid4()
    first = file(people, territory, submission_token=token)
    second = file(people, territory, submission_token=token, title="另一个标题")
    assert first.pk == second.pk
    assert Issue.objects.get().title == "路灯不亮"


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_files_one_issue(territory):
    resident = ResidentFactory(home_building__grid=territory.grid)
    token = uuid.uuid4()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def send():
        try:
            barrier.wait()
            results.append(
                workflow.file_issue(
                    actor=resident,
                    source=Source.RESIDENT,
                    category=territory.category,
                    title="路灯不亮",
                    description="同一张表单提交了两次",
                    building=resident.home_building,
                    submission_token=token,
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Issue.objects.count() == 1
    assert {issue.pk for issue in results} == {Issue.objects.get().pk}


def test_report_refuses_bad_input_and_files_nothing(client, people, territory):
    client.force_login(people.resident)
    english(client)
    data = report_data(
        people.resident.home_building,
        territory.category,
        title="   ",
        description="",
        category="",
        building="",
    )
    response = client.post(reverse("issue_report"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) >= {"title", "description", "category", "building"}
    for name in ("title", "description", "category", "building"):
        assert f'id="error_1_id_{name}"' in response.text
    assert Issue.objects.count() == 0
    # What was typed is kept, and so is the token.
    assert data["address"] in response.text
    assert data["submission_token"] in response.text


def test_a_volunteer_may_report_as_a_volunteer(client, territory):
    volunteer = ResidentFactory(is_volunteer=True, home_building__grid=territory.grid)
    client.force_login(volunteer)
    assert 'name="as_volunteer"' in client.get(reverse("issue_report")).text
    client.post(
        reverse("issue_report"),
        report_data(volunteer.home_building, territory.category, as_volunteer="on"),
    )
    assert Issue.objects.get().source == Source.VOLUNTEER


def test_residents_are_not_offered_the_volunteer_box(client, people):
    client.force_login(people.resident)
    assert 'name="as_volunteer"' not in client.get(reverse("issue_report")).text


# --- my issues ----------------------------------------------------------------------------


def test_my_issues_lists_mine_only_with_status_level_and_due(client, people, territory):
    mine = file(people, territory)
    climbed = file(people, territory, title="占道经营")
    climbed = workflow.escalate(issue=climbed, actor=people.worker, reason="需要社区协调")
    theirs = file(people, territory, actor=people.other_resident, title="别人的问题")
    client.force_login(people.resident)
    response = client.get(reverse("my_issues"))
    html = response.text
    assert response.status_code == 200
    assert mine.tracking_number in html and climbed.tracking_number in html
    assert theirs.tracking_number not in html and "别人的问题" not in html
    assert "待网格员受理" in html  # zh-hans by default
    assert timezone.localtime(mine.due_at).strftime("%Y-%m-%d %H:%M") in html
    english(client)
    html = client.get(reverse("my_issues")).text
    assert "Waiting for the grid worker" in html
    assert "Escalated to the community, waiting to be taken on" in html


def test_my_issues_in_english(client, people, territory):
    issue = file(people, territory)
    workflow.accept(issue=issue, actor=people.worker)
    client.force_login(people.resident)
    english(client)
    html = client.get(reverse("my_issues")).text
    assert "The grid worker is handling it" in html


def test_my_issues_runs_a_constant_number_of_queries(
    client, people, territory, django_assert_max_num_queries
):
    def count_for(n):
        Issue.objects.all().delete()
        for i in range(n):
            IssueFactory(
                reporter=people.resident,
                grid=territory.grid,
                category=CategoryFactory(),
                tracking_number=f"Q{n:03d}{i:05d}",
            )
        client.force_login(people.resident)
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("my_issues"))
        assert response.status_code == 200
        assert response.text.count('class="card mb-2"') == min(n, 20)
        return len(captured)

    few, many = count_for(3), count_for(45)
    assert few == many
    with django_assert_max_num_queries(8):
        client.get(reverse("my_issues"), {"page": 2})


def test_the_issue_page_runs_the_same_queries_however_long_its_history(
    client, people, territory, django_assert_max_num_queries
):
    from issues.photos import clean_photo

    p = people
    issue = workflow.accept(issue=file(people, territory), actor=p.worker)
    url = reverse("my_issue_detail", args=[issue.tracking_number])

    def add_history(n, start):
        for i in range(start, start + n):
            # Staff on the grid and the community, the resident, and now and then a photo
            # or a note the resident does not see.
            actor = [p.worker, p.worker2, p.community_staff, p.resident][i % 4]
            photos = [clean_photo(image_upload(f"h{i}.png"))] if i % 5 == 0 else []
            workflow.comment(
                issue=issue, actor=actor, note=f"第{i}条", is_public=i % 8 != 1, photos=photos
            )

    def page_queries():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured), response.text

    client.force_login(p.resident)
    add_history(2, 0)
    few, _page = page_queries()
    add_history(30, 2)
    with django_assert_max_num_queries(10):
        many, page = page_queries()
    assert many == few
    assert "第31条" in page and "第9条" not in page  # an internal note stays inside


def test_my_issues_pages(client, people, territory):
    for i in range(25):
        IssueFactory(reporter=people.resident, grid=territory.grid, tracking_number=f"P{i:05d}")
    client.force_login(people.resident)
    first = client.get(reverse("my_issues")).text
    second = client.get(reverse("my_issues"), {"page": 2}).text
    assert first.count('class="card mb-2"') == 20 and second.count('class="card mb-2"') == 5
    assert client.get(reverse("my_issues"), {"page": "zzz"}).status_code == 200


# --- the issue page -----------------------------------------------------------------------


def test_detail_shows_the_public_timeline_only(client, people, territory):
    people.worker.phone = "13912345678"
    people.worker.save()
    issue = file(people, territory)
    issue = workflow.accept(issue=issue, actor=people.worker)
    workflow.comment(issue=issue, actor=people.worker, note="内部：业主难沟通", is_public=False)
    workflow.comment(issue=issue, actor=people.worker, note="明天上午来修", is_public=True)
    workflow.assign(issue=issue, actor=people.worker, assignee=people.worker2)
    client.force_login(people.resident)
    english(client)
    response = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    html = response.text
    assert "明天上午来修" in html
    assert "内部：业主难沟通" not in html
    assert "13912345678" not in html
    assert people.worker2.username not in html
    assert "Internal" not in html
    kinds = [e.kind for e in response.context["events"]]
    assert kinds == ["filed", "accepted", "commented"]
    assert "Grid worker 张." in html and "You" in html
    assert "…" not in html


def test_detail_shows_before_and_after_photos(client, people, territory):
    from issues.photos import clean_photo

    issue = file(people, territory, photos=[clean_photo(image_upload("before.png"))])
    issue = workflow.accept(issue=issue, actor=people.worker)
    issue = workflow.resolve(
        issue=issue, actor=people.worker, note="修好了", photos=[clean_photo(image_upload("a.png"))]
    )
    client.force_login(people.resident)
    response = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    before = response.context["before_photos"]
    after = response.context["after_photos"]
    assert len(before) == 1 and len(after) == 1
    assert before[0].event.kind == "filed" and after[0].event.kind == "resolved"
    assert response.text.count('class="photo-thumb"') == 2
    assert photo_url(before[0]) in response.text and photo_url(after[0]) in response.text


@pytest.mark.parametrize("name", ["my_issue_detail", "my_issue_comment", "my_issue_evaluate"])
def test_another_residents_issue_is_a_404(client, people, territory, name):
    issue = resolved(people, territory)
    client.force_login(people.other_resident)
    method = client.get if name == "my_issue_detail" else client.post
    response = method(
        reverse(name, args=[issue.tracking_number]),
        {"note": "我来捣乱", "satisfaction": Satisfaction.SATISFIED},
    )
    assert response.status_code == 404
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    assert issue.events.count() == 3


def test_an_unknown_tracking_number_is_a_404(client, people):
    client.force_login(people.resident)
    assert client.get(reverse("my_issue_detail", args=["20990101999999"])).status_code == 404


def test_comment_and_evaluate_are_post_only(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    for name in ("my_issue_comment", "my_issue_evaluate"):
        assert client.get(reverse(name, args=[issue.tracking_number])).status_code == 405


def test_resident_adds_a_public_comment_with_a_photo(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    response = client.post(
        reverse("my_issue_comment", args=[issue.tracking_number]),
        {"note": "灯杆也歪了", "photos": [image_upload("pole.png")]},
    )
    assert response.status_code == 302
    event = issue.events.latest("id")
    assert (event.kind, event.note, event.is_public, event.actor) == (
        "commented",
        "灯杆也歪了",
        True,
        people.resident,
    )
    assert event.photos.count() == 1
    page = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "灯杆也歪了" in page and photo_url(event.photos.get()) in page


def test_an_empty_comment_is_refused_next_to_the_field(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    response = client.post(reverse("my_issue_comment", args=[issue.tracking_number]), {"note": ""})
    assert response.status_code == 200
    assert "note" in response.context["comment_form"].errors
    assert 'id="error_1_id_note"' in response.text
    assert issue.events.count() == 1


def test_a_comment_on_a_closed_issue_is_refused_by_the_workflow(client, people, territory):
    issue = resolved(people, territory)
    workflow.evaluate(issue=issue, actor=people.resident, satisfaction=Satisfaction.SATISFIED)
    client.force_login(people.resident)
    english(client)
    page = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    assert page.context["comment_form"] is None  # not offered
    response = client.post(
        reverse("my_issue_comment", args=[issue.tracking_number]), {"note": "还有问题"}, follow=True
    )
    assert "is not possible while the issue is Closed" in response.text
    assert issue.events.count() == 4


# --- evaluation ---------------------------------------------------------------------------


def test_evaluation_is_offered_only_when_resolved(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    url = reverse("my_issue_detail", args=[issue.tracking_number])
    assert client.get(url).context["evaluation_form"] is None
    issue = workflow.accept(issue=issue, actor=people.worker)
    workflow.resolve(issue=issue, actor=people.worker, note="好了")
    response = client.get(url)
    assert response.context["evaluation_form"] is not None
    assert 'name="satisfaction"' in response.text


@pytest.mark.parametrize("satisfaction", [Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED])
def test_satisfied_or_basically_satisfied_closes(client, people, territory, satisfaction):
    issue = resolved(people, territory)
    client.force_login(people.resident)
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]), {"satisfaction": satisfaction}
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.status == Status.CLOSED and issue.satisfaction == satisfaction
    assert issue.events.latest("id").kind == "evaluated"


def test_dissatisfied_needs_a_reason_next_to_the_field(client, people, territory):
    issue = resolved(people, territory)
    client.force_login(people.resident)
    english(client)
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]),
        {"satisfaction": Satisfaction.DISSATISFIED, "reason": "  "},
    )
    assert response.status_code == 200
    form = response.context["evaluation_form"]
    assert form.errors["reason"] == ["Say why you are not satisfied, so it can be put right."]
    assert form.has_error("reason", code="reason_required")
    assert 'id="error_1_id_reason"' in response.text
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED and issue.events.count() == 3


def test_dissatisfied_with_a_reason_reopens_at_the_same_level(client, people, territory):
    issue = file(people, territory)
    issue = workflow.escalate(issue=issue, actor=people.worker, reason="需要社区协调")
    issue = workflow.accept(issue=issue, actor=people.community_staff)
    issue = workflow.resolve(issue=issue, actor=people.community_staff, note="已处理")
    client.force_login(people.resident)
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]),
        {"satisfaction": Satisfaction.DISSATISFIED, "reason": "灯还是不亮"},
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.status == Status.IN_PROGRESS
    assert issue.level == Level.COMMUNITY
    assert issue.reopen_count == 1 and issue.satisfaction == ""
    event = issue.events.latest("id")
    assert (event.kind, event.note) == ("reopened", "灯还是不亮")
    page = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "灯还是不亮" in page


def test_evaluating_an_issue_that_is_not_resolved_changes_nothing(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    english(client)
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]),
        {"satisfaction": Satisfaction.SATISFIED},
        follow=True,
    )
    assert "is not possible while the issue is Submitted" in response.text
    issue.refresh_from_db()
    assert issue.status == Status.SUBMITTED and issue.events.count() == 1


def test_an_unknown_satisfaction_is_a_form_error(client, people, territory):
    issue = resolved(people, territory)
    client.force_login(people.resident)
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]), {"satisfaction": "great"}
    )
    assert response.status_code == 200
    assert "satisfaction" in response.context["evaluation_form"].errors
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED


def test_what_happens_next_follows_the_issue(client, people, territory):
    issue = file(people, territory)
    client.force_login(people.resident)
    english(client)
    url = reverse("my_issue_detail", args=[issue.tracking_number])
    issue = workflow.escalate(issue=issue, actor=people.worker, reason="需要社区")
    html = client.get(url).text
    assert "Escalated to the community, waiting to be taken on. A response is due by" in html
    issue = workflow.accept(issue=issue, actor=people.community_staff)
    assert "It is being handled and should be settled by" in client.get(url).text
    workflow.resolve(issue=issue, actor=people.community_staff, note="好了")
    assert "Please tell us below whether you are satisfied" in client.get(url).text


def test_no_grid_worker_still_says_who_answers(client, territory):
    resident = ResidentFactory(home_building__grid=territory.sibling_grid)
    issue = workflow.file_issue(
        actor=resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="井盖松动",
        description="小区门口井盖松动",
        building=resident.home_building,
    )
    client.force_login(resident)
    english(client)
    html = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    assert "The grid worker of 第二网格 will respond by" in html


def test_a_part_time_worker_is_named_only_without_a_full_time_one(client, territory):
    part_time = staff_on(territory.sibling_grid, first_name="刘芳")
    part_time.posts.update(is_full_time=False)
    full_time = staff_on(territory.sibling_grid, first_name="孙海燕")
    resident = ResidentFactory(home_building__grid=territory.sibling_grid)
    issue = workflow.file_issue(
        actor=resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="井盖松动",
        description="小区门口井盖松动",
        building=resident.home_building,
    )
    client.force_login(resident)
    assert (
        client.get(reverse("my_issue_detail", args=[issue.tracking_number])).context["worker_name"]
        == "孙某"
    )
    full_time.is_active = False
    full_time.save()
    assert (
        client.get(reverse("my_issue_detail", args=[issue.tracking_number])).context["worker_name"]
        == "刘某"
    )


def test_overdue_issue_shows_overdue(client, people, territory):
    issue = file(people, territory)
    Issue.objects.filter(pk=issue.pk).update(due_at=timezone.now() - timedelta(hours=3))
    client.force_login(people.resident)
    english(client)
    assert "overdue by" in client.get(reverse("my_issues")).text


def test_staff_reporting_as_a_resident_are_not_offered_their_own_evaluation(
    client, people, territory
):
    """A grid worker files through /report/, accepts and resolves: no 满意 for themselves."""
    issue = file(people, territory, actor=people.worker)
    issue = workflow.accept(issue=issue, actor=people.worker)
    issue = workflow.resolve(issue=issue, actor=people.worker, note="已更换灯泡")
    client.force_login(people.worker)
    english(client)
    response = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    assert response.context["evaluation_form"] is None
    assert "someone else verifies the result" in response.text
    response = client.post(
        reverse("my_issue_evaluate", args=[issue.tracking_number]),
        {"satisfaction": Satisfaction.SATISFIED},
        follow=True,
    )
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED and issue.satisfaction == ""
    assert "is not possible while the issue is Resolved" in response.text


def test_a_resent_comment_or_evaluation_is_stored_once(client, people, territory):
    issue = resolved(people, territory)
    client.force_login(people.resident)
    page = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    comment_token = page.context["comment_form"]["submission_token"].value()
    evaluation_token = page.context["evaluation_form"]["submission_token"].value()
    assert comment_token != evaluation_token
    assert f'value="{comment_token}"' in page.text and f'value="{evaluation_token}"' in page.text
    comment = {"note": "谢谢，灯亮了", "submission_token": str(comment_token)}
    for _ in range(2):
        response = client.post(reverse("my_issue_comment", args=[issue.tracking_number]), comment)
        assert response.status_code == 302
    assert issue.events.filter(kind=IssueEvent.Kind.COMMENTED).count() == 1

    evaluation = {"satisfaction": Satisfaction.SATISFIED, "submission_token": str(evaluation_token)}
    for _ in range(2):
        response = client.post(
            reverse("my_issue_evaluate", args=[issue.tracking_number]), evaluation, follow=True
        )
        assert "is not possible" not in response.text  # the resend is not an error either
    issue.refresh_from_db()
    assert issue.status == Status.CLOSED
    assert issue.events.filter(kind=IssueEvent.Kind.EVALUATED).count() == 1


def test_a_suspension_reason_is_not_shown_to_the_reporter(client, people, territory):
    issue = file(people, territory)
    issue = workflow.accept(issue=issue, actor=people.worker)
    workflow.suspend(issue=issue, actor=people.worker, reason="等物业经理签字")
    client.force_login(people.resident)
    english(client)
    response = client.get(reverse("my_issue_detail", args=[issue.tracking_number]))
    assert "等物业经理签字" not in response.text
    # The reporter still sees that it was suspended.
    kinds = [event.kind for event in response.context["events"]]
    assert kinds == [IssueEvent.Kind.FILED, IssueEvent.Kind.ACCEPTED, IssueEvent.Kind.SUSPENDED]


# --- what a resident reads on a phone ---------------------------------------------------


def dispatched(people, territory):
    issue = file(people, territory)
    issue = workflow.escalate(issue=issue, actor=people.worker, reason="需要社区协调")
    issue = workflow.escalate(issue=issue, actor=people.community_staff, reason="需要街道协调")
    return workflow.dispatch(
        issue=issue, actor=people.subdistrict_staff, department=territory.department
    )


def test_after_a_dispatch_the_resident_reads_where_the_issue_is(client, people, territory):
    issue = dispatched(people, territory)
    assert issue.status == Status.SUBMITTED
    client.force_login(people.resident)
    detail = reverse("my_issue_detail", args=[issue.tracking_number])
    for url in (reverse("my_issues"), detail):
        html = client.get(url).text
        assert "已派至城管处理" in html
        assert "待受理" not in html
    english(client)
    assert "Dispatched to 城管" in client.get(detail).text
    workflow.accept(issue=issue, actor=people.department_staff)
    assert "城管 is handling it" in client.get(detail).text


def test_my_issues_call_me_to_evaluate_what_was_resolved(client, people, territory):
    waiting = resolved(people, territory, title="等待评价的问题")
    other = file(people, territory, title="还在办理的问题")
    client.force_login(people.resident)
    html = client.get(reverse("my_issues")).text
    detail = reverse("my_issue_detail", args=[waiting.tracking_number])
    assert html.count("evaluate-link") == 1
    assert f'href="{detail}#evaluate-heading"' in html
    card = html.split(waiting.tracking_number, 1)[1].split("</li>")[0]
    assert "立即评价" in card
    assert "立即评价" not in html.split(other.tracking_number, 1)[1].split("</li>")[0]
    # Once evaluated, the call is gone.
    workflow.evaluate(issue=waiting, actor=people.resident, satisfaction=Satisfaction.SATISFIED)
    assert "evaluate-link" not in client.get(reverse("my_issues")).text


def test_every_event_reads_in_the_past(client, people, territory):
    from django.utils import translation

    with translation.override("zh-hans"):
        for kind in IssueEvent.Kind:
            assert "已" in str(kind.label), kind
    issue = file(people, territory)
    issue = workflow.accept(issue=issue, actor=people.worker)
    workflow.suspend(issue=issue, actor=people.worker, reason="等待配件")
    IssueEvent.objects.filter(issue=issue).update(is_public=True)
    client.force_login(people.resident)
    html = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    timeline = html.split('id="timeline"')[1]
    assert "已挂起" in timeline and "已受理" in timeline and "已提交" in timeline
    client.force_login(people.worker)
    staff = client.get(reverse("staff_issue_detail", args=[issue.tracking_number])).text
    assert "已挂起" in staff.split('class="timeline"')[1]


def test_filing_is_submitting_and_escalating_is_escalating(client, people, territory):
    issue = file(people, territory)
    workflow.escalate(issue=issue, actor=people.worker, reason="需要社区协调")
    IssueEvent.objects.filter(issue=issue).update(is_public=True)
    client.force_login(people.resident)
    # Filing a problem never says 上报 (that word is for climbing a level).
    assert "上报" not in client.get(reverse("issue_report")).text
    assert "上报" not in client.get(reverse("my_issues")).text.replace("已上报社区", "")
    assert "上报问题" not in client.get(reverse("home")).text
    html = client.get(reverse("my_issue_detail", args=[issue.tracking_number])).text
    timeline = html.split('id="timeline"')[1]
    assert "已提交" in timeline and "已上报" in timeline
    assert timeline.count("上报") == 1


def test_anonymous_home_offers_report_track_and_sign_up_as_buttons(client, db):
    html = client.get(reverse("home")).text
    main = html.split('id="main"')[1]
    for name in ("issue_report", "track", "signup"):
        assert f'class="btn btn-primary btn-lg" href="{reverse(name)}"' in main or (
            f'class="btn btn-outline-primary btn-lg" href="{reverse(name)}"' in main
        ), name
    assert "反映问题" in main and "进度查询" in main and "注册" in main


def test_unread_count_shows_on_the_collapsed_menu_button(client, people, territory):
    issue = file(people, territory)
    for _ in range(2):
        Notification.objects.create(
            user=people.resident, issue=issue, reason=Notification.Reason.YOUR_ISSUE
        )
    client.force_login(people.resident)
    html = client.get(reverse("home")).text
    toggler = html.split('<button class="navbar-toggler')[1].split("</button>")[0]
    assert "toggler-badge" in toggler and ">2<" in toggler
    assert "2" in toggler.split('aria-label="')[1].split('"')[0]
    Notification.objects.update(is_read=True)
    toggler = (
        client.get(reverse("home"))
        .text.split('<button class="navbar-toggler')[1]
        .split("</button>")[0]
    )
    assert "toggler-badge" not in toggler


def test_a_filing_reads_neither_the_categories_nor_the_deadlines_nor_its_own_event(
    client, people, territory, django_capture_on_commit_callbacks
):
    """What every filing needs and rarely changes (the active categories, the configured
    deadlines) comes from the cache, and the notifications are told what happened rather
    than reading the new event back: a filing is a fixed, short list of statements."""
    from issues import choices

    client.force_login(people.resident)
    building = people.resident.home_building
    choices.active_categories(), choices.sla_policies()  # steady state: kept
    with CaptureQueriesContext(connection) as captured:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("issue_report"), report_data(building, territory.category)
            )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert issue.category == territory.category and issue.due_at is not None
    reads = [q["sql"] for q in captured if q["sql"].startswith("SELECT")]
    for table in ("issues_category", "issues_slapolicy", "issues_issueevent"):
        assert not [sql for sql in reads if f'FROM "{table}"' in sql or f"FROM {table} " in sql]
    # The grid worker is told (the notification is written from what the filing told).
    assert issue.notifications.filter(user=people.worker).exists()
