from django import forms
from django.utils.translation import gettext_lazy as _


class RegistrationForm(forms.Form):
    organisation = forms.CharField(
        label=_("Party organisation"),
        max_length=100,
        help_text=_("The party branch or committee you belong to, e.g. at your workplace."),
        error_messages={"required": _("Name your party organisation.")},
    )
