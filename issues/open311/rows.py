"""Our records as Open311 rows: services (categories), definitions (questions), requests
(issues) and request updates (public events). Only public data goes out: never a name,
phone, e-mail or device id; a private category's description is withheld and its point
blurred."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Exists, OuterRef, Subquery
from django.utils.translation import gettext as _

from ..models import Category, CategoryQuestion, Issue, IssueEvent, Status

# GeoReport has two statuses. Resolved counts as closed: the work is done, and what is
# left (evaluation or verification) is ours.
OPEN311_STATUS = {
    Status.SUBMITTED: "open",
    Status.IN_PROGRESS: "open",
    Status.SUSPENDED: "open",
    Status.RESOLVED: "closed",
    Status.CLOSED: "closed",
    Status.REJECTED: "closed",
}
# The mySociety update extension's finer words for the same statuses.
UPDATE_STATUS = {
    Status.SUBMITTED: "OPEN",
    Status.IN_PROGRESS: "IN_PROGRESS",
    Status.SUSPENDED: "ACTION_SCHEDULED",
    Status.RESOLVED: "FIXED",
    Status.CLOSED: "CLOSED",
    Status.REJECTED: "NOT_COUNCILS_RESPONSIBILITY",
}
STATUSES_OF = {
    "open": [s for s, word in OPEN311_STATUS.items() if word == "open"],
    "closed": [s for s, word in OPEN311_STATUS.items() if word == "closed"],
}
# A private category's point is shown to about 100 m, like the public map.
BLUR = Decimal("0.001")


def is_public_category(category: Category) -> bool:
    """May this category's descriptions and exact points be shown to anyone?"""
    return bool(getattr(category, "is_public", False))


def blurred(value):
    if value is None:
        return None
    return Decimal(value).quantize(BLUR, rounding=ROUND_HALF_UP)


# --- services -----------------------------------------------------------------------------


def services():
    return Category.objects.filter(is_active=True).annotate(
        has_questions=Exists(CategoryQuestion.objects.filter(category=OuterRef("pk")))
    )


def service_row(category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.hint,
        "metadata": category.has_questions,
        "type": "realtime",
        "keywords": "",
        "group": "",
    }


def definition(category) -> dict:
    attributes = []
    for question in category.questions.all():
        attribute = {
            "variable": True,
            "code": question.code,
            "datatype": question.datatype,
            "required": question.required,
            "datatype_description": None,
            "order": question.order,
            "description": question.label,
        }
        if question.datatype in CategoryQuestion.LIST_TYPES:
            attribute["values"] = [{"key": k, "name": n} for k, n in question.choice_list]
        attributes.append(attribute)
    return {"service_code": category.code, "attributes": attributes}


# --- requests -----------------------------------------------------------------------------


def latest_public_note():
    return Subquery(
        IssueEvent.objects.filter(issue=OuterRef("pk"), is_public=True)
        .exclude(note="")
        .order_by("-created_at", "-id")
        .values("note")[:1]
    )


def requests():
    """Issues with everything a row shows, in one query."""
    return (
        Issue.objects.select_related(
            "category", "grid", "community", "subdistrict", "department", "building"
        )
        .only(
            "tracking_number",
            "status",
            "level",
            "description",
            "address",
            "latitude",
            "longitude",
            "created_at",
            "updated_at",
            "due_at",
            "category",
            "grid__name",
            "community__name",
            "subdistrict__name",
            "department__name",
            "building__name",
            "building__address",
        )
        .annotate(status_notes=latest_public_note())
    )


def notice(issue) -> str:
    return _("%(status)s · %(unit)s") % {
        "status": issue.get_status_display(),
        "unit": issue.current_unit_label,
    }


def request_row(issue) -> dict:
    public = is_public_category(issue.category)
    building = issue.building
    if public:
        place = [building.address or building.name] if building else []
        address = " ".join([*place, issue.address]).strip()
        lat, lng = issue.latitude, issue.longitude
    else:
        address = f"{issue.community.name} {issue.grid.name}"
        lat, lng = blurred(issue.latitude), blurred(issue.longitude)
    is_open = OPEN311_STATUS[issue.status] == "open"
    return {
        "service_request_id": issue.tracking_number,
        "status": OPEN311_STATUS[issue.status],
        "status_notes": issue.status_notes or "",
        "service_name": issue.category.name,
        "service_code": issue.category.code,
        "description": issue.description if public else "",
        "agency_responsible": issue.current_unit_label,
        "service_notice": notice(issue),
        "requested_datetime": issue.created_at,
        "updated_datetime": issue.updated_at,
        "expected_datetime": issue.due_at if is_open else None,
        "address": address,
        "address_id": str(building.pk) if public and building else "",
        "zipcode": "",
        "lat": float(lat) if lat is not None else None,
        "long": float(lng) if lng is not None else None,
        "media_url": "",
    }


# --- updates (mySociety servicerequestupdates) ----------------------------------------------


def updates_for(client):
    """Public events on the requests ``client`` filed, after their filing."""
    return (
        IssueEvent.objects.filter(issue__api_request__client=client, is_public=True)
        .exclude(kind=IssueEvent.Kind.FILED)
        .select_related("issue")
        .only("id", "kind", "to_status", "note", "created_at", "issue__tracking_number")
        .order_by("created_at", "id")
    )


def update_row(event) -> dict:
    return {
        "update_id": str(event.pk),
        "service_request_id": event.issue.tracking_number,
        "status": UPDATE_STATUS[event.to_status],
        "external_status_code": event.to_status,
        "updated_datetime": event.created_at,
        "description": event.note,
        "media_url": "",
    }
