from django.urls import path

from . import views

# Mounted at /accounts/ before django.contrib.auth.urls (sign in, password change and reset).
urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("buildings/", views.building_search, name="building_search"),
]
