"""The administrator keeps the partner units (红色合伙人) of each community, and reads the
registrations and offers of help. Registrations are decided by the community's staff on
their page, and offers of help on the issue page, so both are read-only here: each
decision is a workflow step with its record."""

from django.contrib import admin

from .models import Claim, PartnerUnit, PartyRegistration


@admin.register(PartnerUnit)
class PartnerUnitAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "contact", "phone", "is_active"]
    list_filter = ["is_active", "community__subdistrict"]
    search_fields = ["name", "contact", "community__name"]
    autocomplete_fields = ["community"]
    list_select_related = ["community"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PartyRegistration)
class PartyRegistrationAdmin(ReadOnlyAdmin):
    list_display = ["user", "community", "organisation", "state", "created_at", "decided_at"]
    list_filter = ["state", "community__subdistrict"]
    search_fields = ["user__first_name", "user__phone", "organisation", "community__name"]
    list_select_related = ["user", "community"]
    date_hierarchy = "created_at"


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdmin):
    list_display = ["issue", "helper", "state", "hours", "created_at", "hours_confirmed_at"]
    list_filter = ["state"]
    search_fields = ["issue__tracking_number", "helper__first_name", "helper__phone"]
    list_select_related = ["issue", "helper"]
    date_hierarchy = "created_at"
