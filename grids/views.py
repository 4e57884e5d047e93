"""Accounts: sign up, profile, and the building search the pickers use.

Sign in, sign out, password change and reset are django.contrib.auth's views (config/urls.py)
with our templates in templates/registration/.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from .forms import (
    FINDER_FORM_ID,
    BuildingFinder,
    ProfileForm,
    SignupForm,
    building_label,
    group_label,
    offer_buildings,
)
from .models import Grid

# Django's own backend: django-axes's backend needs a request to authenticate, not to log in.
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"
BUILDING_SEARCH_LIMIT = 50


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _picker_context(form, finder) -> dict:
    return {
        "form": form,
        "finder": finder,
        "finder_form_id": FINDER_FORM_ID,
        "more_buildings": getattr(form.fields["home_building"], "more_buildings", False),
    }


def signup(request):
    """A resident makes an account: username, phone, password and home building."""
    if request.user.is_authenticated:
        return redirect("home")
    finder = BuildingFinder.from_query(request.GET)
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user, backend=LOGIN_BACKEND)
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect(_safe_next(request) or "issue_report")
        offer_buildings(
            form.fields["home_building"],
            finder,
            current=form.cleaned_data.get("home_building"),
            keep=True,
        )
    else:
        form = SignupForm()
        form.initial["home_building"] = offer_buildings(form.fields["home_building"], finder)
    context = _picker_context(form, finder)
    context["next"] = _safe_next(request) or ""
    return render(request, "registration/signup.html", context)


@login_required
def profile(request):
    """Edit one's name, phone, email and home building."""
    finder = BuildingFinder.from_query(request.GET)
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=user)
        if form.is_valid():
            form.save()
            messages.success(request, _("Your details were saved."))
            return redirect("profile")
        offer_buildings(
            form.fields["home_building"],
            finder,
            current=form.cleaned_data.get("home_building"),
            keep=True,
        )
        # The refused form assigned its values to the user object; show what is stored.
        user.refresh_from_db()
    else:
        form = ProfileForm(instance=user)
        form.initial["home_building"] = offer_buildings(
            form.fields["home_building"], finder, current=user.home_building
        )
    return render(request, "registration/profile.html", _picker_context(form, finder))


@require_GET
def building_search(request):
    """Buildings matching the finder (community, grid, part of a name), for the pickers.

    ``{"grids": [{id, name}], "groups": [{label, buildings: [{id, label}]}], "more": bool}``;
    grids are listed when a community is given. Addresses are public, so anyone may ask.
    """
    finder = BuildingFinder(request.GET, prefix=None)
    buildings, more = finder.results(limit=BUILDING_SEARCH_LIMIT)
    community = finder.cleaned_data.get("community")
    grids = (
        [{"id": g.pk, "name": g.name} for g in Grid.objects.filter(community=community)]
        if community
        else []
    )
    groups: dict[str, list] = {}
    for building in buildings:
        groups.setdefault(group_label(building), []).append(
            {"id": building.pk, "label": building_label(building)}
        )
    return JsonResponse(
        {
            "grids": grids,
            "groups": [{"label": label, "buildings": items} for label, items in groups.items()],
            "more": more,
        }
    )
