"""Residents filing under load, and the bare INSERT baseline, in one locust run.

Every simulated resident signs in (with the mobile number or the username, alternately),
browses and files once to warm up, and then the run alternates slices:

- residents: each one loops over browse a page (home, "my issues" or one of its issues),
  open the report form, send it (CSRF token, submission token, building, category, title,
  description, a photo in every fourth), and open the issue page it is sent to. The third
  filing and every tenth after it is sent twice, as a double click (both at once) or the
  browser's "resend" (one after the other): the second must land on the same issue.
- filings: the same residents only send the report form, again and again, each time with
  a fresh submission token (as a newly opened form carries) and every fourth with a photo,
  and open nothing else: the filing POST's throughput at the same concurrency as the bare
  inserts, the figure that is compared with theirs.
- bare: the same residents, signed in, POST to the bare INSERT view (config/bench_urls.py).

A slice ends by letting every resident finish what it started, so no two ever overlap.
Each request is recorded with its slice, status, time and the server's own time
(``Server-Timing``); the records and every filing's token and answer are written to
LOAD_RESULTS for bench/load/report.py, which counts the rows against them.

Driven by bench/load/run.sh; its variables: LOAD_USERS, LOAD_SECONDS (residents' total),
LOAD_SLICE (one residents' slice), LOAD_BARE_SLICE, LOAD_PASSWORD, LOAD_RESULTS.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import gevent
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession

USERS = int(os.environ.get("LOAD_USERS", "50"))
RESIDENT_SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))
SLICE_SECONDS = float(os.environ.get("LOAD_SLICE", "10"))
BARE_SLICE_SECONDS = float(os.environ.get("LOAD_BARE_SLICE", "5"))
PASSWORD = os.environ.get("LOAD_PASSWORD", "demo12345")
RESULTS = os.environ.get("LOAD_RESULTS", "load-results.json")
# Signing in 50 residents costs a password hash each (slow on purpose): allow for it.
WARMUP_LIMIT = float(os.environ.get("LOAD_WARMUP_LIMIT", "120"))
DRAIN_LIMIT = 60.0
PHOTO_EVERY = 4
RESEND_EVERY = 10

TITLES = ["路灯不亮", "垃圾满溢", "井盖松动", "楼道堆物", "噪音扰民", "路面破损", "绿地缺水"]

# --- what the run records -----------------------------------------------------------------


@dataclass
class Run:
    phase: str = "warmup"  # warmup, residents, filings, bare, pause, done
    slice: int = -1  # index of the current slice; -1 while warming up
    ready: int = 0  # residents through sign-in and the warm-up filing (or failed at it)
    busy: int = 0  # residents inside a step of the current slice
    windows: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    filings: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    written: bool = False


RUN = Run()
NUMBERS = itertools.count(1)


def schedule() -> list[tuple[str, float]]:
    """Residents' slices adding up to LOAD_SECONDS, each followed by a slice of filings
    alone and a bare slice, both as long as LOAD_BARE_SLICE."""
    slices = []
    left = RESIDENT_SECONDS
    while left > 1e-6:
        seconds = min(SLICE_SECONDS, left)
        short = BARE_SLICE_SECONDS * seconds / SLICE_SECONDS
        slices += [("residents", seconds), ("filings", short), ("bare", short)]
        left -= seconds
    return slices


def write_results() -> None:
    if RUN.written:
        return
    RUN.written = True
    with open(RESULTS, "w") as out:
        json.dump(
            {
                "users": USERS,
                "complete": RUN.phase == "done",
                "windows": RUN.windows,
                # kind, slice, started (epoch s), seconds, status, server ms or None
                "requests": RUN.requests,
                "filings": RUN.filings,
                "failures": RUN.failures,
                "notes": RUN.notes,
            },
            out,
        )


# --- reading the pages --------------------------------------------------------------------

ATTRIBUTE = re.compile(r'([\w:-]+)(?:\s*=\s*"([^"]*)")?')
TAG = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.IGNORECASE)
OPTION = re.compile(r"<option\b([^>]*)>", re.IGNORECASE)


def attributes(text: str) -> dict[str, str]:
    return {name.lower(): value or "" for name, value in ATTRIBUTE.findall(text)}


def unescape(value: str) -> str:
    return (
        value.replace("&quot;", '"')
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
    )


def form_fields(page: str, marker: str) -> tuple[dict, dict]:
    """(values, options) of the form holding ``marker`` (e.g. ``name="password"``), as a
    browser would send it untouched: inputs with their values, each select's chosen option
    (or its first), textareas' text; fields that belong to another form (``form="…"``) are
    left out. ``options`` lists each select's values, to choose from."""
    at = page.find(marker)
    if at < 0:
        return {}, {}
    page = page[page.rfind("<form", 0, at) : page.find("</form>", at)]
    values: dict = {}
    options: dict = {}
    for match in TAG.finditer(page):
        kind, attrs = match.group(1).lower(), attributes(match.group(2))
        name = attrs.get("name")
        if not name or "form" in attrs:
            continue
        if kind == "input":
            input_type = attrs.get("type", "text").lower()
            if input_type in ("submit", "button", "file", "image", "reset"):
                continue
            if input_type in ("checkbox", "radio") and "checked" not in attrs:
                continue
            values[name] = unescape(attrs.get("value", ""))
        elif kind == "select":
            body = page[match.end() : page.find("</select>", match.end())]
            choices = [attributes(o) for o in OPTION.findall(body)]
            options[name] = [unescape(c.get("value", "")) for c in choices]
            chosen = [c for c in choices if "selected" in c] or choices[:1]
            values[name] = unescape(chosen[0].get("value", "")) if chosen else ""
        else:
            values[name] = ""
    return values, options


def form_body(values: dict, files: list[tuple[str, str, bytes, str]]) -> tuple[bytes, str]:
    """The report form's body as the page sends it (static/js/site.js): multipart/form-data
    with a photo, plain form data without one."""
    if not files:
        return urlencode(values).encode(), "application/x-www-form-urlencoded"
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in values.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, filename, content, content_type in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def small_photo() -> bytes:
    """A small JPEG, as a phone's photo shrunk: cheap to send, still decoded and
    re-encoded by the server like any other."""
    from PIL import Image

    image = Image.new("RGB", (320, 240), (90, 140, 200))
    for x in range(0, 320, 16):
        for y in range(0, 240, 16):
            image.putpixel((x, y), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


PHOTO = small_photo()

# --- the residents ------------------------------------------------------------------------


class Resident(FastHttpUser):
    wait_time = constant(0)
    host = os.environ.get("LOAD_HOST", "http://127.0.0.1:8771")
    concurrency = 1

    def on_start(self):
        self.number = next(NUMBERS)
        # The second copy of a double click goes through a twin session with the same
        # cookies: one session's "do not follow redirects" is not safe for two requests.
        self.twin = FastHttpSession(
            base_url=self.host, request_event=self.environment.events.request, user=self
        )
        self.twin.cookiejar = self.twin.client.cookiejar = self.client.cookiejar
        self.issues: list[str] = []
        self.filed = 0
        self.report_form: dict = {}  # the form as first filled, sent again in "filings"
        self.browsed = itertools.cycle(["home", "my issues", "issue page"])
        self.signed_in = False
        try:
            self.signed_in = self.sign_in()
            if self.signed_in:
                self.resident_step()
        except Exception as exc:  # recorded and counted; the run goes on
            self.record_failure("warm-up", repr(exc))
        finally:
            RUN.ready += 1

    @task
    def step(self):
        phase = RUN.phase
        if phase not in ("residents", "filings", "bare") or not self.signed_in:
            gevent.sleep(0.05)
            return
        RUN.busy += 1
        try:
            {"residents": self.resident_step, "filings": self.filing_step}.get(
                phase, self.bare_step
            )()
        except Exception as exc:
            self.record_failure(phase, repr(exc))
        finally:
            RUN.busy -= 1

    # --- requests, recorded -----------------------------------------------------------

    def send(self, kind, method, url, *, body=None, content_type=None, redirects=True, twin=False):
        headers = {"Content-Type": content_type} if content_type else {}
        slice_index = RUN.slice if RUN.phase not in ("warmup",) else -1
        started = time.time()
        response = (self.twin if twin else self.client).request(
            method, url, name=kind, data=body, headers=headers, allow_redirects=redirects
        )
        seconds = time.time() - started
        timing = (response.headers or {}).get("Server-Timing") or ""
        server = re.search(r"app;dur=([\d.]+)", timing)
        RUN.requests.append(
            [
                kind,
                slice_index,
                round(started, 4),
                round(seconds, 5),
                response.status_code or 0,
                float(server.group(1)) if server else None,
            ]
        )
        return response

    def record_failure(self, what: str, detail: str) -> None:
        RUN.failures.append({"user": self.number, "what": what, "detail": detail[:300]})

    def expect(self, response, status: int, what: str) -> bool:
        if response.status_code == status:
            return True
        text = ""
        try:
            text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text or ""))[:200]
        except Exception:  # no body to quote
            pass
        self.record_failure(what, f"status {response.status_code}, not {status}: {text}")
        return False

    # --- what a resident does ---------------------------------------------------------

    def sign_in(self) -> bool:
        page = self.send("sign-in page", "GET", "/accounts/login/")
        if not self.expect(page, 200, "sign-in page"):
            return False
        values, _ = form_fields(page.text, 'name="password"')
        who = f"137{self.number:08d}" if self.number % 2 else f"load-{self.number:04d}"
        values.update({"username": who, "password": PASSWORD})
        response = self.send(
            "sign in",
            "POST",
            "/accounts/login/",
            body=urlencode(values),
            content_type="application/x-www-form-urlencoded",
            redirects=False,
        )
        location = response.headers.get("Location", "") if response.headers else ""
        if response.status_code != 302 or "/accounts/login" in location:
            self.expect(response, 302, f"sign in as {who}")
            if response.status_code == 302:
                self.record_failure("sign in", f"sent back to the sign-in page as {who}")
            return False
        return True

    def resident_step(self) -> None:
        self.browse(next(self.browsed))
        self.file()

    def browse(self, what: str) -> None:
        if what == "home":
            self.expect(self.send("home", "GET", "/"), 200, "home")
        elif what == "my issues":
            self.expect(self.send("my issues", "GET", "/my/"), 200, "my issues")
        elif self.issues:
            number = random.choice(self.issues)
            self.expect(self.send("issue page", "GET", f"/my/{number}/"), 200, "issue page")

    def filled_report(self) -> tuple[dict, list, str]:
        page = self.send("report page", "GET", "/report/")
        if not self.expect(page, 200, "report page"):
            return {}, [], ""
        values, options = form_fields(page.text, 'name="submission_token"')
        if not values.get("submission_token") or not values.get("building"):
            self.record_failure(
                "report page", "no submission token or no building chosen in the form"
            )
            return {}, [], ""
        category = random.choice([c for c in options.get("category", []) if c])
        # The chosen category's list questions get their first answer (some are required).
        prefix = f"q_{category}_"
        for name, choices in options.items():
            if name.startswith(prefix):
                values[name] = next((c for c in choices if c), "")
        title = random.choice(TITLES)
        values.update(
            {
                "category": category,
                "title": f"{title}（压测 {self.number}-{self.filed}）",
                "description": f"{title}，已经好几天了，请尽快处理。",
                "address": "东门附近",
            }
        )
        photos = []
        if self.filed % PHOTO_EVERY == 0:
            photos = [("photos", "photo.jpg", PHOTO, "image/jpeg")]
        return values, photos, values["submission_token"]

    def send_form(self, kind, values, photos, *, twin=False, resent=False) -> str | None:
        """POST the report form; the new issue's tracking number, or None. Every copy sent
        is recorded with its token, for the count against the rows."""
        body, content_type = form_body(values, photos)
        response = self.send(
            kind,
            "POST",
            "/report/",
            body=body,
            content_type=content_type,
            redirects=False,
            twin=twin,
        )
        location = response.headers.get("Location", "") if response.headers else ""
        match = re.fullmatch(r"/my/(\w+)/", urlsplit(location).path)
        number = match.group(1) if response.status_code == 302 and match else None
        RUN.filings.append(
            {
                "user": self.number,
                "token": values["submission_token"],
                "number": number,
                "status": response.status_code,
                "photo": bool(photos),
                "resent": resent,
            }
        )
        if number is None:
            self.expect(response, 302, kind)
        return number

    def file(self) -> None:
        values, photos, token = self.filled_report()
        if not token:
            return
        self.filed += 1
        self.report_form = self.report_form or dict(values)

        def post(kind, twin=False):
            return self.send_form(kind, values, photos, twin=twin, resent=kind != "file")

        # The third filing and every tenth after it is sent twice, by turns at once and after.
        resend = self.filed % RESEND_EVERY == 3
        if resend and (self.number + self.filed // RESEND_EVERY) % 2:
            # A double click: both copies at once.
            first, second = gevent.spawn(post, "file"), gevent.spawn(post, "file (resent)", True)
            gevent.joinall([first, second])
            numbers = [first.value, second.value]
        else:
            numbers = [post("file")]
            if resend:  # the browser's "resend", once the first answer came
                numbers.append(post("file (resent)"))
        if len(numbers) == 2 and numbers[0] and numbers[1] and numbers[0] != numbers[1]:
            self.record_failure(
                "resent form", f"one form filed twice: {numbers[0]} and {numbers[1]}"
            )
        number = next((n for n in numbers if n), None)
        if number:
            self.issues.append(number)
            # Where the form sends the resident (it also shows the "filed" message).
            self.expect(self.send("issue page", "GET", f"/my/{number}/"), 200, "issue page")

    def filing_step(self) -> None:
        """The form this resident first filled, sent once more as a new form would be: a
        fresh token, every fourth with a photo; no page is opened."""
        if not self.report_form:
            self.record_failure("filings", "no report form was filled during the warm-up")
            gevent.sleep(0.5)
            return
        photos = []
        if self.filed % PHOTO_EVERY == 0:
            photos = [("photos", "photo.jpg", PHOTO, "image/jpeg")]
        self.filed += 1
        values = {**self.report_form, "submission_token": str(uuid.uuid4())}
        self.send_form("filing only", values, photos)
        # The "filed" message is read by the page the answer leads to, which is not opened
        # here: left in the cookie, messages would pile up and spill into the session.
        for cookie in list(self.client.cookiejar):
            if cookie.name == "messages":
                self.client.cookiejar.clear(cookie.domain, cookie.path, cookie.name)

    def bare_step(self) -> None:
        self.expect(self.send("bare insert", "POST", "/bench/bare-insert/"), 201, "bare insert")


# --- the clock ------------------------------------------------------------------------------


def wait_until(condition, limit: float) -> bool:
    deadline = time.time() + limit
    while not condition():
        if time.time() > deadline:
            return False
        gevent.sleep(0.05)
    return True


def conduct(environment) -> None:
    """Wait for every resident to be signed in and warm, run the slices, stop the run."""
    try:
        if not wait_until(lambda: RUN.ready >= USERS, WARMUP_LIMIT):
            RUN.notes.append(f"only {RUN.ready} of {USERS} residents ready in {WARMUP_LIMIT} s")
        for index, (kind, seconds) in enumerate(schedule()):
            RUN.slice, RUN.phase = index, kind
            start = time.time()
            gevent.sleep(seconds)
            end = time.time()
            RUN.phase = "pause"
            if not wait_until(lambda: RUN.busy == 0, DRAIN_LIMIT):
                RUN.notes.append(f"slice {index}: {RUN.busy} residents still busy")
            RUN.windows.append({"kind": kind, "start": start, "end": end, "idle": time.time()})
        RUN.phase = "done"
    finally:
        write_results()
        environment.runner.quit()


@events.test_start.add_listener
def start_the_clock(environment, **kwargs):
    gevent.spawn(conduct, environment)


@events.test_stop.add_listener
def keep_what_was_measured(environment, **kwargs):
    # Stopped early (run-time limit, signal): what was measured is still written.
    if not RUN.written:
        RUN.notes.append(f"stopped before the end, in phase {RUN.phase}")
        write_results()
