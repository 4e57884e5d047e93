"""Recompute the dashboards' daily rollups from the issues.

    python manage.py rebuild_rollups                       # every day with issues
    python manage.py rebuild_rollups --since 2024-01-01 --until 2024-12-31
    python manage.py rebuild_rollups --enqueue             # as a task, on a worker

The workflow and the sweep keep the rollups fresh in the transactions that change the
issues; this is for a new installation, after an import or a data repair, or after a
change to how a figure is computed. Safe while the site runs: each chunk of days is one
transaction, and changes made meanwhile are not lost (``issues.rollups.rebuild``).
"""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from issues import rollups
from issues.tasks import enqueue


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Recompute the daily rollups the dashboards read, for every day with issues or for "
        "the days from --since to --until (filing days, local time, both included)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_day, help="First filing day (YYYY-MM-DD).")
        parser.add_argument("--until", type=_day, help="Last filing day (YYYY-MM-DD).")
        parser.add_argument(
            "--chunk-days",
            type=int,
            default=rollups.REBUILD_CHUNK_DAYS,
            help=f"Days per transaction ({rollups.REBUILD_CHUNK_DAYS}).",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Run it as a task on the task queue instead of here.",
        )

    def handle(self, *args, **options):
        since, until, chunk_days = options["since"], options["until"], options["chunk_days"]
        if since and until and since > until:
            raise CommandError("--since must not be after --until.")
        if chunk_days < 1:
            raise CommandError("--chunk-days must be at least 1.")
        if options["enqueue"]:
            result = enqueue(
                rollups.rebuild_rollups_task,
                since.isoformat() if since else None,
                until.isoformat() if until else None,
            )
            if result is None:
                raise CommandError("The task could not be enqueued (see the log).")
            self.stdout.write(f"Enqueued: task {result.id}.")
            return
        verbosity = options["verbosity"]

        def progress(day, written):
            if verbosity > 1:
                self.stdout.write(f"  up to {day}: {written} rows")

        written = rollups.rebuild(
            since=since, until=until, chunk_days=chunk_days, progress=progress
        )
        self.stdout.write(f"Rebuilt the daily rollups: {written} rows.")
