"""Grid boundaries as a GeoJSON FeatureCollection: a dry run first, every bad feature
named, nothing imported while one is bad, and a good file round-trips."""

import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grids.models import Grid
from tests.factories import UserFactory
from tests.test_geo import BOWTIE, EAST, WEST, square

IMPORT = reverse("admin:grids_grid_boundary_import")
EXPORT = reverse("admin:grids_grid_boundary_export")


@pytest.fixture
def admin_en(client, db):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def feature(code, geometry):
    return {"type": "Feature", "properties": {"code": code}, "geometry": geometry}


def upload(client, collection, button="check"):
    raw = collection if isinstance(collection, bytes) else json.dumps(collection).encode()
    file = SimpleUploadedFile("grids.geojson", raw, content_type="application/geo+json")
    return client.post(IMPORT, {"file": file, button: "1"})


def boundaries():
    return dict(Grid.objects.values_list("code", "boundary"))


def test_a_bad_file_names_each_bad_feature_and_imports_nothing(admin_en, territory):
    collection = {
        "type": "FeatureCollection",
        "features": [
            feature("LD-QYC-01", WEST),  # good
            feature("LD-QYC-02", BOWTIE),  # self-intersecting
            feature("NO-SUCH", EAST),  # unknown code
            feature("LD-LD-01", square(36.60, 117.10, 36.61, 117.11)),  # axes swapped
            feature("LD-QYC-01", EAST),  # repeated code
            {"type": "Feature", "properties": {}, "geometry": EAST},  # no code
        ],
    }
    before = boundaries()
    response = upload(admin_en, collection, button="import")
    assert response.status_code == 200
    errors = response.context["checked"].errors
    assert len(errors) == 5
    assert errors[0].startswith("Feature 2 (code LD-QYC-02): The boundary is not a valid polygon")
    assert "Self-intersection" in errors[0]
    assert errors[1] == "Feature 3 (code NO-SUCH): no grid has this code"
    assert (
        errors[2].startswith("Feature 4 (code LD-LD-01): The position") and "swapped" in errors[2]
    )
    assert errors[3] == "Feature 5 (code LD-QYC-01): feature 1 has the same code"
    assert errors[4] == "Feature 6: it has no properties.code naming its grid"
    assert "nothing was imported" in response.content.decode()
    assert boundaries() == before


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"type": "Polygon"}', b'{"type": "FeatureCollection", "features": []}']
)
def test_files_that_are_not_collections_are_refused(admin_en, territory, raw):
    response = upload(admin_en, raw, button="import")
    assert len(response.context["checked"].errors) == 1
    assert all(b is None for b in boundaries().values())


def test_a_dry_run_imports_nothing_then_import_and_round_trip(admin_en, territory):
    collection = {
        "type": "FeatureCollection",
        "features": [feature("LD-QYC-01", WEST), feature("LD-QYC-02", EAST)],
    }
    response = upload(admin_en, collection)
    assert [g.code for g, _ in response.context["checked"].updates] == ["LD-QYC-01", "LD-QYC-02"]
    assert "The file is good: 2 grids would get these boundaries" in response.content.decode()
    assert all(b is None for b in boundaries().values())

    response = upload(admin_en, collection, button="import")
    assert response.status_code == 302
    assert boundaries()["LD-QYC-01"] == WEST and boundaries()["LD-QYC-02"] == EAST
    assert Grid.objects.get(code="LD-QYC-02").min_lng == 117.12

    exported = admin_en.get(EXPORT)
    assert "attachment" in exported["Content-Disposition"]
    data = json.loads(exported.content)
    assert [f["properties"]["code"] for f in data["features"]] == ["LD-QYC-01", "LD-QYC-02"]
    Grid.objects.update(boundary=None)
    assert upload(admin_en, data, button="import").status_code == 302
    assert boundaries()["LD-QYC-01"] == WEST and boundaries()["LD-QYC-02"] == EAST


def test_only_those_who_may_change_grids_import(client, territory):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(IMPORT).status_code == 403
    assert client.get(EXPORT).status_code == 403


def test_the_grid_page_has_the_boundary_editor_with_a_map(admin_en, territory):
    url = reverse("admin:grids_grid_change", args=[territory.grid.pk])
    page = admin_en.get(url).content.decode()
    assert 'id="boundary-preview"' in page and "js/boundary-preview.js" in page
    assert 'id="map-config"' in page
