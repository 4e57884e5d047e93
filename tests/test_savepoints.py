"""``undone_on_failure`` (config/savepoints.py): what fails inside is undone alone, the
caller's transaction goes on; on PostgreSQL the savepoint costs no round trip of its own."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.compiled import prepared_cursor
from config.savepoints import undone_on_failure
from issues.models import Category
from tests.conftest import requires_postgres


def _names():
    return sorted(Category.objects.values_list("name", flat=True))


def test_a_failure_inside_undoes_only_what_was_written_inside(db):
    with transaction.atomic():
        Category.objects.create(name="before")
        with pytest.raises(DatabaseError), undone_on_failure():
            Category.objects.create(name="inside")
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM no_such_table")  # fails in the database
        # The transaction is usable again, and goes on.
        Category.objects.create(name="after")
    assert _names() == ["after", "before"]


def test_a_failure_in_python_undoes_it_too_and_success_keeps_everything(db):
    with transaction.atomic():
        with pytest.raises(RuntimeError), undone_on_failure():
            Category.objects.create(name="inside")
            raise RuntimeError("a bug after the first statement")
        with undone_on_failure():
            Category.objects.create(name="kept")
            Category.objects.create(name="kept too")
    assert _names() == ["kept", "kept too"]


def test_blocks_inside_blocks_undo_their_own(db):
    with transaction.atomic():
        with undone_on_failure():
            Category.objects.create(name="outer")
            with pytest.raises(ZeroDivisionError), undone_on_failure():
                Category.objects.create(name="inner, failed")
                raise ZeroDivisionError
            with undone_on_failure():
                Category.objects.create(name="inner, kept")
        with pytest.raises(ZeroDivisionError), undone_on_failure():
            Category.objects.create(name="outer, failed")
            with undone_on_failure():
                Category.objects.create(name="inside the failed one")
            raise ZeroDivisionError
    assert _names() == ["inner, kept", "outer"]


def test_a_failure_after_a_block_that_held_undoes_only_its_own(db):
    # Blocks one after another share a savepoint name: the failing one goes back to its own.
    with transaction.atomic():
        for name in ("first", "second"):
            with undone_on_failure():
                Category.objects.create(name=name)
        with pytest.raises(ZeroDivisionError), undone_on_failure():
            Category.objects.create(name="failed")
            raise ZeroDivisionError
        with undone_on_failure():
            Category.objects.create(name="outer")
            with undone_on_failure():
                Category.objects.create(name="inner")
            with pytest.raises(ZeroDivisionError), undone_on_failure():
                Category.objects.create(name="inner, failed")
                raise ZeroDivisionError
    assert _names() == ["first", "inner", "outer", "second"]


def test_outside_a_transaction_it_is_a_transaction_of_its_own(transactional_db):
    with pytest.raises(ZeroDivisionError), undone_on_failure():
        Category.objects.create(name="inside")
        raise ZeroDivisionError
    assert _names() == []


@requires_postgres
def test_on_postgresql_the_savepoint_goes_with_the_first_statement(db):
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        with undone_on_failure():
            Category.objects.create(name="one")
            Category.objects.create(name="two")
    statements = [q["sql"] for q in queries.captured_queries]
    # Two round trips for two statements: no SAVEPOINT or RELEASE of their own.
    assert len(statements) == 2, statements
    assert statements[0].startswith("SAVEPOINT undone_on_failure_")
    assert "INSERT" in statements[0] and statements[1].startswith("INSERT")
    assert _names() == ["one", "two"]


@requires_postgres
def test_on_postgresql_each_block_sends_the_same_statement(db):
    # The same text each time: psycopg parses a statement's placeholders once and keeps it.
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        for _ in range(2):
            with undone_on_failure():
                Category.objects.filter(name="no such category").update(is_active=False)
    first, second = [q["sql"] for q in queries.captured_queries]
    assert first == second and first.startswith("SAVEPOINT undone_on_failure_1;")


@requires_postgres
def test_a_statement_with_its_parameters_apart_gets_the_savepoint_ahead_of_it(db):
    """A prepared cursor's statement is one statement: the savepoint is sent before it,
    and a failure still undoes only what was written inside."""
    rename = "UPDATE issues_category SET hint = %s WHERE name = %s"
    with transaction.atomic():
        Category.objects.create(name="before")
        with CaptureQueriesContext(connection) as queries, undone_on_failure():
            with prepared_cursor(connection) as cursor:
                cursor.execute(rename, ["kept", "before"])
        assert [q["sql"] for q in queries.captured_queries][0] == "SAVEPOINT undone_on_failure_1"
        with pytest.raises(DatabaseError), undone_on_failure():
            with prepared_cursor(connection) as cursor:
                cursor.execute(rename, ["undone", "before"])
                cursor.execute("SELECT id FROM no_such_table WHERE id = %s", [1])
        Category.objects.create(name="after")
    assert _names() == ["after", "before"]
    assert Category.objects.get(name="before").hint == "kept"
