"""Account forms: sign up, profile, and the building picker they share with the report form.

The building picker works without JavaScript: a small GET form (``BuildingFinder``: community,
grid, part of a name) narrows the buildings a ``BuildingField`` offers; any building still
validates. ``static/js/building-picker.js`` does the same live through ``building_search``.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm, BaseUserCreationForm, PasswordResetForm
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from config import widgets
from config.compiled import CompiledLookup
from config.widgets import PlainSelect

from .models import (
    MOBILE_PATTERN,
    Building,
    Grid,
    User,
    mainland_mobile_validator,
    new_username,
    normalise_phone,
)

# At most this many buildings are offered at once; typing part of a name narrows the rest.
BUILDING_CHOICES_LIMIT = 200
FINDER_FORM_ID = "building-finder"


def buildings_with_units() -> QuerySet[Building]:
    return (
        Building.objects.select_related("grid__community")
        .defer("grid__boundary")
        .order_by("grid__community__code", "grid__code", "name")
    )


def group_label(building: Building) -> str:
    return f"{building.grid.community.name} · {building.grid.name}"


def building_label(building: Building) -> str:
    if not building.address:
        return building.name
    return _("%(name)s (%(address)s)") % {"name": building.name, "address": building.address}


def grouped_choices(buildings) -> list:
    """[(community · grid, [(id, name), …]), …] in the order given."""
    groups: dict[str, list] = {}
    for building in buildings:
        groups.setdefault(group_label(building), []).append((building.pk, building_label(building)))
    return list(groups.items())


# The building a form names, with its grid and community: every filing reads one.
_building_with_units = CompiledLookup(Building, buildings_with_units)


class BuildingField(widgets.ModelChoiceField):
    """Any building validates; the page offers only those a finder narrowed it to."""

    def __init__(self, **kwargs):
        kwargs["queryset"] = buildings_with_units()  # always: ``to_python`` reads it, compiled
        kwargs.setdefault("empty_label", _("Choose the building"))
        kwargs.setdefault("widget", PlainSelect)
        super().__init__(**kwargs)
        self.widget.attrs["data-building-picker"] = FINDER_FORM_ID

    def to_python(self, value):
        """The chosen building, with its grid and community, read with SQL written once
        (``config.compiled``); anything else is refused as Django refuses it."""
        if value in self.empty_values:
            return None
        self.validate_no_null_characters(value)
        try:
            return _building_with_units.get(value.pk if isinstance(value, Building) else value)
        except Building.DoesNotExist:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            ) from None

    def offer(self, buildings, *, also=None) -> None:
        """Render these buildings (grouped by community · grid), plus ``also`` if given."""
        buildings = list(buildings)
        if also is not None and all(b.pk != also.pk for b in buildings):
            buildings.insert(0, also)
        self.widget.choices = [("", self.empty_label), *grouped_choices(buildings)]


class BuildingFinder(forms.Form):
    """Narrow the buildings offered: by community, then grid, or by part of a name.

    Its fields carry ``form="building-finder"`` so they can sit next to the building select
    inside another form while being sent with this GET form.
    """

    # A city's hundreds of communities, from the cached list (``issues.choices``).
    community = forms.TypedChoiceField(
        label=_("Community"), coerce=int, empty_value=None, required=False, widget=PlainSelect
    )
    grid = widgets.ModelChoiceField(
        label=_("Grid"),
        queryset=Grid.objects.all(),
        required=False,
        empty_label=_("All grids of the community"),
        widget=PlainSelect,
    )
    q = forms.CharField(
        label=_("Or type part of the building's name or address"),
        max_length=50,
        required=False,
    )

    def __init__(self, data=None, **kwargs):
        kwargs.setdefault("prefix", "find")
        super().__init__(data, **kwargs)
        from issues import choices  # the lists pages share, cached

        self.fields["community"].choices = [("", _("All communities")), *choices.communities()]
        community_id = self._raw_community()
        # Grids are offered once a community is chosen; a grid of another community is
        # not valid with it.
        self.fields["grid"].queryset = (
            Grid.objects.filter(community_id=community_id) if community_id else Grid.objects.all()
        ).defer("boundary")
        if not community_id:
            self.fields["grid"].widget.choices = [("", _("Choose a community first"))]
        self.fields["q"].widget.attrs.update({"type": "search", "autocomplete": "off"})
        for field in self.fields.values():
            field.widget.attrs["form"] = FINDER_FORM_ID
        self.fields["community"].widget.attrs["data-finder"] = "community"
        self.fields["grid"].widget.attrs["data-finder"] = "grid"
        self.fields["q"].widget.attrs["data-finder"] = "q"

    @classmethod
    def from_query(cls, query) -> BuildingFinder:
        """Bound to the page's GET parameters when any of its fields were sent."""
        finder = cls()
        sent = any(finder.add_prefix(name) in query for name in finder.fields)
        return cls(query) if sent else finder

    def _raw_community(self):
        value = (self.data or {}).get(self.add_prefix("community"), "")
        return int(value) if str(value).isdigit() else None

    def filters(self) -> Q | None:
        """The narrowing asked for, or None when nothing (valid) was asked. A value that is
        not valid (a grid of another community) is left out; the rest still narrows."""
        if not self.is_bound:
            return None
        self.is_valid()
        data = self.cleaned_data
        condition = Q()
        if data.get("grid"):
            condition &= Q(grid=data["grid"])
        elif data.get("community"):
            condition &= Q(grid__community=data["community"])
        q = (data.get("q") or "").strip()
        if q:
            condition &= (
                Q(name__icontains=q)
                | Q(address__icontains=q)
                | Q(grid__name__icontains=q)
                | Q(grid__community__name__icontains=q)
            )
        return condition if condition else None

    def results(self, *, around: Building | None = None, limit: int = BUILDING_CHOICES_LIMIT):
        """(buildings, more): what to offer, and whether more matched than shown.

        Without a narrowing: the buildings of ``around``'s grid (a resident's home), or every
        building while there are few.
        """
        condition = self.filters()
        queryset = buildings_with_units()
        if condition is not None:
            queryset = queryset.filter(condition)
        elif around is not None:
            queryset = queryset.filter(grid_id=around.grid_id)
        rows = list(queryset[: limit + 1])
        return rows[:limit], len(rows) > limit


def offer_buildings(field: BuildingField, finder: BuildingFinder, *, current=None, keep=False):
    """Fill ``field``'s choices from ``finder`` and return the building to preselect.

    ``current`` is the building chosen so far (a resident's home, or the one sent with a
    form shown again); ``keep`` keeps it offered even when the finder narrowed past it (a
    form shown again must not lose what was chosen). Without a narrowing the buildings
    around ``current`` are offered; with one, a single match is preselected.
    """
    narrowed = finder.filters() is not None
    buildings, more = finder.results(around=current)
    field.more_buildings = more
    if not narrowed or keep:
        field.offer(buildings, also=current)
        return current
    field.offer(buildings)
    if len(buildings) == 1:
        return buildings[0]
    if current is not None and any(b.pk == current.pk for b in buildings):
        return current
    return None


class MobileField(forms.CharField):
    """A mainland mobile number as people write it (``139-5310-0001``, ``+86 …``), cleaned
    to its 11 digits."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", capfirst(User._meta.get_field("phone").verbose_name))
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", _("11 digits. Staff call this number about your reports."))
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel-national"})
        )
        super().__init__(**kwargs)

    def to_python(self, value):
        return normalise_phone(super().to_python(value))

    def validate(self, value):
        super().validate(value)
        if value:
            mainland_mobile_validator(value)


class PhoneCleanMixin:
    """A mobile number belongs to one account: another account's number is refused."""

    def clean_phone(self):
        phone = self.cleaned_data["phone"]
        others = User.objects.filter(phone=phone)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if phone and others.exists():
            raise ValidationError(
                _(
                    "This mobile number already has an account. Sign in with it, or reset the "
                    "password if you forgot it."
                ),
                code="phone_taken",
            )
        return phone


class NameFieldMixin:
    """One 姓名 field, the whole name as it is written."""

    def _setup_name(self, label):
        field = self.fields["first_name"]
        field.label = label
        field.required = True
        field.widget.attrs.update({"autocomplete": "name"})


class SignupForm(PhoneCleanMixin, NameFieldMixin, BaseUserCreationForm):
    """A resident's account: home building, name, mobile number, password; an e-mail
    address if they want mail. The mobile number signs in; the username is made up."""

    home_building = BuildingField(
        label=_("Home building"),
        help_text=_("Where you live. Its grid worker looks after the problems you report."),
    )
    phone = MobileField(
        help_text=_("11 digits. You sign in with it; staff call it about your reports.")
    )

    class Meta(BaseUserCreationForm.Meta):
        model = User
        fields = ("home_building", "first_name", "phone", "email")
        help_texts = {
            "email": _(
                "Optional: we write to you when your reports are updated, once you confirm "
                "the address through the link we send."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_name(_("Your name"))
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})

    def save(self, commit=True):
        self.instance.username = new_username()
        return super().save(commit=commit)


class ProfileForm(PhoneCleanMixin, NameFieldMixin, forms.ModelForm):
    """What a person edits about themselves: name, phone, email, home building."""

    home_building = BuildingField(
        label=_("Home building"),
        help_text=_("Where you live. Its grid worker looks after the problems you report."),
        required=False,
    )
    phone = MobileField()

    class Meta:
        model = User
        fields = ("home_building", "first_name", "phone", "email")
        help_texts = {
            "email": _(
                "Optional: we write to you when your reports are updated. A new address "
                "receives mail once you confirm it through the link we send."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setup_name(_("Your name"))
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})


class LoginForm(AuthenticationForm):
    """Sign in with the mobile number or the username (手机号或用户名)."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Mobile number or username")
        self.fields["username"].max_length = 150

    def clean_username(self):
        """A mobile number that belongs to an account stands for its username, so that
        django-axes counts failures against the account however it was named."""
        text = self.cleaned_data["username"].strip()
        phone = normalise_phone(text)
        if re.fullmatch(MOBILE_PATTERN, phone):
            username = User.objects.filter(phone=phone).values_list("username", flat=True).first()
            if username is not None:
                return username
        return text


class EmailPasswordResetForm(PasswordResetForm):
    """Reset links go only to confirmed addresses."""

    def get_users(self, email):
        return (
            user
            for user in super().get_users(email)
            if user.notification_email.casefold() == email.casefold()
        )
