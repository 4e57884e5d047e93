from django.urls import path

from . import places

# Mounted at /places/: what the maps ask the server about.
urlpatterns = [
    path("grids.geojson", places.grid_shapes, name="grid_shapes"),
    path("at/", places.place_at, name="place_at"),
    path("buildings/", places.building_lookup, name="building_lookup"),
]
