"""Rows read by one field's value, and new rows written together, with SQL compiled once.

The ORM writes a query's SQL afresh every time it runs. For a lookup by primary key that
joins related rows (``select_related``), writing the SQL and working out which columns
make which object costs more than the query itself: on the filing form, the building
with its grid and community was about a sixth of a filing. These classes compile the
queryset once per database connection, then run that SQL with each key and make the
objects as the ORM does (the backend's and the fields' converters, the related objects
cached on the row's), so a page that reads them on every request pays for the query alone.

- ``CompiledLookup``: one row by its primary key or another unique field. The staff issue
  page reads its issue, with nine related rows, by tracking number this way; writing that
  SQL cost the ORM more than planning and running it.
- ``CompiledRows``: every row whose field (a foreign key, say) has the value, in the
  queryset's order: the staff issue page's timeline and its photos, by issue.
- ``create_together``: a new row and new rows that refer to it, written as ``save()``
  writes them, in one statement on PostgreSQL: a filing's issue, its first event and its
  rollup note.
- ``KeptAtMoment``: a ``values()`` query that depends on "now" and on inputs that come
  again, its SQL kept per key: the dashboard's figures of a unit and rankings of its
  children, some hundreds of aggregates that cost the ORM more to write than PostgreSQL to
  run.

The lookups' and the joint inserts' statements run through ``prepared_cursor``: on
PostgreSQL the server plans each once per connection (``config.postgresql``), which for
these short statements took longer than running them. ``KeptAtMoment``'s are long,
aggregate over ranges and put a new moment in each time: they are planned on each run.

Only for querysets that do not change while the process runs (``select_related``,
``defer``/``only``, fixed filters and order): the SQL is kept as it was first written.
``written_order`` plans it in the order its joins are written
(``config.postgresql.planner``), in the same round trip.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.signals import setting_changed
from django.db import connections, router, transaction
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import get_related_populators

from config.postgresql.planner import in_written_order

# Stands for the key while the SQL is written (a key no row has; any would do), as the
# field takes it: the number, or its text for a text field.
_PLACEHOLDER = "-424242"


def prepared_cursor(connection):
    """A cursor for a statement whose text comes again and again with other values: on
    PostgreSQL prepared on the server once it has run a few times on the connection
    (``DatabaseWrapper.prepared_cursor``), elsewhere the usual cursor. The SQL must hold a
    placeholder wherever a value changes, each where PostgreSQL can tell its type (a
    column compared or written), and one statement."""
    make = getattr(connection, "prepared_cursor", None)
    return make() if make is not None else connection.cursor()


class CompiledRows:
    """The rows of ``queryset()`` whose ``field`` equals a key, in the queryset's order.
    ``field`` may reach through related models as a filter does ("posts__department")."""

    # Whether the queryset's order is kept (a lookup of one row needs none).
    ordered = True

    def __init__(
        self,
        model: type[Model],
        queryset: Callable[[], QuerySet],
        *,
        field: str,
        written_order: bool = False,
    ):
        self.model = model
        self.queryset = queryset
        self.lookup = model._meta.pk.name if field == "pk" else field
        # The model's own field the lookup starts from, and the one it ends at (through
        # related models: "posts__department"), whose type the key takes: a foreign
        # key's is its target's.
        first, *rest = self.lookup.split(LOOKUP_SEP)
        self.field = model._meta.get_field(first)
        last = self.field
        for name in rest:
            last = last.related_model._meta.get_field(name)
        self._key_field = getattr(last, "target_field", last)
        self.written_order = written_order
        # {connection: its compiled query}: a connection belongs to one thread, and the
        # converters the query applies are that connection's.
        self._compiled = weakref.WeakKeyDictionary()

    def _compile(self, connection):
        compiled = self._compiled.get(connection)
        if compiled is None:
            placeholder = self._key_field.to_python(_PLACEHOLDER)
            queryset = self.queryset().filter(**{self.lookup: placeholder})
            query = (queryset if self.ordered else queryset.order_by()).query
            compiler = query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            params = list(params)
            if params.count(placeholder) != 1:
                raise ValueError(
                    f"cannot compile a lookup of {self.model.__name__} by {self.lookup}"
                )
            leading = 0
            if self.written_order:
                sql, leading = in_written_order(sql, connection.vendor)
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            compiled = self._compiled[connection] = {
                "compiler": compiler,
                "sql": sql,
                "params": params,
                "at": params.index(placeholder),
                "leading": leading,
                "fields": (start, end, [column[0].target.attname for column in select[start:end]]),
                "related": get_related_populators(klass_info, select, connection.alias),
            }
        return compiled

    def rows(self, key) -> list[Model]:
        """The rows whose field is ``key`` (its text, as a form or a URL sends it, or the
        value), with their related rows; none for a key no row could have (not a number,
        or out of the column's range), without asking the database."""
        try:
            key = self._key_field.to_python(key)
        except ValidationError:
            return []
        connection = connections[router.db_for_read(self.model)]
        # As the ORM does, a number out of an integer column's range finds nothing.
        low, high = connection.ops.integer_field_ranges.get(
            self._key_field.get_internal_type(), (None, None)
        )
        if key is None or (low is not None and key < low) or (high is not None and key > high):
            return []
        compiled = self._compile(connection)
        params = list(compiled["params"])
        params[compiled["at"]] = key
        # Settings sent ahead in the same round trip make several statements: not prepared.
        opened = connection.cursor() if compiled["leading"] else prepared_cursor(connection)
        with opened as cursor:
            cursor.execute(compiled["sql"], params)
            for _setting in range(compiled["leading"]):
                cursor.nextset()
            rows = cursor.fetchall()
        start, end, names = compiled["fields"]
        found = []
        for row in compiled["compiler"].results_iter([rows]):
            obj = self.model.from_db(connection.alias, names, row[start:end])
            for related in compiled["related"]:
                related.populate(row, obj)
            found.append(obj)
        return found


class CompiledLookup(CompiledRows):
    """One row by its primary key (``field="pk"``, the default) or another unique field."""

    ordered = False

    def __init__(
        self,
        model: type[Model],
        queryset: Callable[[], QuerySet],
        *,
        field: str = "pk",
        written_order: bool = False,
    ):
        super().__init__(model, queryset, field=field, written_order=written_order)
        unique = self.lookup == self.field.name and (
            self.field.unique
            or any(
                tuple(constraint.fields) == (self.field.name,)
                for constraint in model._meta.total_unique_constraints
            )
        )
        if not unique:
            raise ValueError(f"{model.__name__}.{field} is not unique: it cannot find one row")

    def get(self, key) -> Model:
        """The row whose key is ``key`` (its text, as a form or a URL sends it, or the
        number), with its related rows. ``self.model.DoesNotExist`` when there is none,
        also for a key no row could have (not a number, or out of the column's range)."""
        found = self.rows(key)
        if not found:
            raise self.model.DoesNotExist
        (obj,) = found
        return obj


class _Insert:
    """One model's INSERT of all its columns but an automatic primary key, and an object's
    values for it as the ORM prepares them (``pre_save``, then ``get_db_prep_save``)."""

    def __init__(self, model: type[Model], connection):
        meta = model._meta
        self.fields = [
            field
            for field in meta.local_concrete_fields
            if field is not meta.auto_field and not field.generated
        ]
        # A field with a placeholder of its own (a geometry's) is not written as "%s".
        if meta.auto_field is None or any(hasattr(f, "get_placeholder") for f in self.fields):
            raise ValueError(f"cannot compile the insert of {model.__name__}")
        quote = connection.ops.quote_name
        self.table = quote(meta.db_table)
        self.columns = ", ".join(quote(field.column) for field in self.fields)
        self.pk_column = quote(meta.auto_field.column)

    def values(self, obj: Model, connection, *, linked=None) -> list:
        """The parameters, in the columns' order; the foreign key ``linked`` is left to
        the statement (no parameter)."""
        params = []
        for field in self.fields:
            if field is linked:
                continue
            value = field.pre_save(obj, add=True)
            if hasattr(value, "resolve_expression"):
                raise ValueError(f"{field.name}: an expression cannot be written this way")
            params.append(field.get_db_prep_save(value, connection=connection))
        return params

    def sql(self, name: str, linked=None, first: _Insert | None = None) -> str:
        """``name AS (INSERT …)``, its ``linked`` foreign key read from the ``w0`` part."""
        held = f"(SELECT {first.pk_column} FROM w0)" if first is not None else None
        values = ", ".join(held if field is linked else "%s" for field in self.fields)
        return (
            f"{name} AS (INSERT INTO {self.table} ({self.columns}) VALUES ({values}) "
            f"RETURNING {self.pk_column})"
        )


def _link(obj: Model, first: Model):
    """The foreign key of ``obj`` that holds ``first``."""
    for field in obj._meta.local_concrete_fields:
        if (
            field.many_to_one
            and isinstance(first, field.related_model)
            and field.is_cached(obj)
            and field.get_cached_value(obj) is first
        ):
            return field
    raise ValueError(f"{type(obj).__name__} does not refer to the {type(first).__name__} given")


# {connection: {what is written: (its statement, each row's insert)}}
_together: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _statement(connection, models: tuple, links: tuple, also: tuple[str, ...]):
    written = _together.setdefault(connection, {})
    key = (models, links, also)
    if key not in written:
        inserts = [_Insert(model, connection) for model in models]
        first = inserts[0]
        parts = [first.sql("w0")]
        parts += [
            insert.sql(f"w{number}", link, first)
            for number, (insert, link) in enumerate(zip(inserts[1:], links, strict=True), start=1)
        ]
        parts += [f"a{number} AS ({sql})" for number, sql in enumerate(also)]
        keys = ", ".join(
            f"(SELECT {insert.pk_column} FROM w{number})" for number, insert in enumerate(inserts)
        )
        written[key] = (f"WITH {', '.join(parts)} SELECT {keys}", inserts)
    return written[key]


def create_together(first: Model, *then: Model, also=()) -> None:
    """Write ``first``, a new row, then each of ``then``, new rows whose foreign key holds
    ``first`` (``event.issue = issue``), as ``save()`` would write them, and set their
    primary keys; and then the statements ``also`` ((sql, params) pairs that write and
    return no rows).

    On PostgreSQL all of it is one statement (each row's INSERT a data-modifying ``WITH``
    part, a foreign key reading the first row's key from its part), in one round trip,
    its SQL written once per connection: the ORM spends more writing an INSERT of some
    thirty columns than PostgreSQL spends running it. It is atomic, as any statement is.
    Elsewhere the rows are saved in turn and the statements run after them, inside a
    transaction. No ``pre_save`` or ``post_save`` signal is sent for these rows, and on
    PostgreSQL a ``save()`` a model defines is not called (a test holds that the filing's
    models have neither).
    """
    connection = connections[router.db_for_write(type(first))]
    links = tuple(_link(obj, first) for obj in then)
    also = list(also)
    if connection.vendor != "postgresql":
        with transaction.atomic(using=connection.alias, savepoint=False):
            first.save(force_insert=True)
            for obj, link in zip(then, links, strict=True):
                setattr(obj, link.name, first)  # its key, now known
                obj.save(force_insert=True)
            with connection.cursor() as cursor:
                for sql, params in also:
                    cursor.execute(sql, params)
        return
    rows = (first, *then)
    sql, inserts = _statement(
        connection, tuple(type(obj) for obj in rows), links, tuple(sql for sql, _ in also)
    )
    params = inserts[0].values(first, connection)
    for obj, insert, link in zip(then, inserts[1:], links, strict=True):
        params += insert.values(obj, connection, linked=link)
    for _sql, also_params in also:
        params += also_params
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchone()
    for obj, key in zip(rows, keys, strict=True):
        obj.pk = key
        obj._state.adding, obj._state.db = False, connection.alias
    for obj, link in zip(then, links, strict=True):
        setattr(obj, link.name, first)


# Stands for "a moment that is not the one asked for" while a query is compiled the second
# time: far enough from any real moment that nothing derived from one equals it by chance.
_OTHER_MOMENT = timedelta(days=1, seconds=1, microseconds=7)
# A key whose query follows the moment in a way that cannot be put in afresh.
_NOT_KEPT = object()


# Every ``KeptAtMoment``: a statement may follow a setting (how many days make an issue
# stale, say), and tests change settings.
_ALL_KEPT: weakref.WeakSet = weakref.WeakSet()


def _forget_kept(**kwargs) -> None:
    for kept in list(_ALL_KEPT):
        kept.forget()


setting_changed.connect(_forget_kept)


class KeptAtMoment:
    """The rows of a ``values()`` query that depends on the moment it is read ("now") and on
    inputs that come again (a unit and a period, say): its SQL written once per key and
    database connection, then run with each request's moment.

    ``rows(model, key, now, build)``: ``build(moment)`` makes the queryset (of ``model``,
    read where the router sends its reads), and ``key`` must name everything else it
    depends on. The first time a key is asked for, the queryset is built and compiled for
    ``now`` and for another moment. The SQL must be the same, and every parameter that
    differs must be the moment shifted by a fixed time (itself, or a week before it, say),
    as the ORM passed it: those are put in afresh on each run. A queryset whose SQL or
    parameters follow the moment in any other way (the start of its day, say) is not kept:
    it is built and run every time, as the ORM would.
    The rows are read with the ORM's converters, under the names ``values()`` gives them.
    A key keeps its SQL, its parameters and its columns' converters (with the expressions
    they convert): on the dashboard some 70 KB a statement.
    At most ``size`` keys are kept per connection, the least recently used dropped first.
    """

    def __init__(self, *, size: int = 64):
        self.size = size
        # {connection: {key: entry}}: a connection belongs to one thread, and the
        # converters a compiled query applies are its connection's.
        self._kept = weakref.WeakKeyDictionary()
        _ALL_KEPT.add(self)

    def forget(self) -> None:
        self._kept.clear()

    def rows(
        self, model: type[Model], key, now: datetime, build: Callable[[datetime], QuerySet]
    ) -> list[dict]:
        connection = connections[router.db_for_read(model)]
        kept = self._kept.setdefault(connection, OrderedDict())
        entry = kept.get(key)
        queryset = None
        if entry is None:
            queryset = build(now)
            entry = _NOT_KEPT
            if queryset.db == connection.alias:
                entry = self._compile(queryset, build(now + _OTHER_MOMENT), now, connection)
            kept[key] = entry
            while len(kept) > self.size:
                kept.popitem(last=False)
        else:
            kept.move_to_end(key)
        if entry is _NOT_KEPT:
            return list(queryset if queryset is not None else build(now))
        sql, params, slots, converters, names = entry
        params = list(params)
        for at, adapted, shift in slots:
            moment = now + shift
            params[at] = connection.ops.adapt_datetimefield_value(moment) if adapted else moment
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        rows = []
        for row in found:
            if converters:
                row = list(row)
                for at, functions, expression in converters:
                    value = row[at]
                    for function in functions:
                        value = function(value, expression, connection)
                    row[at] = value
            # As ``values()`` reads them: a name per selected column, in order.
            rows.append(dict(zip(names, row, strict=False)))
        return rows

    @staticmethod
    def _compile(queryset: QuerySet, other: QuerySet, now: datetime, connection):
        """The entry of a key: its SQL, parameters and where the moment goes, or
        ``_NOT_KEPT``."""
        compiler = queryset.query.get_compiler(connection=connection)
        try:
            sql, params = compiler.as_sql()
            other_sql, other_params = other.query.get_compiler(connection=connection).as_sql()
        except EmptyResultSet:  # no row can match: the ORM answers without asking
            return _NOT_KEPT
        if sql != other_sql or len(params) != len(other_params):
            return _NOT_KEPT
        later = now + _OTHER_MOMENT
        slots = []
        for at, (value, other_value) in enumerate(zip(params, other_params, strict=True)):
            if value == other_value:
                continue
            slot = _moment_slot(value, other_value, now, later, connection)
            if slot is None:
                return _NOT_KEPT
            slots.append((at, *slot))
        query = queryset.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        # The ORM's converters of the columns that have any (the compiler itself, with the
        # whole query behind it, would weigh some hundred kilobytes a key).
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        converters = tuple(
            (at, tuple(functions), expression)
            for at, (functions, expression) in compiler.get_converters(fields).items()
        )
        return (sql, tuple(params), tuple(slots), converters, tuple(names))


def _moment_slot(value, other_value, now: datetime, later: datetime, connection):
    """How a parameter that differs between the two compilations follows the moment:
    (adapted, shift) if it is the moment plus a fixed shift in both, as a datetime or as
    the backend's text for one; None otherwise."""
    adapt = connection.ops.adapt_datetimefield_value
    adapted = isinstance(value, str)
    if adapted:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:  # the backend's text has no offset (SQLite)
            moment = moment.replace(tzinfo=connection.timezone)
    elif isinstance(value, datetime):
        moment = value
    else:
        return None
    shift = moment - now
    expected = (now + shift, later + shift)
    if adapted:
        expected = tuple(adapt(at) for at in expected)
    if (value, other_value) != expected:
        return None
    return adapted, shift
