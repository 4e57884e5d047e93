"""Two savings of round trips and planning on the staff issue page: its issue query is
planned in the order its joins are written, in the query's own round trip
(config/postgresql/planner.py), and its lists of departments are read with plain queries
rather than server-side cursors (config/widgets.ListedModelChoices)."""

import pytest
from django import forms
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import widgets
from config.postgresql.planner import in_written_order
from grids.models import Department
from tests.conftest import requires_postgres
from tests.factories import DepartmentFactory, issue_at

SETTINGS = "current_setting('join_collapse_limit'), current_setting('from_collapse_limit')"


def setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def run_in_written_order(sql: str) -> list:
    """The rows of ``sql`` sent as the issue page sends its query."""
    sql, leading = in_written_order(sql, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        for _setting in range(leading):
            cursor.nextset()
        return cursor.fetchall()


def defaults() -> tuple[str, str]:
    return setting("join_collapse_limit"), setting("from_collapse_limit")


@requires_postgres
def test_the_join_order_is_kept_for_the_query_and_restored_after(db):
    before = defaults()
    assert before != ("1", "1")
    with CaptureQueriesContext(connection) as queries:
        assert run_in_written_order(f"SELECT {SETTINGS}") == [("1", "1")]
    assert len(queries) == 1  # one round trip for the settings, the query and the reset
    assert defaults() == before


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_failing_query_takes_its_settings_with_it_outside_a_transaction():
    before = defaults()
    with pytest.raises(DatabaseError):
        run_in_written_order("SELECT 1 / 0")
    assert defaults() == before


@requires_postgres
def test_a_failing_query_takes_its_settings_with_it_inside_a_transaction(db):
    before = defaults()
    with pytest.raises(DatabaseError), transaction.atomic():
        run_in_written_order("SELECT 1 / 0")
    assert defaults() == before


def test_on_sqlite_the_query_is_left_as_it_is(db):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite side")
    assert in_written_order("SELECT 1", connection.vendor) == ("SELECT 1", 0)
    with CaptureQueriesContext(connection) as queries:
        assert run_in_written_order("SELECT 1") == [(1,)]
    assert [q["sql"] for q in queries] == ["SELECT 1"]


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
    (fetch,) = [s for s in sql if "join_collapse_limit" in s]
    assert fetch.startswith("SET join_collapse_limit = 1; SET from_collapse_limit = 1; SELECT")
    assert f'"{issue._meta.db_table}"."tracking_number" = ' in fetch
    assert fetch.endswith("; RESET join_collapse_limit; RESET from_collapse_limit")
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
