"""``field__one_of=[ids]``: membership in a list of integers passed as one parameter.

Django's ``__in`` writes one placeholder per value: for a thousand ids the driver splits a
query string of thousands of placeholders and the planner reads thousands of constants.
This lookup sends the list as a single value: a PostgreSQL array (``= ANY(%s::bigint[])``)
or, on SQLite, one JSON text read by ``json_each``. For integer columns only (ids).
"""

from __future__ import annotations

import json

from django.db import models
from django.db.models import Lookup


class OneOf(Lookup):
    lookup_name = "one_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        values = [int(v) for v in value]
        if connection.vendor == "postgresql":
            return "%s", [values]
        return "%s", [json.dumps(values)]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY({rhs}::bigint[])", [*lhs_params, *rhs_params]
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *rhs_params]


models.IntegerField.register_lookup(OneOf)
