"""The filters' choice lists come from the cache, and a change to their rows shows at once
(on this host; other hosts follow within ``CHOICES_SECONDS``, or at once with a shared
cache)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from issues import choices
from issues.models import IssueEvent, Level
from participation.models import Claim
from tests.factories import CategoryFactory, post_for


def test_categories_are_read_once_and_follow_a_change(territory):
    first = choices.categories()
    with CaptureQueriesContext(connection) as captured:
        assert choices.categories() == first
    assert len(captured) == 0
    added = CategoryFactory(name="新增类别")
    assert (added.pk, "新增类别") in choices.categories()
    added.delete()
    assert (added.pk, "新增类别") not in choices.categories()


def test_a_persons_grids_follow_a_new_post(territory, people):
    t, p = territory, people
    assert choices.grids_of(p.worker) == []  # one grid: nothing to choose
    with CaptureQueriesContext(connection) as captured:
        choices.grids_of(p.worker)
    assert len(captured) == 0
    post_for(p.worker, t.sibling_grid)
    p.worker.__dict__.pop("_issue_scope", None)
    assert {pk for pk, _name in choices.grids_of(p.worker)} == {t.grid.pk, t.sibling_grid.pk}
    # A renamed grid shows under its new name.
    t.sibling_grid.name = "第二网格（新）"
    t.sibling_grid.save()
    assert any("第二网格（新）" in name for _pk, name in choices.grids_of(p.worker))


def test_an_action_looks_for_webhook_clients_only_when_one_exists(territory, people):
    from issues import workflow
    from issues.models import ApiClient, Source
    from issues.open311.webhooks import clients_concerned

    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident, source=Source.RESIDENT, category=t.category, title="路灯不亮",
        description="楼下路灯坏了", grid=t.grid,
    )  # fmt: skip
    issue = workflow.accept(issue=issue, actor=p.worker, message="马上处理。")
    event_ids = list(issue.events.values_list("pk", flat=True))
    assert choices.any_webhook_client() is False
    with CaptureQueriesContext(connection) as captured:
        assert clients_concerned(event_ids) == set()
    assert len(captured) == 0  # none takes webhooks: nothing to look up
    client = ApiClient.objects.create(name="12345热线", webhook_url="https://hotline.example/hook")
    assert choices.any_webhook_client() is True  # seen at once on this host
    client.is_active = False
    client.save()
    assert choices.any_webhook_client() is False


def test_the_building_finders_communities_come_from_the_cache_and_follow_a_change(
    client, territory, people
):
    from django.urls import reverse

    from grids.forms import BuildingFinder

    t = territory
    listed = choices.communities()
    # By subdistrict, then code: 龙洞 (LD-LD) before 全运村 (LD-QYC), then 姚家's.
    assert [pk for pk, _name in listed][:2] == [t.other_community.pk, t.community.pk]
    with CaptureQueriesContext(connection) as captured:
        finder = BuildingFinder()
    assert len(captured) == 0
    assert list(finder.fields["community"].choices)[1:] == listed
    # The finder still narrows by a community sent as its id, and refuses an unknown one.
    assert BuildingFinder({"find-community": str(t.community.pk)}).is_valid()
    assert not BuildingFinder({"find-community": "999999"}).is_valid()
    # A renamed community shows under its new name on the report form at once.
    t.community.name = "全运村社区（新）"
    t.community.save()
    client.force_login(people.resident)
    assert "全运村社区（新）" in client.get(reverse("issue_report")).text


def test_the_category_questions_are_read_once_and_follow_a_change(territory):
    from issues.models import CategoryQuestion

    question = CategoryQuestion.objects.create(
        category=territory.category, code="floor", label="几楼", datatype="string"
    )
    assert [q.label for q in choices.category_questions()] == ["几楼"]
    with CaptureQueriesContext(connection) as captured:
        (cached,) = choices.category_questions()
        assert cached.category.name == territory.category.name  # with its category
    assert len(captured) == 0
    question.label = "在几楼"
    question.save()
    assert [q.label for q in choices.category_questions()] == ["在几楼"]
    territory.category.is_active = False
    territory.category.save()
    assert choices.category_questions() == []


def test_the_deadlines_are_read_once_and_follow_a_change(territory):
    from django.utils import timezone

    from issues.models import DEFAULT_SLA, Level, Severity, SlaPolicy, SlaUnit
    from issues.workdays import Deadline

    start = timezone.now()
    key = (Severity.URGENT, Level.GRID)
    SlaPolicy.objects.update_or_create(
        severity=key[0], level=key[1], defaults={"unit": SlaUnit.HOURS, "amount": 3}
    )
    assert SlaPolicy.table().deadline(*key, start) == start + timezone.timedelta(hours=3)
    with CaptureQueriesContext(connection) as captured:
        SlaPolicy.table().deadline(*key, start)
    assert len(captured) == 0  # from the cache (an hours policy needs no calendar)
    policy = SlaPolicy.objects.get(severity=key[0], level=key[1])
    policy.amount = 5
    policy.save()  # as the admin saves it
    assert SlaPolicy.table().deadline(*key, start) == start + timezone.timedelta(hours=5)
    policy.delete()  # the default applies again
    assert SlaPolicy.table()[key] == Deadline(*DEFAULT_SLA[key])


def test_a_choice_label_is_shown_in_the_active_language_and_an_unknown_value_as_it_is():
    """Labels of the choice fields come from a dictionary built once per field: still lazy,
    so each reader sees their own language; a value outside the choices shows as stored."""
    event = IssueEvent(kind=IssueEvent.Kind.ESCALATED, to_level=Level.COMMUNITY)
    with translation.override("zh-hans"):
        assert (event.get_kind_display(), event.get_to_level_display()) == ("已上报", "社区")
    with translation.override("en"):
        assert (event.get_kind_display(), event.get_to_level_display()) == (
            "Escalated",
            "Community",
        )
        assert Claim(state=Claim.State.OFFERED).get_state_display() == str(
            Claim.State.OFFERED.label
        )
    assert IssueEvent(kind="no-such-kind").get_kind_display() == "no-such-kind"


def test_the_return_reasons_are_read_once_and_follow_a_change(territory, people):
    """The return form, drawn on every issue page a department opens, offers the active
    reasons from the cache, and one turned off is gone from it at once."""
    from issues.forms.loop import ReturnForm
    from issues.models import ReturnReason
    from tests.factories import IssueFactory

    issue = IssueFactory(grid=territory.grid, category=territory.category)
    offered = ReturnForm(issue=issue, user=people.department_staff, prefix="return")
    names = [label for _value, label in offered.fields["reason"].choices][1:]
    assert names == list(ReturnReason.objects.filter(is_active=True).values_list("name", flat=True))
    with CaptureQueriesContext(connection) as captured:
        again = ReturnForm(issue=issue, user=people.department_staff, prefix="return")
        assert [label for _value, label in again.fields["reason"].choices][1:] == names
    assert len(captured) == 0
    first = ReturnReason.objects.get(name=names[0])
    first.is_active = False
    first.save()
    form = ReturnForm(
        {"return-reason": first.pk}, issue=issue, user=people.department_staff, prefix="return"
    )
    assert names[0] not in [label for _value, label in form.fields["reason"].choices]
    assert not form.is_valid() and "reason" in form.errors
