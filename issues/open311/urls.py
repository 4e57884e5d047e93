from django.urls import path, re_path

from . import views

app_name = "open311"

F = r"\.(?P<fmt>json|xml)$"

urlpatterns = [
    path("", views.discovery, {"fmt": "json"}, name="root"),
    re_path(r"^discovery" + F, views.discovery, name="discovery"),
    re_path(r"^services" + F, views.service_list, name="services"),
    re_path(
        r"^services/(?P<service_code>[A-Za-z0-9_.-]+)" + F, views.service_definition, name="service"
    ),
    re_path(r"^requests" + F, views.request_list, name="requests"),
    re_path(
        r"^requests/(?P<service_request_id>[A-Za-z0-9_-]+)" + F,
        views.request_detail,
        name="request",
    ),
    re_path(r"^tokens/(?P<token>[A-Za-z0-9-]+)" + F, views.token_detail, name="token"),
    re_path(r"^servicerequestupdates" + F, views.request_updates, name="updates"),
]
