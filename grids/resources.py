"""Bulk import and export of the territory and its staff (django-import-export).

Every file is keyed by code: a subdistrict, community or grid by its own ``code``, a
building by its grid's code and its name, a department by its subdistrict's code and its
name, a staff post by username, role and unit. Parents are named by their code
(``subdistrict_code``, ``community_code``, ``grid_code``).

An import is all or nothing: the preview (dry run) lists every bad row (an unknown parent
code, a code twice in the file, a bad phone number, a missing value) and offers to import
only when there is none; the import itself runs in one transaction that is rolled back if
any row fails after all (see ``grids.admin_views.ImportMixin``).

Column headers are fixed English names, so one file works whatever the admin's language.
Text cells are trimmed on import; on export, a cell that a spreadsheet would run as a
formula (starting with = + - @) is prefixed with an apostrophe, which import removes again.
"""

from __future__ import annotations

import functools
from collections import defaultdict

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields, resources, widgets
from import_export.instance_loaders import CachedInstanceLoader
from import_export.results import RowResult

from .models import Building, Community, Department, Grid, Post, Subdistrict, User

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


class SubdistrictResource(UnitResource):
    code = text_field("code")
    name = text_field("name")

    class Meta(UnitResource.Meta):
        model = Subdistrict
        name = gettext_lazy("Subdistricts (code, name)")
        fields = ("code", "name")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name"]


class CommunityResource(UnitResource):
    code = text_field("code")
    name = text_field("name")
    subdistrict = fields.Field(
        attribute="subdistrict",
        column_name="subdistrict_code",
        widget=CodeWidget(Subdistrict, gettext_lazy("subdistrict")),
    )

    class Meta(UnitResource.Meta):
        model = Community
        name = gettext_lazy("Communities (code, name, subdistrict_code)")
        fields = ("code", "name", "subdistrict")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name", "subdistrict_code"]

    def get_queryset(self):
        return Community.objects.select_related("subdistrict")


class GridResource(UnitResource):
    code = text_field("code")
    name = text_field("name")
    community = fields.Field(
        attribute="community",
        column_name="community_code",
        widget=CodeWidget(Community, gettext_lazy("community")),
    )

    class Meta(UnitResource.Meta):
        model = Grid
        name = gettext_lazy("Grids (code, name, community_code)")
        fields = ("code", "name", "community")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name", "community_code"]

    def get_queryset(self):
        return Grid.objects.select_related("community")


class BuildingResource(UnitResource):
    """Buildings by grid code and name.

    ``community_code`` is what the source register says; when it names another community
    than the grid's, the building is still imported into the grid, and the disagreement is
    kept (``stated_community``) for the coverage page to list until someone settles it.
    """

    key_columns = ("grid_code", "name")

    grid = fields.Field(
        attribute="grid", column_name="grid_code", widget=CodeWidget(Grid, gettext_lazy("grid"))
    )
    name = text_field("name")
    address = text_field("address")
    stated_community = fields.Field(
        attribute="stated_community",
        column_name="community_code",
        widget=CodeWidget(Community, gettext_lazy("community"), required=False),
    )

    class Meta(UnitResource.Meta):
        model = Building
        name = gettext_lazy("Buildings (grid_code, name, address, community_code)")
        fields = ("grid", "name", "address", "stated_community")

    def required_columns(self):
        return ["grid_code", "name"]

    def get_queryset(self):
        return Building.objects.select_related("grid__community", "stated_community")

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        grids = self._parents.get("grid_code", {})
        self._existing = {
            (b.grid.code, b.name): b
            for b in in_chunks(self.get_queryset(), "grid_id", [g.pk for g in grids.values()])
        }

    def get_instance(self, instance_loader, row):
        return self._existing.get((cell_text(row.get("grid_code")), cell_text(row.get("name"))))

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        # Only a disagreement is worth keeping.
        if instance.stated_community_id == instance.grid.community_id:
            instance.stated_community = None

    def dehydrate_stated_community(self, building):
        community = building.stated_community or (
            building.grid.community if building.grid_id else None
        )
        return spreadsheet_safe(community.code if community else "")


class DepartmentResource(UnitResource):
    key_columns = ("subdistrict_code", "name")

    subdistrict = fields.Field(
        attribute="subdistrict",
        column_name="subdistrict_code",
        widget=CodeWidget(Subdistrict, gettext_lazy("subdistrict")),
    )
    name = text_field("name")

    class Meta(UnitResource.Meta):
        model = Department
        name = gettext_lazy("Departments (subdistrict_code, name)")
        fields = ("subdistrict", "name")

    def required_columns(self):
        return ["subdistrict_code", "name"]

    def get_queryset(self):
        return Department.objects.select_related("subdistrict")

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        subdistricts = self._parents.get("subdistrict_code", {})
        ids = [sub.pk for sub in subdistricts.values()]
        self._existing = {
            (d.subdistrict.code, d.name): d
            for d in in_chunks(self.get_queryset(), "subdistrict_id", ids)
        }

    def get_instance(self, instance_loader, row):
        key = (cell_text(row.get("subdistrict_code")), cell_text(row.get("name")))
        return self._existing.get(key)


@functools.cache
def _role_names() -> dict[str, str]:
    """{name: role} for every role's value and its label in Chinese and English."""
    names = {}
    for role in Post.Role:
        names[role.value.casefold()] = role.value
        for language in ("zh-hans", "en"):
            with translation.override(language):
                names[str(role.label).casefold()] = role.value
    return names


def role_from_text(text: str) -> str | None:
    """A role by its value (``grid_worker``) or its label in Chinese or English."""
    return _role_names().get(text.strip().casefold())


class PostResource(UnitResource):
    """Staff posts: one row per post; the person is created if the username is new.

    Columns: ``username``, ``full_name``, ``phone``, ``role`` (``grid_worker``,
    ``community_staff``, ``subdistrict_staff``, ``department_staff`` or their labels),
    ``unit_code`` (the grid, community or subdistrict code; for department staff the code
    of the department's subdistrict), ``department`` (the department's name, for
    department staff only), ``is_full_time`` (1/0; empty means full-time).

    A new person gets an unusable password: an administrator sets one (or sends a reset).
    A blank full name or phone leaves an existing person's value as it is.
    """

    key_columns = ("username", "role", "unit_code", "department")

    username = fields.Field(column_name="username", widget=CellWidget())
    full_name = fields.Field(column_name="full_name", widget=CellWidget())
    phone = fields.Field(column_name="phone", widget=CellWidget())
    role = fields.Field(column_name="role", widget=CellWidget())
    unit_code = fields.Field(column_name="unit_code", widget=CellWidget())
    department = fields.Field(column_name="department", widget=CellWidget())
    is_full_time = fields.Field(
        attribute="is_full_time", column_name="is_full_time", widget=FlagWidget(default=True)
    )

    class Meta(UnitResource.Meta):
        model = Post
        name = gettext_lazy(
            "Staff posts (username, full_name, phone, role, unit_code, department, is_full_time)"
        )
        fields = (
            "username",
            "full_name",
            "phone",
            "role",
            "unit_code",
            "department",
            "is_full_time",
        )
        clean_model_instances = False  # validated in import_instance (the user is not saved yet)

    def required_columns(self):
        return ["username", "role", "unit_code"]

    def expected_columns(self):
        return [
            "username",
            "full_name",
            "phone",
            "role",
            "unit_code",
            "department",
            "is_full_time",
        ]

    def get_import_fields(self):
        # The other columns are read by check_row: they describe the person and the unit.
        return [self.fields["is_full_time"]]

    def get_user_visible_fields(self):
        return [self.fields[name] for name in self.expected_columns()]

    def get_queryset(self):
        return Post.objects.select_related(
            "user", "grid", "community", "subdistrict", "department__subdistrict"
        )

    def row_key(self, row):
        role = role_from_text(cell_text(row.get("role"))) or cell_text(row.get("role"))
        return (
            cell_text(row.get("username")).casefold(),
            role,
            cell_text(row.get("unit_code")).casefold(),
            cell_text(row.get("department")).casefold(),
        )

    def check_file(self, dataset):
        """One person, one phone and one name: rows that disagree about them are bad."""
        values = {"phone": defaultdict(dict), "full_name": defaultdict(dict)}
        for number, cells in enumerate(dataset, 1):
            row = dict(zip(dataset.headers, cells, strict=False))
            username = cell_text(row.get("username")).casefold()
            if not username:
                continue
            for column, seen in values.items():
                value = cell_text(row.get(column))
                if value:
                    seen[username].setdefault(value, []).append(number)
        notes: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for column, seen in values.items():
            for by_value in seen.values():
                if len(by_value) < 2:
                    continue
                rows = sorted(n for numbers in by_value.values() for n in numbers)
                for number in rows:
                    notes[number][column].append(
                        _("Rows %(rows)s give this person different values here.")
                        % {"rows": ", ".join(str(n) for n in rows)}
                    )
        return notes

    # --- reading a row ----------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        """Read the people, units and posts the file names, once for the whole file."""
        super().before_import(dataset, **kwargs)
        roles = [role_from_text(r) for r in column_values(dataset, "role")]
        codes = column_values(dataset, "unit_code")
        wanted = defaultdict(set)
        for role, code in zip(roles, codes, strict=True):
            if role:
                wanted[role].add(code)
        self._units = {
            Post.Role.GRID_WORKER: by_code(Grid.objects.all(), wanted[Post.Role.GRID_WORKER]),
            Post.Role.COMMUNITY_STAFF: by_code(
                Community.objects.all(), wanted[Post.Role.COMMUNITY_STAFF]
            ),
            Post.Role.SUBDISTRICT_STAFF: by_code(
                Subdistrict.objects.all(), wanted[Post.Role.SUBDISTRICT_STAFF]
            ),
            Post.Role.DEPARTMENT_STAFF: {
                (d.subdistrict.code, d.name): d
                for d in in_chunks(
                    Department.objects.select_related("subdistrict"),
                    "subdistrict__code",
                    wanted[Post.Role.DEPARTMENT_STAFF],
                )
            },
        }
        self._users = {
            u.username: u
            for u in in_chunks(User.objects.all(), "username", column_values(dataset, "username"))
        }
        self._posts = {
            (p.user_id, p.role, getattr(p, Post.UNIT_FIELD[p.role] + "_id")): p
            for p in in_chunks(self.get_queryset(), "user_id", [u.pk for u in self._users.values()])
        }

    def _unit(self, role, code, department_name):
        """The unit a post of this role names, or the column and a message saying why not."""
        if role == Post.Role.DEPARTMENT_STAFF:
            if not department_name:
                return None, "department", _("Give the department's name for department staff.")
            department = self._units[role].get((code, department_name))
            if department is None:
                return (
                    None,
                    "department",
                    _("No department “%(name)s” serves the subdistrict with the code “%(code)s”.")
                    % {"name": department_name, "code": code},
                )
            return department, None, None
        unit = self._units[role].get(code)
        if unit is None:
            label = {
                Post.Role.GRID_WORKER: _("grid"),
                Post.Role.COMMUNITY_STAFF: _("community"),
                Post.Role.SUBDISTRICT_STAFF: _("subdistrict"),
            }[role]
            return (
                None,
                "unit_code",
                _("No %(unit)s has the code “%(code)s”.") % {"unit": label, "code": code},
            )
        return unit, None, None

    def get_instance(self, instance_loader, row):
        user = self._users.get(cell_text(row.get("username")))
        role = role_from_text(cell_text(row.get("role")))
        if user is None or role is None:
            return None
        unit, _column, _message = self._unit(
            role, cell_text(row.get("unit_code")), cell_text(row.get("department"))
        )
        if unit is None:
            return None
        return self._posts.get((user.pk, role, unit.pk))

    def check_row(self, post, row, errors):
        username = cell_text(row.get("username"))
        full_name = cell_text(row.get("full_name"))
        phone = cell_text(row.get("phone"))
        role_text = cell_text(row.get("role"))
        code = cell_text(row.get("unit_code"))
        department_name = cell_text(row.get("department"))

        role = role_from_text(role_text)
        if not role_text:
            errors["role"].append(_("Give the role."))
        elif role is None:
            errors["role"].append(
                _("Unknown role “%(role)s”: write one of %(roles)s.")
                % {"role": role_text, "roles": ", ".join(Post.Role.values)}
            )
        if not code:
            errors["unit_code"].append(_("Give the code of the unit the post is on."))
        if role and code:
            unit, column, message = self._unit(role, code, department_name)
            if unit is None:
                errors[column].append(message)
            else:
                for name in Post.UNIT_FIELD.values():
                    setattr(post, name, None)
                setattr(post, Post.UNIT_FIELD[role], unit)
                post.role = role
        if role and role != Post.Role.DEPARTMENT_STAFF and department_name:
            errors["department"].append(_("Leave the department empty for this role."))

        # The person: found by username, or a new one; validated by the model's own rules.
        if not username:
            errors["username"].append(_("Give the username."))
            return
        user = self._users.get(username)
        if user is None:
            user = User(username=username)
            user.set_unusable_password()
        if full_name:
            user.first_name, user.last_name = full_name, ""
        if phone:
            user.phone = phone
        try:
            # Uniqueness is known already: a username not found above is new.
            user.full_clean(
                exclude=["password", "last_login", "date_joined"], validate_unique=False
            )
        except ValidationError as e:
            column = {"username": "username", "phone": "phone", "first_name": "full_name"}
            for attribute, messages in e.message_dict.items():
                errors[column.get(attribute, "username")].extend(messages)
        post._import_user = user
        if post.pk and post.user_id == user.pk:
            post.user = user

    def save_instance(self, instance, is_create, row, **kwargs):
        user = instance._import_user
        user.save()
        self._users[user.username] = user  # later rows of the same person find them
        instance.user = user
        super().save_instance(instance, is_create, row, **kwargs)

    # --- export -------------------------------------------------------------------------

    def dehydrate_username(self, post):
        return spreadsheet_safe(post.user.username) if post.user_id else ""

    def dehydrate_full_name(self, post):
        return spreadsheet_safe(post.user.get_full_name()) if post.user_id else ""

    def dehydrate_phone(self, post):
        return post.user.phone if post.user_id else ""

    def dehydrate_role(self, post):
        return post.role or ""

    def dehydrate_unit_code(self, post):
        if not post.role:
            return ""
        unit = post.unit
        if unit is None:
            return ""
        if post.role == Post.Role.DEPARTMENT_STAFF:
            return spreadsheet_safe(unit.subdistrict.code)
        return spreadsheet_safe(unit.code)

    def dehydrate_department(self, post):
        if post.role == Post.Role.DEPARTMENT_STAFF and post.department_id:
            return spreadsheet_safe(post.department.name)
        return ""
