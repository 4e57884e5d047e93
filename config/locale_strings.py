"""Words that Django's admin and django-axes show but whose own catalogues leave in English
for Simplified Chinese. They are marked here so that makemessages keeps them in our
catalogue, which Django consults first (LOCALE_PATHS); nothing imports this module."""

from django.utils.translation import gettext_noop

STRINGS = [
    # Django: the suffix after a form label ("名称：") and the admin's unlabelled parts.
    gettext_noop(":"),
    gettext_noop("Search"),
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
    gettext_noop("Sorting priority: %(priority_number)s"),  # has an ASCII colon in Django's
    # django-axes: its models and fields in the admin.
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("Username"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("Meta Data"),
    gettext_noop("Locked Out"),
]
