"""Export of issues to CSV and Excel (django-import-export), as filtered in the admin.

One row per issue with what a report needs; the reporter's identity and phone number
never leave the system this way. Headers are the fields' names in the admin's language;
choices are exported as their labels. Free text is made formula-safe for spreadsheets.
"""

from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from grids.resources import spreadsheet_safe

from .models import Issue


def _label(name):
    return Issue._meta.get_field(name).verbose_name


class IssueResource(resources.ModelResource):
    tracking_number = fields.Field(
        attribute="tracking_number", column_name=_label("tracking_number")
    )
    title = fields.Field(attribute="title", column_name=_label("title"))
    category = fields.Field(column_name=_label("category"))
    severity = fields.Field(column_name=_label("severity"))
    source = fields.Field(column_name=_label("source"))
    status = fields.Field(column_name=_label("status"))
    level = fields.Field(column_name=_label("level"))
    grid = fields.Field(column_name=_label("grid"))
    community = fields.Field(column_name=_label("community"))
    subdistrict = fields.Field(column_name=_label("subdistrict"))
    department = fields.Field(column_name=_label("department"))
    assignee = fields.Field(column_name=_label("assignee"))
    created_at = fields.Field(
        attribute="created_at", column_name=_label("created_at"), widget=widgets.DateTimeWidget()
    )
    accepted_at = fields.Field(
        attribute="accepted_at", column_name=_label("accepted_at"), widget=widgets.DateTimeWidget()
    )
    resolved_at = fields.Field(
        attribute="resolved_at", column_name=_label("resolved_at"), widget=widgets.DateTimeWidget()
    )
    closed_at = fields.Field(
        attribute="closed_at", column_name=_label("closed_at"), widget=widgets.DateTimeWidget()
    )
    due_at = fields.Field(
        attribute="due_at", column_name=_label("due_at"), widget=widgets.DateTimeWidget()
    )
    satisfaction = fields.Field(column_name=_label("satisfaction"))
    reopen_count = fields.Field(
        attribute="reopen_count", column_name=_label("reopen_count"), widget=widgets.IntegerWidget()
    )
    escalation_count = fields.Field(
        attribute="escalation_count",
        column_name=_label("escalation_count"),
        widget=widgets.IntegerWidget(),
    )
    is_supervised = fields.Field(column_name=_label("is_supervised"))

    class Meta:
        model = Issue
        name = _("Issues")
        fields = (
            "tracking_number",
            "title",
            "category",
            "severity",
            "source",
            "status",
            "level",
            "grid",
            "community",
            "subdistrict",
            "department",
            "assignee",
            "created_at",
            "accepted_at",
            "resolved_at",
            "closed_at",
            "due_at",
            "satisfaction",
            "reopen_count",
            "escalation_count",
            "is_supervised",
        )
        export_order = fields

    def get_queryset(self):
        return Issue.objects.select_related(
            "category", "grid", "community", "subdistrict", "department", "assignee"
        )

    def dehydrate_title(self, issue):
        return spreadsheet_safe(issue.title)

    def dehydrate_category(self, issue):
        return spreadsheet_safe(issue.category.name)

    def dehydrate_severity(self, issue):
        return str(issue.get_severity_display())

    def dehydrate_source(self, issue):
        return str(issue.get_source_display())

    def dehydrate_status(self, issue):
        return str(issue.get_status_display())

    def dehydrate_level(self, issue):
        return str(issue.get_level_display())

    def dehydrate_grid(self, issue):
        return spreadsheet_safe(issue.grid.name)

    def dehydrate_community(self, issue):
        return spreadsheet_safe(issue.community.name)

    def dehydrate_subdistrict(self, issue):
        return spreadsheet_safe(issue.subdistrict.name)

    def dehydrate_department(self, issue):
        return spreadsheet_safe(issue.department.name) if issue.department_id else ""

    def dehydrate_assignee(self, issue):
        return spreadsheet_safe(issue.assignee.username) if issue.assignee_id else ""

    def dehydrate_satisfaction(self, issue):
        return str(issue.get_satisfaction_display()) if issue.satisfaction else ""

    def dehydrate_is_supervised(self, issue):
        return 1 if issue.is_supervised else 0
