"""The governance dashboard: "does 小事不出网格 hold where I am responsible?"

- ``dashboard/``: the user's top unit (redirect), or a choice when they hold several.
- ``dashboard/<kind>/<pk>/``: one unit's figures, its child units ranked (drill down by
  following a row), the weekly trend and the recurrence alerts. ``?export=<table>`` returns
  that table as CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese), with the
  same filters.
- ``dashboard/public/``: subdistrict-wide counts and rates for anyone, no issue text; the
  figures come from ``issues.public_figures`` (cached for a few minutes), so a view costs
  no query over the issues.

The figures and the scope rule are in ``issues.stats``; this module parses the request and
lays the results out. A unit outside the user's scope is a 404. A unit's figures, rankings
and trend are read from the daily rollups (``issues.rollups``), so a page's cost follows
the rollup rows of its period, not the issues; a person's page is counted live.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from config.replica import reads_from_replica
from grids import units
from grids.models import Subdistrict
from grids.resources import spreadsheet_safe
from participation import stats as participation_stats

from .. import choices, public_figures, rollups, stats
from ..forms.dashboard import DashboardFilterForm, PublicFilterForm
from ..permissions import scope_of

# Columns of the ranking tables, in order (keys of stats.FIGURES).
RANKING_COLUMNS = [
    "filed",
    "minor_settled_rate",
    "urgent_settled_rate",
    "difficult_settled_rate",
    "response_rate",
    "on_time_rate",
    "satisfaction_rate",
    "patrol_rate",
    "reopen_rate",
    "overdue_now",
    "supervised",
    # The closed loop's ranking figures are the departments' (the others are on the cards
    # and in the figures' CSV of each unit: the table must fit a laptop).
    "return_rate",
    "task_on_time_rate",
    "resolve_hours_avg",
]
SORT_KEYS = {"name", *RANKING_COLUMNS}
# Rates drawn per child unit in the bar chart (the table below it has every column).
RANKING_CHART_KEYS = {
    "default": ["minor_settled_rate", "response_rate", "on_time_rate"],
    "department": ["on_time_rate", "satisfaction_rate", "reopen_rate", "return_rate"],
}


def _columns(kind: str) -> list[str]:
    """The ranking columns for child units of one kind (departments get their own figures)."""
    keys = {figure.key for figure in stats.figures_for(kind)}
    return [column for column in RANKING_COLUMNS if column in keys]


def _chart_keys(kind: str) -> list[str]:
    return RANKING_CHART_KEYS.get(kind, RANKING_CHART_KEYS["default"])


# --- helpers ----------------------------------------------------------------------------


def _filter_form(request) -> DashboardFilterForm:
    return DashboardFilterForm(request.GET, categories=choices.categories())


def _display(value, kind: str) -> str | None:
    """A figure as shown: "87.5%", "12.3 h", "42"; None when there is nothing to show."""
    if value is None:
        return None
    if kind == "rate":
        return f"{value:.1f}%"
    if kind == "hours":
        return _("%(hours)s h") % {"hours": f"{value:.1f}"}
    return str(value)


# The median figures and the duration whose histogram they are read from (rollups).
MEDIAN_FIGURES = {"accept_hours_median": "accept", "resolve_hours_median": "resolve"}


def _hours_text(hours: float) -> str:
    return f"{hours:.2f}".rstrip("0").rstrip(".")


def _median_text(found: stats.HistogramMedian) -> str:
    """A median read from the rollups' histogram: the estimate and the range it lies in."""
    if found.high is None:
        return _("over %(low)s h") % {"low": _hours_text(found.low)}
    return _("≈ %(hours)s h (between %(low)s and %(high)s h)") % {
        "hours": f"{found.hours:.1f}",
        "low": _hours_text(found.low),
        "high": _hours_text(found.high),
    }


def _text(figures: stats.Figures, figure) -> str | None:
    if figure.key in MEDIAN_FIGURES:
        found = figures.histogram_median(MEDIAN_FIGURES[figure.key])
        if found is not None:
            return _median_text(found)
    return _display(figures.value(figure.key), figure.kind)


def _cards(figures: stats.Figures, kind: str, *, public: bool = False) -> list[dict]:
    return [
        {
            "key": figure.key,
            "label": figure.label,
            "help": figure.help,
            "text": _text(figures, figure),
            "group": figure.group,
        }
        for figure in stats.figures_for(kind)
        if figure.public or not public
    ]


def _participation_cards(kind: str | None, pk, filters: stats.Filters, values=None) -> list:
    """党建引领, 志愿服务: the participants' figures of a unit (three queries), or of the
    values given (the public page's cached ones). None for a worker."""
    if kind is not None and kind not in units.KINDS:
        return []
    if values is None:
        values = participation_stats.figures(kind, pk, filters)
    return [
        {
            "key": figure.key,
            "label": figure.label,
            "help": figure.help,
            "text": _display(values[figure.key], figure.kind),
            "group": "participation",
        }
        for figure in participation_stats.FIGURES
    ]


def _funnel(figures: stats.Figures) -> list[dict]:
    return [{**stage, "share_text": _display(stage["share"], "rate")} for stage in figures.funnel()]


def _parse_sort(value: str) -> tuple[str, bool]:
    """(key, descending) from ?sort=key or ?sort=-key; unknown keys sort by name."""
    descending = value.startswith("-")
    key = value.lstrip("-")
    if key not in SORT_KEYS:
        return "name", False
    return key, descending


def _sorted(rows: list, key: str, descending: bool) -> list:
    """Rows ordered by one column; rows without a value (no issues to divide) go last."""
    present = [row for row in rows if row.value(key) is not None]
    missing = [row for row in rows if row.value(key) is None]
    present.sort(
        key=lambda row: (row.value(key), row.name) if key != "name" else row.name,
        reverse=descending,
    )
    return present + missing


def _sort_headers(columns: list[str], key: str, descending: bool, query: str) -> list[dict]:
    """Header cells: label, the link that sorts by it (toggling when already sorted), and
    the aria-sort value of the sorted column."""
    headers = []
    for column in ["name", *columns]:
        if column == "name":
            label, kind = _("Name"), "text"
        else:
            figure = stats.FIGURE_BY_KEY[column]
            label, kind = figure.label, figure.kind
        if column == key:
            aria = "descending" if descending else "ascending"
            next_sort = column if descending else f"-{column}"
        else:
            aria = ""
            next_sort = column if column == "name" else f"-{column}"
        link = "?" + "&".join(part for part in (query, urlencode({"sort": next_sort})) if part)
        headers.append(
            {
                "key": column,
                "label": label,
                "kind": kind,
                "aria_sort": aria,
                "link": link,
            }
        )
    return headers


_PLACEHOLDER = "TRACKINGNUMBER"


def _issue_link_pattern() -> str:
    """The staff issue page's URL with a placeholder for the tracking number (reversed once
    per page, not once per issue)."""
    return reverse("staff_issue_detail", args=[_PLACEHOLDER])


def _chart(kind: str, labels: list, datasets: list[tuple[str, list]], **options) -> dict:
    return {
        "type": kind,
        "labels": [str(label) for label in labels],
        "datasets": [
            {"label": str(label), "data": [None if v is None else round(v, 1) for v in data]}
            for label, data in datasets
        ],
        **options,
    }


# --- CSV ---------------------------------------------------------------------------------


def _cell(value):
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return spreadsheet_safe(str(value))


def _csv_response(filename: str, header: list, rows: list) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # Excel needs the BOM to read UTF-8
    writer = csv.writer(response)
    writer.writerow([_cell(h) for h in header])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return response


def _figure_unit(kind: str) -> str:
    return {
        "rate": "%",
        "hours": pgettext("dashboard unit of measure", "hours"),
        "count": pgettext("dashboard unit of measure", "issues"),
    }[kind]


def _export(table: str, unit: stats.Unit, filters: stats.Filters, now, sort, user) -> HttpResponse:
    figures = unit.figures
    if table == "figures":
        header = [_("Figure"), _("Value"), _("Unit"), _("How it is computed")]
        rows = [
            [f.label, figures.value(f.key), _figure_unit(f.kind), f.help]
            for f in stats.figures_for(unit.kind)
        ]
        if unit.kind in units.KINDS:  # and the party members' and volunteers' part
            values = participation_stats.figures(unit.kind, unit.pk, filters)
            rows += [
                [f.label, values[f.key], _figure_unit(f.kind), f.help]
                for f in participation_stats.FIGURES
            ]
    elif table == "funnel":
        header = [_("Stage"), _("Issues"), _("Share of filed (%)")]
        rows = [[s["label"], s["count"], s["share"]] for s in figures.funnel()]
    elif table in ("ranking", "departments"):
        tables = stats.rankings(unit, filters, now=now)
        if table not in tables:
            raise Http404
        columns = _columns("department" if table == "departments" else "")
        header = [_("Unit")] + [
            f"{stats.FIGURE_BY_KEY[c].label} ({_figure_unit(stats.FIGURE_BY_KEY[c].kind)})"
            for c in columns
        ]
        rows = [[r.name] + [r.value(c) for c in columns] for r in _sorted(tables[table], *sort)]
    elif table == "trend":
        header = [_("Week starting")] + [str(label) for _key, label in stats.TREND_SERIES]
        rows = [
            [w["week"].isoformat()] + [w[key] for key, _label in stats.TREND_SERIES]
            for w in stats.trend(unit, filters, now=now)
        ]
    elif table == "recurrence":
        header = [
            _("Grid"),
            _("Category"),
            _("Issues in the window"),
            _("Tracking number"),
            _("Title"),
            _("Filed at"),
        ]
        rows = [
            [
                group.grid_name,
                group.category_name,
                group.count,
                issue["tracking_number"],
                issue["title"],
                timezone.localtime(issue["created_at"]).strftime("%Y-%m-%d %H:%M"),
            ]
            for group in stats.recurrences(unit, filters, per_group=1000, max_rows=10_000)
            for issue in group.issues
        ]
    elif table == "unverified":
        header = [_("Tracking number"), _("Title"), _("Resolved at")]
        rows = [
            [
                issue.tracking_number,
                issue.title,
                timezone.localtime(issue.resolved_at).strftime("%Y-%m-%d %H:%M"),
            ]
            for issue in stats.unverified(user, unit.issues, filters, now=now).only(
                "tracking_number", "title", "resolved_at"
            )[:10_000]
        ]
    else:
        raise Http404
    filename = (
        f"dashboard-{unit.kind}-{unit.pk}-{table}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv"
    )
    return _csv_response(filename, header, rows)


# --- views -------------------------------------------------------------------------------


@login_required
def dashboard_home(request):
    """Where the dashboard starts: the user's top unit, or a choice of them."""
    scope = scope_of(request.user)
    query = request.GET.urlencode()
    if not request.user.is_superuser:
        # One post (the usual case): straight there, without looking anything up.
        single = [(kind.key, scope.ids(kind)) for kind in units.KINDS.values() if scope.ids(kind)]
        if len(single) == 1 and len(single[0][1]) == 1:
            kind, ids = single[0]
            return _to_unit(kind, next(iter(ids)), query)
    tops = stats.top_units(request.user)
    if len(tops) == 1:
        kind, pk, _name = tops[0]
        return _to_unit(kind, pk, query)
    return render(
        request,
        "issues/dashboard/choose.html",
        {
            "units": [
                {
                    "name": name,
                    "kind_label": stats.kind_label(kind),
                    "url": stats.unit_url(kind, pk),
                }
                for kind, pk, name in tops
            ],
            "query": query,
        },
    )


def _to_unit(kind: str, pk: int, query: str):
    url = stats.unit_url(kind, pk)
    return redirect(f"{url}?{query}" if query else url)


@login_required
@reads_from_replica
def dashboard_unit(request, kind: str, pk: int):
    """One unit's figures, for a user whose posts cover it (404 otherwise)."""
    if kind not in stats.KINDS:
        raise Http404
    return _unit_page(request, kind, pk)


@login_required
@reads_from_replica
def dashboard_city(request):
    """The whole city's figures and its subdistricts ranked, for superusers (404
    otherwise): read from the subdistricts' rollups. Recurrence alerts stay on each
    subdistrict's page (they are counted live)."""
    return _unit_page(request, stats.CITY, 0)


def _unit_page(request, kind: str, pk: int):
    city = kind == stats.CITY
    form = _filter_form(request)
    filters = form.filters()
    now = timezone.now()
    # The figures of territorial units and departments from the daily rollups; a
    # person's are counted live.
    unit = stats.load_unit(request.user, kind, pk, filters, now=now, rollup=True)
    if unit is None:
        raise Http404
    sort_key, descending = _parse_sort(request.GET.get("sort", ""))
    export = request.GET.get("export")
    if export:
        if city and export == "recurrence":
            raise Http404
        return _export(export, unit, filters, now, (sort_key, descending), request.user)

    query = form.query_string()
    tables = stats.rankings(unit, filters, now=now)
    ranking_tables = []
    for name, child_kind in stats.CHILD_TABLES[kind]:
        rows = _sorted(tables.get(name, []), sort_key, descending)
        columns, chart_keys = _columns(child_kind), _chart_keys(child_kind)
        ranking_tables.append(
            {
                "name": name,
                "chart_id": f"{name}-data",
                "child_kind": child_kind,
                "title": (
                    units.KINDS[child_kind].plural_label
                    if child_kind in units.KINDS
                    else _("Staff handling the issues")
                ),
                "rows": [
                    {
                        "name": row.name,
                        "url": (
                            reverse("dashboard_unit", args=[row.kind, row.pk])
                            + (f"?{query}" if query else "")
                        )
                        if row.pk is not None and row.linked
                        else None,
                        "cells": [
                            _display(row.value(c), stats.FIGURE_BY_KEY[c].kind) for c in columns
                        ],
                    }
                    for row in rows
                ],
                "chart": _chart(
                    "bar",
                    [row.name for row in rows],
                    [
                        (stats.FIGURE_BY_KEY[c].label, [row.value(c) for row in rows])
                        for c in chart_keys
                    ],
                    percent=True,
                    horizontal=True,
                ),
                "chart_labels": [stats.FIGURE_BY_KEY[c].label for c in chart_keys],
                "headers": _sort_headers(columns, sort_key, descending, query),
            }
        )
    weeks = stats.trend(unit, filters, now=now)
    for week in weeks:
        week["week_text"] = week["week"].isoformat()
    recurrence = [] if city else stats.recurrences(unit, filters)
    pattern = _issue_link_pattern()
    for group in recurrence:
        for issue in group.issues:
            issue["url"] = pattern.replace(_PLACEHOLDER, quote(issue["tracking_number"]))
            local = timezone.localtime(issue["created_at"])
            issue["filed_iso"], issue["filed_short"] = local.isoformat(), f"{local:%m-%d %H:%M}"
    unverified = [
        {
            **issue,
            "url": pattern.replace(_PLACEHOLDER, quote(issue["tracking_number"])),
            "resolved_short": f"{timezone.localtime(issue['resolved_at']):%m-%d}",
            "resolved_iso": timezone.localtime(issue["resolved_at"]).isoformat(),
        }
        for issue in unit.unverified
    ]
    funnel = _funnel(unit.figures)
    cards = _cards(unit.figures, unit.kind)
    since, until = stats.recurrence_window(filters)
    context = {
        "unit": unit,
        "form": form,
        "filters": filters,
        "query": query,
        "query_amp": f"{query}&" if query else "",
        # Each section's cards, chosen here once (the template draws only its own).
        **{
            f"{group}_cards": [card for card in cards if card["group"] == group]
            for group in ("main", "loop")
        },
        "funnel": funnel,
        "funnel_help": stats.FUNNEL_HELP,
        "funnel_chart": _chart(
            "bar",
            [stage["label"] for stage in funnel],
            [(_("Issues"), [stage["count"] for stage in funnel])],
            horizontal=True,
        ),
        "ranking_tables": ranking_tables,
        "sort_value": f"{'-' if descending else ''}{sort_key}" if sort_key != "name" else "",
        "weeks": weeks,
        "trend_series": stats.TREND_SERIES,
        "trend_help": stats.TREND_HELP,
        "trend_chart": _chart(
            "line",
            [w["week_text"] for w in weeks],
            [(label, [w[key] for w in weeks]) for key, label in stats.TREND_SERIES],
        ),
        "unverified": unverified,
        "unverified_count": unit.figures.unverified_stale,
        "unverified_help": stats.FIGURE_BY_KEY["unverified_stale"].help,
        "recurrence": recurrence,
        "recurrence_cut": sum(len(g.issues) for g in recurrence) >= stats.RECURRENCE_MAX_ROWS,
        "recurrence_since": timezone.localdate(since),
        "recurrence_until": filters.end,
        "generated_at": now,
        "medians_from_rollups": unit.rollup,
        "rollup_delay": settings.ROLLUP_DELAY,
        "rollups_behind_since": _behind_since(now) if unit.rollup else None,
        "participation_cards": _participation_cards(None, None, filters)
        if city
        else _participation_cards(kind, pk, filters),
        "city": city,
    }
    return render(request, "issues/dashboard/unit.html", context)


def _behind_since(now):
    """The moment since which changes are not counted yet, when the rollups lag more than
    their stated delay (the task worker and the sweep are not keeping up)."""
    oldest = rollups.lag()
    if oldest is None or oldest > now - timedelta(seconds=2 * settings.ROLLUP_DELAY):
        return None
    return oldest


@reads_from_replica
def dashboard_public(request):
    """Subdistrict-wide counts and rates for anyone (no sign-in, no issue text)."""
    subdistricts = list(Subdistrict.objects.values_list("pk", "name"))
    form = PublicFilterForm(request.GET, subdistricts=subdistricts)
    context = {"form": form, "unit": None}
    if subdistricts:
        if form.is_valid():
            pk, days = form.cleaned_data["subdistrict"], form.cleaned_data["period"]
        else:
            pk, days = subdistricts[0][0], 30
        today = timezone.localdate()
        filters = stats.Filters(start=today - timedelta(days=days - 1), end=today)
        # The figures come from the cache (recomputed every few minutes, not per request);
        # the name from the list above.
        cached = public_figures.subdistrict(pk, filters)
        if cached.values is not None:
            figures = stats.Figures(cached.values)
            context.update(
                unit={"pk": pk, "name": dict(subdistricts).get(pk, ""), "figures": figures},
                filters=filters,
                cards=_cards(figures, "subdistrict", public=True),
                funnel=_funnel(figures),
                funnel_help=stats.FUNNEL_HELP,
                figures_at=cached.at,
                participation_cards=_participation_cards(
                    "subdistrict",
                    pk,
                    filters,
                    values=public_figures.participation(pk, filters).values,
                ),
            )
    return render(request, "issues/dashboard/public.html", context)


urlpatterns = [
    path("", dashboard_home, name="dashboard"),
    path("public/", dashboard_public, name="dashboard_public"),
    path("city/", dashboard_city, name="dashboard_city"),
    path("<slug:kind>/<int:pk>/", dashboard_unit, name="dashboard_unit"),
]
