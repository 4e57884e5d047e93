"""Photos of issues, served only to people the rule book lets see them.

Pages draw each photo's thumbnail and link to the photo itself. Media files are not
public: both views check ``permissions.can_see_photo``, then let the proxy send the file
(``X-Accel-Redirect`` to its internal ``/media/`` location, when ``MEDIA_X_ACCEL_REDIRECT``
is on) or stream it themselves (the demo). Browsers may keep a photo, proxies and shared
caches may not.
"""

import mimetypes

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET

from ..models import Photo
from ..permissions import can_see_photo

# A photo never changes once stored (its name is generated afresh for every upload).
MAX_AGE = 24 * 3600


@require_GET
def photo(request, pk):
    """The photo as it was kept (opened from its thumbnail)."""
    return _sent(_seen(request, pk).image)


@require_GET
def photo_thumbnail(request, pk):
    """The square the pages draw; the photo itself when it is small enough to have none."""
    photo = _seen(request, pk)
    return _sent(photo.thumbnail or photo.image)


def _seen(request, pk) -> Photo:
    photo = get_object_or_404(Photo.objects.select_related("issue", "event"), pk=pk)
    if not can_see_photo(request.user, photo):
        raise Http404
    return photo


def _sent(file) -> HttpResponse:
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if settings.MEDIA_X_ACCEL_REDIRECT:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = file.url
    else:
        try:
            response = FileResponse(file.open("rb"), content_type=content_type)
        except FileNotFoundError:
            raise Http404 from None
    patch_cache_control(response, private=True, max_age=MAX_AGE)
    return response


urlpatterns = [
    path("photos/<int:pk>/", photo, name="photo"),
    path("photos/<int:pk>/thumbnail/", photo_thumbnail, name="photo_thumbnail"),
]
