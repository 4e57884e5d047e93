from django.urls import include, path

from . import tracking  # noqa: F401  (registers the <tracking:…> path converter)
from .views import dashboard, photos, public, resident, staff

# Each part of the site keeps its own URL list in its view module.
urlpatterns = [
    path("", public.home, name="home"),
    path("track/", public.track, name="track"),
    path("", include(resident.urlpatterns)),
    path("", include(photos.urlpatterns)),
    path("staff/", include(staff.urlpatterns)),
    path("dashboard/", include(dashboard.urlpatterns)),
]
