"""Our records as Open311 rows: services (categories), definitions (questions), requests
(issues) and request updates (public events). Only public data goes out: never a name,
phone, e-mail or device id; a private category's description is withheld and its point
blurred."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import BooleanField, Exists, F, OuterRef, Subquery, Value
from django.utils.translation import gettext as _

from ..models import Category, CategoryQuestion, Issue, IssueEvent, Level, Status

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


def _public_flag():
    """The category's public flag as a column, where categories have one."""
    if any(f.name == "is_public" for f in Category._meta.get_fields()):
        return F("category__is_public")
    return Value(False, output_field=BooleanField())


def requests():
    """Issues with everything a row shows, in one query. The joined names come as plain
    columns, so a 1,000-row page builds one model instance per row, not six."""
    return Issue.objects.only(
        "tracking_number",
        "status",
        "level",
        "department_id",
        "description",
        "address",
        "latitude",
        "longitude",
        "created_at",
        "updated_at",
        "due_at",
        "building_id",
    ).annotate(
        status_notes=latest_public_note(),
        category_name=F("category__name"),
        category_code=F("category__code"),
        category_public=_public_flag(),
        grid_name=F("grid__name"),
        community_name=F("community__name"),
        subdistrict_name=F("subdistrict__name"),
        department_name=F("department__name"),
        building_name=F("building__name"),
        building_address=F("building__address"),
    )


def unit_label(issue) -> str:
    """The unit now handling a row of ``requests()``: its department once dispatched."""
    if issue.department_id:
        return issue.department_name
    return {
        Level.GRID: issue.grid_name,
        Level.COMMUNITY: issue.community_name,
        Level.SUBDISTRICT: issue.subdistrict_name,
    }[issue.level]


def notice(issue, unit: str | None = None) -> str:
    return _("%(status)s · %(unit)s") % {
        "status": issue.get_status_display(),
        "unit": unit if unit is not None else issue.current_unit_label,
    }


def request_rows(issues) -> list[dict]:
    notices = {}  # one translation per (status, unit) on a page, not one per row
    result = []
    for issue in issues:
        unit = unit_label(issue)
        if (issue.status, unit) not in notices:
            notices[(issue.status, unit)] = notice(issue, unit)
        result.append(request_row(issue, unit, notices[(issue.status, unit)]))
    return result


def request_row(issue, unit: str, service_notice: str) -> dict:
    public = bool(issue.category_public)
    if public:
        place = [issue.building_address or issue.building_name] if issue.building_id else []
        address = " ".join([*place, issue.address]).strip()
        lat, lng = issue.latitude, issue.longitude
    else:
        address = f"{issue.community_name} {issue.grid_name}"
        lat, lng = blurred(issue.latitude), blurred(issue.longitude)
    is_open = OPEN311_STATUS[issue.status] == "open"
    return {
        "service_request_id": issue.tracking_number,
        "status": OPEN311_STATUS[issue.status],
        "status_notes": issue.status_notes or "",
        "service_name": issue.category_name,
        "service_code": issue.category_code,
        "description": issue.description if public else "",
        "agency_responsible": unit,
        "service_notice": service_notice,
        "requested_datetime": issue.created_at,
        "updated_datetime": issue.updated_at,
        "expected_datetime": issue.due_at if is_open else None,
        "address": address,
        "address_id": str(issue.building_id) if public and issue.building_id else "",
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
