from django.core.management.base import BaseCommand, CommandError

from grids.models import Subdistrict
from issues.models import ApiClient


class Command(BaseCommand):
    help = (
        "Create an API client (or give an existing one a new key) and print its new key "
        "once. --subdistrict CODE (repeatable) names the subdistricts it may file into; "
        "without it, every subdistrict. --read-only makes a key that cannot file."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--subdistrict", action="append", default=[], metavar="CODE")
        parser.add_argument("--contact", default="")
        parser.add_argument("--read-only", action="store_true")

    def handle(self, *args, name, subdistrict, contact, read_only, **options):
        codes = list(dict.fromkeys(subdistrict))
        places = list(Subdistrict.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {p.code for p in places})
        if unknown:
            raise CommandError(f"Unknown subdistrict code(s): {', '.join(unknown)}")
        if not codes:
            places = list(Subdistrict.objects.all())
        client, created = ApiClient.objects.get_or_create(
            name=name, defaults={"contact": contact, "may_write": not read_only}
        )
        client.jurisdictions.add(*places)
        key = client.issue_key()
        verb = "Created" if created else "New key for"
        self.stderr.write(
            f"{verb} API client “{client.name}” for {', '.join(p.code for p in places) or '—'}."
            " The key is shown this once:"
        )
        self.stdout.write(key)
