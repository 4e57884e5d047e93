"""The shared rules of every import file: cells, widgets and ``UnitResource``.

Text cells are trimmed on import; on export, a cell that a spreadsheet would run as a
formula is prefixed with an apostrophe (``spreadsheet_safe``), which import removes again.
"""

from __future__ import annotations

from collections import defaultdict

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from import_export.results import RowResult

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Defuse text a spreadsheet would run as a formula (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def cell_text(value) -> str:
    """A cell as trimmed text: numbers from Excel as digits, the export's apostrophe gone."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        text = text[1:]
    return text


def is_blank(value) -> bool:
    return cell_text(value) == ""


def in_chunks(queryset, field: str, values):
    """The rows whose ``field`` is one of ``values``, a few queries for any number of values
    (chunked: SQLite limits the parameters of one query)."""
    values = sorted({v for v in values if v not in (None, "")})
    for start in range(0, len(values), 2000):
        yield from queryset.filter(**{f"{field}__in": values[start : start + 2000]})


def by_code(queryset, codes) -> dict:
    """{code: object} for these codes."""
    return {o.code: o for o in in_chunks(queryset, "code", codes)}


def column_values(dataset, name) -> list:
    return [cell_text(v) for v in dataset[name]] if name in (dataset.headers or []) else []


class CellWidget(widgets.CharWidget):
    """Text cells: trimmed on import; formula-safe on export."""

    def clean(self, value, row=None, **kwargs):
        return cell_text(value)

    def render(self, value, obj=None, **kwargs):
        return spreadsheet_safe("" if value is None else str(value))


class CodeWidget(widgets.ForeignKeyWidget):
    """A parent unit named by its code; an unknown code is a bad row, said in words."""

    def __init__(self, model, unit_label, required=True):
        super().__init__(model, field="code")
        self.unit_label = unit_label
        self.required = required

    def clean(self, value, row=None, parents=None, **kwargs):
        """``parents``: the units this file names, read once for the whole file."""
        code = cell_text(value)
        if not code:
            if self.required:
                raise ValueError(_("Give the %(unit)s code.") % {"unit": self.unit_label})
            return None
        found = parents.get(code) if parents is not None else None
        if found is None and parents is None:
            found = self.model.objects.filter(code=code).first()
        if found is None:
            raise ValueError(
                _("No %(unit)s has the code “%(code)s”.") % {"unit": self.unit_label, "code": code}
            )
        return found

    def render(self, value, obj=None, **kwargs):
        return spreadsheet_safe(value.code if value is not None else "")


class FlagWidget(widgets.Widget):
    """Yes/no cells: 1/0, true/false, yes/no, 是/否 (and 专职/兼职 for full-time)."""

    TRUE = {"1", "true", "yes", "y", "是", "专职"}
    FALSE = {"0", "false", "no", "n", "否", "兼职"}

    def __init__(self, default=True):
        super().__init__()
        self.default = default

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = cell_text(value).lower()
        if not text:
            return self.default
        if text in self.TRUE:
            return True
        if text in self.FALSE:
            return False
        raise ValueError(_("Write 1 or 0 (yes or no), not “%(value)s”.") % {"value": value})

    def render(self, value, obj=None, **kwargs):
        return "1" if value else "0"


def text_field(name, **kwargs):
    return fields.Field(attribute=name, column_name=name, widget=CellWidget(), **kwargs)


class UnitResource(resources.ModelResource):
    """The rules every territory file follows.

    ``key_columns`` identify a row within the file: a second row with the same key is a
    duplicate, and every row of the group is reported (not just the later ones).
    """

    key_columns: tuple[str, ...] = ("code",)

    class Meta:
        use_transactions = True
        clean_model_instances = True
        report_skipped = False
        skip_unchanged = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._duplicates: dict[tuple, list[int]] = {}
        self._row_notes: dict[int, dict[str, list[str]]] = {}
        self._parents: dict[str, dict] = {}

    # --- the file as a whole ---------------------------------------------------------

    def expected_columns(self) -> list[str]:
        return [field.column_name for field in self.get_import_fields()]

    def required_columns(self) -> list[str]:
        return list(self.key_columns)

    def import_data(self, dataset, **kwargs):
        """Refuse a file whose header lacks a required column, before any row is read."""
        dataset.headers = [cell_text(h).lower() for h in (dataset.headers or [])]
        missing = [c for c in self.required_columns() if c not in dataset.headers]
        if missing:
            result = self.get_result_class()()
            result.diff_headers = self.get_diff_headers()
            result.total_rows = len(dataset)
            message = _(
                "The file has no column %(missing)s. "
                "Its first row must name the columns: %(expected)s."
            ) % {
                "missing": ", ".join(f"“{c}”" for c in missing),
                "expected": ", ".join(self.expected_columns()),
            }
            result.append_base_error(self.get_error_result_class()(ValueError(message)))
            return result
        return super().import_data(dataset, **kwargs)

    def row_key(self, row) -> tuple:
        return tuple(cell_text(row.get(c)).casefold() for c in self.key_columns)

    def before_import(self, dataset, **kwargs):
        rows_by_key = defaultdict(list)
        for number, values in enumerate(dataset, 1):
            row = dict(zip(dataset.headers, values, strict=False))
            if all(is_blank(v) for v in row.values()):
                continue
            key = self.row_key(row)
            if any(key):
                rows_by_key[key].append(number)
        self._duplicates = {k: v for k, v in rows_by_key.items() if len(v) > 1}
        self._row_notes = self.check_file(dataset)
        self._parents = {
            field.column_name: by_code(
                field.widget.model.objects.all(), column_values(dataset, field.column_name)
            )
            for field in self.get_import_fields()
            if isinstance(field.widget, CodeWidget)
        }

    def check_file(self, dataset) -> dict[int, dict[str, list[str]]]:
        """Errors that need the whole file (row number → column → messages)."""
        return {}

    # --- one row ---------------------------------------------------------------------

    def import_row(self, row, instance_loader, **kwargs):
        if all(is_blank(v) for v in row.values()):
            row_result = self.get_row_result_class()()
            row_result.import_type = RowResult.IMPORT_TYPE_SKIP
            return row_result
        return super().import_row(row, instance_loader, **kwargs)

    def import_instance(self, instance, row, **kwargs):
        """Read every column, collecting every problem of the row (keyed by column)."""
        errors: dict[str, list[str]] = defaultdict(list)
        for field in self.get_import_fields():
            extra = {}
            if field.column_name in self._parents:
                extra["parents"] = self._parents[field.column_name]
            try:
                self.import_field(field, instance, row, **extra, **kwargs)
            except ValueError as e:
                errors[field.column_name].append(str(e))
        number = kwargs.get("row_number")
        others = [n for n in self._duplicates.get(self.row_key(row), []) if n != number]
        if others:
            errors[self.key_columns[-1]].append(
                _("The same %(key)s is in row %(rows)s of this file too.")
                % {
                    "key": " + ".join(self.key_columns),
                    "rows": ", ".join(str(n) for n in others),
                }
            )
        for name, messages in self._row_notes.get(number, {}).items():
            errors[name].extend(messages)
        self.check_row(instance, row, errors)
        if errors:
            raise ValidationError({k: v for k, v in errors.items()})

    def check_row(self, instance, row, errors) -> None:
        """Extra checks of one row; add messages to ``errors[column]``."""

    def column_of(self, attribute: str) -> str:
        for field in self.fields.values():
            if field.attribute == attribute:
                return field.column_name
        return attribute

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        """The model's own validation too, reported under the file's column names."""
        errors = {k: list(v) for k, v in (import_validation_errors or {}).items()}
        exclude = set(errors)
        for field in self.fields.values():
            if field.column_name in errors and field.attribute:
                exclude.add(field.attribute)
            if isinstance(field.widget, CodeWidget):
                # Found by code a moment ago: no need to ask the database again per row.
                exclude.add(field.attribute)
        if self._meta.clean_model_instances:
            try:
                instance.full_clean(exclude=exclude, validate_unique=validate_unique)
            except ValidationError as e:
                for attribute, messages in e.message_dict.items():
                    column = (
                        attribute if attribute == NON_FIELD_ERRORS else self.column_of(attribute)
                    )
                    errors.setdefault(column, []).extend(messages)
        if errors:
            raise ValidationError(errors)
