"""Make the thumbnails of photos stored before pages drew thumbnails.

    python manage.py make_photo_thumbnails

Pages draw each photo as a square made when it is uploaded (``issues.photos``). A photo
stored before that has none, and pages send it whole for that square until this command
has made one. The photos themselves are left as they were kept. Safe while the site runs
and safe to run again: it only fills thumbnails that are still empty, a batch at a time.
"""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from PIL import Image

from issues.models import Photo
from issues.photos import THUMBNAIL_SIDE, thumbnail_name, thumbnail_of

BATCH = 200


class Command(BaseCommand):
    help = "Make the thumbnail pages draw for every photo stored without one."

    def handle(self, *args, **options):
        made = small = unreadable = 0
        last = 0
        while True:
            batch = list(
                Photo.objects.filter(thumbnail="", pk__gt=last)
                .order_by("pk")
                .only("image", "thumbnail")[:BATCH]
            )
            if not batch:
                break
            for photo in batch:
                last = photo.pk
                try:
                    content, extension = _thumbnail(photo)
                except (OSError, ValueError, Image.DecompressionBombError) as exc:
                    unreadable += 1
                    self.stderr.write(f"photo {photo.pk} ({photo.image.name}): {exc}")
                    continue
                if not content:
                    small += 1
                    continue
                name = photo.thumbnail.storage.save(
                    photo.thumbnail.field.generate_filename(
                        photo, thumbnail_name(photo.image.name, extension)
                    ),
                    ContentFile(content),
                )
                # Only if still empty: a second run at the same time leaves one of them.
                if Photo.objects.filter(pk=photo.pk, thumbnail="").update(thumbnail=name):
                    made += 1
                else:
                    photo.thumbnail.storage.delete(name)
        self.stdout.write(
            f"thumbnails made: {made}; small enough to be drawn as they are: {small}; "
            f"unreadable or missing: {unreadable}"
        )
        if unreadable:
            raise CommandError(f"{unreadable} photos could not be read (listed above)")


def _thumbnail(photo: Photo) -> tuple[bytes, str]:
    with photo.image.open("rb") as file, Image.open(file) as image:
        # A JPEG is decoded at the least fraction of its size that still covers twice
        # the thumbnail: a kept phone photo at a quarter.
        image.draft(None, (2 * THUMBNAIL_SIDE, 2 * THUMBNAIL_SIDE))
        return thumbnail_of(image)
