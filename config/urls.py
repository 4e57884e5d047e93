from django.contrib import admin
from django.urls import include, path

# 403 and 404 use templates/403.html and 404.html with the request; 500 needs a view for that.
handler500 = "config.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("grids.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("places/", include("grids.place_urls")),
    path("open311/v2/", include("issues.open311.urls")),
    path("participate/", include("participation.urls")),
    path("", include("issues.urls")),
]
# Media files are never served as they are: photos go through issues/views/photos.py.
