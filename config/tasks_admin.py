"""The task list in the admin: the backend's own admin, with labels in the reader's
language. Read-only, as the backend has it: a failed task shows its error here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult


class TaskResultAdmin(DBTaskResultAdmin):
    list_display = (
        "task",
        "status",
        "enqueued_at",
        "started_at",
        "finished_at",
        "priority",
        "queue_name",
    )

    @admin.display(description=_("task"), ordering="task_path")
    def task(self, obj):
        return obj.task_name

    @admin.display(description=_("traceback"))
    def formatted_traceback(self, obj):
        return super().formatted_traceback(obj)

    @admin.display(description=_("run after"))
    def display_run_after(self, obj):
        return super().display_run_after(obj)


admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, TaskResultAdmin)
