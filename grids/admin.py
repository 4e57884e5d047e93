"""The territory and its people in the Django admin.

Administrators set up the grid network here (一网覆盖: every building in one grid, every
grid with a worker): each list shows what matters about a unit (its parent, how many
children, open issues and staff it has), counted in the list's one query with
subqueries, so a page costs the same number of queries whatever the number of rows.
Files come in and go out through django-import-export (``grids.resources``); the coverage
page (``grids.admin_views.coverage_view``) lists what is missing.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from issues.models import OPEN_STATUSES, Issue

from . import units
from .admin_views import (
    ImportExportMixin,
    boundary_export_view,
    boundary_import_view,
    coverage_view,
)
from .forms import MobileField, PhoneCleanMixin
from .models import Building, Community, Department, Grid, ImportJob, Post, Subdistrict, User
from .resources import (
    BuildingResource,
    CommunityResource,
    DepartmentResource,
    GridResource,
    PostResource,
    SubdistrictResource,
)
from .templatetags.maps import map_config

admin.site.site_header = _("Grid governance administration")
admin.site.site_title = _("Grid governance")
admin.site.index_title = _("Administration")


def count_of(model, outer: str, **filters):
    """How many ``model`` rows point at the outer row: a correlated subquery.

    Subqueries, not ``Count`` over joins: two counts over joins multiply each other's rows.
    """
    rows = (
        model.objects.filter(**{outer: OuterRef("pk")}, **filters)
        .order_by()
        .values(outer)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def unit_counts(model) -> dict:
    """The open issues and the staff (active people holding a post) of each unit."""
    kind = units.of_unit(model)
    return {
        "n_open": count_of(Issue, kind.field, status__in=OPEN_STATUSES),
        "n_staff": count_of(Post, kind.field, role=kind.role, user__is_active=True),
    }


def gap(text):
    """A gap in the network, shown with the admin's warning icon."""
    return format_html(
        '<strong><img src="{}" alt=""> {}</strong>', static("admin/img/icon-alert.svg"), text
    )


class StaffingFilter(admin.SimpleListFilter):
    """Units with or without staff (an active person holding a post on the unit)."""

    title = _("staffing")
    parameter_name = "staffing"

    def lookups(self, request, model_admin):
        return [("none", _("Nobody")), ("some", _("Staffed"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(n_staff=0)
        if self.value() == "some":
            return queryset.filter(n_staff__gt=0)
        return queryset


class BoundaryWidget(forms.Textarea):
    """Paste a GeoJSON boundary; a map below draws it as it is typed (no tiles needed)."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"rows": 6, "cols": 80, "data-boundary-input": "", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        textarea = super().render(name, value, attrs, renderer)
        return format_html(
            '{}<div class="map-box" id="boundary-preview" data-for="{}" '
            'data-text-invalid="{}"></div><p class="help" id="boundary-preview-status" '
            'aria-live="polite"></p>{}',
            textarea,
            (attrs or {}).get("id", ""),
            _("Not valid GeoJSON yet: the map shows the last valid shape."),
            map_config({"user": None}),
        )

    @property
    def media(self):
        return forms.Media(
            css={"all": ["vendor/leaflet-1.9.4/leaflet.css", "css/map.css"]},
            js=["vendor/leaflet-1.9.4/leaflet.js", "js/map.js", "js/boundary-preview.js"],
        )


class BoundaryFilter(admin.SimpleListFilter):
    """Grids with or without a boundary drawn."""

    title = _("boundary")
    parameter_name = "boundary"

    def lookups(self, request, model_admin):
        return [("none", _("Not drawn")), ("some", _("Drawn"))]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(min_lat__isnull=True)
        if self.value() == "some":
            return queryset.filter(min_lat__isnull=False)
        return queryset


class CountColumns:
    """Sortable list columns over the counts that ``get_queryset`` annotates."""

    @admin.display(description=_("communities"), ordering="n_communities")
    def communities_count(self, obj):
        return obj.n_communities

    @admin.display(description=_("grids"), ordering="n_grids")
    def grids_count(self, obj):
        return obj.n_grids

    @admin.display(description=_("buildings"), ordering="n_buildings")
    def buildings_count(self, obj):
        return obj.n_buildings

    @admin.display(description=_("open issues"), ordering="n_open")
    def open_issues(self, obj):
        return obj.n_open

    @admin.display(description=_("staff"), ordering="n_staff")
    def staff_count(self, obj):
        return obj.n_staff if obj.n_staff else gap(_("nobody"))


class TerritoryAdmin(ImportExportMixin, CountColumns, admin.ModelAdmin):
    """Import/export by code, and the columns every unit list shares."""

    list_per_page = 100
    export_select_related: tuple[str, ...] = ()

    def get_export_queryset(self, request):
        queryset = super().get_export_queryset(request)
        if self.export_select_related:  # (an empty select_related() would follow every key)
            queryset = queryset.select_related(*self.export_select_related)
        return queryset


class MovableUnitAdmin(TerritoryAdmin):
    """Communities and grids: moving one to another parent takes its open issues along,
    in the change form's transaction (``grids.units.save_unit``)."""

    def save_model(self, request, obj, form, change):
        units.save_unit(obj, actor=request.user)


# --- the hierarchy ------------------------------------------------------------------------


class CommunityInline(admin.TabularInline):
    model = Community
    fields = ["name", "code"]
    extra = 0
    show_change_link = True


class DepartmentInline(admin.TabularInline):
    model = Department
    fields = ["name"]
    extra = 0
    show_change_link = True


@admin.register(Subdistrict)
class SubdistrictAdmin(TerritoryAdmin):
    list_display = [
        "name",
        "code",
        "communities_count",
        "grids_count",
        "open_issues",
        "staff_count",
    ]
    list_filter = [StaffingFilter]
    search_fields = ["name", "code"]
    inlines = [CommunityInline, DepartmentInline]
    resource_classes = [SubdistrictResource]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_communities=count_of(Community, "subdistrict"),
                n_grids=count_of(Grid, units.KINDS["grid"].path_to(units.KINDS["subdistrict"])),
                **unit_counts(Subdistrict),
            )
        )


class GridInline(admin.TabularInline):
    model = Grid
    fields = ["name", "code"]
    extra = 0
    show_change_link = True


@admin.register(Community)
class CommunityAdmin(MovableUnitAdmin):
    list_display = ["name", "code", "subdistrict", "grids_count", "open_issues", "staff_count"]
    list_filter = [StaffingFilter, "subdistrict"]
    list_select_related = ["subdistrict"]
    search_fields = ["name", "code", "subdistrict__name"]
    autocomplete_fields = ["subdistrict"]
    inlines = [GridInline]
    resource_classes = [CommunityResource]
    export_select_related = ("subdistrict",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_grids=count_of(Grid, "community"),
                **unit_counts(Community),
            )
        )


class BuildingInline(admin.TabularInline):
    model = Building
    fields = ["name", "address"]
    extra = 0
    show_change_link = True


@admin.register(Grid)
class GridAdmin(MovableUnitAdmin):
    list_display = [
        "name",
        "code",
        "community",
        "buildings_count",
        "open_issues",
        "grid_workers",
    ]
    list_filter = [StaffingFilter, BoundaryFilter, "community__subdistrict"]
    list_select_related = ["community"]
    search_fields = ["name", "code", "community__name", "community__code"]
    autocomplete_fields = ["community"]
    inlines = [BuildingInline]
    resource_classes = [GridResource]
    export_select_related = ("community",)

    def get_queryset(self, request):
        workers = Post.objects.filter(
            role=Post.Role.GRID_WORKER, user__is_active=True
        ).select_related("user")
        # The list, the pickers and the export name grids; the change form reads the
        # boundary it draws when it draws it (one query).
        return (
            super()
            .get_queryset(request)
            .defer("boundary")
            .annotate(
                n_buildings=count_of(Building, "grid"),
                **unit_counts(Grid),
            )
            .prefetch_related(Prefetch("posts", queryset=workers, to_attr="worker_posts"))
        )

    @admin.display(description=_("grid workers"), ordering="n_staff")
    def grid_workers(self, grid):
        if not grid.worker_posts:
            return gap(_("no grid worker"))
        return format_html_join(
            ", ", "{}", ((p.user.get_full_name() or p.user.username,) for p in grid.worker_posts)
        )

    def get_urls(self):
        site = self.admin_site
        return [
            path(
                "coverage/",
                site.admin_view(lambda request: coverage_view(request, site)),
                name="coverage",
            ),
            path(
                "boundaries/import/",
                site.admin_view(lambda request: boundary_import_view(request, site)),
                name="grids_grid_boundary_import",
            ),
            path(
                "boundaries.geojson",
                site.admin_view(boundary_export_view),
                name="grids_grid_boundary_export",
            ),
        ] + super().get_urls()

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "boundary":
            kwargs["widget"] = BoundaryWidget
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class StatedCommunityFilter(admin.SimpleListFilter):
    title = _("community stated in import")
    parameter_name = "stated"

    def lookups(self, request, model_admin):
        return [("mismatch", _("Differs from the grid's community"))]

    def queryset(self, request, queryset):
        if self.value() == "mismatch":
            return queryset.filter(stated_community__isnull=False).exclude(
                stated_community=F("grid__community")
            )
        return queryset


@admin.register(Building)
class BuildingAdmin(TerritoryAdmin):
    list_display = ["name", "address", "grid", "community", "stated"]
    list_filter = [StatedCommunityFilter, "grid__community__subdistrict"]
    list_select_related = ["grid__community", "stated_community"]
    search_fields = ["name", "address", "grid__name", "grid__code"]
    autocomplete_fields = ["grid", "stated_community"]
    resource_classes = [BuildingResource]
    export_select_related = ("grid__community", "stated_community")

    def get_queryset(self, request):
        return super().get_queryset(request).defer("grid__boundary")

    @admin.display(description=_("community"), ordering="grid__community__name")
    def community(self, building):
        return building.grid.community

    @admin.display(description=_("community stated in import"))
    def stated(self, building):
        stated = building.stated_community
        if stated is None or stated.pk == building.grid.community_id:
            return ""
        return gap(stated.name)


@admin.register(Department)
class DepartmentAdmin(TerritoryAdmin):
    list_display = ["name", "subdistrict", "open_issues", "staff_count"]
    list_filter = [StaffingFilter, "subdistrict"]
    list_select_related = ["subdistrict"]
    search_fields = ["name", "subdistrict__name"]
    autocomplete_fields = ["subdistrict"]
    resource_classes = [DepartmentResource]
    export_select_related = ("subdistrict",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                **unit_counts(Department),
            )
        )


# --- people -------------------------------------------------------------------------------


class PostForm(forms.ModelForm):
    """A post names the one unit its role takes; say which field is wrong, in words."""

    class Meta:
        model = Post
        fields = ["role", "grid", "community", "subdistrict", "department", "is_full_time"]

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if not role:
            return cleaned
        wanted = units.of_role(role).field
        if not cleaned.get(wanted) and wanted not in self.errors:
            self.add_error(
                wanted,
                forms.ValidationError(
                    _("A %(role)s's post names a %(unit)s: choose it here.")
                    % {
                        "role": Post.Role(role).label,
                        "unit": Post._meta.get_field(wanted).verbose_name,
                    },
                    code="unit_required",
                ),
            )
        for other in (kind.field for kind in units.KINDS.values()):
            if other != wanted and cleaned.get(other):
                self.add_error(
                    other,
                    forms.ValidationError(
                        _("Leave this empty: a %(role)s's post names a %(unit)s.")
                        % {
                            "role": Post.Role(role).label,
                            "unit": Post._meta.get_field(wanted).verbose_name,
                        },
                        code="unit_not_for_role",
                    ),
                )
        return cleaned


class PostInline(admin.TabularInline):
    model = Post
    form = PostForm
    extra = 0
    autocomplete_fields = ["grid", "community", "subdistrict", "department"]

    def get_extra(self, request, obj=None, **kwargs):
        # A new staff member gets an empty post row to fill in on the same page.
        return 1 if obj is None else 0

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("grid", "community", "subdistrict", "department")
            .defer("grid__boundary")
        )


class StaffCreationForm(PhoneCleanMixin, AdminUserCreationForm):
    """A person's account made by an administrator: login name, password and the one 姓名
    field (required: pages show people by name, never by login name)."""

    phone = MobileField(required=False, help_text="")

    class Meta(AdminUserCreationForm.Meta):
        model = User

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["first_name"].required = True


class PersonChangeForm(PhoneCleanMixin, UserChangeForm):
    phone = MobileField(required=False, help_text="")

    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = StaffCreationForm
    form = PersonChangeForm
    list_display = [
        "username",
        "full_name",
        "phone",
        "post_list",
        "is_party_member",
        "is_volunteer",
        "is_active",
        "is_staff",
    ]
    list_filter = [
        "is_active",
        "is_party_member",
        "is_volunteer",
        "posts__role",
        "is_staff",
        "is_superuser",
    ]
    search_fields = ["username", "first_name", "phone", "email"]
    autocomplete_fields = ["home_building"]
    readonly_fields = ["email_confirmed"]
    inlines = [PostInline]
    actions = ["deactivate"]
    # One 姓名 field (first_name holds the whole name; last_name is not used).
    fieldsets = (
        (None, {"fields": ["username", "password"]}),
        (_("Person"), {"fields": ["first_name", "phone", "email", "email_confirmed"]}),
        *BaseUserAdmin.fieldsets[2:],
        (
            _("Grid governance"),
            {"fields": ["home_building", "is_party_member", "is_volunteer"]},
        ),
    )
    # Creating a staff member and their post in one page: the person here, the post in the
    # inline below.
    add_fieldsets = BaseUserAdmin.add_fieldsets + (
        (
            _("Person"),
            {
                "classes": ("wide",),
                "fields": ["first_name", "phone", "is_party_member", "is_volunteer"],
            },
        ),
    )

    def get_queryset(self, request):
        posts = Post.objects.select_related("grid", "community", "subdistrict", "department").defer(
            "grid__boundary"
        )
        return super().get_queryset(request).prefetch_related(Prefetch("posts", queryset=posts))

    @admin.display(description=_("Full name"), ordering="first_name")
    def full_name(self, user):
        return user.get_full_name()

    @admin.display(description=_("e-mail confirmed"), boolean=True)
    def email_confirmed(self, user):
        # Mail goes to an address only once its owner opened the link sent to it.
        return bool(user.notification_email)

    @admin.display(description=_("posts"))
    def post_list(self, user):
        return format_html_join(", ", "{}", ((str(p),) for p in user.posts.all()))

    @admin.action(
        description=_("Deactivate the selected people (ends their sessions)"),
        permissions=["change"],
    )
    def deactivate(self, request, queryset):
        # One save per person, so that grids.signals ends each one's sessions.
        count = 0
        for user in queryset.filter(is_active=True).exclude(pk=request.user.pk):
            user.is_active = False
            user.save(update_fields=["is_active"])
            count += 1
        messages.success(
            request,
            ngettext("%(count)d person deactivated.", "%(count)d people deactivated.", count)
            % {"count": count},
        )


@admin.register(Post)
class PostAdmin(ImportExportMixin, admin.ModelAdmin):
    form = PostForm
    list_display = ["user", "role", "unit", "is_full_time", "user_phone"]
    list_filter = ["role", "is_full_time", ("user__is_active", admin.BooleanFieldListFilter)]
    list_select_related = ["user", "grid", "community", "subdistrict", "department__subdistrict"]
    search_fields = [
        "user__username",
        "user__first_name",
        "user__phone",
        "grid__name",
        "community__name",
        "subdistrict__name",
        "department__name",
    ]
    autocomplete_fields = ["user", "grid", "community", "subdistrict", "department"]
    resource_classes = [PostResource]
    fields = ["user", "role", "grid", "community", "subdistrict", "department", "is_full_time"]

    @admin.display(description=_("unit"))
    def unit(self, post):
        return post.unit

    @admin.display(description=_("mobile phone"), ordering="user__phone")
    def user_phone(self, post):
        return post.user.phone

    def has_import_permission(self, request):
        # The import creates and updates people too.
        return super().has_import_permission(request) and request.user.has_perms(
            ["grids.add_user", "grids.change_user"]
        )

    def get_queryset(self, request):
        return super().get_queryset(request).defer("grid__boundary")

    def get_export_queryset(self, request):
        return (
            super()
            .get_export_queryset(request)
            .select_related("user", "grid", "community", "subdistrict", "department__subdistrict")
            .defer("grid__boundary")
        )


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Every import, who uploaded it and how it ended; each opens its own page."""

    list_display = ("original_name", "what", "stage", "state", "rows", "created_by", "created_at")
    list_filter = ("state", "stage")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)

    @admin.display(description=_("what"))
    def what(self, job):
        from django.apps import apps

        try:
            return apps.get_model(job.model)._meta.verbose_name_plural
        except LookupError:
            return job.model

    def has_add_permission(self, request):
        return False  # an import starts from its model's import page

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        if job is not None:
            app_label, model_name = job.model.split(".", 1)
            try:
                url = reverse(f"admin:{app_label}_{model_name}_import_job", args=[job.pk])
            except NoReverseMatch:
                url = None
            if url:
                return HttpResponseRedirect(url)
        return super().change_view(request, object_id, form_url, extra_context)
