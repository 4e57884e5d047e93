"""Issues, their append-only history, photos, categories and deadlines.

Nothing here changes an issue's state: that is ``issues.workflow``'s job. Models hold
read-only facts (``is_open``, ``has_resident_reporter``).
"""

import secrets
from functools import cache

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@cache
def _choice_labels(field) -> dict:
    return dict(make_hashable(field.flatchoices))


class ChoiceLabels:
    """``get_FOO_display()`` from a dictionary built once per field, for models whose
    choices are fixed lists. (Django rebuilds the field's choices on every call: a page of
    events paid for it on every line.) The labels stay lazy: each is translated into the
    language active when it is shown."""

    def _get_FIELD_display(self, field):
        value = getattr(self, field.attname)
        label = _choice_labels(field).get(make_hashable(value), value)
        return force_str(label, strings_only=True)


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor matter")
    URGENT = "urgent", _("Urgent matter")
    DIFFICULT = "difficult", _("Difficult matter")


class Level(models.TextChoices):
    GRID = "grid", _("Grid")
    COMMUNITY = "community", _("Community")
    SUBDISTRICT = "subdistrict", _("Subdistrict")


class SlaUnit(models.TextChoices):
    """What a deadline counts: wall-clock hours (the clock never stops: 急事), or working
    days on the official calendar, within working hours (``issues.workdays``)."""

    HOURS = "hours", _("hours")
    WORKING_DAYS = "working_days", _("working days")


# Default deadlines per (severity, level): (unit, amount); administrators change them in the
# admin. Urgent matters run on the clock; the others count working days where a level's
# deadline spans days (a difficult matter at the subdistrict: 10 working days).
DEFAULT_SLA = {
    (Severity.MINOR, Level.GRID): (SlaUnit.HOURS, 48),
    (Severity.MINOR, Level.COMMUNITY): (SlaUnit.WORKING_DAYS, 3),
    (Severity.MINOR, Level.SUBDISTRICT): (SlaUnit.WORKING_DAYS, 5),
    (Severity.URGENT, Level.GRID): (SlaUnit.HOURS, 2),
    (Severity.URGENT, Level.COMMUNITY): (SlaUnit.HOURS, 12),
    (Severity.URGENT, Level.SUBDISTRICT): (SlaUnit.HOURS, 24),
    (Severity.DIFFICULT, Level.GRID): (SlaUnit.HOURS, 24),
    (Severity.DIFFICULT, Level.COMMUNITY): (SlaUnit.WORKING_DAYS, 3),
    (Severity.DIFFICULT, Level.SUBDISTRICT): (SlaUnit.WORKING_DAYS, 10),
}
# The hours of the first installations (before working days), kept for the migrations.
DEFAULT_SLA_HOURS = {
    (Severity.MINOR, Level.GRID): 48,
    (Severity.MINOR, Level.COMMUNITY): 72,
    (Severity.MINOR, Level.SUBDISTRICT): 120,
    (Severity.URGENT, Level.GRID): 2,
    (Severity.URGENT, Level.COMMUNITY): 12,
    (Severity.URGENT, Level.SUBDISTRICT): 24,
    (Severity.DIFFICULT, Level.GRID): 24,
    (Severity.DIFFICULT, Level.COMMUNITY): 72,
    (Severity.DIFFICULT, Level.SUBDISTRICT): 240,
}


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    IN_PROGRESS = "in_progress", _("In progress")
    SUSPENDED = "suspended", _("Suspended")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")


OPEN_STATUSES = [Status.SUBMITTED, Status.IN_PROGRESS, Status.SUSPENDED, Status.RESOLVED]
# Statuses whose clock runs: the sweep escalates these when overdue.
RUNNING_STATUSES = [Status.SUBMITTED, Status.IN_PROGRESS]


class Source(models.TextChoices):
    RESIDENT = "resident", _("Resident report")
    PATROL = "patrol", _("Found on patrol")
    VOLUNTEER = "volunteer", _("Report by a volunteer or party member")
    HOTLINE = "hotline", _("Hotline call")
    API = "api", _("External system")


# Sources whose reporter is a resident who evaluates the result.
RESIDENT_SOURCES = [Source.RESIDENT, Source.VOLUNTEER]


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASICALLY_SATISFIED = "basically_satisfied", _("Basically satisfied")
    DISSATISFIED = "dissatisfied", _("Dissatisfied")


def new_category_code() -> str:
    """A fresh code for a category created without one; administrators may set their own."""
    return f"c{secrets.token_hex(4)}"


code_validator = RegexValidator(
    r"^[A-Za-z0-9_.-]+$",
    _("Use letters, digits, “-”, “_” and “.” only."),
    code="bad_code",
)


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # The Open311 service_code: other systems store it, so it never changes once published.
    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        default=new_category_code,
        validators=[code_validator],
        help_text=_("Stable identifier other systems use (the Open311 service code)."),
    )
    hint = models.CharField(
        _("hint"), max_length=200, blank=True, help_text=_("One line: what belongs here.")
    )
    default_severity = models.CharField(
        _("default severity"), max_length=10, choices=Severity.choices, default=Severity.MINOR
    )
    department = models.ForeignKey(
        "grids.Department",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="categories",
        verbose_name=_("default department"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    is_public = models.BooleanField(
        _("shown on the public map"),
        default=False,
        help_text=_(
            "Issues of this category appear on the public map (category, status, date and a "
            "blurred place only). Leave off for sensitive kinds such as neighbour disputes."
        ),
    )
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name


class CategoryQuestion(models.Model):
    """An extra question asked when filing in a category; answers are kept on the issue."""

    class Datatype(models.TextChoices):
        STRING = "string", _("Short text")
        NUMBER = "number", _("Number")
        DATETIME = "datetime", _("Date and time")
        TEXT = "text", _("Long text")
        SINGLEVALUELIST = "singlevaluelist", _("One choice from a list")
        MULTIVALUELIST = "multivaluelist", _("Several choices from a list")

    LIST_TYPES = (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST)

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="questions", verbose_name=_("category")
    )
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    label = models.CharField(_("question"), max_length=200)
    datatype = models.CharField(
        _("answer type"), max_length=16, choices=Datatype.choices, default=Datatype.STRING
    )
    required = models.BooleanField(_("required"), default=False)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    choices = models.TextField(
        _("choices"),
        blank=True,
        help_text=_("For lists: one choice per line, as “key|label” or just the label."),
    )

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["category_id", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="question_unique_code")
        ]

    def __str__(self):
        return self.label

    @property
    def choice_list(self) -> list[tuple[str, str]]:
        """[(key, label)] parsed from ``choices``."""
        pairs = []
        for line in self.choices.splitlines():
            line = line.strip()
            if line:
                key, _sep, label = line.partition("|")
                pairs.append((key.strip(), (label or key).strip()))
        return pairs


class SlaPolicy(models.Model):
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    level = models.CharField(_("level"), max_length=12, choices=Level.choices)
    unit = models.CharField(
        _("counted in"), max_length=12, choices=SlaUnit.choices, default=SlaUnit.HOURS
    )
    amount = models.PositiveIntegerField(_("deadline"))

    class Meta:
        verbose_name = _("deadline policy")
        verbose_name_plural = _("deadline policies")
        ordering = ["severity", "level"]
        constraints = [
            models.UniqueConstraint(fields=["severity", "level"], name="sla_unique_severity_level"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="sla_amount_positive"),
        ]

    def __str__(self):
        return _("%(severity)s · %(level)s: %(amount)s %(unit)s") % {
            "severity": self.get_severity_display(),
            "level": self.get_level_display(),
            "amount": self.amount,
            "unit": self.get_unit_display(),
        }

    @classmethod
    def table(cls):
        """Every deadline, the configured values over the defaults, with the working
        calendar they count on (``issues.workdays.SlaTable``; the policies come from the
        cache, ``choices.sla_policies``, and the calendar is read the first time a
        working-day deadline is computed)."""
        from .workdays import SlaTable

        return SlaTable.load()


class Holiday(models.Model):
    """One day of the official calendar that differs from the plain week (国务院办公厅's
    yearly notice): a public holiday on which nobody works, or a weekend day worked to make
    up for one (调休). Imported per year by ``import_holidays``; the admin corrects it."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("public holiday (day off)")
        WORKDAY = "workday", _("make-up working day")

    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("holiday or make-up day")
        verbose_name_plural = _("working calendar")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["date"], name="holiday_unique_date")]

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} {self.name}".strip()


# The reasons a new installation starts with (the admin edits the list).
DEFAULT_RETURN_REASONS = [
    "不属于本部门职责",
    "派单信息不全，无法办理",
    "应由其他部门办理",
    "属于司法或仲裁程序",
    "属于市场经营行为或个人纠纷",
]


class ReturnReason(models.Model):
    """Why a department returns a dispatched issue (退单): the list the admin keeps."""

    name = models.CharField(_("reason"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("return reason")
        verbose_name_plural = _("return reasons")
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name


def _open_index(field: str) -> models.Index:
    """A partial index serving one queue: open issues of a unit, by deadline."""
    return models.Index(
        fields=[field, "due_at"],
        condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
        name=f"issue_open_{field}_due",
    )


def _acting_index(field: str, level: str) -> models.Index:
    """A partial index serving a unit's own queue: open issues whose current unit is that
    grid, community or subdistrict (not dispatched), by deadline, with the status in the key
    so the queue's tab counts are read from the index alone."""
    return models.Index(
        fields=[field, "due_at", "status"],
        condition=Q(
            status__in=[s.value for s in OPEN_STATUSES], level=level, department__isnull=True
        ),
        name=f"issue_act_{field}_due",
    )


class Issue(ChoiceLabels, models.Model):
    tracking_number = models.CharField(_("tracking number"), max_length=20)
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), max_length=2000)
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("category"),
        db_index=False,
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reported_issues",
        verbose_name=_("reporter"),
        db_index=False,
    )
    caller_name = models.CharField(_("caller name"), max_length=50, blank=True)
    caller_phone = models.CharField(_("caller phone"), max_length=20, blank=True)
    grid = models.ForeignKey(
        "grids.Grid",
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("grid"),
        db_index=False,
    )
    community = models.ForeignKey(
        "grids.Community",
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("community"),
        db_index=False,
    )
    subdistrict = models.ForeignKey(
        "grids.Subdistrict",
        on_delete=models.PROTECT,
        related_name="issues",
        verbose_name=_("subdistrict"),
        db_index=False,
    )
    building = models.ForeignKey(
        "grids.Building",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issues",
        verbose_name=_("building"),
        db_index=False,
    )
    address = models.CharField(_("address detail"), max_length=200, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    level = models.CharField(_("level"), max_length=12, choices=Level.choices, default=Level.GRID)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assigned_issues",
        verbose_name=_("assignee"),
        db_index=False,
    )
    department = models.ForeignKey(
        "grids.Department",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issues",
        verbose_name=_("department"),
        db_index=False,
    )
    due_at = models.DateTimeField(_("due at"))
    level_entered_at = models.DateTimeField(_("arrived at level"))
    is_supervised = models.BooleanField(_("under supervision"), default=False)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
        db_index=False,
    )
    satisfaction = models.CharField(
        _("satisfaction"), max_length=20, choices=Satisfaction.choices, blank=True
    )
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    # 附议: residents who said "this is my problem too" instead of filing a duplicate.
    support_count = models.PositiveIntegerField(_("supporters"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("times escalated"), default=0)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    suspended_seconds = models.PositiveIntegerField(
        _("seconds suspended"), default=0, help_text=_("Total time the clock was stopped.")
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resolved_issues",
        verbose_name=_("resolved by"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("filed at"), default=timezone.now)
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # The first deadline: to be accepted at the grid (the response figure reads it).
    response_due_at = models.DateTimeField(_("response due at"), null=True, blank=True)
    # 延期: the deadline a pending extension request asks for (none pending: empty).
    extension_until = models.DateTimeField(_("extension requested until"), null=True, blank=True)
    extension_count = models.PositiveSmallIntegerField(_("extensions granted"), default=0)
    # 退单: times a department returned it as outside its duties.
    return_count = models.PositiveSmallIntegerField(_("times returned"), default=0)
    # 联办: sub-tasks still open; the lead department resolves only when none is.
    open_task_count = models.PositiveSmallIntegerField(_("open sub-tasks"), default=0)
    # 督办: when it was first put under supervision (by the sweep or by a person).
    supervised_at = models.DateTimeField(_("supervised at"), null=True, blank=True)
    # 志愿服务: staff opened this small matter to the volunteers and party members of its
    # grid; offers of help (认领) still waiting for the staff to accept or decline them.
    open_to_volunteers = models.BooleanField(
        _("open to volunteers"), default=False, db_default=False
    )
    pending_claims = models.PositiveSmallIntegerField(
        _("offers of help waiting"), default=0, db_default=0
    )
    # Helpers accepted whose service hours the staff have yet to confirm.
    hours_to_confirm = models.PositiveSmallIntegerField(
        _("service hours to confirm"), default=0, db_default=0
    )
    # 回访: unanswered call-backs so far.
    callback_attempts = models.PositiveSmallIntegerField(_("unanswered call-backs"), default=0)
    # The deadline the unit's staff were last warned about ("due within the hour").
    warned_due_at = models.DateTimeField(_("warned about deadline"), null=True, blank=True)
    # A token the filing form carries, so a resent form files one issue, not two.
    submission_token = models.UUIDField(
        _("submission token"), null=True, blank=True, editable=False
    )
    # Answers to the category's extra questions: {question code: value}.
    answers = models.JSONField(_("answers"), default=dict, blank=True)

    class Meta:
        verbose_name = _("issue")
        verbose_name_plural = _("issues")
        ordering = ["-created_at"]
        indexes = [
            _acting_index("grid", Level.GRID),
            _acting_index("community", Level.COMMUNITY),
            _acting_index("subdistrict", Level.SUBDISTRICT),
            models.Index(
                fields=["department", "due_at", "status"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES], department__isnull=False),
                name="issue_act_department_due",
            ),
            _open_index("grid"),
            _open_index("community"),
            _open_index("subdistrict"),
            models.Index(fields=["reporter", "-created_at"], name="issue_reporter_created"),
            # The Open311 request list: newest first over a date range. created_at never
            # changes, so the sweep's updates do not write to it.
            models.Index(fields=["created_at"], name="issue_created"),
            # The sweep: running issues by deadline, and resolved ones by resolution time.
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=[s.value for s in RUNNING_STATUSES]),
                name="issue_running_due",
            ),
            models.Index(
                fields=["resolved_at"],
                condition=Q(status=Status.RESOLVED.value),
                name="issue_resolved_at",
            ),
            # The dashboards' "not answered in time" (open, never accepted, past the first
            # deadline): a few issues at any moment, found without reading the open ones.
            models.Index(
                fields=["response_due_at"],
                condition=Q(accepted_at__isnull=True, status__in=[s.value for s in OPEN_STATUSES]),
                name="issue_unanswered_due",
            ),
            # The dashboards: a unit's issues filed in a date range. These also serve the
            # foreign keys, whose own single-column indexes are switched off: every index
            # costs the sweep a write per escalated row.
            models.Index(fields=["subdistrict", "created_at"], name="issue_subdistrict_created"),
            models.Index(fields=["community", "created_at"], name="issue_community_created"),
            models.Index(fields=["grid", "created_at"], name="issue_grid_created"),
            models.Index(
                fields=["department", "created_at"],
                condition=Q(department__isnull=False),
                name="issue_department_created",
            ),
            # A worker's figures: what they resolved, or hold now. Partial, so the sweep
            # (which clears the assignee and never sets a resolver) does not write to them.
            models.Index(
                fields=["resolved_by", "created_at"],
                condition=Q(resolved_by__isnull=False),
                name="issue_resolver_created",
            ),
            models.Index(
                fields=["assignee", "created_at"],
                condition=Q(assignee__isnull=False),
                name="issue_assignee_created",
            ),
            models.Index(
                fields=["duplicate_of"],
                condition=Q(duplicate_of__isnull=False),
                name="issue_duplicate_of",
            ),
            # The maps and "nearby before filing": open issues with a point, by place. The
            # category rides along (PostgreSQL), so the public map counts its points per
            # cell from the index alone, never visiting the rows.
            models.Index(
                fields=["latitude", "longitude"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES], latitude__isnull=False),
                include=["category"],
                name="issue_open_point",
            ),
            # The public map's recently closed issues: the closing time bounds the range,
            # the point is checked in the index, the category rides along as above. Only
            # closing writes to it.
            models.Index(
                fields=["closed_at", "latitude", "longitude"],
                condition=Q(status=Status.CLOSED.value, latitude__isnull=False),
                include=["category"],
                name="issue_closed_point",
            ),
        ]
        constraints = [
            # Constraints rather than unique=True: no extra LIKE index on PostgreSQL, and
            # the token's index holds only the rows that have one.
            models.UniqueConstraint(fields=["tracking_number"], name="issue_unique_tracking"),
            models.UniqueConstraint(
                fields=["submission_token"],
                condition=Q(submission_token__isnull=False),
                name="issue_unique_submission_token",
            ),
            models.CheckConstraint(
                condition=Q(duplicate_of__isnull=True) | ~Q(duplicate_of=models.F("id")),
                name="issue_not_duplicate_of_itself",
            ),
            models.CheckConstraint(
                condition=Q(status="suspended", suspended_at__isnull=False)
                | (~Q(status="suspended") & Q(suspended_at__isnull=True)),
                name="issue_suspended_at_iff_suspended",
            ),
        ]

    def __str__(self):
        return f"{self.tracking_number} {self.title}"

    def get_status_display(self) -> str:
        """The status in the reader's language, as Django's own method gives it (a value
        that is no status as it is). Django's translates every status to look one up; this
        one is drawn on every row of every list, so it translates the one."""
        try:
            return str(Status(self.status).label)
        except ValueError:
            return self.status

    @property
    def has_resident_reporter(self) -> bool:
        """A resident who filed it evaluates it; otherwise a second staff member verifies."""
        return self.reporter_id is not None and self.source in RESIDENT_SOURCES

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def current_unit_label(self) -> str:
        if self.department_id:
            return self.department.name
        return {
            Level.GRID: self.grid.name,
            Level.COMMUNITY: self.community.name,
            Level.SUBDISTRICT: self.subdistrict.name,
        }[self.level]


class IssueEvent(ChoiceLabels, models.Model):
    """One line of an issue's history. Append-only: never updated, never deleted."""

    class Kind(models.TextChoices):
        # Labels name what happened, in the past tense (已挂起), apart from the status names
        # (挂起) that say where an issue is.
        FILED = "filed", pgettext_lazy("event", "Filed")
        ACCEPTED = "accepted", pgettext_lazy("event", "Accepted")
        ASSIGNED = "assigned", pgettext_lazy("event", "Assigned")
        COMMENTED = "commented", pgettext_lazy("event", "Commented")
        ESCALATED = "escalated", pgettext_lazy("event", "Escalated")
        DISPATCHED = "dispatched", pgettext_lazy("event", "Dispatched to department")
        SUSPENDED = "suspended", pgettext_lazy("event", "Suspended")
        RESUMED = "resumed", pgettext_lazy("event", "Resumed")
        RESOLVED = "resolved", pgettext_lazy("event", "Resolved")
        EVALUATED = "evaluated", pgettext_lazy("event", "Evaluated")
        REOPENED = "reopened", pgettext_lazy("event", "Reopened after dissatisfied evaluation")
        VERIFIED = "verified", pgettext_lazy("event", "Verified")
        AUTO_CLOSED = "auto_closed", pgettext_lazy("event", "Closed without evaluation")
        REJECTED = "rejected", pgettext_lazy("event", "Rejected")
        DUPLICATE = "duplicate", pgettext_lazy("event", "Marked as duplicate")
        SUPERVISED = "supervised", pgettext_lazy("event", "Put under supervision")
        EDITED = "edited", pgettext_lazy("event", "Details corrected")
        MOVED = "moved", pgettext_lazy("event", "Moved with its grid or community")
        SUPPORTED = "supported", pgettext_lazy("event", "Supported (+1)")
        RETURNED = "returned", pgettext_lazy("event", "Returned by the department")
        EXTENSION_REQUESTED = "extension_asked", pgettext_lazy("event", "Extension requested")
        EXTENSION_APPROVED = "extension_granted", pgettext_lazy("event", "Extension approved")
        EXTENSION_REFUSED = "extension_refused", pgettext_lazy("event", "Extension refused")
        JOINT_DISPATCHED = (
            "joint_dispatched",
            pgettext_lazy("event", "Dispatched for joint handling"),
        )
        TASK_COMPLETED = "task_completed", pgettext_lazy("event", "Sub-task completed")
        TASK_CANCELLED = "task_cancelled", pgettext_lazy("event", "Sub-task cancelled")
        CALLED_BACK = "called_back", pgettext_lazy("event", "Called back")
        CALLBACK_MISSED = "callback_missed", pgettext_lazy("event", "Call-back not answered")
        SUPERVISION_NOTE = "supervision_note", pgettext_lazy("event", "Supervised with a note")
        OPENED_TO_VOLUNTEERS = "volunteers_opened", pgettext_lazy("event", "Opened to volunteers")
        CLOSED_TO_VOLUNTEERS = (
            "volunteers_closed",
            pgettext_lazy("event", "Withdrawn from volunteers"),
        )
        CLAIMED = "claimed", pgettext_lazy("event", "Offered to help")
        CLAIM_ACCEPTED = "claim_accepted", pgettext_lazy("event", "Helper accepted")
        CLAIM_DECLINED = "claim_declined", pgettext_lazy("event", "Offer of help declined")
        HELPER_NOTE = "helper_note", pgettext_lazy("event", "Helper's progress")
        HOURS_CONFIRMED = "hours_confirmed", pgettext_lazy("event", "Service hours confirmed")
        PARTNER_ADDED = "partner_added", pgettext_lazy("event", "Partner unit joined")

    issue = models.ForeignKey(
        Issue,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("issue"),
        db_index=False,  # served by event_issue_created
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="issue_events",
        verbose_name=_("actor"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    from_status = models.CharField(
        _("from status"), max_length=12, choices=Status.choices, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=12, choices=Status.choices)
    from_level = models.CharField(_("from level"), max_length=12, choices=Level.choices, blank=True)
    to_level = models.CharField(_("to level"), max_length=12, choices=Level.choices)
    # Who reads what: a public event is on the reporter's timeline with its ``note``; the
    # ``internal_note`` is for staff only, even on a public event (the reason for escalating,
    # a department's instructions), so the reporter sees that it happened, not the words.
    note = models.TextField(_("note"), blank=True)
    internal_note = models.TextField(_("internal note"), blank=True, default="", db_default="")
    is_public = models.BooleanField(_("public"), default=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    # The token the form carried, so a resent form records nothing twice.
    submission_token = models.UUIDField(
        _("submission token"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("issue event")
        verbose_name_plural = _("issue events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["issue", "created_at"], name="event_issue_created")]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "submission_token"],
                condition=Q(submission_token__isnull=False),
                name="event_unique_submission_token",
            )
        ]

    def __str__(self):
        return f"{self.issue_id} {self.get_kind_display()}"


class IssueTask(ChoiceLabels, models.Model):
    """联办: one department's part of a jointly handled issue. The lead department holds the
    issue (``Issue.department``) and its own task; co-handling departments hold a task
    each, in their own queue. Changed only by ``issues.workflow``."""

    class Role(models.TextChoices):
        LEAD = "lead", _("lead department")
        CO = "co", _("co-handling department")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("issue")
    )
    department = models.ForeignKey(
        "grids.Department",
        on_delete=models.PROTECT,
        related_name="issue_tasks",
        verbose_name=_("department"),
        db_index=False,  # served by task_department_state
    )
    role = models.CharField(_("role"), max_length=4, choices=Role.choices)
    instruction = models.TextField(_("instruction"), blank=True)
    due_at = models.DateTimeField(_("due at"))
    state = models.CharField(_("status"), max_length=10, choices=State.choices, default=State.OPEN)
    note = models.TextField(_("completion note"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    finished_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("finished by"),
    )

    class Meta:
        verbose_name = _("sub-task")
        verbose_name_plural = _("sub-tasks")
        ordering = ["issue_id", "-role", "id"]
        indexes = [
            models.Index(fields=["department", "state", "due_at"], name="task_department_state")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "department"],
                condition=Q(state="open"),
                name="task_one_open_per_department",
            )
        ]

    def __str__(self):
        return f"{self.issue_id} · {self.department_id} · {self.get_state_display()}"

    @property
    def on_time(self) -> bool | None:
        if self.finished_at is None or self.state != self.State.DONE:
            return None
        return self.finished_at <= self.due_at


def photo_upload_to(instance, filename):
    # The name is generated by the server (see issues.photos); only the extension is kept.
    return f"photos/{timezone.now():%Y/%m}/{filename}"


class Photo(models.Model):
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="photos", verbose_name=_("issue")
    )
    event = models.ForeignKey(
        IssueEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("event"),
    )
    image = models.ImageField(_("image"), upload_to=photo_upload_to)
    # The square the pages draw (issues.photos.THUMBNAIL_SIDE); empty for a photo small
    # enough to be drawn as it is.
    thumbnail = models.ImageField(_("thumbnail"), upload_to=photo_upload_to, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="photos",
        verbose_name=_("uploaded by"),
    )
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.image.name


class Support(models.Model):
    """附议 (+1): a person says an open issue is their problem too, instead of filing it
    again. One per person and issue; they are then told of its progress like its reporter."""

    issue = models.ForeignKey(
        Issue,
        on_delete=models.CASCADE,
        related_name="supports",
        verbose_name=_("issue"),
        db_index=False,  # served by support_once_per_person
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="supports",
        verbose_name=_("user"),
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("support")
        verbose_name_plural = _("supports")
        constraints = [
            models.UniqueConstraint(fields=["issue", "user"], name="support_once_per_person")
        ]

    def __str__(self):
        return f"{self.user_id} +1 {self.issue_id}"


# The unit a digest notification is about: one field per kind of unit (``grids.units``),
# named as on Issue and Post.
DIGEST_UNIT_FIELDS = ("grid", "community", "subdistrict", "department")


def _exactly_one_unit() -> Q:
    branches = [
        Q(**{f"{other}__isnull": other != name for other in DIGEST_UNIT_FIELDS})
        for name in DIGEST_UNIT_FIELDS
    ]
    condition = branches[0]
    for branch in branches[1:]:
        condition |= branch
    return condition


class Notification(models.Model):
    """Something a person should look at: an event on an issue they follow or handle, or a
    digest of several issues.

    The text is rendered from the event when shown, so it follows the reader's language.

    A digest (``issue_count`` set) tells the staff of one unit about the issues the deadline
    sweep brought to it in one run: "12 issues arrived overdue from the grid level", or are
    due within the hour there. It names its unit (one of ``grid``, ``community``,
    ``subdistrict``, ``department``: the unit fields of ``Issue`` and ``Post``) and holds the
    sweep's time in ``created_at``, which with the unit picks exactly those issues out of
    the queue. A digest of one issue also names that issue; a digest of several names none.
    There is at most one digest per person, unit, reason and sweep run: the run's later
    batches add to it.
    """

    class Reason(models.TextChoices):
        YOUR_ISSUE = "your_issue", _("Your issue was updated")
        NEW_AT_UNIT = "new_at_unit", _("New issue for your unit")
        DUE_SOON = "due_soon", _("Due within the hour")
        SUPPORTED_ISSUE = "supported", _("An issue you support was updated")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
        db_index=False,  # served by notification_user_created
    )
    issue = models.ForeignKey(
        Issue,
        on_delete=models.CASCADE,
        null=True,  # a digest of several issues names none
        blank=True,
        related_name="notifications",
        verbose_name=_("issue"),
    )
    event = models.ForeignKey(
        IssueEvent,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("event"),
    )
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    is_read = models.BooleanField(_("read"), default=False)
    created_at = models.DateTimeField(_("at"), default=timezone.now)
    # A digest: how many issues, the unit they are at, and the level they came from.
    issue_count = models.PositiveIntegerField(_("number of issues"), null=True, blank=True)
    # (A database default: notifications are written by raw INSERT … SELECT statements.)
    from_level = models.CharField(
        _("from level"), max_length=12, choices=Level.choices, blank=True, db_default=""
    )
    # No index of their own: a unit is never deleted while it has issues, so neither while
    # a digest names it.
    grid = models.ForeignKey(
        "grids.Grid",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("grid"),
        db_index=False,
    )
    community = models.ForeignKey(
        "grids.Community",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("community"),
        db_index=False,
    )
    subdistrict = models.ForeignKey(
        "grids.Subdistrict",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("subdistrict"),
        db_index=False,
    )
    department = models.ForeignKey(
        "grids.Department",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("department"),
        db_index=False,
    )

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "-created_at"],
                condition=Q(is_read=False),
                name="notification_unread",
            ),
            models.Index(fields=["user", "-created_at"], name="notification_user_created"),
        ]
        constraints = [
            # A notification is about one issue, or is a digest of one unit's issues.
            models.CheckConstraint(
                condition=Q(
                    issue_count__isnull=True,
                    issue__isnull=False,
                    **{f"{name}__isnull": True for name in DIGEST_UNIT_FIELDS},
                )
                | (Q(issue_count__gte=1) & _exactly_one_unit()),
                name="notification_issue_or_digest",
            ),
            # One digest per person, unit, reason and sweep run: later batches add to it
            # (``INSERT … ON CONFLICT`` in issues.notifications needs these indexes).
            *[
                models.UniqueConstraint(
                    fields=["user", name, "reason", "created_at"],
                    condition=Q(**{f"{name}__isnull": False}),
                    name=f"notification_digest_{name}",
                )
                for name in DIGEST_UNIT_FIELDS
            ],
        ]

    def __str__(self):
        if self.issue_count is not None:
            return f"{self.user_id} {self.get_reason_display()} ×{self.issue_count}"
        return f"{self.user_id} {self.get_reason_display()} {self.issue_id}"

    @property
    def is_digest(self) -> bool:
        return self.issue_count is not None

    @property
    def unit_field(self) -> str | None:
        """The field naming a digest's unit ("community", the key of its kind in
        ``grids.units``); None for a notification about one issue."""
        return next(
            (name for name in DIGEST_UNIT_FIELDS if getattr(self, f"{name}_id") is not None),
            None,
        )

    @property
    def unit(self):
        """The unit a digest is about (None for a notification about one issue)."""
        return getattr(self, self.unit_field) if self.unit_field else None


# Open311 clients, keys and intake records live with the API; imported here so that Django
# finds them as models of this app.
from .open311.models import ApiClient, ApiKey, ApiRequest  # noqa: E402, F401

# --- daily rollups of the governance figures ------------------------------------------------

# The counts and sums a rollup row (``DailyRollup``, ``DailyTotal``) stores: every aggregate
# of ``issues.stats.figures`` that does not depend on the moment it is read (``STORED_KEYS``;
# a test ties the two lists), the closed loop's counts from events and sub-tasks
# (``issues.stats.loop``), and the two duration histograms the medians are read from.
ROLLUP_COUNTS = (
    "filed",
    "open",
    "minor_closed",
    "minor_settled",
    "urgent_closed",
    "urgent_settled",
    "difficult_closed",
    "difficult_settled",
    "response_on_time",
    "unanswered_closed",
    "resolution_on_time",
    "satisfied",
    "evaluated_stored",
    "reopens",
    "satisfied_online",
    "evaluated_online",
    "reopens_online",
    "satisfied_callback",
    "evaluated_callback",
    "reopens_callback",
    "patrol",
    "reached_community",
    "reached_subdistrict",
    "dispatched",
    "reopened",
    "resolved_once",
    "supervised",
    "supervised_resolved",
    "extended",
    "extension_pending",
    "accepted",
    "resolved",
    "dispatches_received",
    "returned",
    "tasks_done",
    "tasks_on_time",
)
ROLLUP_SUMS = ("accept_seconds_sum", "resolve_seconds_sum")
ROLLUP_HISTOGRAMS = ("accept", "resolve")
ROLLUP_BUCKETS = 28


def _unit_column(model: str, *, null: bool = False):
    """A unit of a rollup row: a plain column (rows are rewritten with their issues and
    never edited by hand; no constraint to check on every write)."""
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=null,
        related_name="+",
    )


class RollupKey(models.Model):
    """The issues filed on one day (local time) in one grid with one department (or none):
    the key every rollup row starts with. The department is the issue's for its own counts;
    a dispatch or return counts for the department its event names, and a sub-task for its
    department, so one issue may add to the rows of several departments."""

    day = models.DateField(_("day filed"))
    subdistrict = _unit_column("grids.Subdistrict")
    community = _unit_column("grids.Community")
    grid = _unit_column("grids.Grid")
    department = _unit_column("grids.Department", null=True)

    class Meta:
        abstract = True


def _rollup_indexes(prefix: str) -> list:
    return [
        # Rewriting one grid's day, and a grid's dashboard.
        models.Index(fields=["grid", "day"], name=f"{prefix}_grid_day"),
        models.Index(fields=["community", "day"], name=f"{prefix}_community_day"),
        models.Index(fields=["subdistrict", "day"], name=f"{prefix}_subdistrict_day"),
        models.Index(
            fields=["department", "day"],
            condition=Q(department__isnull=False),
            name=f"{prefix}_department_day",
        ),
    ]


class DailyRollup(RollupKey):
    """The governance figures of the issues of a key with one category, severity and
    source, as counts and sums that add up over any period and unit (``issues.rollups``
    keeps them): what the dashboard reads when a category, severity or source is chosen."""

    category = _unit_column("issues.Category")
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)

    class Meta:
        verbose_name = _("daily rollup")
        verbose_name_plural = _("daily rollups")
        indexes = [
            *_rollup_indexes("rollup"),
            # What volunteers reported (the dashboard's participation figures): a twentieth
            # of the rows, read without the rest of a subdistrict's or the city's year.
            # Each carries the count and the filters, so that a year of the city's is read
            # from the index alone (54,000 rows: 10 ms instead of 140), a category or
            # severity chosen or not.
            models.Index(
                fields=["subdistrict", "day"],
                include=["filed", "category", "severity"],
                condition=Q(source=Source.VOLUNTEER),
                name="rollup_volunteer_subdistrict",
            ),
            models.Index(
                fields=["day"],
                include=["filed", "category", "severity"],
                condition=Q(source=Source.VOLUNTEER),
                name="rollup_volunteer_day",
            ),
        ]

    def __str__(self):
        return f"{self.day} {self.grid_id}"


class DailyTotal(RollupKey):
    """The same figures for a key whatever the category, severity and source (the sums of
    its ``DailyRollup`` rows): what the dashboard and the public pages read without those
    filters. A grid files a handful of issues a day spread over many categories, so the
    filtered rows hold about one issue each; these hold the whole day of a grid."""

    class Meta:
        verbose_name = _("daily total")
        verbose_name_plural = _("daily totals")
        indexes = [
            *_rollup_indexes("total"),
            # The whole city (the home page).
            models.Index(fields=["day"], name="total_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.grid_id}"


class MonthlyTotal(RollupKey):
    """The daily totals of one grid's (and department's) calendar month added up: ``day`` is
    the month's first day. Kept with the daily totals (``issues.rollups``), so that a period
    of many months reads a row per grid and month for each whole month in it, and the daily
    totals only for the days of the months it covers in part."""

    class Meta:
        verbose_name = _("monthly total")
        verbose_name_plural = _("monthly totals")
        indexes = _rollup_indexes("month")

    def __str__(self):
        return f"{self.day:%Y-%m} {self.grid_id}"


class DailyOutcome(RollupKey):
    """For the weekly trend: how many issues of a key, category, severity and source were
    resolved on one day, late or not (``missed_day``: the day of the deadline they missed
    by being resolved after it). Narrow rows: one count each."""

    category = _unit_column("issues.Category")
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    resolved_day = models.DateField(_("day resolved"), null=True)
    missed_day = models.DateField(_("day of the deadline missed"), null=True)
    filed = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("daily outcome")
        verbose_name_plural = _("daily outcomes")
        indexes = [
            *_rollup_indexes("outcome"),
            # The city's outcomes of a day, a slice at a time.
            models.Index(fields=["day"], name="outcome_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.grid_id}"


class Slice(models.Model):
    """Which issues a row of the city's rollups adds up: all of them (every column blank),
    or those of the category, severity and source its columns set (the others blank):
    each combination of the dashboard's filters, so that the city's figures with any of
    them chosen are read from a subdistrict's rows, never from the grids'. A subdistrict's
    day keeps a row per combination its issues have (on the benchmark city some 85, for
    some 34 issues a day), its month some 250."""

    category = _unit_column("issues.Category", null=True)
    severity = models.CharField(
        _("severity"),
        max_length=10,
        choices=Severity.choices,
        blank=True,
        default="",
        db_default="",
    )
    source = models.CharField(
        _("source"), max_length=10, choices=Source.choices, blank=True, default="", db_default=""
    )

    # The rows that add up every issue.
    WHOLE = Q(category__isnull=True, severity="", source="")

    class Meta:
        abstract = True


def _slice_index(prefix: str, *fields: str) -> models.Index:
    """What a page reads: one slice (equal columns first), over a range of days."""
    return models.Index(
        fields=["category", "severity", "source", "day", *fields], name=f"{prefix}_slice_day"
    )


class SubdistrictKey(Slice):
    """The issues filed on one day (local time) in one subdistrict, whatever the grid and
    department, in one slice: the key of the city's rollups, the sums of the grid rows
    above (kept with them, ``issues.rollups``). The whole city's year is some thirteen rows
    per subdistrict and slice instead of a row per grid and day."""

    day = models.DateField(_("day filed"))
    subdistrict = _unit_column("grids.Subdistrict")

    class Meta:
        abstract = True


class SubdistrictDay(SubdistrictKey):
    """A subdistrict's ``DailyTotal`` rows of one day added up."""

    class Meta:
        verbose_name = _("subdistrict's daily total")
        verbose_name_plural = _("subdistricts' daily totals")
        indexes = [
            # Rewriting a subdistrict's day, every slice of it.
            models.Index(fields=["day", "subdistrict"], name="subdistrict_day_day"),
            _slice_index("subdistrict_day", "subdistrict"),
        ]

    def __str__(self):
        return f"{self.day} {self.subdistrict_id}"


class SubdistrictMonth(SubdistrictKey):
    """A subdistrict's days of one calendar month added up (``day``: the month's first)."""

    class Meta:
        verbose_name = _("subdistrict's monthly total")
        verbose_name_plural = _("subdistricts' monthly totals")
        indexes = [
            models.Index(fields=["day", "subdistrict"], name="subdistrict_month_day"),
            _slice_index("subdistrict_month", "subdistrict"),
        ]

    def __str__(self):
        return f"{self.day:%Y-%m} {self.subdistrict_id}"


class Series(models.TextChoices):
    """The weekly trend's series: issues by the week they were filed, resolved, and
    resolved after the deadline they missed."""

    FILED = "filed", _("Filed")
    RESOLVED = "resolved", _("Resolved")
    OVERDUE = "overdue", _("Went overdue")


class Outcome(models.Model):
    """The outcomes of the issues filed on one day, a series at a time: how many in each
    week (by the Monday it starts on) of filing, of resolution, and of the deadline missed
    by a late resolution."""

    day = models.DateField(_("day filed"))
    series = models.CharField(_("series"), max_length=10, choices=Series.choices)
    week = models.DateField(_("week"))
    issues = models.IntegerField(_("issues"), default=0)

    class Meta:
        abstract = True


class SubdistrictOutcome(Outcome):
    """A subdistrict's ``DailyOutcome`` rows of one day added up (a few rows a day), from
    which the city's whole slice is added up."""

    subdistrict = _unit_column("grids.Subdistrict")

    class Meta:
        verbose_name = _("subdistrict's outcome")
        verbose_name_plural = _("subdistricts' outcomes")
        indexes = [models.Index(fields=["day", "subdistrict"], name="subdistrict_outcome_day")]

    def __str__(self):
        return f"{self.day} {self.subdistrict_id}"


class CityOutcome(Slice, Outcome):
    """The outcomes of one day in the whole city, in one slice: the city's weekly trend,
    some fifteen rows a day and slice where the grid rows are thousands. The whole slice
    adds up the subdistricts' outcomes; the others are kept by difference from the grid
    rows (``issues.rollups``), so a key's refresh does not read the whole city's day."""

    class Meta:
        verbose_name = _("city's outcome")
        verbose_name_plural = _("city's outcomes")
        indexes = [
            models.Index(fields=["day"], name="city_outcome_day"),
            _slice_index("city_outcome"),
        ]

    def __str__(self):
        return str(self.day)


class PendingRollup(models.Model):
    """A rollup key (a grid's filing day) whose issues changed since its rows were last
    written: the catch-up (``issues.rollups.catch_up``) rewrites it and deletes this row.
    One row per change, never updated: a change still uncommitted while the catch-up runs
    keeps its row, and is caught up the next time."""

    day = models.DateField(_("day"))
    grid_id = models.BigIntegerField(_("grid"))
    noted_at = models.DateTimeField(_("noted at"), default=timezone.now)

    class Meta:
        verbose_name = _("rollup waiting to be updated")
        verbose_name_plural = _("rollups waiting to be updated")

    def __str__(self):
        return f"{self.day} {self.grid_id}"


ROLLUP_HISTOGRAM_COLUMNS = tuple(
    f"{measure}_b{bucket}" for measure in ROLLUP_HISTOGRAMS for bucket in range(ROLLUP_BUCKETS)
)
for _model in (DailyRollup, DailyTotal, MonthlyTotal, SubdistrictDay, SubdistrictMonth):
    for _name in ROLLUP_COUNTS:
        _model.add_to_class(_name, models.IntegerField(default=0))
    for _name in ROLLUP_SUMS:
        _model.add_to_class(_name, models.FloatField(null=True))
    for _name in ROLLUP_HISTOGRAM_COLUMNS:
        _model.add_to_class(_name, models.IntegerField(default=0))
# Every column that adds up over rows.
ROLLUP_VALUES = (*ROLLUP_COUNTS, *ROLLUP_SUMS, *ROLLUP_HISTOGRAM_COLUMNS)
