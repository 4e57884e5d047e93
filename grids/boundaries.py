"""Grid boundaries in and out as a GeoJSON FeatureCollection: one Feature per grid, matched
by ``properties.code``. A file is checked whole before anything is written: every bad
feature is named (not JSON, unknown or repeated code, invalid or self-intersecting ring,
longitude and latitude swapped…), and while one is bad nothing is imported."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from . import geo
from .models import Grid


@dataclass
class Checked:
    updates: list[tuple[Grid, dict]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.updates)


def check(raw: bytes | str) -> Checked:
    """Read and check a FeatureCollection; nothing is saved."""
    result = Checked()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        result.errors.append(_("The file is not JSON: %(error)s") % {"error": error})
        return result
    features = data.get("features") if isinstance(data, dict) else None
    if (
        not isinstance(data, dict)
        or data.get("type") != "FeatureCollection"
        or not isinstance(features, list)
    ):
        result.errors.append(_("The file must be a GeoJSON FeatureCollection."))
        return result
    if not features:
        result.errors.append(_("The file has no features."))
        return result
    codes = [
        str((f.get("properties") or {}).get("code") or "").strip()
        for f in features
        if isinstance(f, dict)
    ]
    grids = {g.code: g for g in Grid.objects.filter(code__in=[c for c in codes if c])}
    first_seen: dict[str, int] = {}
    for number, feature in enumerate(features, 1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            result.errors.append(_("Feature %(n)d is not a GeoJSON Feature.") % {"n": number})
            continue
        code = str((feature.get("properties") or {}).get("code") or "").strip()
        name = (
            _("Feature %(n)d (code %(code)s)") % {"n": number, "code": code}
            if code
            else _("Feature %(n)d") % {"n": number}
        )
        problems = []
        if not code:
            problems.append(_("it has no properties.code naming its grid"))
        elif code in first_seen:
            problems.append(_("feature %(n)d has the same code") % {"n": first_seen[code]})
        elif code not in grids:
            problems.append(_("no grid has this code"))
        first_seen.setdefault(code, number)
        try:
            geo.parse_boundary(feature.get("geometry"))
        except ValidationError as error:
            problems.append(error.messages[0])
        if problems:
            result.errors.append(f"{name}: {'; '.join(problems)}")
        else:
            result.updates.append((grids[code], feature["geometry"]))
    return result


def apply(checked: Checked) -> int:
    """Save the checked boundaries, all or none."""
    if checked.errors:
        raise ValueError("refusing to import a file with errors")
    with transaction.atomic():
        for grid, boundary in checked.updates:
            grid.boundary = boundary
            grid.save(update_fields=["boundary"])
    return len(checked.updates)


def export(grids) -> dict:
    """The boundaries as a FeatureCollection that ``check`` reads back unchanged."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "community_code": g.community.code,
                },
                "geometry": g.boundary,
            }
            for g in grids.select_related("community").order_by("code")
            if g.boundary
        ],
    }
