"""Resident pages (issue 3): report, my issues, evaluate. URL list below."""

urlpatterns: list = []
