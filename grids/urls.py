from django.urls import path

from . import views

# Mounted at /accounts/ before django.contrib.auth.urls (sign in, password change and reset).
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("signup/", views.signup, name="signup"),
    path("profile/", views.profile, name="profile"),
    path("email/confirm/", views.email_confirm_send, name="email_confirm_send"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email_confirm"),
    path("buildings/", views.building_search, name="building_search"),
]
