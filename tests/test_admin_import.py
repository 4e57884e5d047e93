"""Bulk import and export of the territory and staff in the admin (django-import-export).

A file is checked first by the task worker (a dry run; the tests' immediate task backend
runs it at once), every bad row is named, and nothing is imported while any row is bad;
the confirmed import runs as a task too, and is all or nothing.
"""

import io
from decimal import Decimal
from io import StringIO

import openpyxl
import pytest
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from grids import imports
from grids.models import (
    Building,
    Community,
    Department,
    Grid,
    ImportJob,
    Post,
    Subdistrict,
    User,
)
from tests.factories import (
    BuildingFactory,
    CommunityFactory,
    DepartmentFactory,
    GridFactory,
    SubdistrictFactory,
    UserFactory,
    post_for,
)

CSV, XLSX = "0", "1"


def preview(client, model, content, name="file.csv", fmt=CSV, app="grids"):
    """Upload a file; the job's page once the check has run (or the form, if refused)."""
    if isinstance(content, str):
        content = content.encode()
    return client.post(
        reverse(f"admin:{app}_{model}_import"),
        {"format": fmt, "resource": "0", "import_file": SimpleUploadedFile(name, content)},
        follow=True,
    )


def job_of(response) -> ImportJob:
    return response.context["job"]


def checked(response) -> bool:
    """Whether the check found the file good: it waits for the confirmation."""
    job = response.context.get("job")
    return job is not None and job.state == ImportJob.State.CHECKED


def bad_rows(response) -> dict:
    """{row number: {column: [messages]}} of a refused file ("__all__": the row's other
    messages)."""
    return {
        row["number"]: {**row["fields"], **({"__all__": row["other"]} if row["other"] else {})}
        for row in job_of(response).result["invalid"]
    }


def confirm(client, model, response, app="grids"):
    job = job_of(response)
    return client.post(reverse(f"admin:{app}_{model}_import_confirm", args=[job.pk]), follow=True)


def import_file(client, model, content, **kwargs):
    response = preview(client, model, content, **kwargs)
    assert response.status_code == 200
    assert checked(response), response.content.decode()[-3000:]
    response = confirm(client, model, response)
    assert job_of(response).state == ImportJob.State.IMPORTED, job_of(response).result
    return response


def export(client, model, fmt=CSV, query=""):
    response = client.post(
        reverse(f"admin:grids_{model}_export") + query, {"format": fmt, "resource": "0"}
    )
    assert response.status_code == 200
    return response.content


def waiting_files():
    """Uploads waiting for confirmation: in the private import storage, never in MEDIA_ROOT
    (which a proxy serves)."""
    assert not (settings.MEDIA_ROOT / "django-import-export").exists()
    folder = settings.STORAGES["import_export"]["OPTIONS"]["location"] / "django-import-export"
    return list(folder.iterdir()) if folder.exists() else []


# --- a bad file -------------------------------------------------------------------------------


def test_a_bad_grid_file_names_each_bad_row_and_imports_nothing(admin_en, territory):
    before = set(Grid.objects.values_list("code", "name", "community_id"))
    content = (
        "code,name,community_code\n"
        "NEW-01,新一网格,LD-QYC\n"  # row 1: fine on its own, but its code is also in row 3
        "NEW-02,新二网格,NOPE\n"  # row 2: unknown community
        "NEW-01,重复网格,LD-QYC\n"  # row 3: duplicate code
        ",无码网格,LD-QYC\n"  # row 4: no code
        "NEW-05,好网格,LD-LD\n"  # row 5: good
        "LD-QYC-01,,LD-QYC\n"  # row 6: an existing grid with its name blanked
    )
    response = preview(admin_en, "grid", content)
    assert response.status_code == 200
    assert job_of(response).state == ImportJob.State.REFUSED
    bad = bad_rows(response)
    assert set(bad) == {1, 2, 3, 4, 6}
    assert "The same code is in row 3 of this file too." in bad[1]["code"]
    assert "The same code is in row 1 of this file too." in bad[3]["code"]
    assert bad[2]["community_code"] == ["No community has the code “NOPE”."]
    assert bad[4]["code"] == ["This field cannot be blank."]
    assert bad[6]["name"] == ["This field cannot be blank."]
    page = response.content.decode()
    assert "5 rows are bad, so nothing was imported." in page
    assert "No community has the code “NOPE”." in page
    # Nothing changed, and the uploaded file is not left waiting for a confirmation.
    assert set(Grid.objects.values_list("code", "name", "community_id")) == before
    assert waiting_files() == []


def test_a_file_without_a_required_column_is_refused_with_a_clear_message(admin_en, territory):
    response = preview(admin_en, "grid", "code,name\nNEW-01,新网格\n")
    assert not checked(response)
    page = response.content.decode()
    assert "The file has no column “community_code”." in page
    assert "Traceback" not in page
    assert not Grid.objects.filter(code="NEW-01").exists()


def test_an_unreadable_file_is_refused_with_a_clear_message(admin_en, territory):
    response = preview(admin_en, "grid", b"\x00\x01not a workbook", name="g.xlsx", fmt=XLSX)
    assert response.status_code == 200
    assert job_of(response).state == ImportJob.State.REFUSED
    page = response.content.decode()
    assert "The file could not be read as XLSX" in page and "Traceback" not in page
    assert waiting_files() == []
    # A file with column names and no row under them: nothing to check.
    response = preview(admin_en, "grid", "code,name,community_code\n")
    assert "The file has no rows under a first row of column names." in response.content.decode()


def test_staff_file_names_bad_phone_unknown_unit_and_role(admin_en, territory):
    content = (
        "username,full_name,phone,role,unit_code,department,is_full_time\n"
        "wang,王芳,13800000001,grid_worker,LD-QYC-01,,1\n"  # 1 good
        "li,李强,12345,grid_worker,LD-QYC-02,,1\n"  # 2 bad phone
        "zhao,赵敏,13800000003,community_staff,NOPE,,1\n"  # 3 unknown community
        "sun,孙杰,13800000004,janitor,LD,,1\n"  # 4 unknown role
        "qian,钱明,13800000005,department_staff,LD,,1\n"  # 5 no department named
        "zhou,周亮,13800000006,department_staff,LD,交警,1\n"  # 6 no such department
        "wu,吴刚,13800000007,网格员,LD-QYC-02,,maybe\n"  # 7 role by label; bad flag
        "wang,王芳,13900000000,community_staff,LD-QYC,,1\n"  # 8 wang: another phone
    )
    response = preview(admin_en, "post", content)
    assert not checked(response)
    bad = bad_rows(response)
    assert set(bad) == {1, 2, 3, 4, 5, 6, 7, 8}
    assert bad[1]["phone"] == ["Rows 1, 8 give this person different values here."]
    assert bad[2]["phone"] == [
        "Enter a mainland China mobile number: 11 digits starting with 13–19."
    ]
    assert bad[3]["unit_code"] == ["No community has the code “NOPE”."]
    assert bad[4]["role"][0].startswith("Unknown role “janitor”")
    assert bad[5]["department"] == ["Give the department's name for department staff."]
    assert bad[6]["department"] == [
        "No department “交警” serves the subdistrict with the code “LD”."
    ]
    assert list(bad[7]) == ["is_full_time"]  # 网格员 is the Chinese label of grid_worker
    assert not User.objects.filter(username__in=["wang", "li", "zhao", "wu"]).exists()
    assert not Post.objects.exists()


# --- a good file --------------------------------------------------------------------------------


def test_a_good_file_is_previewed_then_imported_on_confirmation(admin_en, territory):
    content = "code,name,community_code\nNEW-01, 新一网格 ,LD-QYC\nLD-QYC-02,改名网格,LD-LD\n"
    previewed = preview(admin_en, "grid", content)
    assert checked(previewed)
    page = previewed.content.decode()
    assert "Importing it would add 1, change 1 and leave 0 as they are." in page
    assert "Confirm import" in page
    assert not Grid.objects.filter(code="NEW-01").exists()  # the check imports nothing
    assert len(waiting_files()) == 1

    response = confirm(admin_en, "grid", previewed)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == previewed.redirect_chain[-1][0]  # the job's page
    assert "Import finished: 1 new, 1 updated, 0 deleted and 0 skipped grids." in (
        " ".join(response.content.decode().split())
    )
    new = Grid.objects.get(code="NEW-01")
    assert (new.name, new.community) == ("新一网格", territory.community)  # trimmed
    moved = Grid.objects.get(code="LD-QYC-02")
    assert (moved.name, moved.community) == ("改名网格", territory.other_community)
    assert waiting_files() == []
    # Who imported what is in the admin's log, and the job in the list of imports.
    assert LogEntry.objects.filter(object_repr__contains="新一网格").exists()
    assert admin_en.get(reverse("admin:grids_importjob_changelist")).status_code == 200

    # Confirming the same check again (a double click): the job is done, nothing imported
    # twice, no error page.
    again = confirm(admin_en, "grid", previewed)
    assert again.status_code == 200 and job_of(again).state == ImportJob.State.IMPORTED
    assert Grid.objects.filter(code="NEW-01").count() == 1
    assert ImportJob.objects.count() == 1


def test_the_confirmed_import_is_all_or_nothing_when_data_changed_meanwhile(admin_en, territory):
    doomed = CommunityFactory(subdistrict=territory.subdistrict, code="DOOMED")
    content = "code,name,community_code\nNEW-01,新一网格,LD-QYC\nNEW-02,新二网格,DOOMED\n"
    response = preview(admin_en, "grid", content)
    assert checked(response)
    doomed.delete()  # someone removes the community between the check and the import

    response = confirm(admin_en, "grid", response)
    assert job_of(response).state == ImportJob.State.REFUSED
    page = response.content.decode()
    assert "Nothing was imported: the data changed since the check." in page
    assert bad_rows(response)[2]["community_code"] == ["No community has the code “DOOMED”."]
    assert not Grid.objects.filter(code__startswith="NEW-").exists()
    assert waiting_files() == []


def test_excel_files_import_too(admin_en, territory):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["username", "full_name", "phone", "role", "unit_code", "is_full_time"])
    sheet.append(["wang", "王芳", 13800000001, "grid_worker", "LD-QYC-01", 0])
    sheet.append([None, None, None, None, None, None])  # an empty row Excel left behind
    sheet.append(["wang", None, None, "community_staff", "LD-QYC", None])
    buffer = io.BytesIO()
    book.save(buffer)
    import_file(admin_en, "post", buffer.getvalue(), name="staff.xlsx", fmt=XLSX)
    wang = User.objects.get(username="wang")
    assert (wang.first_name, wang.phone) == ("王芳", "13800000001")
    assert not wang.has_usable_password()  # an administrator sets a password later
    assert set(wang.posts.values_list("role", "grid", "community", "is_full_time")) == {
        (Post.Role.GRID_WORKER, territory.grid.pk, None, False),
        (Post.Role.COMMUNITY_STAFF, None, territory.community.pk, True),
    }


def test_a_csv_saved_by_excel_on_chinese_windows_is_read(admin_en, territory):
    content = "code,name,community_code\r\nNEW-01,新一网格,LD-QYC\r\n".encode("gb18030")
    import_file(admin_en, "grid", content)
    assert Grid.objects.get(code="NEW-01").name == "新一网格"


def test_a_building_stated_in_another_community_is_imported_and_the_doubt_kept(admin_en, territory):
    content = (
        "grid_code,name,address,community_code\n"
        "LD-QYC-01,1号楼,经十东路1号,LD-QYC\n"  # agrees with its grid
        "LD-QYC-01,2号楼,经十东路2号,LD-LD\n"  # the register says another community
        "LD-QYC-02,3号楼,,\n"  # says nothing
    )
    import_file(admin_en, "building", content)
    stated = dict(Building.objects.values_list("name", "stated_community__code"))
    assert stated == {"1号楼": None, "2号楼": "LD-LD", "3号楼": None}
    assert Building.objects.get(name="2号楼").grid == territory.grid


def test_buildings_and_departments_are_keyed_by_parent_and_name(admin_en, territory):
    BuildingFactory(grid=territory.grid, name="1号楼", address="旧地址")
    import_file(
        admin_en,
        "building",
        "grid_code,name,address\nLD-QYC-01,1号楼,新地址\nLD-QYC-02,1号楼,别处\n",
    )
    assert set(Building.objects.values_list("grid__code", "name", "address")) == {
        ("LD-QYC-01", "1号楼", "新地址"),
        ("LD-QYC-02", "1号楼", "别处"),
    }
    response = preview(
        admin_en, "department", "subdistrict_code,name\nLD,市场监管\nLD,市场监管\nXX,城管\n"
    )
    bad = bad_rows(response)
    assert bad[1]["name"] == ["The same subdistrict_code + name is in row 2 of this file too."]
    assert bad[3]["subdistrict_code"] == ["No subdistrict has the code “XX”."]
    assert not Department.objects.filter(name="市场监管").exists()


# --- round trip -----------------------------------------------------------------------------------


def hierarchy():
    """The territory and its staff, as plain values (no ids)."""
    return {
        "subdistricts": set(Subdistrict.objects.values_list("code", "name")),
        "communities": set(Community.objects.values_list("code", "name", "subdistrict__code")),
        "grids": set(Grid.objects.values_list("code", "name", "community__code")),
        "buildings": set(
            Building.objects.values_list("grid__code", "name", "address", "stated_community__code")
        ),
        "departments": set(Department.objects.values_list("subdistrict__code", "name")),
        "posts": {
            (
                p.user.username,
                p.user.get_full_name(),
                p.user.phone,
                p.role,
                p.grid.code if p.grid else None,
                p.community.code if p.community else None,
                p.subdistrict.code if p.subdistrict else None,
                (p.department.subdistrict.code, p.department.name) if p.department else None,
                p.is_full_time,
            )
            for p in Post.objects.select_related(
                "user", "grid", "community", "subdistrict", "department__subdistrict"
            )
        },
    }


ORDER = ["subdistrict", "community", "grid", "building", "department", "post"]


def test_csv_round_trip_rebuilds_the_same_hierarchy_in_an_empty_database(admin_en, db):
    for s in range(2):
        subdistrict = SubdistrictFactory(code=f"S{s}", name=f"=街道{s}")  # a formula-like name
        department = DepartmentFactory(subdistrict=subdistrict, name="城管")
        post_for(UserFactory(username=f"dept{s}", first_name="部门员", phone=""), department)
        post_for(UserFactory(username=f"sub{s}", first_name="街道员"), subdistrict)
        for c in range(2):
            community = CommunityFactory(subdistrict=subdistrict, code=f"S{s}C{c}")
            post_for(UserFactory(username=f"com{s}{c}", first_name="社区员"), community)
            for g in range(2):
                grid = GridFactory(community=community, code=f"S{s}C{c}G{g}")
                worker = UserFactory(username=f"w{s}{c}{g}", first_name="网格员")
                post = post_for(worker, grid)
                if g:
                    Post.objects.filter(pk=post.pk).update(is_full_time=False)
                BuildingFactory(grid=grid, name="1号楼", address="-1 层")
    # One building the register placed in another community.
    Building.objects.filter(grid__code="S0C0G0").update(
        stated_community=Community.objects.get(code="S1C0")
    )
    # A person with two posts.
    post_for(User.objects.get(username="w000"), Grid.objects.get(code="S0C0G1"))
    before = hierarchy()

    files = {model: export(admin_en, model) for model in ORDER}
    assert files["subdistrict"].startswith("\ufeff".encode())  # Excel reads it as UTF-8
    assert "'=街道0".encode() in files["subdistrict"]  # not a formula in a spreadsheet

    Post.objects.all().delete()
    User.objects.exclude(username="root").delete()
    for model in (Building, Grid, Community, Department, Subdistrict):
        model.objects.all().delete()
    assert not any(hierarchy().values())

    for model in ORDER:
        import_file(admin_en, model, files[model])
    assert hierarchy() == before


def test_export_follows_the_changelist_filters(admin_en, territory):
    content = export(
        admin_en, "grid", query=f"?community__subdistrict__id__exact={territory.subdistrict.pk}"
    )
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0] == "code,name,community_code"
    assert {line.split(",")[0] for line in lines[1:]} == {"LD-QYC-01", "LD-QYC-02", "LD-LD-01"}


def test_excel_export_opens_in_excel(admin_en, territory):
    content = export(admin_en, "community", fmt=XLSX)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.values)
    assert rows[0] == ("code", "name", "subdistrict_code")
    assert ("LD-QYC", "全运村社区", "LD") in rows


def test_importing_needs_add_and_change_permissions_exporting_view(client, territory):
    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename="view_grid"))
    client.force_login(clerk)
    assert client.get(reverse("admin:grids_grid_import")).status_code == 403
    assert preview(client, "grid", "code,name,community_code\nN,n,LD-QYC\n").status_code == 403
    assert export(client, "grid").startswith("\ufeff".encode())

    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_grid", "change_grid", "add_post"])
    )
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["change_post"]))
    clerk = User.objects.get(pk=clerk.pk)  # forget the cached permissions
    client.force_login(clerk)
    assert client.get(reverse("admin:grids_grid_import")).status_code == 200
    # Importing staff posts creates people: that needs the permissions on people too.
    assert client.get(reverse("admin:grids_post_import")).status_code == 403


def test_buildings_import_their_points(admin_en, territory):
    import_file(
        admin_en,
        "building",
        "grid_code,name,latitude,longitude\nLD-QYC-01,1号楼,36.621,117.131\nLD-QYC-01,2号楼,,\n",
    )
    points = {b.name: (b.latitude, b.longitude) for b in Building.objects.all()}
    assert points["1号楼"] == (Decimal("36.621000"), Decimal("117.131000"))
    assert points["2号楼"] == (None, None)
    response = preview(
        admin_en, "building", "grid_code,name,latitude,longitude\nLD-QYC-01,3号楼,117.1,36.6\n"
    )
    assert "swapped" in str(bad_rows(response)[1])


# --- as a task ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_check_waits_for_the_task_worker_and_the_page_shows_its_progress(
    admin_en, territory, settings
):
    from tests.test_tasks import DATABASE_BACKEND, work

    settings.TASKS = DATABASE_BACKEND
    rows = "".join(f"N-{n:04d},网格{n},LD-QYC\n" for n in range(450))
    response = preview(admin_en, "grid", "code,name,community_code\n" + rows)
    job = job_of(response)
    assert job.state == ImportJob.State.QUEUED  # the upload only handed it over
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Waiting for the task worker" in page
    # Under way: the page shows how far the worker has got.
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    imports.write_progress(job, 200, 450)
    page = admin_en.get(response.request["PATH_INFO"]).content.decode()
    assert 'max="450" value="200"' in page and "200 of 450 rows." in page
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.QUEUED)
    work()  # the worker checks every row
    job.refresh_from_db()
    assert (job.state, job.rows, job.result["totals"]["new"]) == (ImportJob.State.CHECKED, 450, 450)
    assert imports.read_progress(job) is None  # done: no progress left behind
    page = admin_en.get(response.request["PATH_INFO"]).content.decode()
    assert "http-equiv" not in page and "Confirm import" in page
    response = confirm(admin_en, "grid", response)
    assert job_of(response).state == ImportJob.State.QUEUED
    work()
    job.refresh_from_db()
    assert job.state == ImportJob.State.IMPORTED
    assert Grid.objects.filter(code__startswith="N-").count() == 450


def test_a_run_that_fails_says_so_and_imports_nothing(admin_en, territory):
    content = "code,name,community_code\nNEW-01,新一网格,LD-QYC\n"
    response = preview(admin_en, "grid", content)
    job = job_of(response)
    assert job.state == ImportJob.State.CHECKED
    job.storage().remove()  # the waiting file is lost (a storage mishap)
    response = confirm(admin_en, "grid", response)
    job.refresh_from_db()
    assert job.state == ImportJob.State.FAILED
    page = response.content.decode()
    assert "The import stopped" in page and "Nothing was imported." in page
    assert not Grid.objects.filter(code="NEW-01").exists()


def test_another_models_job_is_not_found_on_this_import_page(admin_en, territory):
    response = preview(admin_en, "grid", "code,name,community_code\nNEW-01,新一网格,LD-QYC\n")
    job = job_of(response)
    assert (
        admin_en.get(reverse("admin:grids_community_import_job", args=[job.pk])).status_code == 404
    )
    assert (
        admin_en.post(reverse("admin:grids_community_import_confirm", args=[job.pk])).status_code
        == 404
    )
    assert not Grid.objects.filter(code="NEW-01").exists()


def test_a_checked_file_never_confirmed_is_dropped_and_its_job_says_so(
    admin_en, territory, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from grids.imports import expire_unconfirmed

    settings.IMPORT_KEEP_HOURS = 48
    content = "code,name,community_code\nNEW-01,新一网格,LD-QYC\n"
    old, fresh = preview(admin_en, "grid", content), preview(admin_en, "grid", content)
    old_job = job_of(old)
    assert len(waiting_files()) == 2
    ImportJob.objects.filter(pk=old_job.pk).update(finished_at=timezone.now() - timedelta(hours=49))

    # The next upload clears it; the fresh check stays.
    third = preview(admin_en, "grid", content)
    old_job.refresh_from_db()
    assert old_job.state == ImportJob.State.EXPIRED
    assert job_of(fresh).state == job_of(third).state == ImportJob.State.CHECKED
    assert len(waiting_files()) == 2
    page = " ".join(admin_en.get(old.redirect_chain[-1][0]).content.decode().split())
    assert "not confirmed within 48 hours, so it was dropped and nothing was imported" in page
    assert "Confirm import" not in page

    # Confirming it now imports nothing and changes nothing.
    response = confirm(admin_en, "grid", old)
    assert job_of(response).state == ImportJob.State.EXPIRED
    assert not Grid.objects.filter(code="NEW-01").exists()
    assert expire_unconfirmed() == 0  # nothing else is due


def test_the_sweeps_round_drops_unconfirmed_files_too(admin_en, territory):
    from datetime import timedelta

    from django.utils import timezone

    response = preview(admin_en, "grid", "code,name,community_code\nNEW-01,新一网格,LD-QYC\n")
    ImportJob.objects.update(finished_at=timezone.now() - timedelta(days=30))
    out = StringIO()
    call_command("escalate_overdue", stdout=out)
    assert "dropped 1 unconfirmed import files" in out.getvalue()
    assert ImportJob.objects.get(pk=job_of(response).pk).state == ImportJob.State.EXPIRED
    assert waiting_files() == []
