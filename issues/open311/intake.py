"""Filing a request another system sent: parse it, recognise a resend, and hand the issue
to ``workflow.file_issue`` (source API). The only row written here is the API's own intake
record (``ApiRequest``), in the same transaction as the issue, so both are kept or neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from grids.models import Building

from .. import workflow
from ..models import ApiRequest, Category, Source
from ..questions import AnswerError, clean_answers, questions_of
from .errors import ApiError

# A resend with the same device or account, description and place within this window
# returns the request already filed.
RESEND_WINDOW = timedelta(minutes=10)
MAX_KEY = 100


@dataclass
class Filed:
    issue: object
    token: object
    account_id: str


def _filed(api_request: ApiRequest) -> Filed:
    return Filed(api_request.issue, api_request.token, api_request.account_id)


def _checked(value: str | None, validator, name: str, max_length: int) -> str:
    if value is None:
        return ""
    if len(value) > max_length:
        raise ApiError(400, _("%(name)s is too long.") % {"name": name})
    try:
        validator(value)
    except ValidationError:
        raise ApiError(400, _("%(name)s is not valid.") % {"name": name}) from None
    return value


def _point(param):
    lat, lng = param("lat"), param("long")
    if (lat is None) != (lng is None):
        raise ApiError(400, _("lat and long must be sent together."))
    if lat is None:
        return None, None
    try:
        return float(lat), float(lng)
    except ValueError:
        raise ApiError(400, _("lat and long must be numbers.")) from None


def _building(param, client, jurisdiction):
    """``address_id`` is a building's id; ``address_string`` a building's name or address
    in the client's subdistricts, matched exactly, else refused."""
    buildings = (
        Building.objects.select_related("grid__community")
        .defer("grid__boundary")
        .filter(grid__community__subdistrict__in=client.jurisdictions.all())
    )
    if jurisdiction is not None:
        buildings = buildings.filter(grid__community__subdistrict=jurisdiction)
    address_id, address_string = param("address_id"), param("address_string")
    if address_id is not None:
        found = buildings.filter(pk=address_id).first() if address_id.isdigit() else None
        if found is None:
            raise ApiError(400, _("Unknown address_id “%(id)s”.") % {"id": address_id})
        return found
    if address_string is not None:
        matches = list(buildings.filter(Q(name=address_string) | Q(address=address_string))[:2])
        if len(matches) != 1:
            raise ApiError(
                400,
                _("address_string matches no single building; send lat and long instead."),
            )
        return matches[0]
    return None


def _answers(request, category):
    def values_of(question):
        return request.POST.getlist(f"attribute[{question.code}]") + request.POST.getlist(
            f"attribute[{question.code}][]"
        )

    try:
        return clean_answers(questions_of(category), values_of)
    except AnswerError as error:
        raise ApiError(400, f"attribute[{error.question.code}]: {error.message}") from None


def _fingerprint(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p or "") for p in parts).encode()).hexdigest()


def file_request(request, *, client, jurisdiction, param) -> Filed:
    idempotency_key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(idempotency_key) > MAX_KEY:
        raise ApiError(400, _("The Idempotency-Key header is too long."))
    if idempotency_key:
        sent = ApiRequest.objects.filter(client=client, idempotency_key=idempotency_key)
        existing = sent.select_related("issue").first()
        if existing is not None:
            return _filed(existing)

    code = param("service_code")
    if code is None:
        raise ApiError(400, _("service_code is required."))
    category = Category.objects.filter(code=code, is_active=True).first()
    if category is None:
        raise ApiError(404, _("Unknown service_code “%(code)s”.") % {"code": code})
    description = param("description")
    if description is None:
        raise ApiError(400, _("description is required."))
    if len(description) > 2000:
        raise ApiError(400, _("description is longer than 2,000 characters."))
    lat, lng = _point(param)
    building = _building(param, client, jurisdiction)
    if lat is None and building is None:
        raise ApiError(
            400, _("A location is required: lat and long, address_string or address_id.")
        )
    answers = _answers(request, category)
    email = _checked(param("email"), EmailValidator(), "email", 254)
    media_url = _checked(
        param("media_url"), URLValidator(schemes=["http", "https"]), "media_url", 500
    )
    name = " ".join(filter(None, [param("last_name"), param("first_name")]))
    phone, device_id, account_id = (
        param("phone") or "",
        param("device_id") or "",
        param("account_id") or "",
    )
    for value, label, limit in (
        (name, "first_name/last_name", 50),
        (phone, "phone", 20),
        (device_id, "device_id", 100),
        (account_id, "account_id", 100),
    ):
        if len(value) > limit:
            raise ApiError(400, _("%(name)s is too long.") % {"name": label})

    fingerprint = ""
    if device_id or account_id:
        fingerprint = _fingerprint(
            device_id, account_id, code, description, lat, lng, building and building.pk
        )
        resent = (
            ApiRequest.objects.filter(
                client=client,
                fingerprint=fingerprint,
                created_at__gte=timezone.now() - RESEND_WINDOW,
            )
            .select_related("issue")
            .order_by("-created_at")
            .first()
        )
        if resent is not None:
            return _filed(resent)

    try:
        with transaction.atomic():
            issue = workflow.file_issue(
                actor=None,
                api_client=client,
                source=Source.API,
                category=category,
                title=Truncator(" ".join(description.split())).chars(40),
                description=description,
                building=building,
                latitude=lat,
                longitude=lng,
                caller_name=name,
                caller_phone=phone,
                answers=answers,
            )
            if jurisdiction is not None and issue.subdistrict_id != jurisdiction.pk:
                raise ApiError(400, _("The location is outside jurisdiction_id."))
            api_request = ApiRequest.objects.create(
                issue=issue,
                client=client,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                email=email,
                device_id=device_id,
                account_id=account_id,
                media_url=media_url,
            )
    except workflow.WorkflowError as error:
        raise ApiError(403 if error.code == "forbidden" else 400, error.message) from None
    except IntegrityError:
        # The same Idempotency-Key raced in twice; the first one won.
        existing = ApiRequest.objects.filter(client=client, idempotency_key=idempotency_key)
        found = existing.select_related("issue").first() if idempotency_key else None
        if found is None:
            raise
        return _filed(found)
    return _filed(api_request)
