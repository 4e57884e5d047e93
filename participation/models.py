"""Party members and volunteers in the loop (党建引领, 志愿服务).

- ``PartyRegistration``: 在职党员到社区报到. A party member registers with the community of
  their home, naming their party organisation; the community's staff confirm it.
- ``Claim``: 认领. A participant (a volunteer, or a party member whose registration was
  confirmed) offers to help with a small matter of their home grid that staff opened to
  volunteers; the staff accept or decline; an accepted helper posts public progress notes
  and marks their part done; the staff confirm the service hours (志愿服务时长). Confirmed
  claims are the service record.
- ``PartnerUnit``: 红色合伙人. An organisation partnering with a community (a company, a
  school, their party organisations), kept by the administrator; ``IssuePartner`` lists
  one as co-handler of an issue.

Claims and partners on issues change only through ``issues.workflow`` (one action, one
event on the issue's timeline); registrations through ``participation.registry``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issues.models import ChoiceLabels

# Service time is recorded in half hours, at most a long day for one contribution.
HOURS_STEP = Decimal("0.5")
MAX_HOURS = Decimal("24")


class PartyRegistration(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="party_registrations",
        verbose_name=_("party member"),
    )
    community = models.ForeignKey(
        "grids.Community",
        on_delete=models.PROTECT,
        related_name="party_registrations",
        verbose_name=_("community"),
    )
    organisation = models.CharField(
        _("party organisation"),
        max_length=100,
        help_text=_("The party branch or committee you belong to, e.g. at your workplace."),
    )
    state = models.CharField(
        _("status"), max_length=10, choices=State.choices, default=State.PENDING
    )
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )

    class Meta:
        verbose_name = _("party member registration")
        verbose_name_plural = _("party member registrations")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["community", "state"], name="registration_community_state")]
        constraints = [
            # One registration in force per person: waiting, or confirmed.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(state__in=["pending", "confirmed"]),
                name="registration_one_in_force",
                violation_error_message=_("You have already registered."),
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.community} · {self.get_state_display()}"


class Claim(ChoiceLabels, models.Model):
    """认领: one participant's offer to help with one issue, and what came of it."""

    class State(models.TextChoices):
        OFFERED = "offered", _("Offered, waiting for the grid worker")
        ACCEPTED = "accepted", _("Accepted: helping")
        DECLINED = "declined", _("Declined")
        DONE = "done", _("Part done")

    # The states of a helper at work or done: they see the issue, and it counts as help.
    HELPING = (State.ACCEPTED, State.DONE)
    # A claim in force: nobody offers twice on one issue.
    IN_FORCE = (State.OFFERED, State.ACCEPTED, State.DONE)

    issue = models.ForeignKey(
        "issues.Issue", on_delete=models.CASCADE, related_name="claims", verbose_name=_("issue")
    )
    helper = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="claims",
        verbose_name=_("helper"),
        db_index=False,  # served by claim_helper_state
    )
    state = models.CharField(_("status"), max_length=10, choices=State.choices)
    offer = models.TextField(_("what they offer"), blank=True)
    created_at = models.DateTimeField(_("offered at"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decision_note = models.TextField(_("note to the helper"), blank=True)
    done_at = models.DateTimeField(_("part done at"), null=True, blank=True)
    hours = models.DecimalField(
        _("service hours"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(HOURS_STEP), MaxValueValidator(MAX_HOURS)],
    )
    hours_confirmed_at = models.DateTimeField(_("hours confirmed at"), null=True, blank=True)
    hours_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hours confirmed by"),
    )

    class Meta:
        verbose_name = _("offer of help")
        verbose_name_plural = _("offers of help")
        ordering = ["issue_id", "created_at", "id"]
        indexes = [
            models.Index(fields=["helper", "state"], name="claim_helper_state"),
            models.Index(
                fields=["hours_confirmed_at"],
                condition=Q(hours_confirmed_at__isnull=False),
                name="claim_hours_confirmed",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "helper"],
                condition=Q(state__in=["offered", "accepted", "done"]),
                name="claim_one_in_force",
            ),
            models.CheckConstraint(
                condition=Q(hours__isnull=True) | Q(hours__gt=0, hours__lte=MAX_HOURS),
                name="claim_hours_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.issue_id} · {self.helper} · {self.get_state_display()}"

    @property
    def hours_open(self) -> bool:
        """A helper at work or done whose time is still to be confirmed."""
        return self.state in self.HELPING and self.hours_confirmed_at is None


class PartnerUnit(models.Model):
    """红色合伙人: an organisation that partners with a community."""

    community = models.ForeignKey(
        "grids.Community",
        on_delete=models.PROTECT,
        related_name="partners",
        verbose_name=_("community"),
    )
    name = models.CharField(_("name"), max_length=100)
    contact = models.CharField(_("contact person"), max_length=100, blank=True)
    phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    offers = models.TextField(
        _("what they offer"),
        blank=True,
        help_text=_("Skills, equipment, rooms or services the partner brings."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("partner since"), default=timezone.now)

    class Meta:
        verbose_name = _("partner unit")
        verbose_name_plural = _("partner units")
        ordering = ["community_id", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["community", "name"], name="partner_unique_name_in_community"
            )
        ]

    def __str__(self):
        return self.name


class IssuePartner(models.Model):
    """A partner unit listed as co-handler of an issue."""

    issue = models.ForeignKey(
        "issues.Issue",
        on_delete=models.CASCADE,
        related_name="partner_links",
        verbose_name=_("issue"),
    )
    partner = models.ForeignKey(
        PartnerUnit,
        on_delete=models.PROTECT,
        related_name="issue_links",
        verbose_name=_("partner unit"),
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        verbose_name = _("partner on an issue")
        verbose_name_plural = _("partners on issues")
        ordering = ["issue_id", "added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["issue", "partner"], name="issue_partner_once")
        ]

    def __str__(self):
        return f"{self.issue_id} · {self.partner}"
