import time

from django.core.management.base import BaseCommand, CommandError

from issues.open311.webhooks import deliver_all


class Command(BaseCommand):
    help = (
        "Send API clients' webhooks: the public status changes of the requests they filed, "
        "signed. Run it every minute (cron or a systemd timer) or keep it running with "
        "--loop SECONDS; failures wait with backoff and show in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=int, metavar="SECONDS")

    def handle(self, *args, loop=None, **options):
        if loop is not None and loop < 1:
            raise CommandError("--loop needs a number of seconds of at least 1.")
        while True:
            delivered = deliver_all()
            self.stdout.write(f"webhooks: {delivered} updates delivered")
            if not loop:
                return
            time.sleep(loop)
