"""Forms of the closed loop's actions on one issue (退单, 延期, 联办, 回访, 督办), in the
shape of the staff workspace's other action forms (``issues.forms.staff.ActionForm``):
they validate input only; the choice lists come from the rule book.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from config import widgets
from grids.models import Department

from .. import choices, permissions, workflow
from ..models import IssueTask, Satisfaction
from .staff import ActionForm, _message, _note


def _day(label, *, required=True, help_text=""):
    """A calendar day, picked with the browser's date picker (a deadline is the close of
    working hours that day: ``workflow`` turns the date into the time)."""
    return forms.DateField(
        label=label,
        required=required,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
        help_text=help_text,
    )


def _when(value) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else ""


class ReturnForm(ActionForm):
    """退单: the department hands a wrong dispatch back to the subdistrict."""

    # The workflow's own words for each refusal that concerns one field (see ActionSpec).
    workflow_fields = {"reason_required": "reason"}

    reason = widgets.KeptModelChoiceField(
        choices.active_return_reasons,
        label=_("Why return it"),
        empty_label=_("Choose a reason"),
        error_messages={"required": _("Choose why the issue is returned.")},
        help_text=_("The subdistrict dispatches it again. Counted against the department."),
    )
    note = _note()


class RequestExtensionForm(ActionForm):
    """延期申请: ask the level above for more time."""

    workflow_fields = {"bad_date": "until", "date_required": "until", "reason_required": "reason"}

    until = _day(
        _("New deadline"),
        help_text=_("The end of working hours that day. The level above decides."),
    )
    reason = _note(_("Why more time is needed"), required=True)

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        self.summary = _("Present deadline: %(due)s") % {"due": _when(issue.due_at)}


class ApproveExtensionForm(ActionForm):
    note = _note()

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        self.summary = _("Asked for: %(until)s (present deadline: %(due)s)") % {
            "until": _when(issue.extension_until),
            "due": _when(issue.due_at),
        }


class RefuseExtensionForm(ActionForm):
    workflow_fields = {"reason_required": "reason"}

    reason = _note(_("Why refuse"), required=True)

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        self.summary = _("Asked for: %(until)s; the present deadline stands.") % {
            "until": _when(issue.extension_until)
        }


class JointDispatchForm(ActionForm):
    """联办: a lead department holds the issue; each co-handling department gets a sub-task."""

    workflow_fields = {
        "reason_required": "instruction",
        "no_co_handlers": "co_handlers",
        "bad_department": "co_handlers",
        "bad_date": "due",
        "date_required": "due",
    }

    lead = widgets.ModelChoiceField(
        label=_("Lead department"),
        queryset=None,
        help_text=_("It holds the issue and resolves it once every sub-task is finished."),
    )
    co_handlers = widgets.ModelMultipleChoiceField(
        label=_("Co-handling departments"),
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one co-handling department.")},
        help_text=_("Each gets a sub-task in its own queue."),
    )
    instruction = _note(
        _("Instructions for the departments"),
        required=True,
        rows=3,
        help_text=_("Staff only: for the departments. The reporter does not see it."),
    )
    due = _day(
        _("Sub-tasks due"),
        required=False,
        help_text=_(
            "Optional: the end of working hours that day. By default the issue's own deadline."
        ),
    )
    message = _message()

    def __init__(self, *args, issue, user, **kwargs):
        category_department = issue.category.department_id if issue.category_id else None
        kwargs.setdefault("initial", {"lead": category_department})
        super().__init__(*args, issue=issue, user=user, **kwargs)
        departments = Department.objects.filter(subdistrict_id=issue.subdistrict_id)
        self.fields["lead"].queryset = departments
        self.fields["co_handlers"].queryset = departments

    def clean(self):
        data = super().clean()
        lead, co_handlers = data.get("lead"), data.get("co_handlers")
        if lead is not None and co_handlers is not None and lead in co_handlers:
            self.add_error(
                "co_handlers",
                ValidationError(
                    _("The lead department is not also a co-handler."), code="bad_department"
                ),
            )
        return data


def _task_label(task) -> str:
    return f"{task.department.name} · {task.get_role_display()}"


class CompleteTaskForm(ActionForm):
    """Complete one's own department's sub-task (联办)."""

    workflow_fields = {"reason_required": "note"}

    task = widgets.ModelChoiceField(
        label=_("Sub-task"),
        queryset=None,
        error_messages={
            "required": _("Choose the sub-task."),
            "invalid_choice": _("That sub-task is not your department’s, or no longer open."),
        },
    )
    note = _note(_("What your department did"), required=True, rows=3)

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        field = self.fields["task"]
        field.queryset = permissions.open_tasks_of(user, issue)
        field.label_from_instance = _task_label
        tasks = list(field.queryset)
        if len(tasks) == 1:
            # One's own sub-task needs no choosing: it is named above the note.
            field.widget = forms.HiddenInput()
            self.initial.setdefault("task", tasks[0].pk)
            self.summary = _("Sub-task of %(department)s: %(instruction)s") % {
                "department": tasks[0].department.name,
                "instruction": tasks[0].instruction,
            }

    def clean(self):
        data = super().clean()
        if isinstance(self.fields["task"].widget, forms.HiddenInput) and "task" in self.errors:
            # A hidden field's error is said above the form, where it can be read.
            self.add_error(None, self.errors.pop("task"))
        return data


class CancelTaskForm(ActionForm):
    """The subdistrict cancels a sub-task no longer needed."""

    workflow_fields = {"reason_required": "reason"}

    task = widgets.ModelChoiceField(
        label=_("Sub-task"),
        queryset=None,
        empty_label=_("Choose a sub-task"),
        error_messages={"required": _("Choose the sub-task.")},
    )
    reason = _note(_("Why cancel it"), required=True)

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        self.fields["task"].queryset = IssueTask.objects.filter(
            issue_id=issue.pk, state=IssueTask.State.OPEN
        ).select_related("department")
        self.fields["task"].label_from_instance = _task_label


class CallbackForm(ActionForm):
    """回访: what the caller answered on the phone."""

    workflow_fields = {"reason_required": "said", "bad_satisfaction": "outcome"}

    outcome = forms.ChoiceField(
        label=_("What the caller answered"),
        choices=[*Satisfaction.choices, (workflow.UNREACHABLE, _("Could not be reached"))],
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose what the caller answered.")},
    )
    said = _note(
        _("What the caller said"),
        rows=3,
        help_text=_(
            "Required when the caller is not satisfied: the issue is handled again with "
            "these words."
        ),
    )

    def __init__(self, *args, issue, user, **kwargs):
        super().__init__(*args, issue=issue, user=user, **kwargs)
        if issue.callback_attempts:
            self.summary = _("Unanswered call-backs so far: %(n)s of %(max)s") % {
                "n": issue.callback_attempts,
                "max": settings.CALLBACK_TRIES,
            }

    def clean(self):
        data = super().clean()
        if (
            data.get("outcome") == Satisfaction.DISSATISFIED
            and not (data.get("said") or "").strip()
        ):
            self.add_error(
                "said",
                ValidationError(
                    _("Write down why the caller is not satisfied."), code="reason_required"
                ),
            )
        return data


class SuperviseNoteForm(ActionForm):
    """督办: words for the unit handling the issue, and perhaps a new deadline."""

    workflow_fields = {"reason_required": "note", "bad_date": "until", "date_required": "until"}

    note = _note(
        _("Supervision note"),
        required=True,
        rows=3,
        help_text=_("Staff only: shown highlighted on the issue to the unit handling it."),
    )
    until = _day(
        _("New deadline"),
        required=False,
        help_text=_("Optional: the end of working hours that day becomes the deadline."),
    )
