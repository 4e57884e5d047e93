import os

import pytest
from django.conf import settings
from django.db import connection

from tests.factories import (
    CategoryFactory,
    CommunityFactory,
    DepartmentFactory,
    GridFactory,
    ResidentFactory,
    SubdistrictFactory,
    UserFactory,
    staff_on,
)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "import_export": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "imports"},
        },
    }


@pytest.fixture
def territory(db):
    """Two subdistricts; the first has two communities, the first community two grids.

    Names used across tests: ``grid`` (own), ``sibling_grid`` (same community),
    ``community``, ``other_community`` (same subdistrict), ``subdistrict``,
    ``other_subdistrict`` with ``far_grid``; ``department`` serves ``subdistrict``.
    """
    subdistrict = SubdistrictFactory(name="龙洞街道", code="LD")
    community = CommunityFactory(subdistrict=subdistrict, name="全运村社区", code="LD-QYC")
    other_community = CommunityFactory(subdistrict=subdistrict, name="龙洞社区", code="LD-LD")
    grid = GridFactory(community=community, name="第一网格", code="LD-QYC-01")
    sibling_grid = GridFactory(community=community, name="第二网格", code="LD-QYC-02")
    cousin_grid = GridFactory(community=other_community, name="第一网格", code="LD-LD-01")
    other_subdistrict = SubdistrictFactory(name="姚家街道", code="YJ")
    far_grid = GridFactory(
        community=CommunityFactory(subdistrict=other_subdistrict, code="YJ-01"), code="YJ-01-01"
    )
    department = DepartmentFactory(subdistrict=subdistrict, name="城管")
    other_department = DepartmentFactory(subdistrict=other_subdistrict, name="城管")
    category = CategoryFactory(name="市容环境", department=department)
    return type(
        "Territory",
        (),
        dict(
            subdistrict=subdistrict,
            community=community,
            other_community=other_community,
            grid=grid,
            sibling_grid=sibling_grid,
            cousin_grid=cousin_grid,
            other_subdistrict=other_subdistrict,
            far_grid=far_grid,
            department=department,
            other_department=other_department,
            category=category,
        ),
    )


@pytest.fixture
def people(territory):
    """One person per role on the own units, plus colleagues and outsiders."""
    t = territory
    return type(
        "People",
        (),
        dict(
            resident=ResidentFactory(username="resident", home_building__grid=t.grid),
            other_resident=ResidentFactory(username="neighbour", home_building__grid=t.grid),
            worker=staff_on(t.grid, username="gridworker", first_name="张伟"),
            worker2=staff_on(t.grid, username="gridworker2"),
            sibling_worker=staff_on(t.sibling_grid, username="siblingworker"),
            community_staff=staff_on(t.community, username="community"),
            other_community_staff=staff_on(t.other_community, username="othercommunity"),
            subdistrict_staff=staff_on(t.subdistrict, username="subdistrict"),
            subdistrict_staff2=staff_on(t.subdistrict, username="subdistrict2"),
            far_staff=staff_on(t.other_subdistrict, username="farstaff"),
            department_staff=staff_on(t.department, username="department"),
            other_department_staff=staff_on(t.other_department, username="otherdepartment"),
        ),
    )


@pytest.fixture
def root(db):
    """A superuser."""
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def admin_en(client, root):
    """A signed-in superuser reading the admin in English."""
    client.force_login(root)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL row locks; run with DATABASE_URL=postgres://… (CI does)",
)


# In CI a skipped PostgreSQL or browser test is a failure: .ci/run sets these variables.
_REQUIRED_SKIPS = {
    "REQUIRE_POSTGRES": "needs PostgreSQL",
    "REQUIRE_BROWSER": "needs Chromium",
}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped:
        reason = str(report.longrepr)
        for variable, marker_text in _REQUIRED_SKIPS.items():
            if os.environ.get(variable) and marker_text in reason:
                report.outcome = "failed"
                report.longrepr = f"{variable} is set, so this may not be skipped: {reason}"
    return report


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counts live in the cache: each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
