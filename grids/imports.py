"""Admin imports as tasks: a file is checked, then imported, by the task worker, whatever
its size, while the administrator watches a progress bar.

An upload makes an ``ImportJob`` and its file waits in the import storage (shared by every
app host, never served). The check is django-import-export's dry run: every bad row is
named and the job is *refused*, or it is *checked* and waits for the administrator's
confirmation. The confirmed import runs in one transaction and is all or nothing: a row that
turned bad since the check (a parent deleted meanwhile) refuses the whole file. Either run
reports its progress, rows done of rows in the file, in a small file beside the upload,
which the job's page reads: the run's own transaction cannot show it to anyone before it
commits.

A run that fails (the worker stopped, the database went away) leaves the job *failed* with
its error, shown on the page and in the task results in the admin, and its file is dropped;
the administrator uploads again. Nothing half-written is kept: the import's transaction
rolled back. A checked file nobody confirms within ``IMPORT_KEEP_HOURS`` is dropped too and
its job marked *expired* (``expire_unconfirmed``: at each upload and each sweep round).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task
from import_export.results import RowResult
from import_export.signals import post_import

from .models import ImportJob

log = logging.getLogger(__name__)

# Rows between two progress reports.
PROGRESS_EVERY = 200
# Bad rows kept in a job's result (the page lists them all up to this many).
MAX_BAD_ROWS = 1000


def admin_of(job: ImportJob):
    """The admin class that imports this job's model."""
    model = apps.get_model(job.model)
    return admin.site._registry[model]


# --- progress -----------------------------------------------------------------------------


def _progress_path(job: ImportJob) -> str:
    return f"{job.storage().get_full_path()}.progress"


def write_progress(job: ImportJob, done: int, total: int) -> None:
    files = storages["import_export"]
    files.delete(_progress_path(job))
    files.save(_progress_path(job), ContentFile(f"{done}/{total}".encode()))


def read_progress(job: ImportJob) -> tuple[int, int] | None:
    """(rows done, rows in the file) of the run under way, if it has said."""
    try:
        with storages["import_export"].open(_progress_path(job), "rb") as file:
            done, total = file.read().decode().split("/")
        return int(done), int(total)
    except (OSError, ValueError):
        return None


def _drop_progress(job: ImportJob) -> None:
    storages["import_export"].delete(_progress_path(job))


def _counting(resource, job: ImportJob, total: int):
    """Make ``resource`` report every ``PROGRESS_EVERY`` rows it imports."""
    done = [0]
    import_row = resource.import_row

    def counted(*args, **kwargs):
        result = import_row(*args, **kwargs)
        done[0] += 1
        if done[0] % PROGRESS_EVERY == 0:
            write_progress(job, done[0], total)
        return result

    resource.import_row = counted


# --- the result a page shows ----------------------------------------------------------------


def summary(result) -> dict:
    """What the job's page shows of an import-export ``Result``: the counts, every error
    by its row, and the bad rows with their values (up to ``MAX_BAD_ROWS``)."""
    invalid = []
    for row in result.invalid_rows[:MAX_BAD_ROWS]:
        invalid.append(
            {
                "number": row.number,
                "fields": {
                    column: [str(m) for m in messages]
                    for column, messages in row.field_specific_errors.items()
                },
                "other": [str(m) for m in row.non_field_specific_errors],
                "values": ["" if v is None else str(v) for v in row.values],
            }
        )
    return {
        "totals": {kind: result.totals.get(kind, 0) for kind in RowResult.valid_import_types},
        "base_errors": [str(error.error) for error in result.base_errors],
        "row_errors": [
            [row.number, str(error.error)]
            for row in result.error_rows[:MAX_BAD_ROWS]
            for error in row.errors
        ],
        "invalid": invalid,
        "invalid_count": len(result.invalid_rows),
        "headers": [str(h) for h in result.diff_headers],
    }


def _has_errors(result) -> bool:
    return result.has_errors() or result.has_validation_errors()


# --- the run --------------------------------------------------------------------------------


def run(job: ImportJob) -> ImportJob:
    """Check or import the job's file, as its stage says."""
    model_admin = admin_of(job)
    input_format = model_admin.get_import_formats()[job.format](encoding=model_admin.from_encoding)
    data = job.storage().read()  # a file gone missing fails the run
    try:
        dataset = input_format.create_dataset(data)
    except Exception as error:  # whatever the parser says of a file it cannot read
        return _refuse(
            job,
            _(
                "The file could not be read as %(format)s (%(error)s). "
                "Choose the format it was saved in."
            )
            % {"format": input_format.get_title().upper(), "error": type(error).__name__},
        )
    if not dataset or not dataset.headers:
        return _refuse(job, _("The file has no rows under a first row of column names."))
    total = len(dataset)
    write_progress(job, 0, total)
    request = SimpleNamespace(user=job.created_by)  # what the admin's hooks read of one
    resource_class = model_admin.get_import_resource_classes(request)[job.resource]
    resource = resource_class(**model_admin.get_import_resource_kwargs(request))
    _counting(resource, job, total)
    kwargs = model_admin.get_import_data_kwargs(request=request)
    checking = job.stage == ImportJob.Stage.CHECK
    kwargs["retain_instance_in_row_result"] = not checking  # for the admin's log
    result = resource.import_data(
        dataset,
        dry_run=checking,
        raise_errors=False,
        file_name=job.original_name,
        user=job.created_by,
        **kwargs,
    )
    job.rows = total
    job.result = summary(result)
    if _has_errors(result):
        job.state = ImportJob.State.REFUSED
        job.storage().remove()
    elif checking:
        job.state = ImportJob.State.CHECKED
    else:
        job.state = ImportJob.State.IMPORTED
        model_admin.generate_log_entries(result, request)
        post_import.send(sender=None, model=model_admin.model)
        job.storage().remove()
    job.finished_at = timezone.now()
    job.save(update_fields=["rows", "result", "state", "finished_at"])
    _drop_progress(job)
    return job


def _refuse(job: ImportJob, reason: str) -> ImportJob:
    """A file that cannot be checked at all: refused, and its upload dropped."""
    job.state = ImportJob.State.REFUSED
    job.result = {"unreadable": reason}
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "result", "finished_at"])
    job.storage().remove()
    _drop_progress(job)
    return job


def expire_unconfirmed(now=None) -> int:
    """Drop the files of checked jobs left unconfirmed for ``IMPORT_KEEP_HOURS`` and mark
    the jobs expired; how many. A confirmation arriving at the same moment finds the job
    no longer checked (it moves only from that state) and changes nothing."""
    now = now or timezone.now()
    stale = ImportJob.objects.filter(
        state=ImportJob.State.CHECKED,
        finished_at__lt=now - timedelta(hours=settings.IMPORT_KEEP_HOURS),
    )
    expired = 0
    for job in stale.only("pk", "file_name"):
        # The state first, then the file: a job that lost the race to a confirmation keeps it.
        if ImportJob.objects.filter(pk=job.pk, state=ImportJob.State.CHECKED).update(
            state=ImportJob.State.EXPIRED
        ):
            job.storage().remove()
            _drop_progress(job)
            expired += 1
    return expired


@task()
def run_import_job(job_id: int) -> str:
    """``run`` off the request. A failure marks the job failed (its page says so) and is
    raised again, so the task result in the admin shows the traceback."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state != ImportJob.State.QUEUED:
            return "nothing to do"  # run already, or by another worker
        job.state = ImportJob.State.RUNNING
        job.save(update_fields=["state"])
    try:
        return run(job).state
    except Exception as error:
        log.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            state=ImportJob.State.FAILED,
            result={"failure": _("The import stopped: %(error)s") % {"error": error}},
            finished_at=timezone.now(),
        )
        job.storage().remove()  # the administrator uploads again
        _drop_progress(job)
        raise
