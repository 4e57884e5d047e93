"""Bulk import and export of the territory and its staff (django-import-export).

Every file is keyed by code: a subdistrict, community or grid by its own ``code``, a
building by its grid's code and its name, a department by its subdistrict's code and its
name, a staff post by username, role and unit. Parents are named by their code
(``subdistrict_code``, ``community_code``, ``grid_code``).

An import is all or nothing: the preview (dry run) lists every bad row (an unknown parent
code, a code twice in the file, a bad phone number, a missing value) and offers to import
only when there is none; the import itself runs in one transaction that is rolled back if
any row fails after all (see ``grids.admin_views.ImportMixin``).

Column headers are fixed English names, so one file works whatever the admin's language.
Text cells are trimmed on import; on export, a cell that a spreadsheet would run as a
formula (starting with = + - @) is prefixed with an apostrophe, which import removes again.
"""

from .base import (
    FORMULA_START,
    CellWidget,
    CodeWidget,
    FlagWidget,
    UnitResource,
    by_code,
    cell_text,
    column_values,
    in_chunks,
    is_blank,
    spreadsheet_safe,
    text_field,
)
from .staff import PostResource, _role_names, role_from_text
from .territory import (
    BuildingResource,
    CommunityResource,
    DepartmentResource,
    GridResource,
    SubdistrictResource,
)

__all__ = [
    "FORMULA_START",
    "BuildingResource",
    "CellWidget",
    "CodeWidget",
    "CommunityResource",
    "DepartmentResource",
    "FlagWidget",
    "GridResource",
    "PostResource",
    "SubdistrictResource",
    "UnitResource",
    "_role_names",
    "by_code",
    "cell_text",
    "column_values",
    "in_chunks",
    "is_blank",
    "role_from_text",
    "spreadsheet_safe",
    "text_field",
]
