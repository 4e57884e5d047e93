from django.urls import path

from .views import public

# Each part of the site keeps its own URL list; add it here with one include.
urlpatterns = [
    path("", public.home, name="home"),
]
