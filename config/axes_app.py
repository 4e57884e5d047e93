"""django-axes (sign-in throttling) as the admin names it: in the reader's language, and in
words an administrator understands, instead of the package name."""

from axes.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AppConfig):
    verbose_name = _("Sign-in protection")
