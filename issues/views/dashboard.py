"""The governance dashboard (issue 6). URL list below."""

urlpatterns: list = []
