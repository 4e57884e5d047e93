"""Open311 GeoReport v2 at /open311/v2/: every route in JSON and XML, every error, every
filter, resends, rate limits, keys, the personal-data rule and the update feed."""

import datetime
import json
from datetime import timedelta
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from issues import workflow
from issues.models import (
    ApiClient,
    ApiRequest,
    Category,
    CategoryQuestion,
    Issue,
    IssueEvent,
    Source,
    Status,
)
from issues.open311 import serializers, views
from tests.factories import BuildingFactory, CategoryFactory, issue_at
from tests.test_routing import INSIDE_OWN, INSIDE_SIBLING, OUTSIDE, OWN, SIBLING

BASE = "/open311/v2/"
PERSONAL = ["王小明", "13912345678", "wang@example.com", "device-secret-42"]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(territory):
    """Mapped grids, a category with questions, and a client with a write key."""
    t = territory
    t.grid.boundary = OWN
    t.grid.save()
    t.sibling_grid.boundary = SIBLING
    t.sibling_grid.save()
    t.category.code = "lamp"
    t.category.save()
    CategoryQuestion.objects.create(
        category=t.category,
        code="pole",
        label="灯杆编号",
        datatype="string",
        required=True,
        order=1,
    )
    CategoryQuestion.objects.create(
        category=t.category,
        code="kind",
        label="哪类",
        datatype="singlevaluelist",
        choices="lamp|路灯\ncover|井盖",
        order=2,
    )
    CategoryQuestion.objects.create(
        category=t.category,
        code="when",
        label="何时",
        datatype="multivaluelist",
        choices="day|白天\nnight|夜间",
        order=3,
    )
    t.plain_category = CategoryFactory(name="噪音", code="noise")
    t.client = ApiClient.objects.create(name="12345热线", rate_limit=100)
    t.client.jurisdictions.add(t.subdistrict)
    t.key = t.client.issue_key()
    t.http = Client()
    return t


def get(api, path, **params):
    return api.http.get(BASE + path, params)


def post(api, fmt="json", headers=None, **fields):
    data = {
        "api_key": api.key,
        "service_code": "lamp",
        "lat": INSIDE_OWN[0],
        "long": INSIDE_OWN[1],
        "description": "路灯不亮，晚上很黑。",
        "attribute[pole]": "A-17",
        **fields,
    }
    data = {k: v for k, v in data.items() if v is not None}
    return api.http.post(f"{BASE}requests.{fmt}", data, headers=headers or {})


def body(response):
    assert response["Content-Type"].startswith("application/json")
    return json.loads(response.content)


def xml(response):
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.content)


def assert_error(response, status, fmt="json", mentions=""):
    assert response.status_code == status
    if fmt == "json":
        data = body(response)
        assert isinstance(data, list) and data[0]["code"] == status
        assert mentions in data[0]["description"]
    else:
        root = xml(response)
        assert root.tag == "errors"
        assert root.find("error/code").text == str(status)
        assert mentions in root.find("error/description").text


def children(element):
    return [child.tag for child in element]


# --- discovery and services ----------------------------------------------------------------


def test_discovery_json_and_xml(api):
    data = body(get(api, "discovery.json"))
    endpoint = data["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(get(api, "discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]
    assert root.find("changeset").text.endswith("+08:00")


def test_services_json_and_xml(api):
    data = body(get(api, "services.json"))
    by_code = {s["service_code"]: s for s in data}
    assert by_code["lamp"]["metadata"] is True
    assert by_code["noise"]["metadata"] is False
    assert by_code["lamp"]["type"] == "realtime"
    assert by_code["lamp"]["service_name"] == api.category.name
    root = xml(get(api, "services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert len(services) == len(data)
    lamp = next(s for s in services if s.find("service_code").text == "lamp")
    assert children(lamp) == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert lamp.find("metadata").text == "true"


def test_service_definition_json_and_xml(api):
    data = body(get(api, "services/lamp.json"))
    assert data["service_code"] == "lamp"
    pole, kind, when = data["attributes"]
    assert pole == {
        "variable": True,
        "code": "pole",
        "datatype": "string",
        "required": True,
        "datatype_description": None,
        "order": 1,
        "description": "灯杆编号",
    }
    assert kind["values"] == [{"key": "lamp", "name": "路灯"}, {"key": "cover", "name": "井盖"}]
    assert when["datatype"] == "multivaluelist"
    root = xml(get(api, "services/lamp.xml"))
    assert root.tag == "service_definition"
    attributes = root.findall("attributes/attribute")
    assert [a.find("code").text for a in attributes] == ["pole", "kind", "when"]
    assert attributes[0].find("required").text == "true"
    assert [v.find("key").text for v in attributes[1].findall("values/value")] == ["lamp", "cover"]
    assert [v.find("name").text for v in attributes[1].findall("values/value")] == ["路灯", "井盖"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_is_404(api, fmt):
    assert_error(get(api, f"services/nope.{fmt}"), 404, fmt, "nope")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_jurisdiction_is_404(api, fmt):
    for path in ("services", "requests"):
        assert_error(get(api, f"{path}.{fmt}", jurisdiction_id="XX"), 404, fmt, "XX")
    assert_error(post(api, fmt, jurisdiction_id="XX"), 404, fmt, "XX")


# --- filing --------------------------------------------------------------------------------


def test_post_files_an_issue_through_the_workflow(api):
    response = post(
        api,
        **{"attribute[kind]": "cover", "attribute[when][]": ["day", "night"]},
        first_name="小明",
        last_name="王",
        phone="13912345678",
        email="wang@example.com",
        device_id="device-secret-42",
        media_url="https://example.com/p.jpg",
    )
    assert response.status_code == 200
    (row,) = body(response)
    issue = Issue.objects.get(tracking_number=row["service_request_id"])
    assert row["service_notice"]
    assert row["account_id"] is None
    assert issue.source == Source.API
    assert issue.grid == api.grid  # routed by the point
    assert issue.status == Status.SUBMITTED
    assert issue.answers == {"pole": "A-17", "kind": "cover", "when": ["day", "night"]}
    assert issue.caller_name == "王 小明"
    assert issue.caller_phone == "13912345678"
    event = issue.events.get()
    assert event.kind == IssueEvent.Kind.FILED and event.actor is None
    assert event.data == {"api_client": "12345热线"}
    sent = ApiRequest.objects.get(issue=issue)
    assert sent.client == api.client
    assert (sent.email, sent.device_id) == ("wang@example.com", "device-secret-42")
    assert sent.media_url == "https://example.com/p.jpg"
    assert row["token"] == str(sent.token)


def test_post_is_routed_to_the_grid_holding_the_point(api):
    (row,) = body(post(api, lat=INSIDE_SIBLING[0], long=INSIDE_SIBLING[1]))
    issue = Issue.objects.get(tracking_number=row["service_request_id"])
    assert (issue.grid, issue.community) == (api.sibling_grid, api.community)
    assert (float(issue.latitude), float(issue.longitude)) == INSIDE_SIBLING


def test_post_in_xml(api):
    root = xml(post(api, "xml"))
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert children(request) == ["service_request_id", "service_notice", "account_id", "token"]
    assert Issue.objects.filter(tracking_number=request.find("service_request_id").text).exists()


def test_post_by_building_name_or_id(api):
    building = BuildingFactory(grid=api.sibling_grid, name="7号楼", address="经十东路7号")
    (row,) = body(post(api, lat=None, long=None, address_string="经十东路7号"))
    issue = Issue.objects.get(tracking_number=row["service_request_id"])
    assert (issue.building, issue.grid) == (building, api.sibling_grid)
    (row,) = body(post(api, lat=None, long=None, address_id=str(building.pk), description="x"))
    assert Issue.objects.get(tracking_number=row["service_request_id"]).building == building


def test_optional_parameters_sent_empty_count_as_absent(api):
    response = post(api, email="", jurisdiction_id="", media_url="", address_string="")
    assert response.status_code == 200
    assert ApiRequest.objects.get().email == ""


def test_jurisdiction_is_a_subdistrict_code(api):
    assert post(api, jurisdiction_id="LD").status_code == 200
    assert_error(post(api, jurisdiction_id="YJ", description="别处"), 400, mentions="jurisdiction")
    assert Issue.objects.count() == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("fields", "status", "mentions"),
    [
        ({"api_key": None}, 403, "api_key"),
        ({"api_key": "nope.nope"}, 403, "api_key"),
        ({"service_code": None}, 400, "service_code"),
        ({"service_code": "nope"}, 404, "nope"),
        ({"description": None}, 400, "description"),
        ({"description": "x" * 2001}, 400, "description"),
        ({"attribute[pole]": None}, 400, "attribute[pole]"),
        ({"attribute[kind]": "tree"}, 400, "attribute[kind]"),
        ({"attribute[when][]": ["day", "dusk"]}, 400, "attribute[when]"),
        ({"lat": None, "long": None}, 400, "address_id"),
        ({"long": None}, 400, "lat"),
        ({"lat": "north"}, 400, "lat"),
        ({"lat": OUTSIDE[0], "long": OUTSIDE[1]}, 400, ""),
        ({"lat": None, "long": None, "address_string": "无此楼"}, 400, "address_string"),
        ({"lat": None, "long": None, "address_id": "999999"}, 400, "address_id"),
        ({"email": "not-an-email"}, 400, "email"),
        ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
        ({"phone": "1" * 21}, 400, "phone"),
    ],
)
def test_bad_posts_are_refused_and_nothing_is_saved(api, fmt, fields, status, mentions):
    assert_error(post(api, fmt, **fields), status, fmt, mentions)
    assert not Issue.objects.exists()
    assert not ApiRequest.objects.exists()


def test_read_only_key_and_inactive_client_may_not_file(api):
    api.client.may_write = False
    api.client.save()
    assert_error(post(api), 403, mentions="api_key")
    api.client.may_write = True
    api.client.is_active = False
    api.client.save()
    assert_error(post(api), 403, mentions="api_key")
    assert not Issue.objects.exists()


def test_a_point_outside_the_clients_subdistricts_is_forbidden(api):
    api.far_grid.boundary = {
        "type": "Polygon",
        "coordinates": [
            [[117.2, 36.5], [117.3, 36.5], [117.3, 36.6], [117.2, 36.6], [117.2, 36.5]]
        ],
    }
    api.far_grid.save()
    assert_error(post(api, lat=36.55, long=117.25), 403)
    api.client.jurisdictions.add(api.other_subdistrict)
    assert post(api, lat=36.55, long=117.25).status_code == 200


def test_post_is_csrf_exempt(api):
    api.http = Client(enforce_csrf_checks=True)
    assert post(api).status_code == 200


def test_wrong_method_is_405(api):
    response = api.http.post(BASE + "services.json")
    assert response.status_code == 405
    assert body(response)[0]["code"] == 405


# --- resends, limits, keys --------------------------------------------------------------------


def test_idempotency_key_returns_the_same_request(api):
    first = body(post(api, headers={"Idempotency-Key": "order-1"}))
    again = body(post(api, headers={"Idempotency-Key": "order-1"}, description="改了"))
    assert first[0]["service_request_id"] == again[0]["service_request_id"]
    assert Issue.objects.count() == 1
    other = body(post(api, headers={"Idempotency-Key": "order-2"}))
    assert other[0]["service_request_id"] != first[0]["service_request_id"]


def test_resend_by_device_within_the_window_returns_the_same_request(api):
    first = body(post(api, device_id="phone-1"))[0]["service_request_id"]
    assert body(post(api, device_id="phone-1"))[0]["service_request_id"] == first
    assert Issue.objects.count() == 1
    # Another description is another request.
    assert (
        body(post(api, device_id="phone-1", description="另一处"))[0]["service_request_id"] != first
    )
    # After the window the same words are a new report.
    ApiRequest.objects.update(created_at=timezone.now() - timedelta(minutes=11))
    assert body(post(api, device_id="phone-1"))[0]["service_request_id"] != first
    assert Issue.objects.count() == 3


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_posts_are_rate_limited_per_key(api, fmt):
    api.client.rate_limit = 2
    api.client.save()
    assert post(api, fmt, description="一").status_code == 200
    assert post(api, fmt, description="二").status_code == 200
    response = post(api, fmt, description="三")
    assert_error(response, 429, fmt, "2")
    assert int(response["Retry-After"]) > 0
    assert Issue.objects.count() == 2
    # Another key of another client has its own count.
    other = ApiClient.objects.create(name="城市App")
    other.jurisdictions.add(api.subdistrict)
    assert post(api, fmt, api_key=other.issue_key(), description="四").status_code == 200


def test_key_rotation(api):
    old = api.key
    assert post(api, description="一").status_code == 200
    assert api.client.keys.get().last_used_at is not None
    # With a grace period both keys work until it ends.
    new = api.client.issue_key(retire_old_after=timedelta(hours=1))
    assert post(api, api_key=old, description="二").status_code == 200
    assert post(api, api_key=new, description="三").status_code == 200
    # Replaced now: the old key stops at once, the newest goes on.
    newest = api.client.issue_key(retire_old_after=timedelta(0))
    assert_error(post(api, api_key=old, description="四"), 403)
    assert_error(post(api, api_key=new, description="五"), 403)
    assert post(api, api_key=newest, description="六").status_code == 200
    # Only digests are stored.
    assert not api.client.keys.filter(hashed__contains=newest.split(".")[1]).exists()


def test_create_api_key_command(territory, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("create_api_key", "热线平台", "--subdistrict", "LD")
    key = capsys.readouterr().out.strip()
    client = ApiClient.objects.get(name="热线平台")
    assert list(client.jurisdictions.values_list("code", flat=True)) == ["LD"]
    assert client.may_write
    from issues.models import ApiKey

    assert ApiKey.lookup(key).client == client
    with pytest.raises(CommandError):
        call_command("create_api_key", "别的", "--subdistrict", "NOPE")
    call_command("create_api_key", "全区")
    assert ApiClient.objects.get(name="全区").jurisdictions.count() == 2


# --- reading requests ------------------------------------------------------------------------


def test_request_list_json_and_xml(api):
    issue = issue_at(api, status=Status.IN_PROGRESS, latitude=36.615123, longitude=117.125456)
    (row,) = body(get(api, "requests.json"))
    assert list(row) == REQUEST_FIELDS
    assert row["service_request_id"] == issue.tracking_number
    assert row["status"] == "open"
    assert row["service_code"] == "lamp"
    assert row["agency_responsible"] == api.grid.name
    assert row["requested_datetime"].endswith("+08:00")
    assert row["expected_datetime"].endswith("+08:00")
    root = xml(get(api, "requests.xml"))
    assert root.tag == "service_requests"
    (request,) = root.findall("request")
    assert children(request) == REQUEST_FIELDS
    assert request.find("service_request_id").text == issue.tracking_number


@pytest.mark.parametrize(
    ("status", "word"),
    [
        (Status.SUBMITTED, "open"),
        (Status.IN_PROGRESS, "open"),
        (Status.SUSPENDED, "open"),
        (Status.RESOLVED, "closed"),
        (Status.CLOSED, "closed"),
        (Status.REJECTED, "closed"),
    ],
)
def test_status_mapping(api, status, word):
    issue_at(api, status=status)
    (row,) = body(get(api, "requests.json"))
    assert row["status"] == word
    assert (row["expected_datetime"] is None) == (word == "closed")
    assert len(body(get(api, "requests.json", status=word))) == 1
    other = "closed" if word == "open" else "open"
    assert body(get(api, "requests.json", status=other)) == []
    assert len(body(get(api, "requests.json", status="open,closed"))) == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_filters_are_400(api, fmt):
    assert_error(get(api, f"requests.{fmt}", status="pending"), 400, fmt, "status")
    assert_error(get(api, f"requests.{fmt}", start_date="yesterday"), 400, fmt, "start_date")
    assert_error(get(api, f"requests.{fmt}", end_date="2026-13-01T00:00:00Z"), 400, fmt)
    assert_error(
        get(
            api,
            f"requests.{fmt}",
            start_date="2026-12-02T00:00:00Z",
            end_date="2026-12-01T00:00:00Z",
        ),
        400,
        fmt,
        "start_date",
    )


def test_date_filters_take_any_offset_and_default_to_90_days(api):
    now = timezone.now()
    recent = issue_at(api, created_at=now - timedelta(days=2))
    old = issue_at(api, created_at=now - timedelta(days=100))
    ids = [r["service_request_id"] for r in body(get(api, "requests.json"))]
    assert ids == [recent.tracking_number]  # default: last 90 days
    start = (now - timedelta(days=120)).astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = [r["service_request_id"] for r in body(get(api, "requests.json", start_date=start))]
    assert ids == [recent.tracking_number, old.tracking_number]  # newest first
    end = (now - timedelta(days=50)).astimezone(timezone.get_fixed_timezone(-300))
    rows = body(get(api, "requests.json", start_date=start, end_date=end.isoformat()))
    assert [r["service_request_id"] for r in rows] == [old.tracking_number]


@pytest.mark.parametrize(
    "zone", ["Asia/Shanghai", "America/New_York", "America/St_Johns", "Asia/Kolkata", "UTC"]
)
def test_times_are_w3c_with_the_zones_offset_at_that_moment(api, zone):
    """The list's times, written by the database on PostgreSQL, are exactly what
    ``serializers.w3c`` writes: local time and that moment's offset (summer time too)."""
    moments = [
        datetime.datetime(2026, 1, 15, 3, 4, 5, 999999, tzinfo=datetime.UTC),
        datetime.datetime(2026, 7, 15, 23, 59, 59, 500000, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 8, 7, 0, 0, tzinfo=datetime.UTC),  # New York's spring
    ]
    for moment in moments:
        issue_at(api, created_at=moment)
    with timezone.override(zone):
        found = sorted(
            (r["requested_datetime"], r["service_request_id"])
            for r in body(get(api, "requests.json", start_date="2025-12-01T00:00:00Z"))
        )
        expected = sorted(
            (serializers.w3c(issue.created_at), issue.tracking_number)
            for issue in Issue.objects.all()
        )
    assert found == expected
    assert {time for time, _ in found} == {serializers.w3c(m, ZoneInfo(zone)) for m in moments}


def test_service_request_id_overrides_the_other_filters(api):
    old = issue_at(api, created_at=timezone.now() - timedelta(days=200), status=Status.CLOSED)
    new = issue_at(api)
    ids = ",".join([old.tracking_number, new.tracking_number])
    rows = body(get(api, "requests.json", service_request_id=ids, status="open", service_code="x"))
    assert {r["service_request_id"] for r in rows} == {old.tracking_number, new.tracking_number}


def test_service_code_and_jurisdiction_filters(api):
    lamp = issue_at(api)
    noise = issue_at(api, category=api.plain_category)
    far = issue_at(api, grid=api.far_grid)
    rows = body(get(api, "requests.json", service_code="lamp,noise"))
    assert {r["service_request_id"] for r in rows} == {
        lamp.tracking_number,
        noise.tracking_number,
        far.tracking_number,
    }
    rows = body(get(api, "requests.json", service_code="noise"))
    assert [r["service_request_id"] for r in rows] == [noise.tracking_number]
    rows = body(get(api, "requests.json", jurisdiction_id="YJ"))
    assert [r["service_request_id"] for r in rows] == [far.tracking_number]


def test_list_is_capped(api, monkeypatch):
    monkeypatch.setattr(views, "MAX_ROWS", 3)
    for _ in range(5):
        issue_at(api)
    assert len(body(get(api, "requests.json"))) == 3


def test_status_notes_are_the_latest_public_note(api, people):
    issue = issue_at(api, status=Status.IN_PROGRESS, assignee=people.worker)
    workflow.comment(issue=issue, actor=people.worker, note="已派人查看。", is_public=True)
    workflow.comment(issue=issue, actor=people.worker, note="内部：电缆被盗。", is_public=False)
    (row,) = body(get(api, "requests.json"))
    assert row["status_notes"] == "已派人查看。"
    assert "电缆" not in json.dumps(body(get(api, f"requests/{issue.tracking_number}.json")))


def test_private_category_hides_the_description_and_blurs_the_point(api):
    issue_at(api, latitude="36.615123", longitude="117.125456", address="3单元502室门口")
    (row,) = body(get(api, "requests.json"))
    assert row["description"] == ""
    assert (row["lat"], row["long"]) == (36.61525, 117.12525)  # its ~50 m square's centre
    assert "502" not in row["address"]


@pytest.mark.skipif(
    not hasattr(Category, "is_public"), reason="needs Category.is_public from the map work"
)
def test_public_category_shows_the_description_and_the_point(api):
    api.category.is_public = True
    api.category.save()
    issue_at(api, latitude="36.615123", longitude="117.125456")
    (row,) = body(get(api, "requests.json"))
    assert row["description"]
    assert (row["lat"], row["long"]) == (36.615123, 117.125456)


def test_single_request_json_and_xml(api):
    issue = issue_at(api)
    (row,) = body(get(api, f"requests/{issue.tracking_number}.json"))
    assert row["service_request_id"] == issue.tracking_number
    root = xml(get(api, f"requests/{issue.tracking_number}.xml"))
    assert root.tag == "service_requests"
    assert root.find("request/service_request_id").text == issue.tracking_number
    assert_error(get(api, "requests/nope.json"), 404, "json", "nope")
    assert_error(get(api, "requests/nope.xml"), 404, "xml", "nope")
    assert_error(get(api, f"requests/{issue.tracking_number}.json", jurisdiction_id="YJ"), 404)


def test_tokens_json_and_xml(api):
    (row,) = body(post(api))
    (found,) = body(get(api, f"tokens/{row['token']}.json"))
    assert found == {"service_request_id": row["service_request_id"], "token": row["token"]}
    root = xml(get(api, f"tokens/{row['token']}.xml"))
    assert root.find("request/service_request_id").text == row["service_request_id"]
    assert root.find("request/token").text == row["token"]
    assert_error(get(api, "tokens/not-a-token.json"), 404)
    assert_error(get(api, "tokens/00000000-0000-0000-0000-000000000000.xml"), 404, "xml")


def test_reads_are_public_and_carry_cors(api):
    response = get(api, "services.json")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in post(api)
    preflight = api.http.options(BASE + "requests.json")
    assert preflight.status_code == 204


def test_personal_data_never_appears_in_any_get(api, people):
    (row,) = body(
        post(
            api,
            first_name="小明",
            last_name="王小明",
            phone="13912345678",
            email="wang@example.com",
            device_id="device-secret-42",
        )
    )
    number = row["service_request_id"]
    issue = Issue.objects.get(tracking_number=number)
    workflow.accept(issue=issue, actor=people.worker, note="已受理。")
    hotline = workflow.file_issue(
        actor=people.community_staff,
        source=Source.HOTLINE,
        category=api.category,
        title="热线",
        description="路灯坏了",
        grid=api.grid,
        caller_name="王小明",
        caller_phone="13912345678",
    )
    paths = [
        "requests",
        f"requests/{number}",
        f"requests/{hotline.tracking_number}",
        f"tokens/{row['token']}",
        "servicerequestupdates",
        "services",
        "services/lamp",
        "discovery",
    ]
    for path in paths:
        for fmt in ("json", "xml"):
            response = get(api, f"{path}.{fmt}", api_key=api.key)
            assert response.status_code == 200, path
            text = response.content.decode()
            for secret in PERSONAL:
                assert secret not in text, (path, fmt, secret)


@pytest.mark.parametrize("count", [10, 100])
def test_list_runs_a_constant_number_of_queries(api, people, count, django_assert_num_queries):
    for n in range(count):
        issue = issue_at(
            api, status=Status.IN_PROGRESS, department=api.department if n % 2 else None
        )
        IssueEvent.objects.create(
            issue=issue,
            kind="commented",
            to_status=issue.status,
            to_level=issue.level,
            note=f"n{n}",
        )
    # The jurisdiction, then one query for the page and one for the names it shows...
    with django_assert_num_queries(3):
        rows = body(get(api, "requests.json", jurisdiction_id="LD"))
    assert len(rows) == count
    # ...which the process keeps: the next page reads only its rows.
    with django_assert_num_queries(1):
        assert len(xml(get(api, "requests.xml")).findall("request")) == count
    # A unit renamed is shown renamed at once.
    api.department.name = "改名后的部门"
    api.department.save()
    with django_assert_num_queries(2):
        rows = body(get(api, "requests.json"))
    assert {row["agency_responsible"] for row in rows} >= {"改名后的部门"}


# --- updates and webhooks --------------------------------------------------------------------


def test_update_feed_runs_the_same_queries_for_2_and_22_requests(api, people):
    def settle(n):
        for _ in range(n):
            (row,) = body(post(api))
            issue = Issue.objects.get(tracking_number=row["service_request_id"])
            issue = workflow.accept(issue=issue, actor=people.worker, message="马上处理。")
            workflow.resolve(issue=issue, actor=people.worker, note="已更换灯泡。")

    def feed():
        with CaptureQueriesContext(connection) as queries:
            updates = body(get(api, "servicerequestupdates.json", api_key=api.key))
        return len(queries), len(updates)

    settle(2)
    feed()  # the client's key, read once and kept
    few, few_updates = feed()
    settle(20)
    many, many_updates = feed()
    assert many == few <= 3
    assert (few_updates, many_updates) == (4, 44)


def test_update_feed_lists_public_changes_of_the_clients_requests(api, people):
    (row,) = body(post(api))
    issue = Issue.objects.get(tracking_number=row["service_request_id"])
    issue = workflow.accept(issue=issue, actor=people.worker, message="马上处理。")
    workflow.comment(issue=issue, actor=people.worker, note="内部记录", is_public=False)
    issue = workflow.resolve(issue=issue, actor=people.worker, note="已更换灯泡。")
    # An issue another client (or a resident) filed is not in this client's feed.
    issue_at(api)
    data = body(get(api, "servicerequestupdates.json", api_key=api.key))
    assert [(u["status"], u["description"]) for u in data] == [
        ("IN_PROGRESS", "马上处理。"),
        ("FIXED", "已更换灯泡。"),
    ]
    assert {u["service_request_id"] for u in data} == {issue.tracking_number}
    assert data[0]["updated_datetime"].endswith("+08:00")
    root = xml(get(api, "servicerequestupdates.xml", api_key=api.key))
    assert root.tag == "service_request_updates"
    updates = root.findall("request_update")
    assert len(updates) == 2
    assert children(updates[0]) == [
        "update_id",
        "service_request_id",
        "status",
        "external_status_code",
        "updated_datetime",
        "description",
        "media_url",
    ]
    later = (timezone.now() + timedelta(minutes=1)).isoformat()
    assert body(get(api, "servicerequestupdates.json", api_key=api.key, start_date=later)) == []
    other = ApiClient.objects.create(name="别的系统")
    assert body(get(api, "servicerequestupdates.json", api_key=other.issue_key())) == []


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_update_feed_needs_a_key(api, fmt):
    assert_error(get(api, f"servicerequestupdates.{fmt}"), 403, fmt, "api_key")
    assert_error(get(api, f"servicerequestupdates.{fmt}", api_key="x.y"), 403, fmt)
    assert_error(get(api, f"servicerequestupdates.{fmt}", api_key=api.key, end_date="x"), 400, fmt)
