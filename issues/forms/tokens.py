"""The submission token every form that writes carries.

A token is made when the form is shown and sent back with it; the workflow records what
was done with it, so a double click, the browser's "resend" or a replayed request changes
nothing the second time (``workflow.file_issue``, ``workflow._act``).
"""

import uuid

from django import forms


class SubmissionTokenMixin(forms.Form):
    submission_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("submission_token", uuid.uuid4())
