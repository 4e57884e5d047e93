"""Photos of issues, served only to people the rule book lets see them.

Media files are not public: this view checks ``permissions.can_see_photo`` and then lets
the proxy send the file (``X-Accel-Redirect`` to its internal ``/media/`` location, when
``MEDIA_X_ACCEL_REDIRECT`` is on) or streams it itself (the demo). Browsers may keep a
photo, proxies and shared caches may not.
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
    photo = get_object_or_404(Photo.objects.select_related("issue", "event"), pk=pk)
    if not can_see_photo(request.user, photo):
        raise Http404
    content_type = mimetypes.guess_type(photo.image.name)[0] or "application/octet-stream"
    if settings.MEDIA_X_ACCEL_REDIRECT:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = photo.image.url
    else:
        try:
            response = FileResponse(photo.image.open("rb"), content_type=content_type)
        except FileNotFoundError:
            raise Http404 from None
    patch_cache_control(response, private=True, max_age=MAX_AGE)
    return response


urlpatterns = [
    path("photos/<int:pk>/", photo, name="photo"),
]
