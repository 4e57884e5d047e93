"""Forms of the actions by which party members and volunteers take part (志愿服务,
红色合伙人): the staff's (open to volunteers, accept or decline a helper, confirm service
hours, add a partner unit) in the shape of the workspace's other action forms, and the
helper's own (offer to help, progress note). They validate input only; the choice lists
come from the rule book and the workflow refuses the rest.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from config import widgets
from participation.models import HOURS_STEP, MAX_HOURS, Claim

from .. import permissions
from .fields import PhotosField
from .staff import ActionForm, _note
from .tokens import SubmissionTokenMixin


class ClaimChoiceField(widgets.ModelChoiceField):
    def label_from_instance(self, claim):
        name = claim.helper.display_name
        return f"{name}: {claim.offer}" if claim.offer else name


def _claims(label, *, states, unconfirmed=False):
    field = ClaimChoiceField(
        label=label,
        queryset=Claim.objects.none(),
        empty_label=None,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the helper.")},
    )
    field.states = states
    field.unconfirmed = unconfirmed
    return field


class _ClaimActionForm(ActionForm):
    """A decision about one of the issue's helpers; the choices are the issue's claims in
    the states the action takes."""

    workflow_fields = {"bad_claim": "claim"}

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        field = self.fields["claim"]
        claims = Claim.objects.filter(issue_id=issue.pk, state__in=field.states)
        if field.unconfirmed:
            claims = claims.filter(hours_confirmed_at__isnull=True)
        field.queryset = claims.select_related("helper").order_by("created_at", "id")
        # The usual case, one helper: chosen already.
        only = list(field.queryset[:2])
        if len(only) == 1 and not self.is_bound:
            self.initial.setdefault("claim", only[0].pk)


class OpenToVolunteersForm(ActionForm):
    note = _note(
        _("What help is wanted"),
        help_text=_(
            "Public: the volunteers and party members of the grid and the reporter read it."
        ),
    )


class CloseToVolunteersForm(ActionForm):
    workflow_fields = {"reason_required": "reason"}

    reason = _note(
        _("Why no more help is needed"),
        required=True,
        help_text=_("Offers still waiting are declined with these words."),
    )


class AcceptClaimForm(_ClaimActionForm):
    claim = _claims(_("Helper"), states=(Claim.State.OFFERED,))
    note = _note(
        _("Note to the helper"),
        help_text=_("Optional: what to do, when and where. The helper reads it."),
    )


class DeclineClaimForm(_ClaimActionForm):
    workflow_fields = {"bad_claim": "claim", "reason_required": "reason"}

    claim = _claims(_("Helper"), states=(Claim.State.OFFERED,))
    reason = _note(
        _("Why decline"), required=True, help_text=_("The helper reads it; the reporter does not.")
    )


class ConfirmHoursForm(_ClaimActionForm):
    workflow_fields = {"bad_claim": "claim", "bad_hours": "hours"}

    claim = _claims(_("Helper"), states=Claim.HELPING, unconfirmed=True)
    hours = forms.DecimalField(
        label=_("Service hours"),
        min_value=HOURS_STEP,
        max_value=MAX_HOURS,
        step_size=HOURS_STEP,
        decimal_places=1,
        widget=forms.NumberInput(attrs={"step": str(HOURS_STEP), "inputmode": "decimal"}),
        help_text=_("In half hours: the time the helper served on this issue."),
    )
    note = _note()


class AddPartnerForm(ActionForm):
    workflow_fields = {"bad_partner": "partner"}

    partner = widgets.ModelChoiceField(
        label=_("Partner unit"),
        queryset=None,
        empty_label=_("Choose a partner unit"),
        help_text=_("The community's partner units, kept by the administrator."),
    )
    note = _note(
        _("What the partner does"),
        help_text=_("Public: the reporter reads it on the timeline."),
    )

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        partners = permissions.partners_to_add(issue)
        self.fields["partner"].queryset = partners
        self.offered = self.is_bound or partners.exists()


# --- the helper's own ----------------------------------------------------------------------


class ClaimForm(SubmissionTokenMixin, forms.Form):
    offer = forms.CharField(
        label=_("How you can help"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Optional: when you are free, what you can bring. The grid worker reads it."),
    )


class HelperNoteForm(SubmissionTokenMixin, forms.Form):
    multipart = True

    note = forms.CharField(
        label=_("What you did"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Public: the reporter and the staff read it on the timeline."),
    )
    photos = PhotosField()
    done = forms.BooleanField(
        label=_("My part is done"),
        required=False,
        help_text=_("The grid worker then confirms your service hours."),
    )
