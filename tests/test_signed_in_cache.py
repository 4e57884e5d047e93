"""Who is signed in, read from a shared cache (grids/auth.py): the person and their posts
come from the cache on every request after the first, and any change to either is seen on
the next request. The tests run the backend on the test process's own cache (one process,
so it stands for a shared one)."""

import os
import subprocess
import sys
from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from grids.models import Post
from tests.factories import issue_at, post_for

USER_TABLE = "grids_user"
POST_TABLE = "grids_post"


@pytest.fixture
def cached(settings):
    settings.SIGNED_IN_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def sign_in(client, username):
    response = client.post(reverse("login"), {"username": username, "password": "demo12345"})
    assert response.status_code == 302, "the sign-in failed"


def tables_read(client, url) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response.status_code, [q["sql"] for q in queries.captured_queries]


def reads(sql: list[str], table: str) -> int:
    return sum(f'FROM "{table}"' in statement for statement in sql)


def test_after_the_first_request_the_person_and_posts_come_from_the_cache(client, people, cached):
    sign_in(client, "gridworker")
    client.get(reverse("staff_queue"))  # the first request after signing in fills the cache
    status, sql = tables_read(client, reverse("staff_queue"))
    assert status == 200
    assert reads(sql, USER_TABLE) == 0
    assert reads(sql, POST_TABLE) == 0


def test_without_the_cache_each_request_reads_them(client, people, settings):
    assert settings.SIGNED_IN_CACHE_SECONDS == 0  # the per-process default
    sign_in(client, "gridworker")
    client.get(reverse("staff_queue"))
    status, sql = tables_read(client, reverse("staff_queue"))
    assert status == 200
    assert reads(sql, USER_TABLE) == 1
    assert reads(sql, POST_TABLE) == 1


def test_without_the_cache_the_person_is_read_whole_by_one_query(client, people, settings):
    """Each request reads the person by their key (SQL compiled once): every field, so
    nothing the page shows of them costs another query."""
    assert settings.SIGNED_IN_CACHE_SECONDS == 0
    people.worker.first_name, people.worker.phone = "王芳", "13800000001"
    people.worker.save()
    sign_in(client, "gridworker")
    for _n in range(2):
        status, sql = tables_read(client, reverse("staff_queue"))
        assert status == 200
        [person] = [statement for statement in sql if f'FROM "{USER_TABLE}"' in statement]
        for column in ("username", "first_name", "phone", "is_active", "password"):
            assert f'"{USER_TABLE}"."{column}"' in person, person
    assert "王芳" in client.get(reverse("staff_queue")).content.decode()


def test_without_the_cache_a_person_made_inactive_around_the_model_is_refused(client, people):
    """Deactivating through the model ends the sessions (grids.signals); made inactive by
    an update that sends no signal, the person is still refused on the next request, as
    Django's own backend refuses them."""
    sign_in(client, "gridworker")
    assert client.get(reverse("staff_queue")).status_code == 200
    type(people.worker).objects.filter(pk=people.worker.pk).update(is_active=False)
    response = client.get(reverse("staff_queue"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_without_the_cache_a_session_is_read_from_its_row_while_it_lives(db, settings):
    """The session store (config/sessions.py): a live session's data by its key; a key
    that names no live session, made up or expired, reads as empty and is dropped, so
    what is saved next goes under a new key, never the one the client sent."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    live = store()
    live["grid"] = 7
    live.save()
    again = store(session_key=live.session_key)
    assert again.load() == {"grid": 7} and again.session_key == live.session_key

    made_up = store(session_key="a" * 32)
    assert made_up.load() == {} and made_up.session_key is None
    made_up["grid"] = 8
    made_up.save()
    assert made_up.session_key not in (None, "a" * 32)
    assert not Session.objects.filter(session_key="a" * 32).exists()

    Session.objects.filter(session_key=live.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    expired = store(session_key=live.session_key)
    assert expired.load() == {} and expired.session_key is None


def test_a_new_post_is_seen_on_the_next_request(client, territory, people, cached):
    far = issue_at(territory, grid=territory.far_grid)
    url = reverse("staff_issue_detail", args=[far.tracking_number])
    sign_in(client, "gridworker")
    assert client.get(url).status_code == 404
    post_for(people.worker, territory.far_grid)
    assert client.get(url).status_code == 200


def test_a_removed_post_is_seen_on_the_next_request(client, territory, people, cached):
    issue = issue_at(territory)
    url = reverse("staff_issue_detail", args=[issue.tracking_number])
    sign_in(client, "gridworker")
    assert client.get(url).status_code == 200
    Post.objects.filter(user=people.worker).delete()
    assert client.get(url).status_code in (403, 404)


def deactivate(person):
    person.is_active = False
    person.save()


def change_password(person):
    person.set_password("another-secret-9")
    person.save()


def delete(person):
    person.delete()


@pytest.mark.parametrize("seconds", [300, 0], ids=["cached", "read each time"])
@pytest.mark.parametrize("change", [deactivate, change_password, delete])
def test_a_deactivated_person_or_a_new_password_signs_out_on_the_next_request(
    client, people, settings, change, seconds
):
    settings.SIGNED_IN_CACHE_SECONDS = seconds
    cache.clear()
    sign_in(client, "gridworker")
    assert client.get(reverse("staff_queue")).status_code == 200
    change(people.worker)
    response = client.get(reverse("staff_queue"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_renamed_person_is_shown_renamed(client, people, cached):
    sign_in(client, "gridworker")
    client.get(reverse("staff_queue"))
    people.worker.first_name = "王芳"
    people.worker.save()
    assert "王芳" in client.get(reverse("staff_queue")).content.decode()


@pytest.mark.parametrize(
    ("cache_url", "shared"),
    [("", False), ("locmemcache://", False), ("redis://127.0.0.1:6379/0", True)],
)
def test_settings_use_the_cache_only_when_every_process_shares_it(cache_url, shared):
    environment = {
        **os.environ,
        "CACHE_URL": cache_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    if not cache_url:
        environment.pop("CACHE_URL")
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; "
            "print(s.CACHE_IS_SHARED, s.SESSION_ENGINE.rsplit('.', 1)[1], "
            "s.SIGNED_IN_CACHE_SECONDS)",
        ],
        env=environment,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == (["True", "cached_db", "300"] if shared else ["False", "sessions", "0"])
