"""Staff workspace: the queue, the staff issue page with its actions, patrol and
hotline intake. URL list at the bottom.

Views parse the request, fetch issues through ``permissions.visible_issues`` (anything else
is a 404), call one ``workflow`` function, and turn a ``WorkflowError`` into a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from config.compiled import CompiledLookup, CompiledRows
from grids import units
from grids.models import User
from grids.places import map_start
from participation.models import Claim

from .. import choices, permissions, workflow
from ..forms import loop as loop_forms
from ..forms import participation as participation_forms
from ..forms import staff as forms
from ..models import (
    OPEN_STATUSES,
    RUNNING_STATUSES,
    Issue,
    IssueEvent,
    Photo,
    Source,
    Status,
)
from ..refusals import log_refusal
from ..sweep import due_soon_condition
from ..transitions import Action, action_allowed_by_flow
from ..workflow import WorkflowError

PAGE_SIZE = 25


# --- who gets which page ------------------------------------------------------------------


def patrols(user) -> bool:
    """Grid workers walk their grids and file patrol reports (巡查)."""
    return bool(permissions.scope_of(user).grids)


def takes_calls(user) -> bool:
    """Community and subdistrict staff take hotline calls for their area."""
    scope = permissions.scope_of(user)
    return bool(scope.communities or scope.subdistricts)


class StaffRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Anonymous visitors are sent to sign in; signed-in people without a post get 403."""

    def test_func(self):
        return permissions.is_staff_user(self.request.user)


@login_required
def after_login(request):
    """Where signing in lands: staff on their queue, residents on their own issues."""
    if permissions.scope_of(request.user).is_staff_anywhere:
        return redirect("staff_queue")
    if request.user.is_superuser:
        return redirect("admin:index")
    return redirect("my_issues")


# --- the queue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    params: dict  # what the tab sets in the query string
    shown: Callable | None = None  # scope -> whether the person could have any; None: all


def _in_an_area(scope) -> bool:
    return bool(scope.communities or scope.subdistricts)


def _in_a_department(scope) -> bool:
    return bool(scope.departments)


FQ = forms.QueueFilterForm
# The closed loop's lists, each the rule book's condition for what it holds: resolved
# hotline calls to call back (待回访; community and subdistrict staff), extensions asked of
# the unit above (延期待批; community and subdistrict staff), open sub-tasks of one's
# department (联办任务).
LISTS: dict[str, Callable] = {
    FQ.SCOPE_CALLBACK: permissions.callback_condition,
    FQ.SCOPE_EXTENSIONS: permissions.extension_condition,
    FQ.SCOPE_TASKS: permissions.task_condition,
}

TABS = [
    Tab("all", gettext_lazy("All my work"), {}),
    Tab("submitted", gettext_lazy("To accept"), {"status": Status.SUBMITTED}),
    Tab("in_progress", gettext_lazy("In progress"), {"status": Status.IN_PROGRESS}),
    Tab("suspended", gettext_lazy("Suspended"), {"status": Status.SUSPENDED}),
    Tab("resolved", gettext_lazy("To evaluate or verify"), {"status": Status.RESOLVED}),
    Tab("overdue", gettext_lazy("Overdue"), {"overdue": "1"}),
    Tab("following", gettext_lazy("Following"), {"scope": FQ.SCOPE_FOLLOWING}),
    Tab(
        FQ.SCOPE_CALLBACK,
        gettext_lazy("To call back"),
        {"scope": FQ.SCOPE_CALLBACK},
        shown=_in_an_area,
    ),
    Tab(
        FQ.SCOPE_EXTENSIONS,
        gettext_lazy("Extensions to decide"),
        {"scope": FQ.SCOPE_EXTENSIONS},
        shown=_in_an_area,
    ),
    Tab(
        FQ.SCOPE_TASKS, gettext_lazy("Sub-tasks"), {"scope": FQ.SCOPE_TASKS}, shown=_in_a_department
    ),
    Tab(
        FQ.SCOPE_OFFERS,
        gettext_lazy("Offers of help"),
        {"scope": FQ.SCOPE_OFFERS},
        shown=lambda scope: bool(scope.grids) or _in_an_area(scope),
    ),
]
# One's own issues with offers of help waiting: counted with the queue, from its rows.
OFFERS_WAITING = Q(pending_claims__gt=0)
# Tabs counted only when opened: their lists reach past one's own queue.
COUNTED_WHEN_OPEN = (FQ.SCOPE_FOLLOWING, *LISTS)
TAB_KEYS = {"status", "overdue", "scope", "page"}


class KnownCountPaginator(Paginator):
    """A paginator told its total, so it never runs COUNT(*) (the tab counts know it)."""

    def __init__(self, object_list, per_page, *, count, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count


QUEUE_ROW_FIELDS = (
    "tracking_number",
    "title",
    "status",
    "severity",
    "level",
    "due_at",
    "support_count",
    "is_supervised",
    "extension_until",
    "open_task_count",
    *(kind.id_field for kind in units.KINDS.values()),
    "grid__name",
    "department__name",
    "assignee__username",
    "assignee__first_name",
)


class QueueView(StaffRequiredMixin, TemplateView):
    """My work: every open issue on the units the person holds a post on.

    "Mine" is what they act on (the issue's current unit is theirs); the "following" tab
    lists the other open issues they can see, e.g. those that climbed from their grid.
    Sorted by deadline, so overdue issues come first. A fixed number of queries whatever
    the size of the queue: the tab counts (one aggregate, which also gives the page count),
    one page of rows, and the two choice lists of the filters. The counts cover the
    person's own queue only, which the unit indexes serve; the "following" tab is counted
    when it is opened (it can be much larger: a subdistrict follows every grid's issues),
    and so are the closed loop's lists (to call back, extensions to decide, sub-tasks),
    each shown to those who could have something in it.
    """

    template_name = "issues/staff/queue.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        scope = permissions.scope_of(user)
        now = timezone.now()
        categories, grids = choices.categories(), choices.grids_of(user)
        form = forms.QueueFilterForm(self.request.GET, categories=categories, grids=grids)
        form.is_valid()  # a filter that is not understood is left out; the others apply
        data = form.cleaned_data

        mine = permissions.acting_condition(scope)
        running_overdue = Q(status__in=RUNNING_STATUSES, due_at__lt=now)
        opened = data.get("scope") if data.get("scope") in COUNTED_WHEN_OPEN else None
        if opened == FQ.SCOPE_FOLLOWING:
            base, own = permissions.visible_issues(user), mine
            selection = listed = ~mine
        elif opened:
            # Each list is among what one sees (tests hold them together), so its
            # condition chooses the rows; one's own queue stays in for the other counts.
            selection = listed = LISTS[opened](user)
            base, own = Issue.objects.filter(mine | listed), mine
        else:
            # What one acts on is always among what one sees (acts_on_current_unit implies
            # sees_as_staff; tests hold the two together). Asking for the acting condition
            # alone, without visible_issues' wider OR, lets PostgreSQL estimate the queue
            # right and walk the unit's partial index in deadline order.
            base, own = Issue.objects.filter(mine), Q()
            selection = OFFERS_WAITING if data.get("scope") == FQ.SCOPE_OFFERS else Q()
        if data.get("status"):
            selection &= Q(status=data["status"])
        if data.get("overdue"):
            selection &= running_overdue
        base = base.filter(status__in=OPEN_STATUSES).filter(self._filters(data))
        # COUNT(status) (never null) rather than COUNT(id): an index holding the status
        # answers the counts without reading the rows.
        tab_counts = dict(
            all=Count("status", filter=own),
            submitted=Count("status", filter=own & Q(status=Status.SUBMITTED)),
            in_progress=Count("status", filter=own & Q(status=Status.IN_PROGRESS)),
            suspended=Count("status", filter=own & Q(status=Status.SUSPENDED)),
            resolved=Count("status", filter=own & Q(status=Status.RESOLVED)),
            overdue=Count("status", filter=own & running_overdue),
            offers=Count("status", filter=own & OFFERS_WAITING),
            selected=Count("status", filter=selection),
        )
        counts = dict.fromkeys(COUNTED_WHEN_OPEN)
        if opened:
            tab_counts[opened] = Count("status", filter=listed)
        counts.update(base.aggregate(**tab_counts))
        rows = (
            base.filter(selection)
            .select_related("grid", "assignee", "department")
            # What a row shows, and the unit fields naming who handles it: a page of rows
            # is built from these alone (a field left out would cost a query per row,
            # which the query-count tests would catch).
            .only(*QUEUE_ROW_FIELDS)
            .order_by(
                *(("-support_count",) if data.get("sort") == "supporters" else ()), "due_at", "pk"
            )
        )
        paginator = KnownCountPaginator(rows, PAGE_SIZE, count=counts["selected"])
        page = paginator.get_page(self.request.GET.get("page"))
        issues = list(page.object_list)
        for issue in issues:
            kind, _unit = units.current_unit(issue)
            is_department = kind is units.DEPARTMENT
            issue.handler_label = issue.department.name if is_department else kind.label

        active = self._active_tab(data)
        kept = {k: v for k, v in self.request.GET.items() if k not in TAB_KEYS and v}
        tabs = [
            {
                "key": tab.key,
                "label": tab.label,
                "count": counts[tab.key],
                "url": "?" + urlencode({**kept, **tab.params}),
                "active": tab.key == active,
            }
            for tab in TABS
            if tab.shown is None or tab.shown(scope)
        ]
        page_params = {k: v for k, v in self.request.GET.items() if k != "page" and v}
        return super().get_context_data(
            form=form,
            tabs=tabs,
            page_obj=page,
            issues=issues,
            page_query=urlencode(page_params),
            now=now,
            filtered=any(
                data.get(k) for k in ("q", "severity", "category", "grid", "source", "supervised")
            ),
            arrived=data.get("arrived"),
            due_from=data.get("due_soon"),
            **kwargs,
        )

    @staticmethod
    def _filters(data) -> Q:
        condition = Q()
        if data.get("q"):
            q = data["q"]
            condition &= Q(tracking_number=q) | Q(title__icontains=q) | Q(description__icontains=q)
        for field in ("severity", "source"):
            if data.get(field):
                condition &= Q(**{field: data[field]})
        for field in ("category", "grid"):
            if data.get(field) is not None and data.get(field) != "":
                condition &= Q(**{f"{field}_id": data[field]})
        if data.get("supervised"):
            condition &= Q(is_supervised=True)
        # A digest notification's list: what arrived at one unit in a sweep run (the run's
        # time is the arrival time it wrote), or was due within the hour there.
        if data.get("arrived"):
            condition &= Q(level_entered_at=data["arrived"])
        if data.get("due_soon"):
            condition &= due_soon_condition(data["due_soon"])
        if data.get("unit"):
            kind, unit_id = data["unit"]
            condition &= units.current_unit_condition(lambda k: [unit_id] if k is kind else [])
        return condition

    @staticmethod
    def _active_tab(data) -> str:
        if data.get("scope") in (*COUNTED_WHEN_OPEN, FQ.SCOPE_OFFERS):
            return data["scope"]
        if data.get("overdue") and not data.get("status"):
            return "overdue"
        if data.get("status") and not data.get("overdue"):
            return data["status"]
        if not data.get("status") and not data.get("overdue"):
            return "all"
        return ""  # a combination no single tab shows


# --- one issue ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """One action of the panel: its form, the workflow function it calls, and which
    cleaned form field feeds which keyword of that function."""

    form: type[forms.ActionForm]
    action: str  # the workflow action (marking a duplicate is a kind of rejection)
    run: Callable  # the workflow function, called with issue=, actor= and the params
    params: dict  # workflow keyword -> form field
    button: str  # Bootstrap button style
    label: str = ""  # defaults to the action's own name
    # Other actions the same form leads to, by what is entered: a call-back's answer
    # closes the issue, counts an unanswered call, or (不满意) reopens it.
    also: tuple = ()

    @property
    def title(self) -> str:
        return self.label or Action(self.action).label

    @property
    def actions(self) -> tuple:
        return (self.action, *self.also)


def _spec(form, action, run, button, *fields, label="", also=(), **renamed) -> ActionSpec:
    # Every action's form carries its submission token, so a resent form changes nothing.
    params = {**{name: name for name in fields}, **renamed, "submission_token": "submission_token"}
    return ActionSpec(form, action, run, params, button, label, also)


# Short names keep the table at one row per action.
A, F, L, P, W = Action, forms, loop_forms, participation_forms, workflow
ACTIONS: dict[str, ActionSpec] = {
    "accept": _spec(
        F.AcceptForm, A.ACCEPT, W.accept, "btn-primary", "category", "severity", "note", "message"
    ),
    "assign": _spec(F.AssignForm, A.ASSIGN, W.assign, "btn-outline-primary", "assignee", "note"),
    "comment": _spec(
        F.CommentForm, A.COMMENT, W.comment, "btn-outline-secondary", "note", "is_public", "photos"
    ),
    "escalate": _spec(F.EscalateForm, A.ESCALATE, W.escalate, "btn-warning", "reason", "message"),
    "dispatch": _spec(
        F.DispatchForm, A.DISPATCH, W.dispatch, "btn-warning", "department", "note", "message"
    ),
    "suspend": _spec(
        F.SuspendForm, A.SUSPEND, W.suspend, "btn-outline-secondary", "reason", "message"
    ),
    "resume": _spec(F.ResumeForm, A.RESUME, W.resume, "btn-primary", "note", "message"),
    "resolve": _spec(F.ResolveForm, A.RESOLVE, W.resolve, "btn-success", "note", "photos"),
    "verify": _spec(F.VerifyForm, A.VERIFY, W.verify, "btn-success", "note"),
    "reject": _spec(F.RejectForm, A.REJECT, W.reject, "btn-outline-danger", "reason"),
    "duplicate": _spec(
        F.DuplicateForm,
        A.REJECT,
        W.reject,
        "btn-outline-danger",
        label=gettext_lazy("Mark as duplicate"),
        reason="note",
        duplicate_of="original",
    ),
    # The closed loop: 退单, 延期, 联办, 回访, 督办.
    "return": _spec(
        L.ReturnForm, A.RETURN, W.return_dispatch, "btn-outline-danger", "reason", "note"
    ),
    "request_extension": _spec(
        L.RequestExtensionForm,
        A.REQUEST_EXTENSION,
        W.request_extension,
        "btn-outline-secondary",
        "until",
        "reason",
    ),
    "approve_extension": _spec(
        L.ApproveExtensionForm, A.APPROVE_EXTENSION, W.approve_extension, "btn-success", "note"
    ),
    "refuse_extension": _spec(
        L.RefuseExtensionForm,
        A.REFUSE_EXTENSION,
        W.refuse_extension,
        "btn-outline-danger",
        "reason",
    ),
    "dispatch_joint": _spec(
        L.JointDispatchForm,
        A.DISPATCH_JOINT,
        W.dispatch_joint,
        "btn-warning",
        "lead",
        "co_handlers",
        "instruction",
        "due",
        "message",
    ),
    "complete_task": _spec(
        L.CompleteTaskForm, A.COMPLETE_TASK, W.complete_task, "btn-success", "task", "note"
    ),
    "cancel_task": _spec(
        L.CancelTaskForm, A.CANCEL_TASK, W.cancel_task, "btn-outline-danger", "task", "reason"
    ),
    "callback": _spec(
        L.CallbackForm,
        A.CALLBACK,
        W.callback,
        "btn-success",
        "outcome",
        "said",
        also=(A.CALLBACK_MISSED, A.REOPEN),
    ),
    "supervise_note": _spec(
        L.SuperviseNoteForm,
        A.SUPERVISE_NOTE,
        W.supervise_note,
        "btn-outline-danger",
        "note",
        "until",
    ),
    # Party members and volunteers (志愿服务) and partner units (红色合伙人).
    "open_to_volunteers": _spec(
        P.OpenToVolunteersForm,
        A.OPEN_TO_VOLUNTEERS,
        W.open_to_volunteers,
        "btn-outline-primary",
        "note",
    ),
    "accept_claim": _spec(
        P.AcceptClaimForm, A.ACCEPT_CLAIM, W.accept_claim, "btn-primary", "claim", "note"
    ),
    "decline_claim": _spec(
        P.DeclineClaimForm,
        A.DECLINE_CLAIM,
        W.decline_claim,
        "btn-outline-danger",
        "claim",
        "reason",
    ),
    "confirm_hours": _spec(
        P.ConfirmHoursForm,
        A.CONFIRM_HOURS,
        W.confirm_hours,
        "btn-success",
        "claim",
        "hours",
        "note",
    ),
    "close_to_volunteers": _spec(
        P.CloseToVolunteersForm,
        A.CLOSE_TO_VOLUNTEERS,
        W.close_to_volunteers,
        "btn-outline-secondary",
        "reason",
    ),
    "add_partner": _spec(
        P.AddPartnerForm, A.ADD_PARTNER, W.add_partner, "btn-outline-primary", "partner", "note"
    ),
}


def _unread(path: str, model, shown: set[str]) -> list[str]:
    return [
        f"{path}__{field.name}"
        for field in model._meta.concrete_fields
        if not field.primary_key and field.name not in shown
    ]


# The columns of the issue page's related rows that it never reads, left out of its fetch
# (half of its columns: SQL Django need not write, rows it need not build): of the people,
# all but their names and phone; of the issue this one duplicates, all but its number; of
# the grid, its boundary, a whole polygon on a real map. (Who resolved it is compared by
# id only, and not joined at all.)
ISSUE_PAGE_UNREAD = (
    *(
        name
        for person in ("reporter", "assignee")
        for name in _unread(person, User, {"username", "first_name", "phone"})
    ),
    *_unread("duplicate_of", Issue, {"tracking_number"}),
    "grid__boundary",
)


# The issue with every related row its page shows, by tracking number: one row by its
# unique number, each related row by primary key, planned in the order written (searching
# the orders of eleven tables costs more than the query), with SQL written once, as
# writing it cost more than planning and running it.
_issue_page_row = CompiledLookup(
    Issue,
    lambda: Issue.objects.select_related(
        "category",
        "grid",
        "community",
        "subdistrict",
        "building",
        "department",
        "reporter",
        "assignee",
        "duplicate_of",
    ).defer(*ISSUE_PAGE_UNREAD),
    field="tracking_number",
    written_order=True,
)


def staff_issue_or_404(user, tracking_number: str):
    """The issue, if this person sees it as staff (through a post, or a sub-task of their
    department); otherwise 404, whether or not the number exists.

    A resident who reported it sees it on the resident pages, not here. The rule book's
    ``sees_as_staff`` decides, on the row read: it is what its query condition
    (``staff_issue_condition``) selects, as tests hold the two together.
    """
    try:
        issue = _issue_page_row.get(tracking_number)
    except Issue.DoesNotExist:
        raise Http404 from None
    if not permissions.sees_as_staff(user, issue):
        raise Http404
    return issue


# The timeline of an issue, with who acted, and its photos, by issue: SQL written once.
_timeline = CompiledRows(
    IssueEvent,
    lambda: IssueEvent.objects.select_related("actor").order_by("created_at", "id"),
    field="issue",
)
_photos = CompiledRows(Photo, lambda: Photo.objects.order_by("created_at", "id"), field="issue")


def timeline_of(issue) -> list[IssueEvent]:
    """The issue's events in order, each with its photos (``event.photo_list``): two
    queries, whatever the number of either."""
    events = _timeline.rows(issue.pk)
    photos: dict[int, list[Photo]] = {}
    for photo in _photos.rows(issue.pk):
        photos.setdefault(photo.event_id, []).append(photo)
    for event in events:
        event.photo_list = photos.get(event.pk, [])
    return events


class IssuePageMixin:
    """Renders the staff issue page; the action view re-renders it with a bound form."""

    template_name = "issues/staff/issue_detail.html"

    def page_context(self, issue, bound: dict | None = None) -> dict:
        user = self.request.user
        events = timeline_of(issue)
        allowed = set(permissions.allowed_actions(user, issue))
        offered = [name for name in ACTIONS if ACTIONS[name].action in allowed]
        action_forms = []
        for name in offered:
            spec = ACTIONS[name]
            form = (bound or {}).get(name) or spec.form(issue=issue, user=user, prefix=name)
            if not form.offered:
                continue
            action_forms.append(
                {
                    "name": name,
                    "label": spec.title,
                    "button": spec.button,
                    "form": form,
                    "url": reverse("staff_issue_action", args=[issue.tracking_number, name]),
                    "open": bool(bound and name in bound),
                }
            )
        filed = next((e for e in events if e.kind == IssueEvent.Kind.FILED), None)
        _name_people(events)
        return {
            **_closed_loop(issue, events),
            **_participants(issue, events),
            "issue": issue,
            "events": events,
            "filing_photos": filed.photo_list if filed else [],
            "show_actor_names": True,
            # Whoever is to call the caller back needs the number too.
            "show_phone": permissions.can_see_reporter_phone(user, issue),
            "acts_here": permissions.acts_on_current_unit(user, issue),
            "action_forms": action_forms,
            "is_hotline": issue.source in (Source.HOTLINE, Source.API),
        }


def _last(events, kind):
    return next((e for e in reversed(events) if e.kind == kind), None)


def _closed_loop(issue, events) -> dict:
    """What the page shows of the closed loop, read off the timeline already loaded: the
    latest supervision note (督办), the pending extension request (延期) and, for an issue
    ever handled jointly (联办), its sub-tasks (one query, whatever their number)."""
    Kind = IssueEvent.Kind
    joint = any(e.kind == Kind.JOINT_DISPATCHED for e in events)
    return {
        "supervision": _last(events, Kind.SUPERVISION_NOTE),
        "extension_request": (
            _last(events, Kind.EXTENSION_REQUESTED) if issue.extension_until else None
        ),
        "tasks": (
            list(issue.tasks.select_related("department", "finished_by").order_by("-role", "id"))
            if joint
            else []
        ),
        "callback_tries": settings.CALLBACK_TRIES,
    }


def _participants(issue, events) -> dict:
    """The helpers (认领) and partner units (红色合伙人) of the issue, each list read only
    when the timeline shows there is one (one query each)."""
    Kind = IssueEvent.Kind
    kinds = {e.kind for e in events}
    return {
        "claims": (
            list(
                Claim.objects.filter(issue_id=issue.pk)
                .select_related("helper")
                .order_by("created_at", "id")
            )
            if Kind.CLAIMED in kinds
            else []
        ),
        "partners": (
            list(issue.partner_links.select_related("partner").order_by("added_at", "id"))
            if Kind.PARTNER_ADDED in kinds
            else []
        ),
    }


def _name_people(events) -> None:
    """Assignment events record the login name, a helper's events the helper's id; the
    timeline shows the person's name (``event.assignee_name``, ``event.helper_name``: one
    query for the whole timeline)."""
    usernames = {(e.data or {}).get("assignee") for e in events} - {None, ""}
    helper_ids = {(e.data or {}).get("helper_id") for e in events} - {None}
    if not usernames and not helper_ids:
        return
    people = list(User.objects.filter(Q(username__in=usernames) | Q(pk__in=helper_ids)))
    by_username = {u.username: u.display_name for u in people}
    by_id = {u.pk: u.display_name for u in people}
    for event in events:
        data = event.data or {}
        if data.get("assignee"):
            event.assignee_name = by_username.get(data["assignee"], data["assignee"])
        if data.get("helper_id") is not None:
            event.helper_name = by_id.get(data["helper_id"], "")


class StaffIssueView(StaffRequiredMixin, IssuePageMixin, TemplateView):
    def get_context_data(self, **kwargs):
        issue = staff_issue_or_404(self.request.user, self.kwargs["tracking_number"])
        return super().get_context_data(**self.page_context(issue), **kwargs)


class IssueActionView(StaffRequiredMixin, IssuePageMixin, View):
    """POST one action: validate its form, call its workflow function, redirect.

    Refused by the workflow → its message, nothing changed. Invalid input → the page again
    with the errors next to the fields (nothing changed).
    """

    http_method_names = ["post"]

    def post(self, request, tracking_number, action):
        spec = ACTIONS.get(action)
        if spec is None:
            raise Http404
        issue = staff_issue_or_404(request.user, tracking_number)
        detail = reverse("staff_issue_detail", args=[issue.tracking_number])
        form = spec.form(request.POST, request.FILES, issue=issue, user=request.user, prefix=action)
        if not form.is_valid():
            if not permissions.can(request.user, spec.action, issue):
                # The page was stale (someone acted first): the input is moot; say why.
                log_refusal(request, issue=issue, reason=f"{spec.action}: not allowed")
                messages.error(request, self._refusal(issue, spec))
                return redirect(detail)
            context = self.page_context(issue, bound={action: form})
            return render(request, self.template_name, context)
        try:
            spec.run(
                issue=issue,
                actor=request.user,
                **{param: form.cleaned_data[field] for param, field in spec.params.items()},
            )
        except WorkflowError as error:
            log_refusal(request, issue=issue, reason=f"{spec.action}: {error.code}")
            field = form.workflow_fields.get(error.code)
            if field is not None:
                # Input the workflow found wrong (a date too far): say so next to the field.
                form.add_error(field, error.message)
                context = self.page_context(issue, bound={action: form})
                return render(request, self.template_name, context)
            messages.error(request, error.message)
        else:
            messages.success(request, _("Done: %(action)s.") % {"action": spec.title})
        return redirect(detail)

    @staticmethod
    def _refusal(issue, spec: ActionSpec) -> str:
        # The same words the workflow uses when it refuses (issues.workflow._act).
        label = spec.title
        if not action_allowed_by_flow(spec.action, issue):
            return _("“%(action)s” is not possible while the issue is %(status)s.") % {
                "action": label,
                "status": issue.get_status_display(),
            }
        return _("You may not “%(action)s” this issue.") % {"action": label}


# --- patrol (行走网格) and hotline intake ----------------------------------------------------


class PatrolRequiredMixin(StaffRequiredMixin):
    def test_func(self):
        return patrols(self.request.user)


class PatrolView(PatrolRequiredMixin, FormView):
    """A quick report from the street: file what was found, or settle it on the spot."""

    template_name = "issues/staff/patrol_form.html"
    form_class = forms.PatrolForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["user"] = self.request.user
        grids = permissions.scope_of(self.request.user).grids
        if len(grids) == 1:
            kwargs["initial"] = {**kwargs.get("initial", {}), "grid": next(iter(grids))}
        return kwargs

    def form_valid(self, form):
        d = form.cleaned_data
        common = dict(
            actor=self.request.user,
            category=d["category"],
            title=d["title"],
            description=d["description"],
            grid=d["grid"],
            building=d["building"],
            address=d["address"],
            latitude=d["latitude"],
            longitude=d["longitude"],
            photos=d["photos"],
            submission_token=d["submission_token"],
            answers=d["answers"],
        )
        try:
            if d["settled"]:
                issue = workflow.file_settled_on_spot(
                    **common, note=d["resolution"], after_photos=d["after_photos"]
                )
            else:
                issue = workflow.file_issue(source=Source.PATROL, **common)
        except WorkflowError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        if d["settled"]:
            text = _("Recorded %(number)s as settled on the spot.")
        else:
            text = _("Filed %(number)s.")
        messages.success(self.request, text % {"number": issue.tracking_number})
        return redirect("staff_patrol_list")


class PatrolListView(PatrolRequiredMixin, ListView):
    """The worker's own patrol reports, newest first, grouped by day."""

    template_name = "issues/staff/patrol_list.html"
    paginate_by = 50
    context_object_name = "reports"

    def get_queryset(self):
        return (
            permissions.visible_issues(self.request.user)
            .filter(source=Source.PATROL, reporter_id=self.request.user.pk)
            .select_related("grid", "category")
            .defer("grid__boundary")
            .order_by("-created_at", "-pk")
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        days: list[tuple] = []
        for issue in context["reports"]:
            day = timezone.localdate(issue.created_at)
            if not days or days[-1][0] != day:
                days.append((day, []))
            days[-1][1].append(issue)
        context["days"] = days
        return context


class HotlineRequiredMixin(StaffRequiredMixin):
    def test_func(self):
        return takes_calls(self.request.user)


class HotlineView(HotlineRequiredMixin, FormView):
    """热线受理: community or subdistrict staff file a caller's problem for them."""

    template_name = "issues/staff/hotline_form.html"
    form_class = forms.HotlineForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs):
        scope = permissions.scope_of(self.request.user)
        grids = permissions.grids_in_scope(scope)
        return super().get_context_data(map_start=map_start(grids=grids), **kwargs)

    def form_valid(self, form):
        d = form.cleaned_data
        try:
            issue = workflow.file_issue(
                actor=self.request.user,
                source=Source.HOTLINE,
                category=d["category"],
                severity=d["severity"] or None,
                title=d["title"],
                description=d["description"],
                grid=d["grid"],
                building=d["building"],
                address=d["address"],
                latitude=d["latitude"],
                longitude=d["longitude"],
                caller_name=d["caller_name"],
                caller_phone=d["caller_phone"],
                submission_token=d["submission_token"],
                answers=d["answers"],
            )
        except WorkflowError as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("Filed %(number)s for %(caller)s.")
            % {"number": issue.tracking_number, "caller": issue.caller_name},
        )
        return redirect("staff_issue_detail", issue.tracking_number)


urlpatterns = [
    path("", QueueView.as_view(), name="staff_queue"),
    path("start/", after_login, name="after_login"),
    path("issues/<tracking:tracking_number>/", StaffIssueView.as_view(), name="staff_issue_detail"),
    path(
        "issues/<tracking:tracking_number>/<slug:action>/",
        IssueActionView.as_view(),
        name="staff_issue_action",
    ),
    path("patrol/", PatrolView.as_view(), name="staff_patrol"),
    path("patrol/reports/", PatrolListView.as_view(), name="staff_patrol_list"),
    path("hotline/", HotlineView.as_view(), name="staff_hotline"),
]
