from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IssuesConfig(AppConfig):
    name = "issues"
    verbose_name = _("Issues")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import choices, notifications  # noqa: F401  (connect the receivers)
        from .open311 import webhooks  # noqa: F401
