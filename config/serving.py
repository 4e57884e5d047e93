"""What the WSGI and ASGI entry points both check before they serve."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def refuse_demo_key() -> None:
    """The demo key is public: never serve with it outside DEBUG."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.INSECURE_DEMO_KEY:
        raise ImproperlyConfigured(
            "Set SECRET_KEY in the environment before serving in production."
        )
