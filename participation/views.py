"""The participants' pages (``/participate/``): a volunteer's or party member's workspace
(the small matters of their grid open to volunteers, their offers of help, their service
record), the page of an issue they help with, and registration (报到); and the community
staff's page of registrations to confirm, participants and service records (CSV).

Every issue is fetched through the rule book (``permissions.helper_issues``): another
grid's issue is a 404, and a helper reads the public part only. Each POST calls one
workflow or registry function and shows its refusal as a message.
"""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, DecimalField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from grids.models import Community, User
from issues import permissions, tracking, workflow  # noqa: F401  (tracking: the <tracking:…> converter)
from issues.forms.participation import ClaimForm, HelperNoteForm
from issues.models import OPEN_STATUSES
from issues.permissions import can, helper_issues, participation_of, volunteer_condition
from issues.refusals import log_refusal
from issues.transitions import Action
from issues.views.resident import _timeline

from . import registry
from .forms import RegistrationForm
from .models import Claim, PartyRegistration

LIST_ROWS = 30
PEOPLE_PER_PAGE = 50


def _hours(claims) -> dict:
    """Confirmed service hours and contributions over these claims (one query)."""
    zero = Value(0, output_field=DecimalField(max_digits=10, decimal_places=1))
    return claims.filter(hours_confirmed_at__isnull=False).aggregate(
        hours=Coalesce(Sum("hours"), zero), contributions=Count("pk")
    )


@login_required
def workspace(request):
    """What a participant does: help with the small matters open in their grid, follow their
    offers, read their service record. Anyone else learns how to take part."""
    user = request.user
    participation = participation_of(user)
    registration = PartyRegistration.objects.filter(user=user).select_related("community").first()
    context = {"participation": participation, "registration": registration}
    if participation.is_participant:
        mine = Claim.objects.filter(helper=user)
        context.update(
            open_issues=list(
                helper_issues(user)
                .filter(volunteer_condition(user))
                .select_related("category", "building", "grid")
                .defer("grid__boundary")
                .order_by("-created_at", "-pk")[:LIST_ROWS]
            ),
            claimed_ids=set(
                mine.filter(state__in=Claim.IN_FORCE).values_list("issue_id", flat=True)
            ),
            claims=list(mine.select_related("issue").order_by("-created_at", "-pk")[:LIST_ROWS]),
            record=_hours(mine),
            home_grid=(user.home_building.grid if user.home_building_id else None),
            open_statuses=OPEN_STATUSES,
        )
    return render(request, "participation/workspace.html", context)


@login_required
def register(request):
    """在职党员到社区报到: register with the community of one's home."""
    user = request.user
    in_force = PartyRegistration.objects.filter(
        user=user,
        state__in=[PartyRegistration.State.PENDING, PartyRegistration.State.CONFIRMED],
    )
    if in_force.exists():
        messages.info(request, _("You have already registered."))
        return redirect("participate")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registry.register(user=user, organisation=form.cleaned_data["organisation"])
        except workflow.WorkflowError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("You registered. Your community's staff will confirm it."))
            return redirect("participate")
    community = None
    if user.home_building_id:
        community = Community.objects.filter(grids__buildings=user.home_building_id).first()
    return render(request, "participation/register.html", {"form": form, "community": community})


def _helper_issue(request, tracking_number):
    return get_object_or_404(
        helper_issues(request.user)
        .select_related("category", "building", "grid")
        .defer("grid__boundary"),
        tracking_number=tracking_number,
    )


def _render_issue(request, issue, *, claim_form=None, note_form=None):
    user = request.user
    events, before, after = _timeline(issue, user)
    may_claim = can(user, Action.CLAIM, issue)
    may_note = can(user, Action.HELPER_NOTE, issue)
    mine = Claim.objects.filter(issue=issue, helper=user).order_by("-created_at", "-pk").first()
    return render(
        request,
        "participation/issue.html",
        {
            "issue": issue,
            "events": events,
            "before_photos": before,
            "after_photos": after,
            "claim": mine,
            "claim_form": claim_form or (ClaimForm() if may_claim else None),
            "note_form": note_form or (HelperNoteForm() if may_note else None),
        },
    )


@login_required
def helper_issue(request, tracking_number):
    """An issue as its helper reads it: the public details and timeline, and what they may
    do (offer to help, add a note)."""
    return _render_issue(request, _helper_issue(request, tracking_number))


@login_required
@require_POST
def helper_claim(request, tracking_number):
    issue = _helper_issue(request, tracking_number)
    form = ClaimForm(request.POST)
    if not form.is_valid():
        return _render_issue(request, issue, claim_form=form)
    try:
        workflow.claim(
            issue=issue,
            actor=request.user,
            offer=form.cleaned_data["offer"],
            submission_token=form.cleaned_data["submission_token"],
        )
    except workflow.WorkflowError as error:
        log_refusal(request, issue=issue, reason=f"claim: {error.code}")
        messages.error(request, error.message)
    else:
        messages.success(request, _("Thank you: the grid worker will answer your offer."))
    return redirect("participate_issue", issue.tracking_number)


@login_required
@require_POST
def helper_note(request, tracking_number):
    issue = _helper_issue(request, tracking_number)
    form = HelperNoteForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_issue(request, issue, note_form=form)
    try:
        workflow.helper_note(
            issue=issue,
            actor=request.user,
            note=form.cleaned_data["note"],
            photos=form.cleaned_data["photos"],
            done=form.cleaned_data["done"],
            submission_token=form.cleaned_data["submission_token"],
        )
    except workflow.WorkflowError as error:
        log_refusal(request, issue=issue, reason=f"helper_note: {error.code}")
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your note is on the timeline."))
    return redirect("participate_issue", issue.tracking_number)


# --- the community's staff ----------------------------------------------------------------


def _communities(user):
    """The communities whose participants this person keeps; anyone else: not found."""
    if not permissions.keeps_participants(user):
        raise Http404
    return permissions.participant_communities(user)


def participants_of(communities):
    """Volunteers living in these communities and party members registered with them,
    each with their confirmed service hours and contributions."""
    confirmed = Claim.objects.filter(helper_id=OuterRef("pk"), hours_confirmed_at__isnull=False)
    zero = Value(0, output_field=DecimalField(max_digits=10, decimal_places=1))
    registered = PartyRegistration.objects.filter(
        user_id=OuterRef("pk"),
        state=PartyRegistration.State.CONFIRMED,
        community__in=communities,
    )
    return (
        User.objects.filter(
            Q(is_volunteer=True, home_building__grid__community__in=communities)
            | Q(pk__in=registered.values("user_id")),
            is_active=True,
        )
        .annotate(
            service_hours=Coalesce(
                Subquery(
                    confirmed.values("helper_id").annotate(total=Sum("hours")).values("total")
                ),
                zero,
            ),
            contributions=Coalesce(
                Subquery(confirmed.values("helper_id").annotate(n=Count("pk")).values("n")),
                0,
            ),
            organisation=Subquery(registered.values("organisation")[:1]),
        )
        .order_by("-service_hours", "first_name", "pk")
    )


@login_required
def community_page(request):
    """Registrations to confirm, the participants and their service hours."""
    communities = _communities(request.user)
    pending = list(
        PartyRegistration.objects.filter(
            community__in=communities, state=PartyRegistration.State.PENDING
        )
        .select_related("user", "community")
        .order_by("created_at", "pk")
    )
    page = Paginator(participants_of(communities), PEOPLE_PER_PAGE).get_page(
        request.GET.get("page")
    )
    for registration in pending:
        registration.decidable = permissions.may_decide_registration(request.user, registration)
    return render(
        request,
        "participation/community.html",
        {"pending": pending, "page": page},
    )


@login_required
@require_POST
def decide_registration(request, pk):
    communities = _communities(request.user)
    registration = get_object_or_404(PartyRegistration, pk=pk, community__in=communities)
    confirm = request.POST.get("decision") == "confirm"
    try:
        registry.decide(registration=registration, actor=request.user, confirm=confirm)
    except workflow.WorkflowError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Registration confirmed.") if confirm else _("Registration declined."),
        )
    return redirect("participate_community")


class _Echo:
    def write(self, value):
        return value


@login_required
def service_records_csv(request):
    """Every confirmed contribution in the person's communities, one row each."""
    communities = _communities(request.user)
    rows = (
        Claim.objects.filter(hours_confirmed_at__isnull=False, issue__community__in=communities)
        .select_related("helper", "issue__community")
        .order_by("hours_confirmed_at", "pk")
    )
    writer = csv.writer(_Echo())
    header = [
        _("Confirmed at"),
        _("Name"),
        _("Mobile phone"),
        _("Volunteer"),
        _("Party member"),
        _("Community"),
        _("Tracking number"),
        _("Issue"),
        _("Service hours"),
    ]

    def lines():
        yield "\ufeff" + writer.writerow(header)  # the BOM lets spreadsheet programs read UTF-8
        for claim in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    timezone.localtime(claim.hours_confirmed_at).strftime("%Y-%m-%d %H:%M"),
                    claim.helper.display_name,
                    claim.helper.phone,
                    _("yes") if claim.helper.is_volunteer else "",
                    _("yes") if claim.helper.is_party_member else "",
                    claim.issue.community.name,
                    claim.issue.tracking_number,
                    claim.issue.title,
                    claim.hours,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="service-records.csv"'
    return response


urlpatterns = [
    path("", workspace, name="participate"),
    path("register/", register, name="participate_register"),
    path("issues/<tracking:tracking_number>/", helper_issue, name="participate_issue"),
    path("issues/<tracking:tracking_number>/claim/", helper_claim, name="participate_claim"),
    path("issues/<tracking:tracking_number>/note/", helper_note, name="participate_note"),
    path("community/", community_page, name="participate_community"),
    path(
        "community/registrations/<int:pk>/",
        decide_registration,
        name="participate_decide",
    ),
    path("community/records.csv", service_records_csv, name="participate_records"),
]
