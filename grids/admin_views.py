"""Admin views beyond the model pages: all-or-nothing import/export, and the coverage page."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import tablib
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path as url_path
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from import_export.admin import ExportMixin as BaseExportMixin
from import_export.admin import ImportExportMixin as BaseImportExportMixin
from import_export.formats import base_formats
from import_export.forms import ExportForm
from import_export.tmp_storages import MediaStorage

from issues.tasks import enqueue

from . import boundaries, geo, units
from .imports import expire_unconfirmed, read_progress, run_import_job
from .models import Building, Grid, ImportJob, Post

# --- file formats -------------------------------------------------------------------------


class CSV(base_formats.CSV):
    """CSV as Chinese offices write it: UTF-8 (with or without the BOM Excel adds), or
    GB18030 (Excel's "CSV" on Chinese Windows). Exported with a BOM so Excel reads UTF-8."""

    def is_binary(self):
        # Read bytes and decode here, so that the encoding can be guessed.
        return True

    def get_read_mode(self):
        return "rb"

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode("utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("gb18030")
        return tablib.import_set(in_stream, format="csv", **kwargs)

    def export_data(self, dataset, **kwargs):
        return super().export_data(dataset, **kwargs).encode("utf-8-sig")


FORMATS = [CSV, base_formats.XLSX]


class ExportMixin(BaseExportMixin):
    """Export to CSV or Excel, every column of the resource (no inline-script field picker,
    which the Content Security Policy would block)."""

    export_formats = FORMATS
    export_form_class = ExportForm

    def has_export_permission(self, request):
        return self.has_view_permission(request)


class ImportExportMixin(BaseImportExportMixin):
    """Import that is all or nothing, runs as a task whatever the file's size, and is safe
    on several app hosts (``grids.imports``).

    - The upload is kept in the import storage, shared by every app host (never served),
      and an ``ImportJob`` is handed to the task worker, which checks every row; the job's
      page shows a progress bar meanwhile.
    - A file with any bad row is refused, every bad row named; a good one waits for the
      administrator's confirmation, then is imported by the task worker in one transaction
      that rolls back on any bad row (rows can turn bad between the check and the import,
      e.g. a parent deleted meanwhile).
    """

    import_formats = FORMATS
    export_formats = FORMATS
    export_form_class = ExportForm
    tmp_storage_class = MediaStorage

    def has_import_permission(self, request):
        # An import adds and changes rows: it needs both permissions, not just admin access.
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def get_urls(self):
        info = self.get_model_info()
        return [
            url_path(
                "import/<int:job_id>/",
                self.admin_site.admin_view(self.import_job_view),
                name="{}_{}_import_job".format(*info),
            ),
            url_path(
                "import/<int:job_id>/confirm/",
                self.admin_site.admin_view(self.confirm_import_job),
                name="{}_{}_import_confirm".format(*info),
            ),
            *super().get_urls(),
        ]

    def _import_url(self):
        return reverse("admin:{}_{}_import".format(*self.get_model_info()))

    def _job_url(self, job):
        return reverse("admin:{}_{}_import_job".format(*self.get_model_info()), args=[job.pk])

    def import_action(self, request, **kwargs):
        """The upload form; a valid upload becomes a job for the task worker."""
        if request.method != "POST" or not self.has_import_permission(request):
            return super().import_action(request, **kwargs)
        form = self.create_import_form(request)
        if not form.is_valid():
            return super().import_action(request, **kwargs)  # the form with its errors
        index = int(form.cleaned_data["format"])
        upload = form.cleaned_data["import_file"]
        expire_unconfirmed()  # files checked long ago and never confirmed
        waiting = self.write_to_tmp_storage(upload, self.get_import_formats()[index]())
        job = ImportJob.objects.create(
            model=self.model._meta.label_lower,
            resource=int(form.cleaned_data.get("resource") or 0),
            format=index,
            file_name=waiting.name,
            original_name=upload.name[:255],
            stage=ImportJob.Stage.CHECK,
            state=ImportJob.State.QUEUED,
            created_by=request.user,
        )
        enqueue(run_import_job, job.pk)  # the job is saved (no transaction is open here)
        return HttpResponseRedirect(self._job_url(job))

    def _job(self, request, job_id):
        if not self.has_import_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportJob, pk=job_id, model=self.model._meta.label_lower)

    def import_job_view(self, request, job_id):
        """Where a job stands: a progress bar while it waits or runs (the page reloads
        itself), then the bad rows, or the confirmation, or what was imported."""
        job = self._job(request, job_id)
        progress = read_progress(job) if job.waiting else None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import"),
            "opts": self.model._meta,
            "job": job,
            "progress": progress,
            "percent": int(100 * progress[0] / progress[1]) if progress and progress[1] else 0,
            "import_url": self._import_url(),
            "keep_hours": settings.IMPORT_KEEP_HOURS,
            "changelist_url": reverse("admin:{}_{}_changelist".format(*self.get_model_info())),
            "confirm_url": reverse(
                "admin:{}_{}_import_confirm".format(*self.get_model_info()), args=[job.pk]
            ),
        }
        return TemplateResponse(request, "admin/import_job.html", context)

    def confirm_import_job(self, request, job_id):
        """The administrator confirms a checked file: the task worker imports it. A second
        confirmation (a double click) finds the job under way and changes nothing."""
        if request.method != "POST":
            return HttpResponseRedirect(self._job_url(self._job(request, job_id)))
        job = self._job(request, job_id)
        # One confirmation moves the job on; a second finds it moved.
        confirmed = ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.CHECKED).update(
            stage=ImportJob.Stage.IMPORT, state=ImportJob.State.QUEUED, result={}
        )
        if confirmed:
            enqueue(run_import_job, job.pk)
        return HttpResponseRedirect(self._job_url(job))

    def process_import(self, request, **kwargs):
        # The library's confirmation step: confirmations go to the job now.
        return HttpResponseRedirect(self._import_url())


# --- coverage (一网覆盖) ----------------------------------------------------------------

SECTION_LIMIT = 100


@dataclass
class Gap:
    """One line of the coverage page: what is missing, and where it is put right."""

    label: str
    context: str
    fix_url: str
    fix_label: str
    change_url: str = ""


@dataclass
class Section:
    key: str
    title: str
    explanation: str
    all_url: str
    count: int = 0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.gaps)


def _active_posts(**filters):
    return Post.objects.filter(user__is_active=True, **filters)


def _add_post_url(role: str, unit_field: str, pk: int) -> str:
    return reverse("admin:grids_post_add") + "?" + urlencode({"role": role, unit_field: pk})


def _section(key, title, explanation, queryset, all_url, make_gap) -> Section:
    section = Section(key=key, title=title, explanation=explanation, all_url=all_url)
    section.count = queryset.count()
    if section.count:
        section.gaps = [make_gap(obj) for obj in queryset[:SECTION_LIMIT]]
    return section


# What an unstaffed unit means and how it is put right, kind by kind (in the page's order).
UNSTAFFED = {
    "grid": (
        gettext_lazy("Grids with no grid worker"),
        gettext_lazy("Nobody walks these grids; their issues reach no one until they climb."),
        gettext_lazy("Add a grid worker"),
    ),
    "community": (
        gettext_lazy("Communities with no staff"),
        gettext_lazy("Urgent matters escalated here have nobody to handle them."),
        gettext_lazy("Add community staff"),
    ),
    "subdistrict": (
        gettext_lazy("Subdistricts with no staff"),
        gettext_lazy("Difficult matters escalated here have nobody to handle or dispatch them."),
        gettext_lazy("Add subdistrict staff"),
    ),
    "department": (
        gettext_lazy("Departments with no staff"),
        gettext_lazy("Issues dispatched to these departments reach no one."),
        gettext_lazy("Add department staff"),
    ),
}


def _unstaffed_section(kind: units.UnitKind, title, explanation, fix_label) -> Section:
    """Units of ``kind`` where no active person holds the post the kind takes."""
    admin_name = f"admin:grids_{kind.model._meta.model_name}"
    above = list(reversed(kind.ancestors()))
    paths = [kind.path_to(ancestor) for ancestor in above]
    queryset = kind.model.objects.filter(
        ~Exists(_active_posts(**{kind.field: OuterRef("pk")}, role=kind.role))
    )
    if paths:  # (an empty select_related() would follow every key)
        queryset = queryset.select_related(*paths)

    def gap(unit) -> Gap:
        code = getattr(unit, "code", "")
        parents = []
        for path in paths:
            parent = unit
            for name in path.split("__"):
                parent = getattr(parent, name)
            parents.append(parent.name)
        return Gap(
            label=f"{unit.name} ({code})" if code else unit.name,
            context=" · ".join(parents),
            fix_url=_add_post_url(kind.role, kind.field, unit.pk),
            fix_label=fix_label,
            change_url=reverse(f"{admin_name}_change", args=[unit.pk]),
        )

    return _section(
        kind.scope_set,
        title,
        explanation,
        queryset,
        reverse(f"{admin_name}_changelist") + "?staffing=none",
        gap,
    )


def coverage_sections() -> list[Section]:
    """What breaks "one network covers everything" (一网覆盖), in two queries a kind.

    Buildings stated to be in another community: the building import takes the
    community the source register names besides the grid. Rejecting such a row would
    lose the building (and the register's claim); importing it silently would hide the
    disagreement. So the import puts the building in its grid and keeps the stated
    community (``Building.stated_community``), and this page lists every building whose
    grid belongs to another community until an administrator moves the building or clears
    the field.
    """
    from issues.models import Category

    sections = [_unstaffed_section(units.KINDS[key], *texts) for key, texts in UNSTAFFED.items()]
    sections += [
        _section(
            "buildings",
            _("Buildings whose grid belongs to another community than the import stated"),
            _(
                "The import file named one community, the building's grid belongs to "
                "another. Move the building to a grid of the right community, or clear "
                "“community stated in import” once checked."
            ),
            Building.objects.filter(stated_community__isnull=False)
            .exclude(stated_community=F("grid__community"))
            .select_related("grid__community", "stated_community"),
            reverse("admin:grids_building_changelist") + "?stated=mismatch",
            lambda b: Gap(
                label=b.name,
                context=_("in grid %(grid)s of %(community)s; the import said %(stated)s")
                % {
                    "grid": b.grid.name,
                    "community": b.grid.community.name,
                    "stated": b.stated_community.name,
                },
                fix_url=reverse("admin:grids_building_change", args=[b.pk]),
                fix_label=_("Fix the building"),
            ),
        ),
        _section(
            "categories",
            _("Categories with no default department"),
            _("The subdistrict must choose a department by hand for every such issue."),
            Category.objects.filter(department__isnull=True),
            reverse("admin:issues_category_changelist") + "?department__isnull=True",
            lambda c: Gap(
                label=c.name,
                context="" if c.is_active else _("inactive"),
                fix_url=reverse("admin:issues_category_change", args=[c.pk]),
                fix_label=_("Choose a department"),
            ),
        ),
    ]
    return sections[:1] + geometry_sections() + sections[1:] + calendar_sections()


def calendar_sections(today=None) -> list[Section]:
    """The working calendar that working-day deadlines count on: this year must have its
    holidays, and from 1 December next year's too (the State Council publishes them in
    the autumn). A missing year counts weekends only, so a deadline would fall on 国庆."""
    from issues.models import Holiday

    today = today or timezone.localdate()
    wanted = [today.year] + ([today.year + 1] if today.month == 12 else [])
    present = set(
        Holiday.objects.filter(date__year__in=wanted).values_list("date__year", flat=True)
    )
    missing = [year for year in wanted if year not in present]
    add_url = reverse("admin:issues_holiday_add")
    return [
        _listed(
            "calendar",
            _("Years missing from the working calendar"),
            _(
                "Working-day deadlines count only weekends in these years: enter the public "
                "holidays and make-up working days (the README says how to import a year)."
            ),
            reverse("admin:issues_holiday_changelist"),
            missing,
            lambda year: Gap(
                label=str(year),
                context=_("no holidays or make-up days entered"),
                fix_url=add_url,
                fix_label=_("Add the year's days"),
            ),
        )
    ]


def _listed(key, title, explanation, all_url, findings, make_gap) -> Section:
    section = Section(key=key, title=title, explanation=explanation, all_url=all_url)
    section.count = len(findings)
    section.gaps = [make_gap(f) for f in findings[:SECTION_LIMIT]]
    return section


def geometry_sections() -> list[Section]:
    """Seamless coverage, checked on the map: grids with no boundary, grids that overlap,
    holes inside a community's outline, and buildings whose point is outside their grid.
    The shapes are read once and compared in memory (``grids.geo``)."""
    grids = list(Grid.objects.select_related("community__subdistrict").order_by("code"))
    buildings = Building.objects.filter(latitude__isnull=False).select_related("grid")
    changelist = reverse("admin:grids_grid_changelist")

    def grid_url(grid):
        return reverse("admin:grids_grid_change", args=[grid.pk])

    def where(grid):
        return f"{grid.community.subdistrict.name} · {grid.community.name}"

    return [
        _listed(
            "no_boundary",
            _("Grids without a boundary"),
            _("Points in these grids cannot be routed, and the maps do not draw them."),
            changelist + "?boundary=none",
            [g for g in grids if not g.boundary],
            lambda g: Gap(
                label=f"{g.name} ({g.code})",
                context=where(g),
                fix_url=grid_url(g),
                fix_label=_("Draw the boundary"),
                change_url=grid_url(g),
            ),
        ),
        _listed(
            "overlaps",
            _("Grids that overlap"),
            _("A place in both belongs to the grid with the lower code; fix one boundary."),
            changelist,
            geo.overlaps(grids),
            lambda o: Gap(
                label=f"{o['first'].name} ({o['first'].code}) ∩ "
                f"{o['second'].name} ({o['second'].code})",
                context=_("%(area)s m² overlap") % {"area": o["area_m2"]},
                fix_url=grid_url(o["second"]),
                fix_label=_("Fix the boundary of %(grid)s") % {"grid": o["second"].code},
                change_url=grid_url(o["first"]),
            ),
        ),
        _listed(
            "holes",
            _("Holes inside a community's outline"),
            _("Nobody's grid covers these places: a report there is refused."),
            changelist,
            geo.holes(grids),
            lambda h: Gap(
                label=_("%(area)s m² at %(lat)s, %(lng)s")
                % {"area": h["area_m2"], "lat": h["lat"], "lng": h["lng"]},
                context=where(h["grid"]),
                fix_url=grid_url(h["grid"]),
                fix_label=_("Widen %(grid)s") % {"grid": h["grid"].code},
            ),
        ),
        _listed(
            "misplaced_buildings",
            _("Buildings outside their grid"),
            _("The building's point lies outside the grid it belongs to."),
            reverse("admin:grids_building_changelist"),
            geo.misplaced_buildings(grids, buildings),
            lambda m: Gap(
                label=m["building"].name,
                context=(
                    _("in grid %(grid)s; its point lies in %(other)s")
                    % {"grid": m["building"].grid.code, "other": m["lies_in"].code}
                    if m["lies_in"]
                    else _("in grid %(grid)s; its point lies outside every grid")
                    % {"grid": m["building"].grid.code}
                ),
                fix_url=reverse("admin:grids_building_change", args=[m["building"].pk]),
                fix_label=_("Fix the building"),
                change_url=grid_url(m["building"].grid),
            ),
        ),
    ]


def coverage_view(request, admin_site):
    """一网覆盖: every gap in the network, each with a link to where it is fixed."""
    if not request.user.has_perm("grids.view_grid"):
        raise PermissionDenied
    sections = coverage_sections()
    context = {
        **admin_site.each_context(request),
        "title": _("Network coverage"),
        "sections": sections,
        "gap_total": sum(s.count for s in sections),
        "section_limit": SECTION_LIMIT,
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/coverage.html", context)


# --- grid boundaries (GeoJSON) -----------------------------------------------------------


class BoundaryFileForm(forms.Form):
    file = forms.FileField(
        label=_("GeoJSON file"),
        help_text=_(
            "A FeatureCollection with one Feature per grid: properties.code names the grid, "
            "the geometry is a Polygon or MultiPolygon in WGS-84, longitude first."
        ),
    )


def boundary_import_view(request, admin_site):
    """Check a boundary file (dry run), then import it; a file with a bad feature imports
    nothing and names every bad feature."""
    if not request.user.has_perm("grids.change_grid"):
        raise PermissionDenied
    checked = None
    form = BoundaryFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        checked = boundaries.check(form.cleaned_data["file"].read())
        if "import" in request.POST and checked.ok:
            count = boundaries.apply(checked)
            messages.success(request, _("Imported the boundaries of %(n)d grids.") % {"n": count})
            return HttpResponseRedirect(reverse("admin:grids_grid_changelist"))
    context = {
        **admin_site.each_context(request),
        "title": _("Import grid boundaries (GeoJSON)"),
        "form": form,
        "checked": checked,
        "opts": Grid._meta,
    }
    request.current_app = admin_site.name
    return TemplateResponse(request, "admin/grids/boundary_import.html", context)


def boundary_export_view(request):
    if not request.user.has_perm("grids.view_grid"):
        raise PermissionDenied
    response = JsonResponse(
        boundaries.export(Grid.objects.all()), json_dumps_params={"ensure_ascii": False}
    )
    response["Content-Disposition"] = 'attachment; filename="grid-boundaries.geojson"'
    return response
