"""axe-core over every page of every role, at 360 px and 1280 px, in Chinese and English.

One test per role: the demo data is loaded, the role signs in once, and one browser context
per language visits the role's pages (tests/browser/sweep.py) at both widths. Any serious or
critical violation fails, listed with its page and the elements involved. Set
A11Y_SHOTS=1 to keep a screenshot of every page visited under test-artifacts/.
"""

from __future__ import annotations

import io
import os
import time

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.management import call_command
from django.db import connection

from tests.browser.conftest import ARTIFACTS, login
from tests.browser.sweep import (
    NOT_PAGES,
    PAGES,
    SPECIAL,
    STATUS,
    named_urls,
    paths_for,
    swept_names,
)

LANGUAGES = {"zh-CN": "zh-Hans", "en-US": "en"}
WIDTHS = (360, 1280)
FAILING = ("serious", "critical")


def test_every_named_url_is_swept():
    missing = named_urls() - swept_names()
    assert not missing, (
        f"add these pages to PAGES (or NOT_PAGES) in tests/browser/sweep.py: {missing}"
    )
    stale = swept_names() - named_urls() - {"admin:*"} - set(STATUS) - set(SPECIAL)
    assert not stale, f"no such URL names: {stale}"
    assert set(NOT_PAGES) <= named_urls()


def describe(violation: dict) -> str:
    targets = "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
    return f"{violation['id']} ({violation['impact']}, {len(violation['nodes'])}×): {targets}"


def check(page, axe, where: str, failures: list, shots: bool) -> None:
    results = axe.run(page)
    failures += [
        f"{where}: {describe(v)}" for v in results.response["violations"] if v["impact"] in FAILING
    ]
    if shots:
        folder = ARTIFACTS / "axe"
        folder.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in where)
        page.screenshot(path=folder / f"{name}.png", full_page=True)


@pytest.mark.parametrize("role", PAGES)
@pytest.mark.django_db(transaction=True)
def test_every_page_passes_axe(browser, live_server, role):
    """Each page is loaded once per language at 360 px, checked, widened to 1280 px and
    checked again (a resize is cheaper than a second visit and shows the desktop layout)."""
    if connection.vendor != "sqlite":
        pytest.skip("pages look the same on any database: the sweep runs once, on SQLite")
    call_command("seed_demo", stdout=io.StringIO())
    paths = paths_for(role)
    axe, shots = Axe(), bool(os.environ.get("A11Y_SHOTS"))
    failures, checked, started = [], 0, time.monotonic()
    state = None
    if role != "anonymous":
        context = browser.new_context(base_url=live_server.url)
        login(context.new_page(), role)
        state = context.storage_state()
        context.close()
    for locale, lang in LANGUAGES.items():
        context = browser.new_context(locale=locale, base_url=live_server.url, storage_state=state)
        context.set_default_timeout(15_000)
        page = context.new_page()
        for path, status in paths:
            page.set_viewport_size({"width": WIDTHS[0], "height": 800})
            where = f"{role} {lang} {path}"
            if path in SPECIAL:
                response = SPECIAL[path](page)
            else:
                response = page.goto(path)
            if response.status != status:
                failures.append(f"{where}: HTTP {response.status}")
            if "/accounts/login/" in page.url and "login" not in path and path not in SPECIAL:
                failures.append(f"{where}: sent to sign in")
            if (page.locator("html").get_attribute("lang") or "").lower() != lang.lower():
                failures.append(f"{where}: not in {lang}")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                check(page, axe, f"{where} {width}px", failures, shots)
                checked += 1
        context.close()
    elapsed = time.monotonic() - started
    print(f"axe {role}: {len(paths)} pages, {checked} checks in {elapsed:.0f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"axe-{role}.txt").write_text("\n".join(failures) + "\n", encoding="utf-8")
    assert not failures, "\n".join(failures)
