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
        self.columns = list(queryset.query.values_select)
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
