"""Our records as Open311 rows: services (categories), definitions (questions), requests
(issues) and request updates (public events). Only public data goes out: never a name,
phone, e-mail or device id; a private category's description is withheld and its point
blurred."""

from __future__ import annotations

from django.db import connection
from django.db.models import BooleanField, CharField, Exists, F, OuterRef, Subquery, Value
from django.utils.translation import gettext as _

from .. import choices
from ..mapdata import blurred
from ..models import Category, CategoryQuestion, Issue, IssueEvent, Level, Status
from .serializers import W3CText

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


# The issue columns a request row is made of (plain values, no model instances: a
# 1,000-row page builds dicts, not objects).
REQUEST_FIELDS = (
    "tracking_number",
    "status",
    "level",
    "category_id",
    "grid_id",
    "community_id",
    "subdistrict_id",
    "department_id",
    "building_id",
    "description",
    "address",
    "latitude",
    "longitude",
)
# The times a row shows, by the name it reads them as.
TIMES = {"requested": "created_at", "updated": "updated_at", "expected": "due_at"}
# The unit that handles an issue, by level (a department once dispatched).
UNIT_OF_LEVEL = {
    Level.GRID: "grid_id",
    Level.COMMUNITY: "community_id",
    Level.SUBDISTRICT: "subdistrict_id",
}


def requests():
    """Issues as the values a request row needs, with their latest public note: one query
    without joins (the names come from ``names_of``). PostgreSQL writes the times as W3C
    text itself; elsewhere they are read as timestamps and written when rendered."""
    if connection.vendor == "postgresql":
        times = {name: W3CText(column) for name, column in TIMES.items()}
    else:
        times = {name: F(column) for name, column in TIMES.items()}
    return Issue.objects.values(*REQUEST_FIELDS, status_notes=latest_public_note(), **times)


def names_of(issues: list[dict]) -> dict:
    """The names these rows show: {(kind, id): (name, code, public, address)} for their
    categories, units and buildings. Read from this process's memo of them
    (``choices.names_memo``); what it lacks is read in one query and kept there, so a page
    of a city's issues usually costs no query for them. (Joined into the page's query
    instead, the planner spends longer choosing the joins than running them.)"""
    from grids.models import Building, Community, Department, Grid, Subdistrict

    sources = {
        "category": (Category, "category_id", "code", "is_public", None),
        "grid": (Grid, "grid_id", None, None, None),
        "community": (Community, "community_id", None, None, None),
        "subdistrict": (Subdistrict, "subdistrict_id", None, None, None),
        "department": (Department, "department_id", None, None, None),
        "building": (Building, "building_id", None, None, "address"),
    }
    names = choices.names_memo()
    parts = []
    for kind, (model, field, code, public, address) in sources.items():
        ids = {issue[field] for issue in issues if issue[field] is not None}
        missing = [pk for pk in ids if (kind, pk) not in names]
        if not missing:
            continue
        parts.append(
            model.objects.filter(pk__one_of=missing)
            .order_by()
            .values_list(
                Value(kind, output_field=CharField()),
                "pk",
                "name",
                F(code) if code else Value("", output_field=CharField()),
                F(public) if public else Value(False, output_field=BooleanField()),
                F(address) if address else Value("", output_field=CharField()),
            )
        )
    if parts:
        found = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
        names.update({(kind, pk): tuple(rest) for kind, pk, *rest in found})
    return names


def _notice_format() -> str:
    return _("%(status)s · %(unit)s")


def notice(issue) -> str:
    """The service notice of an issue (a model instance): its status and who handles it."""
    return _notice_format() % {
        "status": issue.get_status_display(),
        "unit": issue.current_unit_label,
    }


def request_rows(issues) -> list[dict]:
    """Rows of ``requests()`` as the standard's request rows; two queries in all."""
    issues = list(issues)
    names = names_of(issues)
    statuses = {value: str(label) for value, label in Status.choices}  # once a page
    notice_format = _notice_format()
    return [request_row(issue, names, statuses, notice_format) for issue in issues]


def request_row(issue: dict, names: dict, statuses: dict, notice_format: str) -> dict:
    category_name, category_code, public, _address = names[("category", issue["category_id"])]
    if issue["department_id"]:
        unit = names[("department", issue["department_id"])][0]
    else:
        field = UNIT_OF_LEVEL[issue["level"]]
        unit = names[(field.removesuffix("_id"), issue[field])][0]
    lat, lng = issue["latitude"], issue["longitude"]
    if public:
        place = []
        if issue["building_id"]:
            name, _code, _public, address = names[("building", issue["building_id"])]
            place = [address or name]
        address = " ".join([*place, issue["address"]]).strip()
    else:
        community = names[("community", issue["community_id"])][0]
        address = f"{community} {names[('grid', issue['grid_id'])][0]}"
        # Blurred like the public map's points, never to the building (withheld here).
        lat, lng = blurred(lat, lng) if lat is not None else (None, None)
    status = issue["status"]
    return {
        "service_request_id": issue["tracking_number"],
        "status": OPEN311_STATUS[status],
        "status_notes": issue["status_notes"] or "",
        "service_name": category_name,
        "service_code": category_code,
        "description": issue["description"] if public else "",
        "agency_responsible": unit,
        "service_notice": notice_format % {"status": statuses[status], "unit": unit},
        "requested_datetime": issue["requested"],
        "updated_datetime": issue["updated"],
        "expected_datetime": issue["expected"] if OPEN311_STATUS[status] == "open" else None,
        "address": address,
        "address_id": str(issue["building_id"]) if public and issue["building_id"] else "",
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
