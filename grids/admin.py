from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Building, Community, Department, Grid, Post, Subdistrict, User

admin.site.site_header = _("Grid governance administration")
admin.site.site_title = _("Grid governance")
admin.site.index_title = _("Administration")


@admin.register(Subdistrict)
class SubdistrictAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "subdistrict"]
    list_filter = ["subdistrict"]
    list_select_related = ["subdistrict"]
    search_fields = ["name", "code"]
    autocomplete_fields = ["subdistrict"]


@admin.register(Grid)
class GridAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "community"]
    list_filter = ["community__subdistrict"]
    list_select_related = ["community"]
    search_fields = ["name", "code", "community__name"]
    autocomplete_fields = ["community"]


@admin.register(Building)
class BuildingAdmin(admin.ModelAdmin):
    list_display = ["name", "address", "grid"]
    list_filter = ["grid__community__subdistrict"]
    list_select_related = ["grid"]
    search_fields = ["name", "address", "grid__name", "grid__code"]
    autocomplete_fields = ["grid"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "subdistrict"]
    list_filter = ["subdistrict"]
    list_select_related = ["subdistrict"]
    search_fields = ["name"]
    autocomplete_fields = ["subdistrict"]


class PostInline(admin.TabularInline):
    model = Post
    extra = 0
    autocomplete_fields = ["grid", "community", "subdistrict", "department"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "phone", "is_active", "is_superuser"]
    list_filter = ["is_active", "is_superuser", "is_party_member", "is_volunteer", "posts__role"]
    search_fields = ["username", "first_name", "last_name", "phone", "email"]
    autocomplete_fields = ["home_building"]
    inlines = [PostInline]
    fieldsets = BaseUserAdmin.fieldsets + (
        (
            _("Grid governance"),
            {"fields": ["phone", "home_building", "is_party_member", "is_volunteer"]},
        ),
    )


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "grid", "community", "subdistrict", "department"]
    list_filter = ["role"]
    list_select_related = ["user", "grid", "community", "subdistrict", "department"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    autocomplete_fields = ["user", "grid", "community", "subdistrict", "department"]
