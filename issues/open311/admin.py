"""API clients in the admin: jurisdictions, write access, keys (shown once, stored
hashed, rotated by an action), webhook and its delivery state."""

from datetime import timedelta

from django.contrib import admin, messages
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import ApiClient, ApiKey, ApiRequest

ROTATION_GRACE = timedelta(hours=24)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["prefix", "created_at", "last_used_at", "expires_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request, obj=None):
        return False  # keys are made by the actions, so the secret is shown once


def _show_key(request, client, key):
    messages.warning(
        request,
        _("New key for %(client)s, shown this once; copy it now: %(key)s")
        % {"client": client.name, "key": key},
    )


@admin.action(description=gettext_lazy("Issue a new key (old keys work 24 more hours)"))
def rotate_keys(modeladmin, request, queryset):
    for client in queryset:
        _show_key(request, client, client.issue_key(retire_old_after=ROTATION_GRACE))


@admin.action(description=gettext_lazy("Issue a new key and stop the old keys now"))
def replace_keys(modeladmin, request, queryset):
    for client in queryset:
        _show_key(request, client, client.issue_key(retire_old_after=timedelta(0)))


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "is_active",
        "may_write",
        "rate_limit",
        "webhook_url",
        "webhook_failures",
        "webhook_last_error",
    ]
    list_filter = ["is_active", "may_write"]
    search_fields = ["name", "contact"]
    filter_horizontal = ["jurisdictions"]
    inlines = [ApiKeyInline]
    actions = [rotate_keys, replace_keys]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["name", "contact", "is_active", "may_write", "jurisdictions"]}),
        (gettext_lazy("Limits"), {"fields": ["rate_limit"]}),
        (
            gettext_lazy("Webhook"),
            {
                "fields": [
                    "webhook_url",
                    "webhook_secret",
                    "webhook_delivered_at",
                    "webhook_failures",
                    "webhook_retry_at",
                    "webhook_last_error",
                    "webhook_cursor",
                ]
            },
        ),
    ]
    readonly_fields = [
        "webhook_delivered_at",
        "webhook_failures",
        "webhook_retry_at",
        "webhook_last_error",
        "webhook_cursor",
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            _show_key(request, obj, obj.issue_key())


@admin.register(ApiRequest)
class ApiRequestAdmin(admin.ModelAdmin):
    """What other systems sent: read only."""

    list_display = ["issue", "client", "created_at"]
    list_filter = ["client"]
    list_select_related = ["issue", "client"]
    search_fields = ["issue__tracking_number"]
    fields = [
        "issue",
        "client",
        "token",
        "idempotency_key",
        "device_id",
        "account_id",
        "email",
        "media_url",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
