"""Staff workspace (issue 4): queues, the staff issue page, patrol, hotline. URL list below."""

urlpatterns: list = []
