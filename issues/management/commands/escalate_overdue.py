import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections

from grids.imports import expire_unconfirmed
from issues.sweep import BATCH_SIZE, run_sweep, stale_unverified

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Escalate overdue issues one level, supervise those overdue at the subdistrict, and "
        "close resolved issues left unevaluated. Run it every minute (cron or a systemd "
        "timer), or keep it running with --loop SECONDS. Safe on several hosts at once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop",
            type=int,
            metavar="SECONDS",
            help="Run again every SECONDS seconds until stopped.",
        )
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument(
            "--unverified",
            action="store_true",
            help="Only list the resolved issues left unverified for UNVERIFIED_DAYS, and stop.",
        )

    def handle(self, *args, loop=None, batch_size=BATCH_SIZE, unverified=False, **options):
        if unverified:
            for number, resolved_at, level in stale_unverified().values_list(
                "tracking_number", "resolved_at", "level"
            ):
                self.stdout.write(f"{number}\tresolved {resolved_at:%Y-%m-%d %H:%M}\t{level}")
            return
        if loop is not None and loop < 1:
            raise CommandError("--loop needs a number of seconds of at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        self._stop = False
        if not loop:
            self._run(loop, batch_size)
            return
        # SIGTERM (systemd stopping the service) ends the loop after the current round.
        previous = signal.signal(signal.SIGTERM, self._request_stop)
        try:
            self._run(loop, batch_size)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _run(self, loop, batch_size):
        while True:
            started = time.monotonic()
            try:
                result = run_sweep(batch_size=batch_size)
            except DatabaseError:
                if not loop:
                    raise
                # A database restart must not end the loop: each batch is its own
                # transaction, so what was done stays done; try again next round.
                log.exception("sweep failed; trying again in %s s", loop)
                close_old_connections()
            else:
                self.stdout.write(f"sweep: {result} in {time.monotonic() - started:.2f}s")
                # Its round also drops import files checked long ago and never confirmed.
                if expired := expire_unconfirmed():
                    self.stdout.write(f"dropped {expired} unconfirmed import files")
            if not loop or self._stop:
                return
            close_old_connections()
            try:
                time.sleep(loop)
            except KeyboardInterrupt:
                return
            if self._stop:
                return

    def _request_stop(self, signum, frame):
        self._stop = True
