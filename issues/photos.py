"""Photo intake: decode with Pillow, refuse what is not a real, reasonable image, and
re-encode so that no EXIF block (and so no GPS position) survives.

A photo is kept at most ``PHOTO_MAX_SIDE`` pixels on its longer side (settings; 2048 by
default): a phone's 12 or 48 megapixels, re-encoded whole, cost a filing a quarter of a
second to over a second of CPU and the media store 3–10 MB each; a phone photo is kept at
about 2000 × 1500, some 0.5–0.8 MB. Pages show a square thumbnail of it, ``THUMBNAIL_SIDE``
pixels (twice the 96 CSS pixels it is drawn in), made at the same time; the whole photo
is opened only when asked for.

Forms call ``clean_photo`` on each upload and hand the resulting ``CleanPhoto`` to the
workflow, which stores it under a server-generated name.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_PHOTOS = 5
# Pillow format name -> file extension we store.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
THUMBNAIL_SIDE = 192


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes
    extension: str
    width: int
    height: int
    # Empty for a photo small enough to be drawn as it is.
    thumbnail: bytes
    thumbnail_extension: str

    def as_files(self) -> tuple[ContentFile, ContentFile | None]:
        """The photo and its thumbnail (if it has one) as files named by the server: one
        random name, the thumbnail's ending in ``-thumb``."""
        name = f"{uuid.uuid4().hex}.{self.extension}"
        image = ContentFile(self.content, name=name)
        if not self.thumbnail:
            return image, None
        return image, ContentFile(
            self.thumbnail, name=thumbnail_name(name, self.thumbnail_extension)
        )


def thumbnail_name(photo_name: str, extension: str) -> str:
    """The file name of a photo's thumbnail: the photo's, ending in ``-thumb``."""
    return f"{PurePosixPath(photo_name).stem}-thumb.{extension}"


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
            # At most the kept size: a JPEG larger than that is decoded straight at a
            # half, a quarter or an eighth of its size, the least of them that fits (a
            # 4032 × 3024 phone photo at 2016 × 1512), for a fraction of the work of
            # decoding it whole and resampling it; another format is shrunk
            # (thumbnail() never enlarges).
            side = settings.PHOTO_MAX_SIDE
            scale = 1
            while scale < 8 and max(width, height) > side * scale:
                scale *= 2
            if fmt == "JPEG" and scale > 1:
                image.draft(None, (width // scale, height // scale))
            if max(image.size) > side:
                image = _resizable(image)
            image.thumbnail((side, side))
            ImageOps.exif_transpose(image, in_place=True)
            image = _kept_mode(image, fmt)
            content = _encoded(image, fmt)
            width, height = image.size
            thumbnail, thumbnail_extension = thumbnail_of(image)
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationError(
            _("“%(name)s” could not be read as an image."),
            code="photo_unreadable",
            params={"name": upload.name},
        ) from exc
    return CleanPhoto(
        content=content,
        extension=FORMATS[fmt],
        width=width,
        height=height,
        thumbnail=thumbnail,
        thumbnail_extension=thumbnail_extension,
    )


def thumbnail_of(image: Image.Image) -> tuple[bytes, str]:
    """The square the pages draw of a kept photo, as (content, file extension): JPEG, or
    PNG for a photo with transparency. Nothing (``b""``) for a photo hardly larger than the
    thumbnail, which is drawn as it is."""
    if max(image.size) <= 2 * THUMBNAIL_SIDE:
        return b"", ""
    square = _square(_resizable(image), THUMBNAIL_SIDE)
    fmt = "PNG" if square.mode in ("RGBA", "LA") else "JPEG"
    return _encoded(square, fmt), FORMATS[fmt]


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode Pillow resizes by blending pixels: a palette or a bilevel
    image would be resized by picking them."""
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    return image


def _square(image: Image.Image, side: int) -> Image.Image:
    """The middle square of the image at ``side`` pixels, as the pages draw it (CSS
    ``object-fit: cover``)."""
    width, height = image.size
    edge = min(width, height)
    left, top = (width - edge) // 2, (height - edge) // 2
    # reducing_gap: shrunk by whole pixel blocks first, then resampled; as sharp at this
    # size and many times faster than resampling a whole photo.
    return image.resize(
        (side, side),
        Image.Resampling.BICUBIC,
        box=(left, top, left + edge, top + edge),
        reducing_gap=2.0,
    )


def _kept_mode(image: Image.Image, fmt: str) -> Image.Image:
    """The image in a mode its format stores as we keep it (JPEG: RGB; PNG: what it
    was, unless an odd mode; WebP: RGB or RGBA)."""
    if fmt == "JPEG":
        kept = ("RGB",)
    elif fmt == "PNG":
        kept = ("RGB", "RGBA", "L", "LA", "P")
    else:
        kept = ("RGB", "RGBA")
    if image.mode in kept:
        return image
    return image.convert("RGB" if fmt == "JPEG" else "RGBA")


def _encoded(image: Image.Image, fmt: str) -> bytes:
    """The image written out afresh: pixels only, no metadata (in a mode ``fmt`` stores:
    ``_kept_mode``)."""
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "WEBP", quality=85)
    return out.getvalue()


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
