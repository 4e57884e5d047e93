"""The background-task backend (django-tasks-db) as the admin shows it: named in the
reader's language. The backend names its model and fields through gettext but ships no
Chinese, so its words are declared here for the project's catalogue to translate, and its
admin is registered again with translated column labels (``config.tasks_admin``)."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_tasks_db.apps import TasksAppConfig


class TasksConfig(TasksAppConfig):
    verbose_name = _("Background tasks")

    def ready(self):
        super().ready()
        from . import tasks_admin  # noqa: F401  (re-registers the task list)


# The backend's own words, so that makemessages keeps them in the project's catalogue.
BACKEND_WORDS = (
    _("Task Result"),
    _("Task Results"),
    _("enqueued at"),
    _("started at"),
    _("finished at"),
    _("args kwargs"),
    _("priority"),
    _("task path"),
    _("worker id"),
    _("queue name"),
    _("backend name"),
    _("run after"),
    _("return value"),
    _("exception class path"),
    _("traceback"),
    pgettext_lazy("Task", "Ready"),
    pgettext_lazy("Task", "Running"),
    pgettext_lazy("Task", "Failed"),
    pgettext_lazy("Task", "Successful"),
)
