"""The territory and its people in the admin: lists, counts, inlines, staff, sessions."""

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.models import Building, Community, Grid, Post, User
from grids.signals import end_sessions
from issues.models import Issue, IssueEvent, Level, Severity, Source, Status
from tests.factories import (
    BuildingFactory,
    CategoryFactory,
    DepartmentFactory,
    IssueFactory,
    SubdistrictFactory,
    UserFactory,
)


def populate(issues: int, tag: str):
    """A subdistrict with issues/10 grids (half of them staffed), issues/100 communities,
    two buildings a grid, one event an issue: written in bulk, a few queries in all."""
    now = timezone.now()
    subdistrict = SubdistrictFactory(code=f"{tag}-S")
    department = DepartmentFactory(subdistrict=subdistrict)
    category = CategoryFactory(department=department if issues % 2 else None)
    communities = Community.objects.bulk_create(
        Community(subdistrict=subdistrict, name=f"社区{i}", code=f"{tag}-C{i}")
        for i in range(max(2, issues // 100))
    )
    grids = Grid.objects.bulk_create(
        Grid(community=communities[i % len(communities)], name=f"网格{i}", code=f"{tag}-G{i}")
        for i in range(max(2, issues // 10))
    )
    Building.objects.bulk_create(
        Building(grid=grid, name=f"{n}号楼", address="经十东路") for grid in grids for n in range(2)
    )
    users = User.objects.bulk_create(
        # One account per mobile number: the tag's letter makes each batch's numbers its own.
        User(username=f"{tag}-u{i}", first_name=f"员工{i}", phone=f"139{ord(tag):03d}{i:05d}")
        for i in range(len(grids))
    )
    posts = [
        Post(user=u, role=Post.Role.GRID_WORKER, grid=g)
        for u, g in zip(users, grids[::2], strict=False)
    ]
    posts += [Post(user=users[-1], role=Post.Role.COMMUNITY_STAFF, community=communities[0])]
    posts += [Post(user=users[-1], role=Post.Role.SUBDISTRICT_STAFF, subdistrict=subdistrict)]
    posts += [Post(user=users[-2], role=Post.Role.DEPARTMENT_STAFF, department=department)]
    Post.objects.bulk_create(posts)
    statuses = list(Status)
    new_issues = Issue.objects.bulk_create(
        Issue(
            tracking_number=f"{tag}{i:08d}",
            title=f"问题{i}",
            description="描述",
            category=category,
            severity=Severity.MINOR,
            source=Source.HOTLINE,
            grid=grids[i % len(grids)],
            community_id=grids[i % len(grids)].community_id,
            subdistrict=subdistrict,
            level=Level.GRID,
            status=statuses[i % len(statuses)],
            suspended_at=now if statuses[i % len(statuses)] == Status.SUSPENDED else None,
            assignee=users[i % len(users)],
            department=department if i % 3 == 0 else None,
            due_at=now + timedelta(hours=i % 50 - 10),
            level_entered_at=now,
            created_at=now - timedelta(days=i % 40),
        )
        for i in range(issues)
    )
    IssueEvent.objects.bulk_create(
        IssueEvent(
            issue=issue,
            actor=issue.assignee,
            kind=IssueEvent.Kind.FILED,
            to_status=Status.SUBMITTED,
            to_level=Level.GRID,
        )
        for issue in new_issues
    )


CHANGELISTS = [
    "grids_subdistrict",
    "grids_community",
    "grids_grid",
    "grids_building",
    "grids_department",
    "grids_user",
    "grids_post",
    "issues_category",
    "issues_slapolicy",
    "issues_issue",
    "issues_issueevent",
    "issues_apiclient",
    "issues_apirequest",
    "issues_holiday",
    "issues_returnreason",
    "grids_importjob",
    "participation_claim",
    "participation_partnerunit",
    "participation_partyregistration",
]
PAGES = [reverse(f"admin:{name}_changelist") for name in CHANGELISTS] + [
    reverse("admin:index"),
    reverse("admin:coverage"),
    reverse("admin:grids_grid_changelist") + "?staffing=none",
    reverse("admin:issues_issue_changelist") + "?status__exact=submitted&o=-7",
]


@pytest.mark.parametrize("url", PAGES)
def test_admin_pages_run_the_same_queries_for_10_or_1000_issues(
    admin_en, url, django_assert_max_num_queries
):
    populate(10, "a")
    admin_en.get(url)  # warm the caches (content types, site, permissions)
    with CaptureQueriesContext(connection) as few:
        assert admin_en.get(url).status_code == 200
    populate(1000, "b")  # 100 grids, 200 buildings, 1,000 issues and events
    with django_assert_max_num_queries(16):
        with CaptureQueriesContext(connection) as many:
            response = admin_en.get(url)
    assert response.status_code == 200
    assert len(many) == len(few), [q["sql"][:120] for q in many]


# --- the lists say what matters --------------------------------------------------------------


def row_of(response, text):
    """The cells of the changelist row that contains ``text``, as plain text."""
    page = response.content.decode()
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        if text in row:
            cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
            return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    raise AssertionError(f"no row with {text!r}")


def test_unit_lists_count_children_open_issues_and_staff(admin_en, territory, people):
    t = territory
    BuildingFactory.create_batch(3, grid=t.grid)
    IssueFactory(grid=t.grid, status=Status.SUBMITTED)
    IssueFactory(grid=t.grid, status=Status.IN_PROGRESS, department=t.department)
    IssueFactory(grid=t.grid, status=Status.CLOSED)  # not open
    IssueFactory(grid=t.cousin_grid, status=Status.RESOLVED)

    # Five buildings (two are the residents' homes) and two open issues: counted apart,
    # not multiplied by a join.
    grid_row = row_of(admin_en.get(reverse("admin:grids_grid_changelist")), "LD-QYC-01")
    assert grid_row[1:] == ["第一网格", "LD-QYC-01", "全运村社区", "5", "2", "张伟, gridworker2"]

    community_row = row_of(admin_en.get(reverse("admin:grids_community_changelist")), "LD-QYC")
    assert community_row[1:] == ["全运村社区", "LD-QYC", "龙洞街道", "2", "2", "1"]

    subdistrict_row = row_of(admin_en.get(reverse("admin:grids_subdistrict_changelist")), ">LD<")
    assert subdistrict_row[1:] == ["龙洞街道", "LD", "2", "3", "3", "2"]

    department_row = row_of(admin_en.get(reverse("admin:grids_department_changelist")), "龙洞街道")
    assert department_row[1:] == ["城管", "龙洞街道", "1", "1"]


def test_a_grid_without_a_worker_is_highlighted_and_filterable(admin_en, territory, people):
    response = admin_en.get(reverse("admin:grids_grid_changelist"))
    assert row_of(response, "LD-LD-01")[-1] == "no grid worker"
    assert "icon-alert.svg" in response.content.decode()
    # A deactivated worker is no worker.
    people.worker.is_active = people.worker2.is_active = False
    people.worker.save()
    people.worker2.save()
    response = admin_en.get(reverse("admin:grids_grid_changelist") + "?staffing=none")
    listed = set(re.findall(r"LD-[A-Z]+-\d\d|YJ-01-01", response.content.decode()))
    assert listed == {"LD-QYC-01", "LD-LD-01", "YJ-01-01"}


def test_search_and_autocomplete_find_units_by_code(admin_en, territory):
    response = admin_en.get(reverse("admin:grids_grid_changelist") + "?q=LD-QYC-02")
    assert "第二网格" in response.content.decode()
    assert "LD-LD-01" not in response.content.decode()
    response = admin_en.get(
        reverse("admin:autocomplete"),
        {"app_label": "grids", "model_name": "post", "field_name": "community", "term": "全运"},
    )
    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["全运村社区"]


def test_inlines_go_down_the_hierarchy(admin_en, territory, people):
    t = territory
    BuildingFactory(grid=t.grid, name="七号楼")
    pages = {
        reverse("admin:grids_subdistrict_change", args=[t.subdistrict.pk]): "communities-",
        reverse("admin:grids_community_change", args=[t.community.pk]): "grids-",
        reverse("admin:grids_grid_change", args=[t.grid.pk]): "buildings-",
        reverse("admin:grids_user_change", args=[people.worker.pk]): "posts-",
    }
    for url, prefix in pages.items():
        page = admin_en.get(url).content.decode()
        assert f'name="{prefix}TOTAL_FORMS"' in page, url
    assert "七号楼" in admin_en.get(reverse("admin:grids_grid_change", args=[t.grid.pk])).text


def test_grid_inline_edits_a_communitys_grids(admin_en, territory):
    t = territory
    url = reverse("admin:grids_community_change", args=[t.community.pk])
    grids = list(t.community.grids.order_by("pk"))
    data = {
        "subdistrict": t.subdistrict.pk,
        "name": t.community.name,
        "code": t.community.code,
        "grids-TOTAL_FORMS": len(grids) + 1,
        "grids-INITIAL_FORMS": len(grids),
        "grids-MIN_NUM_FORMS": 0,
        "grids-MAX_NUM_FORMS": 1000,
    }
    for i, grid in enumerate(grids):
        data |= {
            f"grids-{i}-id": grid.pk,
            f"grids-{i}-name": grid.name,
            f"grids-{i}-code": grid.code,
        }
        data[f"grids-{i}-community"] = t.community.pk
    data |= {f"grids-{len(grids)}-name": "第三网格", f"grids-{len(grids)}-code": "LD-QYC-03"}
    data[f"grids-{len(grids)}-community"] = t.community.pk
    response = admin_en.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert Grid.objects.get(code="LD-QYC-03").community == t.community


def test_the_admin_is_titled_in_chinese_and_in_english(client, db):
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    page = client.get(reverse("admin:index")).content.decode()
    assert "网格化治理后台管理" in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(reverse("admin:index")).content.decode()
    assert "Grid governance administration" in page
    assert reverse("admin:coverage") in page


# --- people ---------------------------------------------------------------------------------


def test_user_list_shows_posts_and_flags_and_filters_by_them(admin_en, territory, people):
    volunteer = UserFactory(username="helper", is_volunteer=True, is_party_member=True)
    response = admin_en.get(reverse("admin:grids_user_changelist") + "?is_volunteer__exact=1")
    page = response.content.decode()
    assert "helper" in page and "gridworker" not in page
    helper_row = row_of(response, "helper")
    assert helper_row[1] == "helper"
    assert 'alt="True"' in page  # the party-member and volunteer flags as icons
    response = admin_en.get(reverse("admin:grids_user_changelist") + "?posts__role=grid_worker")
    assert "Grid worker · 第一网格" in row_of(response, "gridworker2")[4]
    assert volunteer.username not in response.content.decode()


def add_user_data(**post):
    data = {
        "username": "newstaff",
        "usable_password": "true",
        "password1": "A-long-pass-phrase-9",
        "password2": "A-long-pass-phrase-9",
        "first_name": "陈晨",
        "phone": "13712345678",
        "is_party_member": "on",
        "posts-TOTAL_FORMS": 1,
        "posts-INITIAL_FORMS": 0,
        "posts-MIN_NUM_FORMS": 0,
        "posts-MAX_NUM_FORMS": 1000,
        "posts-0-is_full_time": "on",
    }
    data |= {f"posts-0-{k}": v for k, v in post.items()}
    return data


def test_a_staff_member_and_their_post_are_created_on_one_page(admin_en, territory):
    url = reverse("admin:grids_user_add")
    page = admin_en.get(url).content.decode()
    for name in ("username", "phone", "first_name", "posts-0-role", "posts-0-grid"):
        assert f'name="{name}"' in page, name
    assert "Full name" in page

    response = admin_en.post(url, add_user_data(role="grid_worker", grid=territory.sibling_grid.pk))
    assert response.status_code == 302
    user = User.objects.get(username="newstaff")
    assert (user.first_name, user.phone, user.is_party_member) == ("陈晨", "13712345678", True)
    assert list(user.posts.values_list("role", "grid")) == [
        (Post.Role.GRID_WORKER, territory.sibling_grid.pk)
    ]


def test_a_person_without_a_post_is_created_when_the_post_row_is_left_empty(admin_en, db):
    data = add_user_data() | {"username": "resident2"}
    response = admin_en.post(reverse("admin:grids_user_add"), data)
    assert response.status_code == 302
    assert not User.objects.get(username="resident2").posts.exists()


def test_a_post_that_names_the_wrong_unit_is_refused_field_by_field(admin_en, territory):
    url = reverse("admin:grids_user_add")
    response = admin_en.post(
        url, add_user_data(role="grid_worker", community=territory.community.pk)
    )
    assert response.status_code == 200
    [errors] = [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms]
    assert errors["grid"] == ["A Grid worker's post names a grid: choose it here."]
    assert errors["community"] == ["Leave this empty: a Grid worker's post names a grid."]
    response = admin_en.post(url, add_user_data(role="grid_worker", phone="123"))
    assert not User.objects.filter(username="newstaff").exists()  # nothing half-saved
    bad_phone = admin_en.post(
        url, add_user_data(role="grid_worker", grid=territory.grid.pk) | {"phone": "123"}
    )
    assert bad_phone.status_code == 200
    assert bad_phone.context["adminform"].form.errors["phone"] == [
        "Enter a mainland China mobile number: 11 digits starting with 13–19."
    ]
    assert not User.objects.filter(username="newstaff").exists()


def test_the_add_post_page_is_prefilled_from_the_link(admin_en, territory):
    url = reverse("admin:grids_post_add") + f"?role=grid_worker&grid={territory.grid.pk}"
    form = admin_en.get(url).context["adminform"].form
    assert form.initial["role"] == "grid_worker"
    assert str(form.initial["grid"]) == str(territory.grid.pk)
    worker = UserFactory(username="late")
    response = admin_en.post(
        reverse("admin:grids_post_add"),
        {"user": worker.pk, "role": "grid_worker", "grid": territory.grid.pk, "is_full_time": "on"},
    )
    assert response.status_code == 302
    assert worker.posts.get().grid == territory.grid


# --- deactivating a user ends their sessions ---------------------------------------------------


def signed_in_client(user):
    other = Client()
    other.force_login(user)  # a real session row, as a sign-in makes
    assert other.get(reverse("home")).wsgi_request.user == user
    return other


def test_deactivating_a_user_ends_their_sessions(admin_en, territory, people):
    worker, colleague = people.worker, people.worker2
    phone, laptop = signed_in_client(worker), signed_in_client(worker)
    bystander = signed_in_client(colleague)
    assert Session.objects.count() == 4  # with the admin's own

    # The administrator unticks "active" on the change page.
    page = admin_en.get(reverse("admin:grids_user_change", args=[worker.pk]))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data |= {"is_active": "", "date_joined_0": "2026-01-01", "date_joined_1": "08:00:00"}
    data |= {"last_login_0": "", "last_login_1": "", "groups": [], "user_permissions": []}
    data |= {"posts-TOTAL_FORMS": 0, "posts-INITIAL_FORMS": 0, "home_building": ""}
    data = {k: v for k, v in data.items() if not isinstance(v, list)}
    response = admin_en.post(reverse("admin:grids_user_change", args=[worker.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    worker.refresh_from_db()
    assert not worker.is_active

    # Both of the worker's sessions are gone; the next request is anonymous.
    assert Session.objects.count() == 2
    for device in (phone, laptop):
        assert not device.get(reverse("home")).wsgi_request.user.is_authenticated
    assert bystander.get(reverse("home")).wsgi_request.user == colleague

    # Reactivating does not bring an old session back.
    worker.is_active = True
    worker.save()
    assert not phone.get(reverse("home")).wsgi_request.user.is_authenticated


def test_the_deactivate_action_ends_sessions_too(admin_en, territory, people):
    device = signed_in_client(people.worker)
    response = admin_en.post(
        reverse("admin:grids_user_changelist"),
        {"action": "deactivate", "_selected_action": [people.worker.pk, people.worker2.pk]},
    )
    assert response.status_code == 302
    assert not User.objects.filter(pk__in=[people.worker.pk, people.worker2.pk], is_active=True)
    assert not device.get(reverse("home")).wsgi_request.user.is_authenticated


def test_saving_an_active_user_or_other_fields_keeps_sessions(territory, people):
    device = signed_in_client(people.worker)
    people.worker.phone = "13911112222"
    people.worker.save()
    assert device.get(reverse("home")).wsgi_request.user == people.worker
    assert end_sessions(people.worker) == 1
    assert not device.get(reverse("home")).wsgi_request.user.is_authenticated
