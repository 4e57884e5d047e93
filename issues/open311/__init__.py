"""Open311 GeoReport v2 at /open311/v2/: other systems file and follow issues.

The API is another face of the workflow: views parse, call ``workflow.file_issue`` and
render the standard's exact shapes (bare JSON arrays, the spec's XML element names).
"""
