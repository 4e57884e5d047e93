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
    spreadsheet_safe,
)
from .staff import PostResource
from .territory import (
    BuildingResource,
    CommunityResource,
    DepartmentResource,
    GridResource,
    SubdistrictResource,
)

__all__ = [
    "BuildingResource",
    "CommunityResource",
    "DepartmentResource",
    "GridResource",
    "PostResource",
    "SubdistrictResource",
    "spreadsheet_safe",
]
