"""Forms of the staff workspace. They validate input only: what a person may do
is decided by ``issues.permissions`` and ``issues.workflow``; the choice lists they offer
come from the same rule book (``assignable_users``, ``visible_issues``, the posts held).
"""

from __future__ import annotations

import functools
import re

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config import widgets
from config.widgets import PlainCheckboxInput, PlainHiddenInput, PlainSelect
from grids import units
from grids.models import Building, Department, Grid

from .. import choices, permissions
from ..models import Category, Severity, Source, Status
from .fields import PhotosField, PlaceForm
from .questions import CategoryQuestionsMixin
from .tokens import SubmissionTokenMixin

# --- the queue's filters --------------------------------------------------------------

QUEUE_STATUSES = [Status.SUBMITTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED]


class UnitFilterField(forms.CharField):
    """One unit, written ``<kind>-<id>`` ("community-12"; the kinds of ``grids.units``);
    cleaned to ``(UnitKind, id)``. Whether the person may see it is not asked here: the
    queue only ever lists issues of their own units."""

    @staticmethod
    def value_for(kind: units.UnitKind, unit_id: int) -> str:
        return f"{kind.key}-{unit_id}"

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        key, _sep, unit_id = value.partition("-")
        if key not in units.KINDS or not unit_id.isdigit():
            raise ValidationError(_("Not a unit."), code="invalid")
        return units.KINDS[key], int(unit_id)


class QueueFilterForm(forms.Form):
    """The queue's GET filters. Choice lists are handed in as plain lists (read once by the
    view), so validating a choice runs no query."""

    SCOPE_MINE = "mine"
    SCOPE_FOLLOWING = "following"
    # The closed loop's own lists: 待回访, 延期待批, 联办任务.
    SCOPE_CALLBACK = "callback"
    SCOPE_EXTENSIONS = "extensions"
    SCOPE_TASKS = "tasks"
    # One's own issues with offers of help (认领) waiting for an answer.
    SCOPE_OFFERS = "offers"
    SCOPES = [
        SCOPE_MINE,
        SCOPE_FOLLOWING,
        SCOPE_CALLBACK,
        SCOPE_EXTENSIONS,
        SCOPE_TASKS,
        SCOPE_OFFERS,
    ]

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        help_text=_("Tracking number, or words from the title or description."),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Any open status"))] + [(s.value, s.label) for s in QUEUE_STATUSES],
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("Any severity"))] + Severity.choices
    )
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=int)
    grid = forms.TypedChoiceField(label=_("Grid"), required=False, coerce=int)
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("Any source"))] + Source.choices
    )
    sort = forms.ChoiceField(
        label=_("Order"),
        required=False,
        choices=[("", _("Deadline first")), ("supporters", _("Most supporters first"))],
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    supervised = forms.BooleanField(label=_("Under supervision only"), required=False)
    scope = forms.ChoiceField(
        required=False,
        widget=forms.HiddenInput,
        choices=[(scope, scope) for scope in SCOPES],
    )
    # The list a digest notification opens (set by its link, kept while filtering): the
    # issues of one unit that arrived there at one moment (a sweep run's escalations), or
    # that were due within the hour from it.
    arrived = forms.DateTimeField(label=_("Arrived at"), required=False, widget=forms.HiddenInput)
    due_soon = forms.DateTimeField(
        label=_("Due within the hour from"), required=False, widget=forms.HiddenInput
    )
    unit = UnitFilterField(label=_("Unit"), required=False, widget=forms.HiddenInput)

    def __init__(self, *args, categories=(), grids=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Any category"))] + list(categories)
        if grids:
            self.fields["grid"].choices = [("", _("Any grid"))] + list(grids)
        else:
            del self.fields["grid"]
        # The filter bar is drawn by hand (it is on every queue page, so it stays cheap to
        # render); the widgets carry their Bootstrap classes.
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget = PlainSelect(
                    attrs={"class": "form-select form-select-sm"}, choices=field.choices
                )
            elif isinstance(field.widget, forms.CheckboxInput):
                field.widget = PlainCheckboxInput(attrs={"class": "form-check-input"})
            elif isinstance(field.widget, forms.HiddenInput):
                field.widget = PlainHiddenInput()

    def choice_filters(self):
        """The select boxes of the filter bar, in order."""
        names = ["status", "severity", "category", "grid", "source", "sort"]
        return [self[name] for name in names if name in self.fields]

    def check_filters(self):
        """The check boxes of the filter bar, in order."""
        return [self["overdue"], self["supervised"]]

    def clean_q(self):
        return " ".join(self.cleaned_data["q"].split())


# --- actions on one issue --------------------------------------------------------------


# Each note says who will read it.
STAFF_ONLY = _("Staff only: the reporter does not see it.")
PUBLIC = _("Public: the reporter reads it on the issue's timeline.")


def _note(label=None, required=False, rows=2, help_text=STAFF_ONLY):
    return forms.CharField(
        label=label or _("Internal note"),
        required=required,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


def _message():
    """The optional words to the reporter that go with a step between staff."""
    return _note(
        _("Message to the reporter"),
        help_text=_("Optional. The reporter reads it on the issue's timeline."),
    )


class ActionForm(SubmissionTokenMixin, forms.Form):
    """One workflow action's input. ``issue`` and ``user`` are there for choice lists.

    ``summary`` is what the person decides on, shown above the fields (the date asked
    for, the sub-task). ``workflow_fields`` maps the codes of the workflow's refusals that
    concern one field (a date too far, a missing reason) to that field, so the message
    stands next to it rather than on top of the page."""

    multipart = False
    summary = ""
    workflow_fields: dict[str, str] = {}
    # False when there is nothing to choose from (the panel is then left out).
    offered = True

    def __init__(self, *args, issue, user, **kwargs):
        self.issue = issue
        self.user = user
        super().__init__(*args, **kwargs)


class AcceptForm(ActionForm):
    """受理 with triage: confirm (or correct) the category and severity."""

    category = widgets.ModelChoiceField(label=_("Category"), queryset=Category.objects.none())
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices)
    note = _note()
    message = _message()

    def __init__(self, *args, issue, user, **kwargs):
        kwargs.setdefault("initial", {"category": issue.category_id, "severity": issue.severity})
        super().__init__(*args, issue=issue, user=user, **kwargs)
        # The issue's own category stays choosable even if it has since been retired.
        self.fields["category"].queryset = Category.objects.filter(
            Q(is_active=True) | Q(pk=issue.category_id)
        )


class AssignForm(ActionForm):
    assignee = widgets.KeptModelChoiceField(
        list,
        label=_("Assign to"),
        help_text=_("A colleague holding a post on the unit handling this issue."),
    )
    note = _note()

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        # Read once, when the form is first drawn or checked.
        self.fields["assignee"].rows = functools.cache(lambda: permissions.assignable_list(issue))


class CommentForm(ActionForm):
    INTERNAL = "internal"
    PUBLIC = "public"

    multipart = True
    note = _note(_("Comment"), required=True, rows=3)
    visibility = forms.ChoiceField(
        label=_("Who may read it"),
        choices=[
            (INTERNAL, _("Internal note: staff only")),
            (PUBLIC, _("Public: the reporter sees it too")),
        ],
        initial=INTERNAL,
        widget=forms.RadioSelect,
    )
    photos = PhotosField()

    def clean(self):
        data = super().clean()
        data["is_public"] = data.get("visibility") == self.PUBLIC
        return data


class EscalateForm(ActionForm):
    reason = _note(
        _("Why escalate"),
        required=True,
        help_text=_("Staff only: for the unit that takes it over. The reporter does not see it."),
    )
    message = _message()


class DispatchForm(ActionForm):
    department = widgets.ModelChoiceField(label=_("Department"), queryset=None)
    note = _note(
        _("Instructions for the department"),
        help_text=_("Staff only: for the department. The reporter does not see it."),
    )
    message = _message()

    def __init__(self, *args, issue, user, **kwargs):
        category_department = issue.category.department_id if issue.category_id else None
        kwargs.setdefault("initial", {"department": category_department})
        super().__init__(*args, issue=issue, user=user, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(
            subdistrict_id=issue.subdistrict_id
        )


class SuspendForm(ActionForm):
    reason = _note(_("Why suspend"), required=True)
    message = _message()


class ResumeForm(ActionForm):
    note = _note()
    message = _message()


class ResolveForm(ActionForm):
    multipart = True
    note = _note(
        _("How it was resolved"),
        required=True,
        rows=3,
        help_text=_("Public: the reporter reads it and then evaluates the result."),
    )
    photos = PhotosField(label=_("After photos"))


class VerifyForm(ActionForm):
    note = _note(_("What you checked"))


class RejectForm(ActionForm):
    reason = _note(_("Why reject"), required=True, help_text=PUBLIC)


class DuplicateForm(ActionForm):
    original = forms.CharField(
        label=_("Tracking number of the original issue"),
        max_length=20,
        help_text=_("This issue is closed as a duplicate and points at the original."),
    )
    note = _note(_("Note"), help_text=PUBLIC)

    def clean_original(self):
        number = self.cleaned_data["original"].strip()
        original = (
            permissions.visible_issues(self.user)
            .filter(tracking_number=number)
            .select_related("duplicate_of")
            .first()
        )
        if original is None:
            raise ValidationError(
                _("No issue you can see has the tracking number %(number)s."),
                code="unknown_issue",
                params={"number": number},
            )
        if original.pk == self.issue.pk:
            raise ValidationError(_("An issue cannot duplicate itself."), code="self_duplicate")
        return original


# --- filing: patrol and hotline ---------------------------------------------------------


class FilingForm(SubmissionTokenMixin, CategoryQuestionsMixin, PlaceForm):
    category = widgets.KeptModelChoiceField(choices.active_categories, label=_("Category"))
    title = forms.CharField(label=_("Title"), max_length=100)
    description = forms.CharField(
        label=_("Description"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )
    address = forms.CharField(
        label=_("Address detail"),
        max_length=200,
        required=False,
        help_text=_("Where exactly, e.g. the unit, the corner or the landmark."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_question_fields()

    def clean(self):
        data = super().clean()
        self.clean_question_answers(data.get("category"))
        return data

    def clean_title(self):
        return " ".join(self.cleaned_data["title"].split())


class PatrolForm(FilingForm):
    """巡查发现: a grid worker files what they found in one of their grids; "settled on the
    spot" (就地解决) files, accepts and resolves it in one step."""

    grid = widgets.ModelChoiceField(label=_("Grid"), queryset=Grid.objects.none(), required=False)
    building = widgets.ModelChoiceField(
        label=_("Building"),
        queryset=Building.objects.none(),
        required=False,
        help_text=_("Optional: the building or address point."),
    )
    photos = PhotosField()
    settled = forms.BooleanField(
        label=_("Settled on the spot"),
        required=False,
        help_text=_("Filed, accepted and resolved in one step."),
    )
    resolution = _note(_("How it was settled"), rows=2)
    after_photos = PhotosField(label=_("After photos"))

    field_order = [
        "grid",
        "building",
        "category",
        "title",
        "description",
        "address",
        "photos",
        "settled",
        "resolution",
        "after_photos",
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        grids = Grid.objects.filter(pk__in=permissions.scope_of(user).grids)
        self.fields["grid"].queryset = grids.defer("boundary")
        self.fields["building"].queryset = (
            Building.objects.filter(grid__in=grids).select_related("grid").defer("grid__boundary")
        )
        self.fields["building"].label_from_instance = lambda b: f"{b.grid.name} · {b.name}"

    def clean(self):
        data = super().clean()
        grid, building = data.get("grid"), data.get("building")
        if grid is not None and building is not None and building.grid_id != grid.pk:
            self.add_error(
                "building",
                ValidationError(_("That building is not in the chosen grid."), code="bad_building"),
            )
        self.require_place("grid", "building")
        if data.get("settled") and not (data.get("resolution") or "").strip():
            self.add_error(
                "resolution",
                ValidationError(
                    _("Say how it was settled, or untick “settled on the spot”."),
                    code="required",
                ),
            )
        return data


# Mainland numbers: a mobile (11 digits from 13–19), or a landline with an optional area
# code (0 and 2–3 digits) and extension, written with digits and dashes.
MOBILE = re.compile(r"1[3-9]\d{9}")
LANDLINE = re.compile(r"(0\d{2,3}-?)?[2-9]\d{6,7}(-\d{1,6})?")


class HotlineForm(FilingForm):
    """A call taken by community or subdistrict staff, filed for the caller."""

    caller_name = forms.CharField(label=_("Caller's name"), max_length=50)
    caller_phone = forms.CharField(
        label=_("Caller's phone"),
        max_length=20,
        help_text=_("A mobile number, or a landline such as 0531-88889999."),
    )
    grid = widgets.ModelChoiceField(label=_("Grid"), queryset=Grid.objects.none(), required=False)
    # Set by the address search (a building found by name or address).
    building = widgets.ModelChoiceField(
        queryset=Building.objects.none(), required=False, widget=forms.HiddenInput
    )
    severity = forms.ChoiceField(
        label=_("Severity"),
        required=False,
        choices=[("", _("The category's usual severity"))] + Severity.choices,
    )

    field_order = [
        "caller_name",
        "caller_phone",
        "grid",
        "address",
        "category",
        "severity",
        "title",
        "description",
    ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        scope = permissions.scope_of(user)
        grids = Grid.objects.filter(
            Q(community_id__in=scope.communities)
            | Q(community__subdistrict_id__in=scope.subdistricts)
        )
        self.fields["grid"].queryset = grids.select_related("community").defer("boundary")
        self.fields["grid"].label_from_instance = lambda g: f"{g.community.name} · {g.name}"
        self.fields["building"].queryset = (
            Building.objects.filter(grid__in=grids).select_related("grid").defer("grid__boundary")
        )

    def clean(self):
        data = super().clean()
        if data.get("building") is not None:
            data["grid"] = data["building"].grid  # the address search found it
        self.require_place("grid", "building")
        return data

    def clean_caller_name(self):
        return " ".join(self.cleaned_data["caller_name"].split())

    def clean_caller_phone(self):
        raw = self.cleaned_data["caller_phone"]
        phone = re.sub(r"[\s()]", "", raw)
        if phone.startswith("+86"):
            phone = phone[3:].lstrip("-")
        if not (MOBILE.fullmatch(phone) or LANDLINE.fullmatch(phone)):
            raise ValidationError(
                _(
                    "Enter a mainland mobile number (11 digits) or a landline number "
                    "(digits and dashes, e.g. 0531-88889999)."
                ),
                code="invalid_phone",
            )
        return phone
