"""Resident forms: report a problem, comment, evaluate. They validate input only; the
workflow decides what is allowed."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from config import widgets
from config.widgets import PlainSelect
from grids.forms import BuildingField
from grids.models import Building

from .. import choices, tracking
from ..models import Satisfaction
from ..permissions import is_participant
from .fields import PhotosField, PlaceForm
from .questions import CategoryQuestionsMixin
from .tokens import SubmissionTokenMixin


class CategoryField(widgets.KeptModelChoiceField):
    """The active categories (kept in the cache), each option saying what belongs in it:
    "name — hint"."""

    def __init__(self, **kwargs):
        super().__init__(choices.active_categories, **kwargs)

    def label_from_instance(self, category):
        return f"{category.name} — {category.hint}" if category.hint else category.name


class ReportForm(SubmissionTokenMixin, CategoryQuestionsMixin, PlaceForm):
    building = BuildingField(
        label=_("Building"),
        required=False,
        help_text=_(
            "Your home building is chosen; find another one below if the problem is elsewhere."
        ),
    )
    address = forms.CharField(
        label=_("Address detail"),
        max_length=200,
        required=False,
        help_text=_("Optional, e.g. “east gate, next to the bicycle shed”."),
    )
    category = CategoryField(
        label=_("Category"),
        empty_label=_("Choose what kind of problem it is"),
        widget=PlainSelect,
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=100,
        help_text=_("A few words, e.g. “Street lamp out in front of building 3”."),
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What is wrong, since when, and anything that helps to find it."),
    )
    photos = PhotosField()
    as_volunteer = forms.BooleanField(
        label=_("I report this as a volunteer or party member"),
        required=False,
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is None or not is_participant(user):
            del self.fields["as_volunteer"]
        self.add_question_fields()

    def clean_title(self):
        return self.cleaned_data["title"].strip()

    def clean_description(self):
        return self.cleaned_data["description"].strip()

    def clean(self):
        data = super().clean()
        self.require_place("building")
        self.clean_question_answers(data.get("category"))
        return data


class NearbyForm(PlaceForm):
    """What the report form has chosen so far: the category and the pin or building."""

    category = widgets.KeptModelChoiceField(choices.active_categories)
    building = widgets.ModelChoiceField(queryset=Building.objects.all(), required=False)


class CommentForm(SubmissionTokenMixin, forms.Form):
    note = forms.CharField(
        label=_("Your comment"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Everyone handling your issue sees it."),
    )
    photos = PhotosField()


class EvaluationForm(SubmissionTokenMixin, forms.Form):
    satisfaction = forms.ChoiceField(
        label=_("How satisfied are you with the result?"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Required when you are not satisfied: the issue is then handled again."),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("satisfaction") == Satisfaction.DISSATISFIED
            and not (cleaned.get("reason") or "").strip()
        ):
            self.add_error(
                "reason",
                forms.ValidationError(
                    _("Say why you are not satisfied, so it can be put right."),
                    code="reason_required",
                ),
            )
        return cleaned


class TrackForm(forms.Form):
    number = forms.CharField(
        label=_("Tracking number"),
        max_length=20,
        help_text=_("The number you were given when the problem was reported."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_number(self):
        number = tracking.normalise(self.cleaned_data["number"])
        if not re.fullmatch(tracking.PATTERN, number) or not tracking.has_valid_check_digit(number):
            raise ValidationError(
                _("This is not a tracking number. Check it digit by digit."), code="typo"
            )
        return number
