"""Bulk import and export of the territory and staff in the admin (django-import-export).

A file is previewed first (a dry run), every bad row is named, and nothing is imported
while any row is bad; the confirmed import is all or nothing too.
"""

import io
from decimal import Decimal

import openpyxl
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User
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


def preview(client, model, content, name="file.csv", fmt=CSV):
    if isinstance(content, str):
        content = content.encode()
    return client.post(
        reverse(f"admin:grids_{model}_import"),
        {"format": fmt, "resource": "0", "import_file": SimpleUploadedFile(name, content)},
    )


def confirm(client, model, response):
    form = response.context["confirm_form"]
    data = {k: form.initial[k] for k in ("import_file_name", "original_file_name", "format")}
    data["resource"] = form.initial.get("resource", "")
    return client.post(reverse(f"admin:grids_{model}_process_import"), data)


def import_file(client, model, content, **kwargs):
    response = preview(client, model, content, **kwargs)
    assert response.status_code == 200
    assert "confirm_form" in response.context, response.content.decode()[-3000:]
    return confirm(client, model, response)


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


def texts(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


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
    assert "confirm_form" not in response.context
    result = response.context["result"]
    bad = {row.number: row.error_dict for row in result.invalid_rows}
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
    assert "confirm_form" not in response.context
    page = response.content.decode()
    assert "The file has no column “community_code”." in page
    assert "Traceback" not in page
    assert not Grid.objects.filter(code="NEW-01").exists()


def test_an_unreadable_file_is_refused_on_the_form(admin_en, territory):
    response = preview(admin_en, "grid", b"\x00\x01not a workbook", name="g.xlsx", fmt=XLSX)
    assert response.status_code == 200
    assert response.context["form"].errors["import_file"]
    assert waiting_files() == []


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
    assert "confirm_form" not in response.context
    bad = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
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
    assert "confirm_form" in previewed.context
    assert "Confirm import" in previewed.content.decode()
    assert not Grid.objects.filter(code="NEW-01").exists()  # the preview imports nothing
    assert len(waiting_files()) == 1

    response = confirm(admin_en, "grid", previewed)
    assert response.status_code == 302
    assert response.url == reverse("admin:grids_grid_changelist")
    assert texts(response) == ["Import finished: 1 new, 1 updated, 0 deleted and 0 skipped grids."]
    new = Grid.objects.get(code="NEW-01")
    assert (new.name, new.community) == ("新一网格", territory.community)  # trimmed
    moved = Grid.objects.get(code="LD-QYC-02")
    assert (moved.name, moved.community) == ("改名网格", territory.other_community)
    assert waiting_files() == []
    admin_en.get(response.url)  # read the message

    # Confirming the same preview again (a double click) finds no file: a message, nothing
    # imported twice, no error page.
    again = confirm(admin_en, "grid", previewed)
    assert again.status_code == 302
    assert again.url == reverse("admin:grids_grid_import")
    assert texts(again) == ["The uploaded file is no longer available. Upload it again."]
    assert Grid.objects.filter(code="NEW-01").count() == 1


def test_the_confirmed_import_is_all_or_nothing_when_data_changed_meanwhile(admin_en, territory):
    doomed = CommunityFactory(subdistrict=territory.subdistrict, code="DOOMED")
    content = "code,name,community_code\nNEW-01,新一网格,LD-QYC\nNEW-02,新二网格,DOOMED\n"
    response = preview(admin_en, "grid", content)
    assert "confirm_form" in response.context
    doomed.delete()  # someone removes the community between preview and confirmation

    response = confirm(admin_en, "grid", response)
    assert response.status_code == 302
    assert response.url == reverse("admin:grids_grid_import")
    [message] = texts(response)
    assert message.startswith("Nothing was imported: the data changed since the preview.")
    assert "row 2, community_code: No community has the code “DOOMED”." in message
    assert not Grid.objects.filter(code__startswith="NEW-").exists()


def test_excel_files_import_too(admin_en, territory):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["username", "full_name", "phone", "role", "unit_code", "is_full_time"])
    sheet.append(["wang", "王芳", 13800000001, "grid_worker", "LD-QYC-01", 0])
    sheet.append([None, None, None, None, None, None])  # an empty row Excel left behind
    sheet.append(["wang", None, None, "community_staff", "LD-QYC", None])
    buffer = io.BytesIO()
    book.save(buffer)
    response = import_file(admin_en, "post", buffer.getvalue(), name="staff.xlsx", fmt=XLSX)
    assert response.status_code == 302
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
    bad = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
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
        response = import_file(admin_en, model, files[model])
        assert response.status_code == 302, model
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
    bad = {row.number: row.error_dict for row in response.context["result"].invalid_rows}
    assert "swapped" in str(bad[1])
