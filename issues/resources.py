"""Export of issues to CSV and Excel (django-import-export), as filtered in the admin; and
the import and export of categories by their code.

One row per issue with what a report needs; the reporter's identity and phone number
never leave the system this way. Headers are the fields' names in the admin's language;
choices are exported as their labels. Free text is made formula-safe for spreadsheets.
"""

from django.utils import translation
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.instance_loaders import CachedInstanceLoader

from grids.resources import spreadsheet_safe
from grids.resources.base import FlagWidget, UnitResource, cell_text, is_blank, text_field

from .models import Category, Issue, Severity


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


class SeverityWidget(widgets.Widget):
    """A severity cell: its value (minor, urgent, difficult) or its label (小事, 急事, 难事)."""

    def clean(self, value, row=None, **kwargs):
        text = cell_text(value)
        if not text:
            return Severity.MINOR
        for severity in Severity:
            if text.lower() == severity.value or text in (str(severity.label), severity.name):
                return severity.value
        with translation.override("zh-hans"):
            chinese = {str(s.label): s.value for s in Severity}
        if text in chinese:
            return chinese[text]
        raise ValueError(_("Write minor, urgent or difficult, not “%(value)s”.") % {"value": text})

    def render(self, value, obj=None, **kwargs):
        return value or ""


class CategoryResource(UnitResource):
    """Categories by their stable code (the Open311 service code): a row with a known code
    changes that category, a new code adds one. The default department stays as set in the
    admin (departments belong to a subdistrict; categories serve every one)."""

    code = text_field("code")
    name = text_field("name")
    hint = text_field("hint")
    default_severity = fields.Field(
        attribute="default_severity", column_name="default_severity", widget=SeverityWidget()
    )
    is_public = fields.Field(
        attribute="is_public", column_name="is_public", widget=FlagWidget(default=False)
    )
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=FlagWidget())
    sort_order = fields.Field(
        attribute="sort_order", column_name="sort_order", widget=widgets.IntegerWidget()
    )

    class Meta(UnitResource.Meta):
        model = Category
        name = _(
            "Categories (code, name, hint, default_severity, is_public, is_active, sort_order)"
        )
        fields = (
            "code",
            "name",
            "hint",
            "default_severity",
            "is_public",
            "is_active",
            "sort_order",
        )
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name"]

    def before_import_row(self, row, **kwargs):
        # An empty order cell keeps the category where it sorts (0 for a new one).
        if is_blank(row.get("sort_order")):
            row["sort_order"] = 0
        super().before_import_row(row, **kwargs)
