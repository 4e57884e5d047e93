from django.contrib import admin

from .models import Category, Issue, IssueEvent, Photo, SlaPolicy


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "hint", "default_severity", "department", "is_active", "sort_order"]
    list_filter = ["default_severity", "is_active"]
    list_select_related = ["department"]
    search_fields = ["name", "hint"]
    autocomplete_fields = ["department"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["severity", "level", "hours"]
    list_editable = ["hours"]
    list_filter = ["severity", "level"]


class EventInline(admin.TabularInline):
    """The timeline, read-only: history is written by the workflow alone."""

    model = IssueEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "actor", "from_status", "to_status", "to_level", "note"]
    readonly_fields = fields
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    can_delete = False
    fields = ["image", "uploaded_by", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


# Fields only issues.workflow may change.
WORKFLOW_FIELDS = [
    "tracking_number",
    "status",
    "level",
    "assignee",
    "department",
    "due_at",
    "level_entered_at",
    "is_supervised",
    "duplicate_of",
    "satisfaction",
    "reopen_count",
    "escalation_count",
    "suspended_at",
    "suspended_seconds",
    "resolved_by",
    "reporter",
    "source",
    "grid",
    "community",
    "subdistrict",
    "created_at",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "closed_at",
]


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    list_display = [
        "tracking_number",
        "title",
        "status",
        "level",
        "severity",
        "grid",
        "department",
        "assignee",
        "due_at",
        "is_supervised",
    ]
    list_filter = ["status", "level", "severity", "source", "is_supervised", "subdistrict"]
    list_select_related = ["grid", "department", "assignee"]
    search_fields = ["tracking_number", "title", "description"]
    date_hierarchy = "created_at"
    readonly_fields = WORKFLOW_FIELDS
    autocomplete_fields = ["category", "building"]
    inlines = [EventInline, PhotoInline]

    def has_add_permission(self, request):
        # Issues are filed through the workflow (web pages, hotline intake), never here.
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
