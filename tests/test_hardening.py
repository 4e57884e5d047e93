"""Deployment hardening: path parameters validated, production checks clean, HTTPS and
HSTS from the environment, no framing, the demo key refused, oversized bodies refused
before they are read, idle sessions ended, and refusals logged as one line."""

import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from issues import workflow
from issues.models import Source

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """Python in a fresh process with the production settings and this environment."""
    # Not the test run's own switches: the browser tests allow sync calls from their event
    # loop (DJANGO_ALLOW_ASYNC_UNSAFE), which a production process never does.
    left_out = ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in left_out}
    base.update(DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True
    )


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "grid.example.gov.cn",
}


@pytest.mark.parametrize(
    "path", ["/my/%00/", "/staff/issues/%00/", "/staff/issues/%00/accept/", "/my/a%2Fb/"]
)
def test_a_bad_tracking_number_in_the_path_is_a_404(client, people, path):
    client.force_login(people.worker)
    assert client.get(path).status_code == 404
    client.force_login(people.resident)
    assert client.get(path).status_code == 404


def test_check_deploy_with_a_production_environment_is_clean():
    result = run_python(
        "import django, sys; django.setup();"
        "from django.core.management import call_command;"
        "call_command('check', deploy=True, fail_level='WARNING')",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout


def test_https_and_hsts_are_on_in_production_and_0_turns_each_off():
    show = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS)"
    )
    on = run_python(show, **PRODUCTION)
    assert on.stdout.split() == ["True", "31536000", "DENY"], on.stderr
    off = run_python(show, **PRODUCTION, SECURE_SSL_REDIRECT="0", SECURE_HSTS_SECONDS="0")
    assert off.stdout.split() == ["False", "0", "DENY"], off.stderr
    demo = run_python(show, DEBUG="1")
    assert demo.stdout.split()[:2] == ["False", "0"], demo.stderr


@pytest.mark.parametrize("entry", ["config.wsgi", "config.asgi"])
def test_the_demo_key_is_refused_outside_debug(entry):
    refused = run_python(f"import {entry}", DEBUG="0", ALLOWED_HOSTS="x")
    assert refused.returncode != 0 and "Set SECRET_KEY" in refused.stderr
    assert run_python(f"import {entry}", **PRODUCTION).returncode == 0


def test_a_serving_process_freezes_what_it_loaded_after_its_warm_up():
    """The WSGI entry keeps the garbage collector off what the process loaded in its first
    requests (no 50–70 ms full collections over it): nothing frozen before, everything
    loaded by then frozen after the warm-up's last response, once."""
    script = (
        "import gc; from django.core.signals import request_finished\n"
        "import config.wsgi\n"
        "from config.serving import WARM_UP_REQUESTS as n\n"
        "counts = []\n"
        "for _ in range(n + 5):\n"
        "    counts.append(gc.get_freeze_count())\n"
        "    request_finished.send(sender=None)\n"
        "counts.append(gc.get_freeze_count())\n"
        "print(counts[0], counts[n - 1], counts[n], counts[-1])"
    )
    ran = run_python(script, **PRODUCTION)
    assert ran.returncode == 0, ran.stderr
    before, last_warm, after, later = map(int, ran.stdout.split())
    assert before == last_warm == 0 and after > 10_000 and later == after, ran.stdout


def test_pages_may_not_be_framed(client, db):
    response = client.get(reverse("home"))
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, people, settings):
    client.force_login(people.resident)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    too_big = settings.MAX_REQUEST_BYTES + 1
    response = client.post(reverse("issue_report"), {"title": "x"}, CONTENT_LENGTH=str(too_big))
    assert response.status_code == 413
    assert "at most 51 MB" in response.text
    assert not response.wsgi_request._read_started  # nothing of the body was read


def test_sessions_end_after_a_working_day_idle_for_staff(client, people, settings):
    client.force_login(people.worker)
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == settings.SESSION_IDLE_SECONDS == 8 * 3600
    client.force_login(people.resident)
    client.get(reverse("home"))
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_a_refused_action_is_one_log_line_with_the_user_and_the_issue(
    client, people, territory, caplog
):
    issue = workflow.file_issue(
        actor=people.resident,
        source=Source.RESIDENT,
        category=territory.category,
        title="路灯坏了",
        description="不亮",
        building=people.resident.home_building,
    )
    client.force_login(people.sibling_worker)
    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("staff_issue_detail", args=[issue.tracking_number]))
    assert response.status_code == 404
    lines = [r.getMessage() for r in caplog.records if r.name == "issues.refused"]
    assert len(lines) == 1
    assert issue.tracking_number in lines[0] and "siblingworker" in lines[0]
    assert all(r.exc_info is None for r in caplog.records)
    assert not [r for r in caplog.records if r.name == "django.request"]


def test_a_forbidden_page_is_one_log_line_not_a_traceback(client, people, caplog):
    client.force_login(people.resident)
    with caplog.at_level(logging.WARNING):
        response = client.get(reverse("staff_queue"))
    assert response.status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "issues.refused"]
    assert len(lines) == 1 and "forbidden" in lines[0]
    assert all(r.exc_info is None for r in caplog.records)
