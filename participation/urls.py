from .views import urlpatterns  # noqa: F401  (the participants' pages keep their own list)
