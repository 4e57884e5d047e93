"""Categories imported and exported by their stable code (the Open311 service code)."""

from django.urls import reverse

from grids.models import ImportJob
from issues.models import Category, Severity
from tests import test_admin_import as admin_import
from tests.factories import CategoryFactory


def preview(client, content):
    return admin_import.preview(client, "category", content, name="categories.csv", app="issues")


def confirm(client, response):
    return admin_import.confirm(client, "category", response, app="issues")


def test_a_file_adds_and_changes_categories_by_code(admin_en, db):
    kept = CategoryFactory(code="lamp", name="路灯", default_severity=Severity.MINOR)
    content = (
        "code,name,hint,default_severity,is_public,is_active,sort_order\n"
        "lamp,道路照明,路灯不亮、灯杆倾斜,急事,1,1,3\n"
        "noise, 噪音扰民 ,,minor,0,,\n"
    )
    previewed = preview(admin_en, content)
    assert admin_import.checked(previewed), previewed.content.decode()[-2000:]
    assert not Category.objects.filter(code="noise").exists()  # the check imports nothing
    response = confirm(admin_en, previewed)
    assert admin_import.job_of(response).state == ImportJob.State.IMPORTED
    kept.refresh_from_db()
    assert (kept.pk, kept.name, kept.hint, kept.default_severity, kept.is_public) == (
        kept.pk,
        "道路照明",
        "路灯不亮、灯杆倾斜",
        Severity.URGENT,
        True,
    )
    assert kept.sort_order == 3
    noise = Category.objects.get(code="noise")
    assert (noise.name, noise.default_severity, noise.is_public, noise.is_active) == (
        "噪音扰民",
        Severity.MINOR,
        False,
        True,
    )


def test_a_bad_file_names_each_bad_row_and_imports_nothing(admin_en, db):
    CategoryFactory(code="lamp", name="路灯")
    content = (
        "code,name,default_severity\n"
        "good,绿化,小事\n"
        "bad code,违建,难事\n"
        "odd,噪音,sometimes\n"
        ",无编码,小事\n"
    )
    response = preview(admin_en, content)
    assert not admin_import.checked(response)
    page = response.content.decode()
    assert "Use letters, digits" in page  # "bad code" has a space
    assert "Write minor, urgent or difficult" in page
    assert not Category.objects.filter(code__in=["good", "odd"]).exists()


def test_the_export_reimports_to_the_same_categories(admin_en, db):
    CategoryFactory(code="lamp", name="路灯", hint="灯不亮", default_severity=Severity.URGENT)
    exported = admin_en.post(
        reverse("admin:issues_category_export"), {"format": "0", "resource": "0"}
    ).content.decode("utf-8-sig")
    assert exported.splitlines()[0].startswith("code,name,hint,default_severity")
    Category.objects.filter(code="lamp").update(name="改过", default_severity=Severity.MINOR)
    response = confirm(admin_en, preview(admin_en, exported))
    assert admin_import.job_of(response).state == ImportJob.State.IMPORTED
    lamp = Category.objects.get(code="lamp")
    assert (lamp.name, lamp.hint, lamp.default_severity) == ("路灯", "灯不亮", Severity.URGENT)
