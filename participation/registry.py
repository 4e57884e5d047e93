"""在职党员到社区报到: a party member registers with the community of their home; the
community's staff confirm or decline. Each change is one call, one transaction, and one
entry in the administrators' history (``LogEntry``), like a change made in the admin.
"""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from issues import permissions
from issues.workflow import WorkflowError

from .models import PartyRegistration


def _log(actor, registration, flag, message) -> None:
    LogEntry.objects.create(
        user_id=actor.pk,
        content_type_id=ContentType.objects.get_for_model(PartyRegistration).pk,
        object_id=str(registration.pk),
        object_repr=str(registration)[:200],
        action_flag=flag,
        change_message=message,
    )


def register(*, user, organisation: str) -> PartyRegistration:
    """Register with the community of one's home building, naming one's party
    organisation; waits for the community's staff."""
    organisation = (organisation or "").strip()
    if not organisation:
        raise WorkflowError(_("Name your party organisation."), code="organisation_required")
    building = user.home_building
    if building is None:
        raise WorkflowError(
            _("Choose your home building on your account page first: you register there."),
            code="no_home",
        )
    try:
        with transaction.atomic():
            registration = PartyRegistration.objects.create(
                user=user, community_id=building.grid.community_id, organisation=organisation
            )
            _log(user, registration, ADDITION, "registered")
    except IntegrityError:
        raise WorkflowError(_("You have already registered."), code="registered") from None
    return registration


def decide(*, registration: PartyRegistration, actor, confirm: bool) -> PartyRegistration:
    """Confirm a waiting registration (the person becomes a registered party member and a
    participant) or decline it."""
    with transaction.atomic():
        locked = PartyRegistration.objects.select_for_update().get(pk=registration.pk)
        if not permissions.may_decide_registration(actor, locked):
            raise WorkflowError(_("You may not decide on this registration."), code="forbidden")
        if locked.state != PartyRegistration.State.PENDING:
            raise WorkflowError(_("This registration was already decided."), code="decided")
        locked.state = (
            PartyRegistration.State.CONFIRMED if confirm else PartyRegistration.State.DECLINED
        )
        locked.decided_at = timezone.now()
        locked.decided_by = actor
        locked.save(update_fields=["state", "decided_at", "decided_by"])
        if confirm:
            type(locked.user).objects.filter(pk=locked.user_id).update(is_party_member=True)
        _log(actor, locked, CHANGE, locked.state)
    permissions.forget_participation(locked.user)
    return locked
