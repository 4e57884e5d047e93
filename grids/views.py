"""Accounts: sign up, sign in, profile, e-mail confirmation, password reset, and the building
search the pickers use.

Sign out and password change are django.contrib.auth's views (config/urls.py); sign in and
password reset are theirs with our forms (mobile number or username; confirmed addresses
only, throttled). Templates are in templates/registration/.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from config.throttle import PASSWORD_RESET

from . import email_confirmation
from .forms import (
    FINDER_FORM_ID,
    BuildingFinder,
    EmailPasswordResetForm,
    LoginForm,
    ProfileForm,
    SignupForm,
    building_label,
    group_label,
    offer_buildings,
)
from .models import Grid

# The backend a sign-in is recorded with (Django's, with the shared cache of grids/auth.py):
# django-axes's backend needs a request to authenticate, not to log in.
LOGIN_BACKEND = "grids.auth.CachedModelBackend"
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


def _confirmation_sent(request, user) -> None:
    email_confirmation.send_link(request, user)
    messages.info(
        request,
        _(
            "We sent a link to %(email)s. Open it to confirm the address; until then we "
            "send no mail there."
        )
        % {"email": user.email},
    )


def signup(request):
    """A resident makes an account: home building, name, mobile number, password; the
    mobile number signs in. An e-mail address, if given, is confirmed through a link."""
    if request.user.is_authenticated:
        return redirect("home")
    finder = BuildingFinder.from_query(request.GET)
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user, backend=LOGIN_BACKEND)
            messages.success(
                request, _("Welcome! Your account is ready. Sign in with your mobile number.")
            )
            if user.email:
                _confirmation_sent(request, user)
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
            if "email" in form.changed_data and user.email:
                _confirmation_sent(request, user)
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


def email_confirm(request, token):
    """The link mailed to a new address: opening it confirms the address."""
    user = email_confirmation.confirm(token)
    if user is None:
        messages.error(
            request,
            _(
                "This confirmation link is not valid: it may have expired, or the address was "
                "changed since. Send a new link from your account page."
            ),
        )
    else:
        messages.success(
            request,
            _("Thank you. %(email)s is confirmed and will receive your updates.")
            % {"email": user.email},
        )
    return redirect("profile" if request.user.is_authenticated else "login")


@login_required
@require_POST
def email_confirm_send(request):
    """Send the confirmation link for one's address again."""
    user = request.user
    if user.email and user.notification_email != user.email:
        _confirmation_sent(request, user)
    return redirect("profile")


class LoginView(auth_views.LoginView):
    authentication_form = LoginForm


class PasswordResetView(auth_views.PasswordResetView):
    """Reset links go to confirmed addresses only, a few per address and per client
    address an hour, so the form cannot be used to flood someone's mailbox."""

    form_class = EmailPasswordResetForm

    def form_valid(self, form):
        if not PASSWORD_RESET.attempt(self.request, form.cleaned_data["email"]):
            form.add_error("email", PASSWORD_RESET.message())
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


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
        [
            {"id": pk, "name": name}
            for pk, name in Grid.objects.filter(community=community).values_list("pk", "name")
        ]
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
