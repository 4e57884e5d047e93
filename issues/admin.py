"""Rules and issues in the Django admin.

- Categories and the deadline table (severity × level → hours or working days) are edited
  here, with the working calendar (public holidays and 调休 make-up days, imported per year
  by ``import_holidays``) and the reasons a department may give for returning an issue.
  Deadlines are whole and positive; a policy cannot be deleted; the deadline list warns,
  with a link to add it, when a severity × level pair has no row (the built-in default
  then applies).
- Issues are read-mostly: issues are never added or deleted here, and the timeline is a
  read-only inline. A superuser may correct what the report says (title, description,
  address, caller's name and phone: ``workflow.EDITABLE_DETAILS``); the change goes through
  ``workflow.edit_details``, which writes an internal event with the values before and
  after. Every other field is read-only. The admin's actions (escalate, reject, reassign)
  ask for a reason on an intermediate page and go through ``issues.workflow`` one issue at
  a time, so they are refused exactly where the workflow refuses them and write the same
  events.
- Issue events cannot be added, changed or deleted.
"""

from functools import reduce
from operator import or_

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from grids import units
from grids.admin_views import ExportMixin, ImportExportMixin
from grids.models import User

from . import permissions, workflow
from .forms.tokens import SubmissionTokenMixin
from .models import (
    DEFAULT_SLA,
    Category,
    CategoryQuestion,
    Holiday,
    Issue,
    IssueEvent,
    IssueTask,
    Level,
    Photo,
    ReturnReason,
    Severity,
    SlaPolicy,
)
from .resources import CategoryResource, IssueResource


class DepartmentSetFilter(admin.SimpleListFilter):
    title = gettext_lazy("default department")
    parameter_name = "department__isnull"

    def lookups(self, request, model_admin):
        return [("True", gettext_lazy("None")), ("False", gettext_lazy("Set"))]

    def queryset(self, request, queryset):
        if self.value() in ("True", "False"):
            return queryset.filter(department__isnull=self.value() == "True")
        return queryset


class CategoryQuestionInline(admin.TabularInline):
    """Extra questions asked when filing in the category (Open311 attributes)."""

    model = CategoryQuestion
    extra = 0
    fields = ["order", "code", "label", "datatype", "required", "choices"]


@admin.register(Category)
class CategoryAdmin(ImportExportMixin, admin.ModelAdmin):
    resource_classes = [CategoryResource]
    inlines = [CategoryQuestionInline]
    list_display = [
        "name",
        "code",
        "hint",
        "default_severity",
        "department",
        "is_active",
        "is_public",
        "sort_order",
    ]
    list_editable = ["is_active", "is_public", "sort_order"]
    list_filter = ["default_severity", "is_active", "is_public", DepartmentSetFilter]
    list_select_related = ["department"]
    search_fields = ["name", "code", "hint"]
    autocomplete_fields = ["department"]
    fields = [
        "name",
        "code",
        "hint",
        "default_severity",
        "department",
        "is_active",
        "is_public",
        "sort_order",
    ]


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = ["severity", "level", "unit", "amount"]

    def clean_amount(self):
        amount = self.cleaned_data.get("amount")
        if amount is not None and amount < 1:
            raise forms.ValidationError(
                gettext_lazy("A deadline is at least 1 hour or 1 working day."),
                code="amount_not_positive",
            )
        return amount


def missing_sla_pairs() -> list[tuple[str, str]]:
    """Severity × level pairs with no deadline row (one query)."""
    present = set(SlaPolicy.objects.values_list("severity", "level"))
    return [
        (severity, level)
        for severity in Severity.values
        for level in Level.values
        if (severity, level) not in present
    ]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = ["severity", "level", "unit", "amount"]
    list_editable = ["unit", "amount"]
    list_filter = ["severity", "level"]

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", SlaPolicyForm)
        return super().get_changelist_form(request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        # Every severity × level has a deadline; change its length instead.
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            missing = missing_sla_pairs()
            if missing:
                add = reverse("admin:issues_slapolicy_add")
                links = format_html_join(
                    ", ",
                    '<a href="{}?severity={}&amp;level={}&amp;unit={}&amp;amount={}">{} · {}</a>',
                    (
                        (
                            add,
                            severity,
                            level,
                            *DEFAULT_SLA[(severity, level)],
                            Severity(severity).label,
                            Level(level).label,
                        )
                        for severity, level in missing
                    ),
                )
                messages.warning(
                    request,
                    format_html(
                        "{} {}",
                        _(
                            "Some severity × level pairs have no deadline; the built-in "
                            "default applies until you add them:"
                        ),
                        links,
                    ),
                )
        return super().changelist_view(request, extra_context)


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """The working calendar: add next year's days as soon as the State Council publishes
    them (``manage.py import_holidays YEAR`` does it from the chinese-calendar package)."""

    list_display = ["date", "weekday", "kind", "name"]
    list_filter = ["kind", ("date", admin.DateFieldListFilter)]
    search_fields = ["name"]
    date_hierarchy = "date"

    @admin.display(description=gettext_lazy("weekday"), ordering="date")
    def weekday(self, obj):
        return date_format(obj.date, "l")


@admin.register(ReturnReason)
class ReturnReasonAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "sort_order"]
    list_editable = ["is_active", "sort_order"]


class TaskInline(admin.StackedInline):
    """联办 sub-tasks, read-only: the workflow writes them."""

    model = IssueTask
    extra = 0
    can_delete = False
    fields = ["department", "role", "instruction", "due_at", "state", "note", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EventInline(admin.TabularInline):
    """The timeline, read-only: history is written by the workflow alone."""

    model = IssueEvent
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "kind",
        "actor",
        "from_status",
        "to_status",
        "to_level",
        "note",
        "internal_note",
        "data",
    ]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    can_delete = False
    fields = ["photo", "uploaded_by", "created_at"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("photo"))
    def photo(self, photo):
        # Through the photo view: media files are not served publicly.
        url = reverse("photo", args=[photo.pk])
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, url)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("uploaded_by")


# Fields only issues.workflow may change, and the facts of the report itself.
WORKFLOW_FIELDS = [
    "tracking_number",
    "status",
    "level",
    "assignee",
    "department",
    "category",
    "severity",
    "due_at",
    "level_entered_at",
    "is_supervised",
    "duplicate_of",
    "satisfaction",
    "reopen_count",
    "support_count",
    "escalation_count",
    "suspended_at",
    "suspended_seconds",
    "resolved_by",
    "reporter",
    "source",
    "grid",
    "community",
    "subdistrict",
    "building",
    "latitude",
    "longitude",
    "created_at",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "closed_at",
    "warned_due_at",
    "response_due_at",
    "extension_until",
    "extension_count",
    "return_count",
    "open_task_count",
    "supervised_at",
    "callback_attempts",
    "open_to_volunteers",
    "pending_claims",
    "hours_to_confirm",
]


# --- admin actions through the workflow ----------------------------------------------------

MAX_ACTION_ISSUES = 500


class ReasonForm(SubmissionTokenMixin, forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text=gettext_lazy(
            "Recorded on each issue's timeline for staff only: the reporter does not see it."
        ),
    )

    def __init__(self, *args, issues=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason."), code="required")
        return reason


class RejectForm(ReasonForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = gettext_lazy(
            "Recorded on each issue's timeline; the reporter reads it."
        )


class ReassignForm(ReasonForm):
    assignee = forms.ModelChoiceField(
        label=gettext_lazy("New assignee"),
        queryset=User.objects.none(),
        help_text=gettext_lazy("Someone holding a post on the unit now handling the issues."),
    )
    field_order = ["assignee", "reason"]

    def __init__(self, *args, issues=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_to_any(issues)


def assignable_to_any(issues):
    """People who may take at least one of these issues: ``permissions.assignable_users``
    of each distinct current unit, combined (the workflow checks each issue again)."""
    one_per_unit = {}
    for issue in issues:
        one_per_unit.setdefault(units.current_unit(issue), issue)
    if not one_per_unit:
        return User.objects.none()
    combined = reduce(or_, (permissions.assignable_users(issue) for issue in one_per_unit.values()))
    return User.objects.filter(pk__in=combined.order_by().values("pk")).order_by("username")


def _run_workflow_action(modeladmin, request, queryset, *, title, form_class, done, call):
    """The intermediate page: ask for the reason (and the assignee), then call the workflow
    once per issue; each refusal is reported with its issue, and nothing else changes."""
    count = queryset.count()
    if count > MAX_ACTION_ISSUES:
        modeladmin.message_user(
            request,
            _("Select at most %(max)d issues at a time.") % {"max": MAX_ACTION_ISSUES},
            messages.ERROR,
        )
        return None
    issues = list(
        queryset.select_related("grid", "community", "subdistrict", "department").defer(
            "grid__boundary"
        )
    )
    if "apply" in request.POST:
        form = form_class(request.POST, issues=issues)
        if form.is_valid():
            succeeded = 0
            for issue in issues:
                try:
                    call(issue, request.user, form.cleaned_data)
                except workflow.WorkflowError as error:
                    modeladmin.message_user(
                        request,
                        f"{issue.tracking_number}: {error.message}",
                        messages.ERROR,
                    )
                else:
                    succeeded += 1
            if succeeded:
                modeladmin.message_user(request, done(succeeded), messages.SUCCESS)
            return None
    else:
        form = form_class(issues=issues)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "opts": modeladmin.model._meta,
        "issues": issues,
        "form": form,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "admin/issues/issue/workflow_action.html", context)


SHORT_TITLE_CHARS = 16


@admin.register(Issue)
class IssueAdmin(ExportMixin, admin.ModelAdmin):
    # Few enough columns to fit a laptop beside the admin's menu and filters: severity,
    # department and supervision are filters; the assignee and every other field are on
    # the issue's page.
    list_display = [
        "tracking_number",
        "short_title",
        "status",
        "level",
        "grid",
        "due",
    ]
    list_filter = [
        "status",
        "level",
        "severity",
        "source",
        "is_supervised",
        "category",
        "subdistrict",
    ]
    list_select_related = ["grid"]
    search_fields = ["tracking_number", "title", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("grid__boundary")

    date_hierarchy = "created_at"
    readonly_fields = WORKFLOW_FIELDS
    exclude = ["submission_token"]
    inlines = [TaskInline, EventInline, PhotoInline]
    actions = ["escalate", "reject", "reassign"]
    resource_classes = [IssueResource]

    class Media:
        css = {"all": ["css/admin.css"]}

    @admin.display(description=gettext_lazy("title"), ordering="title")
    def short_title(self, issue):
        """The title cut to one short line; the whole of it shows on hover."""
        short = Truncator(issue.title).chars(SHORT_TITLE_CHARS)
        if short == issue.title:
            return short
        return format_html('<span title="{}">{}</span>', issue.title, short)

    @admin.display(description=gettext_lazy("due at"), ordering="due_at")
    def due(self, issue):
        """The deadline as month, day and time: one short line."""
        return format_html(
            '<time datetime="{}">{}</time>',
            issue.due_at.isoformat(),
            date_format(timezone.localtime(issue.due_at), "m-d H:i"),
        )

    def has_add_permission(self, request):
        # Issues are filed through the workflow (web pages, hotline intake), never here.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Only a superuser corrects the details (the workflow's rule); for anyone else the
        # whole issue is read-only, so the workflow never has to refuse a saved form.
        if request.user.is_superuser:
            return WORKFLOW_FIELDS
        return [*WORKFLOW_FIELDS, *workflow.EDITABLE_DETAILS]

    def save_model(self, request, obj, form, change):
        """Corrections go through the workflow, on the record; the row is not saved here."""
        changed = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in workflow.EDITABLE_DETAILS
        }
        if changed:
            workflow.edit_details(issue=obj, actor=request.user, **changed)

    def get_export_queryset(self, request):
        return (
            super()
            .get_export_queryset(request)
            .select_related("category", "grid", "community", "subdistrict", "department")
            .select_related("assignee")
            .defer("grid__boundary")
        )

    @admin.action(
        description=gettext_lazy("Escalate one level, with a reason"), permissions=["change"]
    )
    def escalate(self, request, queryset):
        return _run_workflow_action(
            self,
            request,
            queryset,
            title=_("Escalate issues"),
            form_class=ReasonForm,
            done=lambda n: (
                ngettext("Escalated %(count)d issue.", "Escalated %(count)d issues.", n)
                % {"count": n}
            ),
            call=lambda issue, actor, data: workflow.escalate(
                issue=issue,
                actor=actor,
                reason=data["reason"],
                submission_token=data["submission_token"],
            ),
        )

    @admin.action(description=gettext_lazy("Reject, with a reason"), permissions=["change"])
    def reject(self, request, queryset):
        return _run_workflow_action(
            self,
            request,
            queryset,
            title=_("Reject issues"),
            form_class=RejectForm,
            done=lambda n: (
                ngettext("Rejected %(count)d issue.", "Rejected %(count)d issues.", n)
                % {"count": n}
            ),
            call=lambda issue, actor, data: workflow.reject(
                issue=issue,
                actor=actor,
                reason=data["reason"],
                submission_token=data["submission_token"],
            ),
        )

    @admin.action(
        description=gettext_lazy("Reassign to a colleague on the unit, with a reason"),
        permissions=["change"],
    )
    def reassign(self, request, queryset):
        return _run_workflow_action(
            self,
            request,
            queryset,
            title=_("Reassign issues"),
            form_class=ReassignForm,
            done=lambda n: (
                ngettext("Reassigned %(count)d issue.", "Reassigned %(count)d issues.", n)
                % {"count": n}
            ),
            call=lambda issue, actor, data: workflow.assign(
                issue=issue,
                actor=actor,
                assignee=data["assignee"],
                note=data["reason"],
                submission_token=data["submission_token"],
            ),
        )


@admin.register(IssueEvent)
class IssueEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "issue", "kind", "actor", "from_status", "to_status", "to_level"]
    list_filter = ["kind"]
    list_select_related = ["issue", "actor"]
    search_fields = ["issue__tracking_number", "note"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# API clients and their keys are administered with the Open311 API.
from .open311 import admin as open311_admin  # noqa: E402, F401
