from django.urls import include, path

from . import tracking  # noqa: F401  (registers the <tracking:…> path converter)
from .views import dashboard, photos, public, public_map, resident, staff, staff_map

# Each part of the site keeps its own URL list in its view module.
urlpatterns = [
    path("", public.home, name="home"),
    path("track/", public.track, name="track"),
    path("map/", include(public_map.urlpatterns)),
    path("", include(resident.urlpatterns)),
    path("", include(photos.urlpatterns)),
    path("staff/map/", include(staff_map.urlpatterns)),
    path("staff/", include(staff.urlpatterns)),
    path("dashboard/", include(dashboard.urlpatterns)),
]
