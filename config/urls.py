from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("grids.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("places/", include("grids.place_urls")),
    path("open311/v2/", include("issues.open311.urls")),
    path("", include("issues.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
