from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GridsConfig(AppConfig):
    name = "grids"
    verbose_name = _("Territory and people")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        from . import lookups  # noqa: F401  (registers ``__one_of``)

        connection_created.connect(_sqlite_wal, dispatch_uid="grids_sqlite_wal")

        from django.db.models.signals import post_save

        from .signals import end_sessions_on_deactivation

        post_save.connect(
            end_sessions_on_deactivation,
            sender="grids.User",
            dispatch_uid="grids_end_sessions_on_deactivation",
        )

        from django.db.models.signals import post_delete

        from .auth import forget_person, forget_post_holder

        for signal in (post_save, post_delete):
            signal.connect(forget_person, sender="grids.User", dispatch_uid="grids_forget_person")
            signal.connect(
                forget_post_holder, sender="grids.Post", dispatch_uid="grids_forget_post_holder"
            )

        from django.contrib.auth.signals import user_logged_in

        from config.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="grids_start_idle_clock")


def _sqlite_wal(sender, connection, **kwargs):
    """WAL lets the demo serve readers while one request writes."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
