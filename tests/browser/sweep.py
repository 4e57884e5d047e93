"""Every page of the site, per role: the list the accessibility sweep and the language
checks walk. A new page is one more name in its role's list below (and, if its URL takes
arguments, one function in ``URL_ARGS``); ``test_every_named_url_is_swept`` fails until it is.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.test import RequestFactory
from django.urls import get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from grids.models import User
from issues import permissions
from issues.models import Issue

# Named URLs no page visit can show: they only take a POST (or redirect, or answer JSON).
NOT_PAGES = {
    "set_language": "POST only",
    "logout": "POST only",
    "my_issue_comment": "POST only",
    "my_issue_evaluate": "POST only",
    "notification_read": "POST only",
    "notifications_read_all": "POST only",
    "staff_issue_action": "POST only",
    "after_login": "redirects to the user's start page",
    "building_search": "a fragment the sign-up page loads (swept there)",
    "email_confirm": "follows a mailed link and redirects to the profile",
    "email_confirm_send": "POST only",
    "photo": "an image, not a page",
    "photo_thumbnail": "an image, not a page",
    "support_issue": "POST only",
    "participate_claim": "POST only",
    "participate_note": "POST only",
    "participate_decide": "POST only",
    "participate_records": "a CSV file, not a page",
    "report_nearby": "a fragment the report page loads (swept there)",
    "place_at": "JSON the maps ask for",
    "grid_shapes": "JSON the maps ask for",
    "building_lookup": "JSON the maps ask for",
    "public_map_points": "JSON the public map asks for",
    "staff_map_markers": "JSON the staff map asks for",
}

NOT_FOUND = "/no-such-page/"
FORBIDDEN = "/staff/"  # a resident opening the staff workspace
# Pages that are not a plain visit: a journey leads to them.
LOCKED_OUT = "!locked-out"
FORM_EXPIRED = "!form-expired"
STATUS = {NOT_FOUND: 404, FORBIDDEN: 403, LOCKED_OUT: 429, FORM_EXPIRED: 403}


def _sign_in_badly(page):
    """Fail to sign in until the lock closes; the last answer is the lockout page."""
    response = page.goto(reverse("login"))
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        if response.status == 429:
            break
        page.fill("#id_username", "walker")
        page.fill("#id_password", "not-the-password")
        with page.expect_navigation() as navigation:
            page.click("main button[type=submit]")
        response = navigation.value
    return response


def _send_an_expired_form(page):
    """Send the sign-in form after its security cookie is gone."""
    page.goto(reverse("login"))
    page.context.clear_cookies()
    with page.expect_navigation() as navigation:
        page.click("main button[type=submit]")
    return navigation.value


SPECIAL = {LOCKED_OUT: _sign_in_badly, FORM_EXPIRED: _send_an_expired_form}

PAGES: dict[str, list[str]] = {
    "anonymous": [
        "home",
        "track",
        "track?number",
        "login",
        "signup",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        "dashboard_public",
        "public_map",
        NOT_FOUND,
        LOCKED_OUT,
        FORM_EXPIRED,
    ],
    "resident": [
        "home",
        "issue_report",
        "my_issues",
        "my_issue_detail",
        "notifications",
        "profile",
        "password_change",
        "password_change_done",
        "track",
        "participate",
        "participate_register",
        NOT_FOUND,
        FORBIDDEN,
    ],
    "gridworker": [
        "home",
        "staff_queue",
        "staff_issue_detail",
        "staff_patrol",
        "staff_patrol_list",
        "staff_map",
        "dashboard",
        "dashboard_unit",
        "notifications",
        "profile",
    ],
    "community": [
        "participate_community",
        "staff_queue",
        "staff_issue_detail",
        "staff_hotline",
        "dashboard",
        "dashboard_unit",
    ],
    "subdistrict": [
        "staff_queue",
        "staff_map",
        "staff_issue_detail",
        "staff_hotline",
        "dashboard",
        "dashboard_unit",
    ],
    "department": ["staff_queue", "staff_issue_detail", "dashboard", "notifications"],
    "volunteer": ["participate", "participate_issue", "issue_report"],
    "partymember": ["participate", "participate_issue"],
    "resident2": ["participate"],
    "admin": ["home", "dashboard", "dashboard_city", "admin:*", NOT_FOUND],
}


def _one_per_status(issues) -> list[dict]:
    """One issue in each status (their pages show different forms)."""
    seen = {}
    for issue in issues.order_by("created_at"):
        seen.setdefault(issue.status, {"tracking_number": issue.tracking_number})
    return list(seen.values())


def _dashboard_units(user) -> list[dict]:
    post = user.posts.select_related("grid", "community", "subdistrict", "department").first()
    for kind in ("grid", "community", "subdistrict", "department"):
        unit = getattr(post, kind)
        if unit is not None:
            return [{"kind": kind, "pk": unit.pk}]
    return []


def _reset_link(user) -> list[dict]:
    resident = User.objects.get(username="resident")
    return [
        {
            "uidb64": urlsafe_base64_encode(force_bytes(resident.pk)),
            "token": default_token_generator.make_token(resident),
        }
    ]


# How to fill in the arguments of a URL for a user: one page per returned set of kwargs.
URL_ARGS: dict[str, Callable[[User | None], list[dict]]] = {
    "my_issue_detail": lambda user: _one_per_status(Issue.objects.filter(reporter=user)),
    "staff_issue_detail": lambda user: _one_per_status(permissions.visible_issues(user)),
    "dashboard_unit": _dashboard_units,
    "participate_issue": lambda user: _one_per_status(permissions.helper_issues(user)),
    "password_reset_confirm": _reset_link,
}


ADMIN_EXTRA = ["coverage", "grids_grid_import", "issues_issue_export", "password_change_done"]


def admin_paths(user) -> list[str]:
    """The admin's own pages: the index, each app, and each model's list, add form (where
    adding is allowed) and the change form of its first row."""
    request = RequestFactory().get("/admin/")
    request.user = user
    paths = [reverse("admin:index"), reverse("admin:password_change")]
    apps = set()
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        apps.add(meta.app_label)
        prefix = f"admin:{meta.app_label}_{meta.model_name}"
        paths.append(reverse(f"{prefix}_changelist"))
        if model_admin.has_add_permission(request):
            paths.append(reverse(f"{prefix}_add"))
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            paths.append(reverse(f"{prefix}_change", args=[first.pk]))
    paths += [reverse("admin:app_list", args=[app]) for app in sorted(apps)]
    # Our own admin pages; the import pages share one template, so one stands for all.
    paths += [reverse(f"admin:{name}") for name in ADMIN_EXTRA]
    return paths


def paths_for(role: str) -> list[tuple[str, int]]:
    """The path and expected status of every page ``role`` visits in the sweep (call with the
    demo data loaded)."""
    user = None if role == "anonymous" else User.objects.get(username=role)
    paths = []
    for entry in PAGES[role]:
        if entry in STATUS:
            paths.append((entry, STATUS[entry]))
            continue
        if entry == "admin:*":
            found = admin_paths(user)
        elif entry == "track?number":
            number = Issue.objects.order_by("pk").values_list("tracking_number", flat=True)[0]
            found = [f"{reverse('track')}?number={number}"]
        elif entry in URL_ARGS:
            found = [reverse(entry, kwargs=kwargs) for kwargs in URL_ARGS[entry](user)]
        else:
            found = [reverse(entry)]
        paths += [(path, 200) for path in found]
    return paths


def named_urls() -> set[str]:
    """Every URL name outside the admin (the admin's pages are listed from its registry)."""
    return {name for name in get_resolver().reverse_dict if isinstance(name, str)}


def swept_names() -> set[str]:
    names = {entry.split("?")[0] for pages in PAGES.values() for entry in pages}
    return names | set(NOT_PAGES)
