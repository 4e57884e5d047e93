"""A category's extra questions: on the resident's report form and the staff patrol and
hotline forms, answers checked by one set of rules, stored on the issue, shown to staff;
edited in the admin; the demo has a required one."""

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from issues.models import ApiClient, Category, CategoryQuestion, Issue
from issues.questions import AnswerError, clean_answers
from tests.test_patrol_hotline import hotline_data, patrol_data
from tests.test_resident import report_data

PATROL = reverse("staff_patrol")
HOTLINE = reverse("staff_hotline")


@pytest.fixture
def asked(territory):
    category = territory.category
    CategoryQuestion.objects.create(
        category=category, code="pole", label="灯杆编号", required=True, order=1
    )
    CategoryQuestion.objects.create(
        category=category,
        code="kind",
        label="哪类设施",
        datatype="singlevaluelist",
        choices="lamp|路灯\ncover|井盖",
        order=2,
    )
    return category


def field(category, code):
    return f"q_{category.pk}_{code}"


def test_report_form_asks_and_keeps_the_answers(client, people, territory, asked):
    client.force_login(people.resident)
    page = client.get(reverse("issue_report")).content.decode()
    assert f'name="{field(asked, "pole")}"' in page
    assert "灯杆编号" in page
    building = people.resident.home_building
    data = report_data(building, asked, **{field(asked, "kind"): "cover"})
    response = client.post(reverse("issue_report"), data)
    assert response.status_code == 200
    assert "灯杆编号" in response.content.decode()
    assert not Issue.objects.exists()
    data[field(asked, "pole")] = "A-17"
    assert client.post(reverse("issue_report"), data).status_code == 302
    assert Issue.objects.get().answers == {"pole": "A-17", "kind": "cover"}


def test_another_categorys_questions_are_not_required(client, people, territory, asked):
    other = Category.objects.create(name="噪音", code="noise")
    client.force_login(people.resident)
    data = report_data(people.resident.home_building, other)
    assert client.post(reverse("issue_report"), data).status_code == 302
    assert Issue.objects.get().answers == {}


def test_patrol_and_hotline_forms_ask_too(client, people, territory, asked):
    client.force_login(people.worker)
    response = client.post(PATROL, patrol_data(territory))
    assert response.status_code == 200 and not Issue.objects.exists()
    client.post(PATROL, patrol_data(territory, **{field(asked, "pole"): "P-1"}))
    assert Issue.objects.get().answers == {"pole": "P-1"}
    client.force_login(people.community_staff)
    response = client.post(HOTLINE, hotline_data(territory))
    assert response.status_code == 200 and Issue.objects.count() == 1
    client.post(HOTLINE, hotline_data(territory, **{field(asked, "pole"): "H-2"}))
    assert Issue.objects.filter(answers__pole="H-2").exists()


def test_staff_see_the_answers(client, people, territory, asked):
    client.force_login(people.worker)
    client.post(
        PATROL,
        patrol_data(territory, **{field(asked, "pole"): "P-1", field(asked, "kind"): "lamp"}),
    )
    issue = Issue.objects.get()
    page = client.get(reverse("staff_issue_detail", args=[issue.tracking_number])).content
    page = page.decode()
    assert re.search(r"灯杆编号</dt>\s*<dd[^>]*>P-1</dd>", page)
    assert re.search(r"哪类设施</dt>\s*<dd[^>]*>路灯</dd>", page)


@pytest.mark.parametrize(
    ("datatype", "choices", "values", "stored"),
    [
        ("string", "", ["  abc "], "abc"),
        ("number", "", ["3.50"], "3.50"),
        ("datetime", "", ["2026-12-01T08:00:00+08:00"], "2026-12-01T08:00:00+08:00"),
        ("text", "", ["多行\n文字"], "多行\n文字"),
        ("singlevaluelist", "a|甲\nb|乙", ["b"], "b"),
        ("multivaluelist", "a|甲\nb|乙", ["a", "b", "a"], ["a", "b"]),
    ],
)
def test_answers_by_datatype(territory, datatype, choices, values, stored):
    question = CategoryQuestion(code="q", label="Q", datatype=datatype, choices=choices)
    assert clean_answers([question], lambda q: values) == {"q": stored}


@pytest.mark.parametrize(
    ("datatype", "value"),
    [("number", "many"), ("number", "NaN"), ("datetime", "tomorrow"), ("singlevaluelist", "c")],
)
def test_bad_answers_are_refused(territory, datatype, value):
    question = CategoryQuestion(code="q", label="Q", datatype=datatype, choices="a|甲")
    with pytest.raises(AnswerError):
        clean_answers([question], lambda q: [value])


def test_admin_edits_questions_and_codes(admin_client, asked):
    page = admin_client.get(reverse("admin:issues_category_change", args=[asked.pk]))
    html = page.content.decode()
    assert 'name="questions-0-code"' in html
    assert 'name="code"' in html


def test_admin_shows_a_new_key_once_and_rotates(admin_client, territory):
    response = admin_client.post(
        reverse("admin:issues_apiclient_add"),
        {
            "name": "城市App",
            "contact": "",
            "is_active": "on",
            "may_write": "on",
            "jurisdictions": [territory.subdistrict.pk],
            "rate_limit": 60,
            "webhook_url": "",
            "webhook_secret": "",
            "keys-TOTAL_FORMS": 0,
            "keys-INITIAL_FORMS": 0,
        },
        follow=True,
    )
    client = ApiClient.objects.get(name="城市App")
    key = client.keys.get()
    message = [str(m) for m in response.context["messages"]][0]
    shown = re.search(r"(\w{8}\.\S+)$", message).group(1)
    assert shown.startswith(key.prefix)
    assert shown.split(".")[1] not in key.hashed
    response = admin_client.post(
        reverse("admin:issues_apiclient_changelist"),
        {"action": "replace_keys", "_selected_action": [client.pk]},
        follow=True,
    )
    assert client.keys.count() == 2
    assert client.keys.filter(expires_at__isnull=False).count() == 1


def test_seed_demo_has_a_category_with_a_required_question(db):
    call_command("seed_demo", verbosity=0)
    road = Category.objects.get(code="road-facilities")
    assert road.questions.filter(required=True).exists()
    call_command("seed_demo", verbosity=0)
    assert road.questions.count() == 2
