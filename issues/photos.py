"""Photo intake: decode with Pillow, refuse what is not a real, reasonable image, and
re-encode so that no EXIF block (and so no GPS position) survives.

Forms call ``clean_photo`` on each upload and hand the resulting ``CleanPhoto`` to the
workflow, which stores it under a server-generated name.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PHOTOS = 5
# Pillow format name -> file extension we store.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    extension: str
    width: int
    height: int

    def as_file(self) -> ContentFile:
        return ContentFile(self.content, name=f"{uuid.uuid4().hex}.{self.extension}")


def clean_photo(upload) -> CleanPhoto:
    """Validate one uploaded file and return it re-encoded without metadata."""
    if upload.size > MAX_BYTES:
        raise ValidationError(
            _("“%(name)s” is larger than 10 MB."),
            code="photo_too_large",
            params={"name": upload.name},
        )
    upload.seek(0)
    too_many_pixels = ValidationError(
        _("“%(name)s” has more than 40 megapixels."),
        code="photo_too_many_pixels",
        params={"name": upload.name},
    )
    try:
        # Pillow warns, then refuses, far above our own limit; either means a bomb.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(upload)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValidationError(
            _("“%(name)s” could not be read as an image."),
            code="photo_unreadable",
            params={"name": upload.name},
        ) from exc
    try:
        with image:
            fmt = image.format
            if fmt not in FORMATS:
                raise ValidationError(
                    _("“%(name)s” is not a JPEG, PNG or WebP image."),
                    code="photo_bad_type",
                    params={"name": upload.name},
                )
            width, height = image.size
            # Checked before decoding the pixels, so a decompression bomb is never expanded.
            if width * height > MAX_PIXELS:
                raise too_many_pixels
            image.load()
            image = ImageOps.exif_transpose(image)
            out = io.BytesIO()
            if fmt == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
            elif fmt == "PNG":
                if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                    image = image.convert("RGBA")
                image.save(out, "PNG", optimize=True)
            else:
                if image.mode not in ("RGB", "RGBA"):
                    image = image.convert("RGBA")
                image.save(out, "WEBP", quality=85)
            width, height = image.size
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            _("“%(name)s” could not be read as an image."),
            code="photo_unreadable",
            params={"name": upload.name},
        ) from exc
    return CleanPhoto(content=out.getvalue(), extension=FORMATS[fmt], width=width, height=height)


def clean_photos(uploads) -> list[CleanPhoto]:
    uploads = list(uploads or [])
    if len(uploads) > MAX_PHOTOS:
        raise ValidationError(
            _("At most %(max)d photos at a time."),
            code="too_many_photos",
            params={"max": MAX_PHOTOS},
        )
    errors, photos = [], []
    for upload in uploads:
        try:
            photos.append(clean_photo(upload))
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
    return photos
