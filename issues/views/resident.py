"""Resident pages: report a problem, my issues, the issue page with its public
timeline, comment and evaluation, and notifications. URL list below.

Every issue is fetched through the rule book (``visible_issues``, or ``sees`` for one
issue read by its number: another person's issue is a 404); each POST calls one workflow
function and shows its ``WorkflowError`` as a message.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from config.compiled import CompiledLookup
from grids import units
from grids.forms import FINDER_FORM_ID, BuildingFinder, offer_buildings
from grids.models import Post, User
from grids.places import map_start

from .. import workflow
from ..forms.resident import CommentForm, EvaluationForm, NearbyForm, ReportForm
from ..forms.staff import UnitFilterField
from ..models import Issue, IssueEvent, Level, Notification, Satisfaction, Source, Status
from ..nearby import nearby_issues
from ..notifications import digest_headline
from ..permissions import can, reporter_evaluates, sees, supportable_issues, visible_issues
from ..refusals import log_refusal
from ..transitions import Action

ISSUES_PER_PAGE = 20
NOTIFICATIONS_PER_PAGE = 30


def staff_as_residents_read(user, issue: Issue) -> str:
    """A staff member as the Chinese convention names them to the public: their role on
    the issue and their surname ("网格员王某"), enough to know who is handling it without
    publishing the full name. Reads ``user.posts`` (prefetch it for a timeline)."""
    posts = list(user.posts.all())
    # The lowest unit of the issue they hold a post on (Post.Role runs grid → department).
    role = next(
        (
            role.label
            for role in Post.Role
            for post in posts
            if post.role == role
            and getattr(post, units.of_role(role).id_field)
            == getattr(issue, units.of_role(role).id_field)
        ),
        _("Staff"),
    )
    name = user.masked_name
    return _("%(role)s %(name)s") % {"role": role, "name": name} if name else str(role)


def participant_as_residents_read(user) -> str:
    """A volunteer or party member as the public reads them: "志愿者王某", "党员王某"."""
    role = _("Volunteer") if user.is_volunteer else _("Party member")
    name = user.masked_name
    return _("%(role)s %(name)s") % {"role": role, "name": name} if name else str(role)


# --- report -------------------------------------------------------------------------------


@login_required
def report(request):
    """File a problem: building (home by default), category, title, description, photos."""
    user = request.user
    form = None
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                issue = workflow.file_issue(
                    actor=user,
                    source=Source.VOLUNTEER if data.get("as_volunteer") else Source.RESIDENT,
                    category=data["category"],
                    title=data["title"],
                    description=data["description"],
                    building=data["building"],
                    address=data["address"],
                    latitude=data["latitude"],
                    longitude=data["longitude"],
                    photos=data["photos"],
                    submission_token=data["submission_token"],
                    answers=data["answers"],
                )
            except workflow.WorkflowError as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    _("Your report was filed. Its tracking number is %(number)s.")
                    % {"number": issue.tracking_number},
                )
                return redirect("my_issue_detail", issue.tracking_number)
    # The page is drawn (a first visit, or a form sent back with its errors): its finder.
    finder = BuildingFinder.from_query(request.GET)
    if form is not None:
        offer_buildings(
            form.fields["building"], finder, current=form.cleaned_data.get("building"), keep=True
        )
    else:
        form = ReportForm(user=user)
        form.initial["building"] = offer_buildings(
            form.fields["building"], finder, current=user.home_building
        )
    point = (
        (form.cleaned_data.get("latitude"), form.cleaned_data.get("longitude"))
        if (form.is_bound and hasattr(form, "cleaned_data"))
        else (None, None)
    )
    return render(
        request,
        "issues/resident/report.html",
        {
            "map_start": map_start(lat=point[0], lng=point[1], building=user.home_building),
            "form": form,
            "finder": finder,
            "finder_form_id": FINDER_FORM_ID,
            "more_buildings": form.fields["building"].more_buildings,
        },
    )


@login_required
def report_nearby(request):
    """The open issues like this one nearby (a fragment the report form shows)."""
    form = NearbyForm(request.GET)
    issues = []
    if form.is_valid():
        data = form.cleaned_data
        issues = nearby_issues(
            user=request.user,
            category=data["category"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            building=data["building"],
        )
    return render(
        request, "issues/resident/_nearby.html", {"issues": issues, "searched": form.is_valid()}
    )


@login_required
@require_POST
def support_issue(request, pk):
    """附议: "this is my problem too", instead of filing the same problem again."""
    issue = get_object_or_404(supportable_issues(request.user).select_related("category"), pk=pk)
    try:
        issue = workflow.support(issue=issue, actor=request.user)
    except workflow.WorkflowError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "Thank you: your support was added (%(count)d in all). You will be told when "
                "this issue moves on, as its reporter is."
            )
            % {"count": issue.support_count},
        )
    return redirect(f"{reverse('track')}?number={issue.tracking_number}")


# --- my issues ----------------------------------------------------------------------------


@login_required
def my_issues(request):
    """The issues I reported, newest first, with where each stands and its deadline; those
    waiting for my evaluation say so and lead to it."""
    issues = (
        visible_issues(request.user)
        .filter(reporter=request.user)
        .select_related("category", "department")
        .order_by("-created_at", "-id")
    )
    page = Paginator(issues, ISSUES_PER_PAGE).get_page(request.GET.get("page"))
    for issue in page:
        issue.awaits_my_evaluation = can(request.user, Action.EVALUATE, issue)
    return render(request, "issues/resident/issue_list.html", {"page": page})


# An issue as its page shows it, by tracking number, with SQL written once: writing it
# cost the ORM about as much as running it.
_issue_row = CompiledLookup(
    Issue,
    lambda: Issue.objects.select_related("category", "building", "grid", "department").defer(
        "grid__boundary"
    ),
    field="tracking_number",
)


def _issue_for(request, tracking_number) -> Issue:
    """The issue, if this user may see it (the rule book's ``sees``, which tests hold to
    ``visible_issues``); anyone else's is a 404, as is a number nobody was given."""
    try:
        issue = _issue_row.get(tracking_number)
    except Issue.DoesNotExist:
        raise Http404 from None
    if not sees(request.user, issue):
        raise Http404
    return issue


def _grid_worker(issue: Issue):
    """Who answers first: a grid worker of the issue's grid (full-time before part-time)."""
    post = (
        Post.objects.filter(grid_id=issue.grid_id, role=Post.Role.GRID_WORKER, user__is_active=True)
        .select_related("user")
        .order_by("-is_full_time", "pk")
        .first()
    )
    return post.user if post else None


def _timeline(issue: Issue, viewer):
    """Public events only, each with who did it in the words a resident reads."""
    events = list(
        issue.events.filter(is_public=True)
        .select_related("actor")
        .prefetch_related("photos", "actor__posts")
    )
    filed = next((e for e in events if e.kind == IssueEvent.Kind.FILED), None)
    resolved = next((e for e in reversed(events) if e.kind == IssueEvent.Kind.RESOLVED), None)
    helper_ids = {(e.data or {}).get("helper_id") for e in events} - {None}
    helpers = {u.pk: u for u in User.objects.filter(pk__in=helper_ids)} if helper_ids else {}
    for event in events:
        data = event.data or {}
        helper = helpers.get(data.get("helper_id"))
        if event.actor_id is None:
            event.who = _("System")
        elif event.actor_id == issue.reporter_id:
            event.who = _("You") if viewer.pk == issue.reporter_id else _("Reporter")
        elif helper is not None and helper.pk == event.actor_id:
            event.who = participant_as_residents_read(helper)
        else:
            event.who = staff_as_residents_read(event.actor, issue)
        # Whom a step was about: the helper accepted, the partner unit that joined.
        event.subject = (
            participant_as_residents_read(helper)
            if helper is not None and helper.pk != event.actor_id
            else data.get("partner", "")
        )
        value = (event.data or {}).get("satisfaction")
        event.satisfaction_label = Satisfaction(value).label if value in Satisfaction.values else ""
        # Before and after photos are shown on their own above the timeline.
        event.timeline_photos = [] if event in (filed, resolved) else list(event.photos.all())
    before = list(filed.photos.all()) if filed else []
    after = list(resolved.photos.all()) if resolved else []
    return events, before, after


def _render_detail(request, issue, *, comment_form=None, evaluation_form=None):
    user = request.user
    events, before, after = _timeline(issue, user)
    may_comment = can(user, Action.COMMENT, issue)
    may_evaluate = can(user, Action.EVALUATE, issue) or can(user, Action.REOPEN, issue)
    # Staff who reported as residents on their own unit's work: someone else verifies it.
    verified_by_others = (
        issue.status == Status.RESOLVED
        and issue.has_resident_reporter
        and not reporter_evaluates(issue)
    )
    worker = None
    if issue.status == Status.SUBMITTED and issue.level == Level.GRID:
        worker = _grid_worker(issue)
    return render(
        request,
        "issues/resident/issue_detail.html",
        {
            "issue": issue,
            "events": events,
            "before_photos": before,
            "after_photos": after,
            "worker_name": worker.masked_name if worker else "",
            "may_comment": may_comment,
            "may_evaluate": may_evaluate,
            "verified_by_others": verified_by_others,
            "comment_form": comment_form or (CommentForm() if may_comment else None),
            "evaluation_form": evaluation_form or (EvaluationForm() if may_evaluate else None),
        },
    )


@login_required
def my_issue_detail(request, tracking_number):
    """Where my issue stands, what happens next, its public timeline and photos."""
    return _render_detail(request, _issue_for(request, tracking_number))


@login_required
@require_POST
def my_issue_comment(request, tracking_number):
    """A public comment (with photos) on my issue."""
    issue = _issue_for(request, tracking_number)
    form = CommentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_detail(request, issue, comment_form=form)
    try:
        workflow.comment(
            issue=issue,
            actor=request.user,
            note=form.cleaned_data["note"],
            is_public=True,
            photos=form.cleaned_data["photos"],
            submission_token=form.cleaned_data["submission_token"],
        )
    except workflow.WorkflowError as exc:
        log_refusal(request, issue=issue, reason=exc.code)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your comment was added."))
    return redirect("my_issue_detail", issue.tracking_number)


@login_required
@require_POST
def my_issue_evaluate(request, tracking_number):
    """满意 / 基本满意 close the issue; 不满意, with a reason, has it handled again."""
    issue = _issue_for(request, tracking_number)
    form = EvaluationForm(request.POST)
    if not form.is_valid():
        return _render_detail(request, issue, evaluation_form=form)
    try:
        issue = workflow.evaluate(
            issue=issue,
            actor=request.user,
            satisfaction=form.cleaned_data["satisfaction"],
            reason=form.cleaned_data["reason"],
            submission_token=form.cleaned_data["submission_token"],
        )
    except workflow.WorkflowError as exc:
        log_refusal(request, issue=issue, reason=exc.code)
        messages.error(request, exc.message)
    else:
        if issue.status == Status.CLOSED:
            messages.success(request, _("Thank you. The issue is closed."))
        else:
            messages.success(
                request, _("Thank you. The issue will be handled again; we will keep you posted.")
            )
    return redirect("my_issue_detail", issue.tracking_number)


# --- notifications ------------------------------------------------------------------------


def digest_link(notification) -> str:
    """A digest of several issues opens the staff queue on exactly them: those of its unit
    that arrived there at the sweep's time, or were due within the hour from it."""
    kind = units.KINDS[notification.unit_field]
    unit_id = getattr(notification, kind.id_field)
    moment = "due_soon" if notification.reason == Notification.Reason.DUE_SOON else "arrived"
    query = {
        moment: notification.created_at.isoformat(),
        "unit": UnitFilterField.value_for(kind, unit_id),
    }
    return f"{reverse('staff_queue')}?{urlencode(query)}"


def notification_link(notification) -> str:
    """Residents open their issue page; staff open the staff issue page, or the queue for
    a digest of several issues."""
    if notification.issue_id is None:
        return digest_link(notification)
    number = notification.issue.tracking_number
    if notification.reason == Notification.Reason.SUPPORTED_ISSUE:
        # Someone else's issue: where it stands, without its words, photos or names.
        return f"{reverse('track')}?number={number}"
    if notification.reason != Notification.Reason.YOUR_ISSUE:
        return reverse("staff_issue_detail", args=[number])
    return reverse("my_issue_detail", args=[number])


@login_required
def notification_list(request):
    """What happened on the issues I follow or handle, newest first."""
    # A digest names its unit (a grid with its community, as grids share names).
    notes = (
        request.user.notifications.select_related(
            "issue__category", "event", "grid__community", "community", "subdistrict", "department"
        )
        .defer("grid__boundary")
        .order_by("-created_at", "-id")
    )
    page = Paginator(notes, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    for note in page:
        note.link = notification_link(note)
        if note.is_digest:
            note.headline = digest_headline(note)
            unit = note.unit
            note.unit_name = f"{unit.community} · {unit}" if note.grid_id else str(unit)
    return render(request, "issues/notification_list.html", {"page": page})


@login_required
@require_POST
def notification_read(request, pk):
    """Mark one notification read and open its issue."""
    note = get_object_or_404(Notification.objects.select_related("issue"), pk=pk, user=request.user)
    if not note.is_read:
        Notification.objects.filter(pk=note.pk).update(is_read=True)
    return redirect(notification_link(note))


@login_required
@require_POST
def notifications_read_all(request):
    count = request.user.notifications.filter(is_read=False).update(is_read=True)
    if count:
        messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications")


urlpatterns = [
    path("report/", report, name="issue_report"),
    path("report/nearby/", report_nearby, name="report_nearby"),
    path("report/support/<int:pk>/", support_issue, name="support_issue"),
    path("my/", my_issues, name="my_issues"),
    path("my/<tracking:tracking_number>/", my_issue_detail, name="my_issue_detail"),
    path("my/<tracking:tracking_number>/comment/", my_issue_comment, name="my_issue_comment"),
    path("my/<tracking:tracking_number>/evaluate/", my_issue_evaluate, name="my_issue_evaluate"),
    path("notifications/", notification_list, name="notifications"),
    path("notifications/read-all/", notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", notification_read, name="notification_read"),
]
