"""Two savings of round trips and planning on the staff issue page: its issue query is
planned in the order its joins are written (config/postgresql/planner.py), and its lists
of departments are read with plain queries rather than server-side cursors
(config/widgets.ListedModelChoices)."""

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import widgets
from config.postgresql.planner import written_join_order
from grids.models import Department
from tests.conftest import requires_postgres
from tests.factories import DepartmentFactory, issue_at


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@requires_postgres
def test_the_join_order_is_kept_inside_and_restored_after(db):
    before = setting("join_collapse_limit"), setting("from_collapse_limit")
    assert before != ("1", "1")
    with written_join_order():
        assert (setting("join_collapse_limit"), setting("from_collapse_limit")) == ("1", "1")
    assert (setting("join_collapse_limit"), setting("from_collapse_limit")) == before


@requires_postgres
def test_the_join_order_is_restored_when_the_block_raises(db):
    before = setting("join_collapse_limit")
    with pytest.raises(LookupError), written_join_order():
        raise LookupError
    assert setting("join_collapse_limit") == before


def test_on_sqlite_it_sends_nothing(db):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite side")
    with CaptureQueriesContext(connection) as queries, written_join_order():
        pass
    assert len(queries) == 0


@requires_postgres
def test_the_staff_issue_page_plans_its_issue_in_written_order_and_restores(
    client, territory, people
):
    issue = issue_at(territory, "subdistrict")
    DepartmentFactory(subdistrict=territory.subdistrict, name="住建")
    client.force_login(people.subdistrict_staff)
    default = setting("join_collapse_limit")
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("staff_issue_detail", args=[issue.tracking_number]))
    assert page.status_code == 200
    sql = [q["sql"] for q in queries]
    (at,) = [i for i, s in enumerate(sql) if s.startswith("SET join_collapse_limit")]
    assert f'"{issue._meta.db_table}"."tracking_number" = ' in sql[at + 1]
    assert sql[at + 2].startswith("RESET join_collapse_limit")
    assert setting("join_collapse_limit") == default
    # The dispatch and joint-dispatch forms list departments: plain queries, no cursor.
    assert "住建" in page.text
    assert not [s for s in sql if s.startswith("DECLARE")]


@pytest.mark.parametrize("empty_label", ["---------", None])
def test_listed_choices_are_djangos_choices(territory, empty_label):
    DepartmentFactory(subdistrict=territory.subdistrict, name="住建")
    departments = Department.objects.order_by("name")
    ours = widgets.ModelChoiceField(queryset=departments, empty_label=empty_label)
    django = forms.ModelChoiceField(queryset=departments, empty_label=empty_label)
    assert [(str(v), label) for v, label in ours.choices] == [
        (str(v), label) for v, label in django.choices
    ]
    assert len(list(ours.choices)) == departments.count() + (empty_label is not None)
    many = widgets.ModelMultipleChoiceField(queryset=departments)
    assert [label for _v, label in many.choices] == [d.name for d in departments]
    with CaptureQueriesContext(connection) as queries:
        for _round in range(2):
            assert [label for _v, label in ours.choices]
    # One plain query each time the list is read (no count, no cursor), as a widget reads it.
    assert [q["sql"].split()[0] for q in queries] == ["SELECT", "SELECT"]


@pytest.mark.parametrize("empty_label", ["---------", None])
def test_kept_choices_are_djangos_choices_without_a_query(territory, empty_label):
    from issues import choices
    from issues.models import Category
    from tests.factories import CategoryFactory

    CategoryFactory(name="停用的类别", is_active=False)
    CategoryFactory(name="园林绿化", hint="树木、绿地")
    active = Category.objects.filter(is_active=True)
    ours = widgets.KeptModelChoiceField(choices.active_categories, empty_label=empty_label)
    django = forms.ModelChoiceField(queryset=active, empty_label=empty_label)
    listed = [(str(v), label) for v, label in django.choices]
    assert len(listed) == active.count() + (empty_label is not None) >= 2
    choices.active_categories()  # kept
    with CaptureQueriesContext(connection) as queries:
        assert [(str(v), label) for v, label in ours.choices] == listed
        assert len(ours.choices) == len(listed)
        chosen = ours.clean(str(territory.category.pk))
    assert len(queries) == 0
    assert chosen == territory.category and chosen.name == territory.category.name
    # What is not among the rows is refused in Django's words: unknown, inactive, not a number.
    for value in ("999999", str(Category.objects.get(name="停用的类别").pk), "x"):
        with pytest.raises(forms.ValidationError) as ours_refusal:
            ours.clean(value)
        with pytest.raises(forms.ValidationError) as django_refusal:
            django.clean(value)
        assert ours_refusal.value.messages == django_refusal.value.messages
    with pytest.raises(forms.ValidationError) as refusal:
        ours.clean("")
    assert refusal.value.code == "required"
