"""What the navigation bar needs on every page, computed lazily (no query unless used)."""

from django.utils.functional import SimpleLazyObject

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
            # No order: counting needs none (the model's newest-first would be sorted).
            unread_ids = user.notifications.filter(is_read=False).order_by().values("pk")
            counted["n"] = unread_ids[: UNREAD_SHOWN + 1].count()
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


def _staff_pages():
    # Imported when first needed: the views import forms and models this module need not.
    from .views import staff

    return staff
