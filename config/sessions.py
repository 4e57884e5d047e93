"""The session store when there is no shared cache: Django's database store, reading a
session with plain SQL.

Every signed-in request reads its session. Django's store asks the ORM for the row by
key and expiry, and the ORM wrote that query afresh each time, which cost more than
running it. This store reads the same row with plain SQL built from the model's
metadata; everything else (saving, cycling keys, expiry, ``clearsessions``) is Django's.
With a shared cache the sessions live there (``cached_db``, config/settings.py).
"""

from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

from config.compiled import prepared_cursor


class SessionStore(db.SessionStore):
    def load(self):
        """The session's data, or ``{}`` when its key names no live session; then, as
        Django's store does, the key is dropped, so a key the client made up is never
        the one a new session is saved under."""
        model = self.model
        connection = connections[router.db_for_read(model)]
        q = connection.ops.quote_name
        meta = model._meta
        key, data, expiry = (
            q(meta.get_field(name).column)
            for name in ("session_key", "session_data", "expire_date")
        )
        with prepared_cursor(connection) as cursor:
            cursor.execute(
                f"SELECT {data} FROM {q(meta.db_table)} WHERE {key} = %s AND {expiry} > %s",
                [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
