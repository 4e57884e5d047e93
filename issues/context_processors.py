"""What the navigation bar needs on every page, computed lazily (no query unless used)."""

from django.utils.functional import SimpleLazyObject

from .permissions import is_staff_user


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {
            "is_grid_staff": False,
            "unread_notifications": 0,
            "staff_patrols": False,
            "staff_takes_calls": False,
        }

    def unread():
        return user.notifications.filter(is_read=False).count()

    return {
        "is_grid_staff": SimpleLazyObject(lambda: is_staff_user(user)),
        "unread_notifications": SimpleLazyObject(unread),
        # Staff workspace: grid workers patrol; community and subdistrict staff
        # take hotline calls. Both read the posts remembered on the user (one query at most).
        "staff_patrols": SimpleLazyObject(lambda: _staff_pages().patrols(user)),
        "staff_takes_calls": SimpleLazyObject(lambda: _staff_pages().takes_calls(user)),
    }


def _staff_pages():
    # Imported when first needed: the views import forms and models this module need not.
    from .views import staff

    return staff
