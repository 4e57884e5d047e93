"""What the navigation bar needs on every page, computed lazily (no query unless used)."""

from django.utils.functional import SimpleLazyObject

from .permissions import is_staff_user


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"is_grid_staff": False, "unread_notifications": 0}

    def unread():
        return user.notifications.filter(is_read=False).count()

    return {
        "is_grid_staff": SimpleLazyObject(lambda: is_staff_user(user)),
        "unread_notifications": SimpleLazyObject(unread),
    }
