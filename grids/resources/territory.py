"""The territory's resources: subdistricts, communities, grids, buildings, departments."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from import_export import fields, widgets
from import_export.instance_loaders import CachedInstanceLoader

from ..models import Building, Community, Department, Grid, Subdistrict
from ..units import save_unit
from .base import CodeWidget, UnitResource, cell_text, in_chunks, spreadsheet_safe, text_field


class SubdistrictResource(UnitResource):
    code = text_field("code")
    name = text_field("name")

    class Meta(UnitResource.Meta):
        model = Subdistrict
        name = gettext_lazy("Subdistricts (code, name)")
        fields = ("code", "name")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name"]


class MovableUnitResource(UnitResource):
    """Communities and grids: a row naming another parent moves the unit, and its open
    issues follow in the import's transaction (``grids.units.save_unit``)."""

    def save_instance(self, instance, is_create, row, **kwargs):
        if is_create:
            return super().save_instance(instance, is_create, row, **kwargs)
        self.before_save_instance(instance, row, **kwargs)
        save_unit(instance, actor=kwargs.get("user"))
        self.after_save_instance(instance, row, **kwargs)


class CommunityResource(MovableUnitResource):
    code = text_field("code")
    name = text_field("name")
    subdistrict = fields.Field(
        attribute="subdistrict",
        column_name="subdistrict_code",
        widget=CodeWidget(Subdistrict, gettext_lazy("subdistrict")),
    )

    class Meta(MovableUnitResource.Meta):
        model = Community
        name = gettext_lazy("Communities (code, name, subdistrict_code)")
        fields = ("code", "name", "subdistrict")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name", "subdistrict_code"]

    def get_queryset(self):
        return Community.objects.select_related("subdistrict")


class GridResource(MovableUnitResource):
    code = text_field("code")
    name = text_field("name")
    community = fields.Field(
        attribute="community",
        column_name="community_code",
        widget=CodeWidget(Community, gettext_lazy("community")),
    )

    class Meta(MovableUnitResource.Meta):
        model = Grid
        name = gettext_lazy("Grids (code, name, community_code)")
        fields = ("code", "name", "community")
        import_id_fields = ("code",)
        instance_loader_class = CachedInstanceLoader

    def required_columns(self):
        return ["code", "name", "community_code"]

    def get_queryset(self):
        return Grid.objects.select_related("community").defer("boundary")


class BuildingResource(UnitResource):
    """Buildings by grid code and name.

    ``community_code`` is what the source register says; when it names another community
    than the grid's, the building is still imported into the grid, and the disagreement is
    kept (``stated_community``) for the coverage page to list until someone settles it.
    """

    key_columns = ("grid_code", "name")

    grid = fields.Field(
        attribute="grid", column_name="grid_code", widget=CodeWidget(Grid, gettext_lazy("grid"))
    )
    name = text_field("name")
    address = text_field("address")
    stated_community = fields.Field(
        attribute="stated_community",
        column_name="community_code",
        widget=CodeWidget(Community, gettext_lazy("community"), required=False),
    )
    # Optional: the building's point (WGS-84), so issues filed for it land on the map.
    latitude = fields.Field(
        attribute="latitude", column_name="latitude", widget=widgets.DecimalWidget()
    )
    longitude = fields.Field(
        attribute="longitude", column_name="longitude", widget=widgets.DecimalWidget()
    )

    class Meta(UnitResource.Meta):
        model = Building
        name = gettext_lazy(
            "Buildings (grid_code, name, address, community_code, latitude, longitude)"
        )
        fields = ("grid", "name", "address", "stated_community", "latitude", "longitude")

    def required_columns(self):
        return ["grid_code", "name"]

    def get_queryset(self):
        return Building.objects.select_related("grid__community", "stated_community").defer(
            "grid__boundary"
        )

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        grids = self._parents.get("grid_code", {})
        self._existing = {
            (b.grid.code, b.name): b
            for b in in_chunks(self.get_queryset(), "grid_id", [g.pk for g in grids.values()])
        }

    def get_instance(self, instance_loader, row):
        return self._existing.get((cell_text(row.get("grid_code")), cell_text(row.get("name"))))

    def import_instance(self, instance, row, **kwargs):
        super().import_instance(instance, row, **kwargs)
        # Only a disagreement is worth keeping.
        if instance.stated_community_id == instance.grid.community_id:
            instance.stated_community = None

    def dehydrate_stated_community(self, building):
        community = building.stated_community or (
            building.grid.community if building.grid_id else None
        )
        return spreadsheet_safe(community.code if community else "")


class DepartmentResource(UnitResource):
    key_columns = ("subdistrict_code", "name")

    subdistrict = fields.Field(
        attribute="subdistrict",
        column_name="subdistrict_code",
        widget=CodeWidget(Subdistrict, gettext_lazy("subdistrict")),
    )
    name = text_field("name")

    class Meta(UnitResource.Meta):
        model = Department
        name = gettext_lazy("Departments (subdistrict_code, name)")
        fields = ("subdistrict", "name")

    def required_columns(self):
        return ["subdistrict_code", "name"]

    def get_queryset(self):
        return Department.objects.select_related("subdistrict")

    def before_import(self, dataset, **kwargs):
        super().before_import(dataset, **kwargs)
        subdistricts = self._parents.get("subdistrict_code", {})
        ids = [sub.pk for sub in subdistricts.values()]
        self._existing = {
            (d.subdistrict.code, d.name): d
            for d in in_chunks(self.get_queryset(), "subdistrict_id", ids)
        }

    def get_instance(self, instance_loader, row):
        key = (cell_text(row.get("subdistrict_code")), cell_text(row.get("name")))
        return self._existing.get(key)
