"""What the navigation bar needs on every page, computed lazily (no query unless used)."""

from django.db import connections, router
from django.utils.functional import SimpleLazyObject

from config.compiled import prepared_cursor

from .models import Notification
from .permissions import is_staff_user, keeps_participants

# The badge counts unread notifications up to this many and then says "99+": a bounded
# count, the same work however many a person has left unread.
UNREAD_SHOWN = 99


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "is_grid_staff": False,
            "unread_notifications": 0,
            "unread_badge": "",
            "staff_patrols": False,
            "staff_takes_calls": False,
            "keeps_participants": False,
        }

    counted = {}

    def unread() -> int:
        """How many unread, counted up to one past what the badge shows (one query)."""
        if "n" not in counted:
            counted["n"] = _unread(user.pk)
        return counted["n"]

    def badge() -> str:
        return f"{UNREAD_SHOWN}+" if unread() > UNREAD_SHOWN else str(unread() or "")

    return {
        "is_grid_staff": SimpleLazyObject(lambda: is_staff_user(user)),
        "unread_notifications": SimpleLazyObject(unread),
        "unread_badge": SimpleLazyObject(badge),
        # Staff workspace: grid workers patrol; community and subdistrict staff
        # take hotline calls. Both read the posts remembered on the user (one query at most).
        "staff_patrols": SimpleLazyObject(lambda: _staff_pages().patrols(user)),
        "staff_takes_calls": SimpleLazyObject(lambda: _staff_pages().takes_calls(user)),
        # Community and subdistrict staff keep their party members and volunteers.
        "keeps_participants": SimpleLazyObject(lambda: keeps_participants(user)),
    }


def _unread(user_id) -> int:
    """A person's unread notifications, counted up to one past what the badge shows. Plain
    SQL, as the ORM would write it: this runs on every signed-in page, and building the
    query costs more than running it (the partial index on unread notices answers it)."""
    meta = Notification._meta
    table, person, read = (
        meta.db_table,
        meta.get_field("user").column,
        meta.get_field("is_read").column,
    )
    with prepared_cursor(connections[router.db_for_read(Notification)]) as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {person} = %s AND NOT {read} "
            f"LIMIT {UNREAD_SHOWN + 1}) unread",
            [user_id],
        )
        return cursor.fetchone()[0]


def _staff_pages():
    # Imported when first needed: the views import forms and models this module need not.
    from .views import staff

    return staff
