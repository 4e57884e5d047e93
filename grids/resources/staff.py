"""The staff posts' resource: one row per post, the person created if new."""

from __future__ import annotations

import functools
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export import fields

from .. import units
from ..models import Department, Post, User
from .base import (
    CellWidget,
    FlagWidget,
    UnitResource,
    by_code,
    cell_text,
    column_values,
    in_chunks,
    spreadsheet_safe,
)


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
        ).defer("grid__boundary")

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
        # Territorial units by code; departments by their subdistrict's code and their name.
        self._units = {
            kind.role: by_code(kind.model.objects.all(), wanted[kind.role])
            for kind in units.KINDS.values()
            if kind is not units.DEPARTMENT
        }
        self._units |= {
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
            (p.user_id, p.role, getattr(p, units.of_role(p.role).id_field)): p
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
            label = units.of_role(role).model._meta.verbose_name
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
                for kind in units.KINDS.values():
                    setattr(post, kind.field, None)
                setattr(post, units.of_role(role).field, unit)
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
