"""Database-side building blocks of the governance figures: durations (``Seconds``) and
medians (``Median``, with its SQLite fallback) computed by the database; see the package
docstring."""

from __future__ import annotations

from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Subquery,
    TextField,
)

# --- database-side building blocks ---------------------------------------------------------


class Seconds(Func):
    """Seconds from ``start`` to ``end`` (a float), computed by the database."""

    output_field = FloatField()
    arg_joiner = " - "
    # date_part() answers a double; EXTRACT() a numeric since PostgreSQL 14, which makes the
    # dashboard's main query about a third slower.
    template = "date_part('epoch', %(expressions)s)"

    def __init__(self, end, start, **extra):
        super().__init__(end, start, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores datetimes in SQLite as UTC text that julianday() reads; SQLite's
        # clock is in milliseconds, so round there (exact comparisons at a deadline).
        return self.as_sql(
            compiler,
            connection,
            template="ROUND((julianday(%(expressions)s)) * 86400.0, 3)",
            arg_joiner=") - julianday(",
            **extra_context,
        )


class Median(Aggregate):
    """The median of ``expression`` over the rows the aggregate sees.

    PostgreSQL: ``PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY expression)`` with the usual
    ``FILTER (WHERE …)``. SQLite: ``fallback`` (a ``values_list`` queryset of exactly the same
    rows and values, one column) becomes an ordered-offset scalar subquery in the same
    statement. The SQLite form is not grouped, so use it for a single (ungrouped) result.
    """

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fallback, filter=None, **extra):
        self.fallback = fallback
        super().__init__(expression, filter=filter, **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        values = self.fallback.order_by()
        column = values.query.values_select[0] if values.query.values_select else None
        if column is None:
            column = next(iter(values.query.annotation_select))
        inner, params = values.query.get_compiler(connection=connection).as_sql()
        counted = f"(SELECT COUNT(*) FROM ({inner}) median_n)"
        sql = (
            f'(SELECT AVG(median_v."{column}") FROM ('
            f'SELECT median_o."{column}" FROM ({inner}) median_o '
            f'WHERE median_o."{column}" IS NOT NULL '
            f'ORDER BY median_o."{column}" '
            f"LIMIT 2 - {counted} %% 2 OFFSET ({counted} - 1) / 2) median_v)"
        )
        return sql, (*params, *params, *params)


def _count(condition: Q | None = None, prefix: str = "") -> Count:
    return Count(f"{prefix}id", filter=condition)


class Scalar(Subquery):
    """A scalar subquery in the same statement as the figures, read with them: it is
    declared an aggregate so that a grouped query (one unit's row with its issues) never
    adds it to ``GROUP BY``, and ``QuerySet.aggregate`` accepts it. It may refer to the
    unit's row with ``OuterRef``."""

    contains_aggregate = True


def count_of(queryset) -> Scalar:
    """``COUNT(*)`` of a queryset's rows, as a ``Scalar``."""
    return Scalar(
        queryset.order_by().values(n=Func(F("pk"), function="COUNT", output_field=IntegerField())),
        output_field=IntegerField(),
    )


class JsonRows(Scalar):
    """The rows of a ``values()`` queryset (ordered and sliced: a short list) as one JSON
    array of objects, text, in a scalar subquery: a list shown beside the figures costs no
    query of its own. Read it with ``json.loads``; datetimes come as ISO text (PostgreSQL)
    or as Django stores them (SQLite)."""

    output_field = TextField()

    def __init__(self, queryset):
        self.columns = [*queryset.query.values_select, *queryset.query.annotation_select]
        super().__init__(queryset, output_field=TextField())

    def as_sql(self, compiler, connection, template=None, **extra_context):
        template = (
            "(SELECT COALESCE(JSON_AGG(json_rows), '[]')::text FROM (%(subquery)s) json_rows)"
        )
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # Only our own column names go into the text (no user input).
        pairs = ", ".join(f"'{column}', json_rows.\"{column}\"" for column in self.columns)
        template = (
            f"(SELECT COALESCE(json_group_array(json_object({pairs})), '[]') "
            "FROM (%(subquery)s) json_rows)"
        )
        return super().as_sql(compiler, connection, template=template, **extra_context)


class SumColumns(Func):
    """The sums of the given columns of the query's own table, in one value: a list of
    numbers (PostgreSQL: an array of doubles; SQLite: JSON arrays of fifty, nested), in the
    order given; ``parse_sums`` reads it. For a scalar subquery over the daily rollups: one
    expression for the ORM to build instead of a hundred ``Sum``s (column names are ours,
    never user input)."""

    output_field = TextField()
    CHUNK = 50  # SQLite takes at most 127 arguments per function

    def __init__(self, columns):
        self.columns = list(columns)
        super().__init__()

    def as_sql(self, compiler, connection, **extra_context):
        table = compiler.quote_name_unless_alias(compiler.query.get_initial_alias())
        sums = [f"SUM({table}.{connection.ops.quote_name(c)})" for c in self.columns]
        if connection.vendor == "postgresql":
            return "ARRAY[" + ", ".join(f"{s}::float8" for s in sums) + "]", []
        chunks = [sums[n : n + self.CHUNK] for n in range(0, len(sums), self.CHUNK)]
        return "json_array(" + ", ".join(f"json_array({', '.join(c)})" for c in chunks) + ")", []


def parse_sums(value, columns, *, counts) -> dict:
    """``SumColumns`` as read back: {column: sum}, counts (``counts``) as integers, None
    where there was nothing to add up."""
    import json

    if isinstance(value, str):
        value = [number for chunk in json.loads(value) for number in chunk]
    value = value or [None] * len(columns)
    return {
        column: None if number is None else (int(number) if column in counts else number)
        for column, number in zip(columns, value, strict=True)
    }
