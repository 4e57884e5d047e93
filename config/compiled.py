"""Rows where one field has a given value, through a queryset whose SQL is compiled once.

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

Only for querysets that do not change while the process runs (``select_related``,
``defer``/``only``, fixed filters and order): the SQL is kept as it was first written.
``written_order`` plans it in the order its joins are written
(``config.postgresql.planner``), in the same round trip.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.query import get_related_populators

from config.postgresql.planner import in_written_order

# Stands for the key while the SQL is written (a key no row has; any would do), as the
# field takes it: the number, or its text for a text field.
_PLACEHOLDER = "-424242"


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
        with connection.cursor() as cursor:
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
