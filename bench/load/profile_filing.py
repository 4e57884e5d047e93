"""Where a filing's time goes: report forms sent in-process through Django's test client
(every middleware, the form, the workflow, the database; no HTTP, no queue), timed, their
queries counted and listed, and then profiled with cProfile.

    DJANGO_SETTINGS_MODULE=config.bench_settings python -m bench.load.profile_filing
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import django

ROOT = str(Path(__file__).resolve().parents[2])
OWN_CODE = re.compile(r"/(grids|issues|config|participation)/")


def photo() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 140, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


def phone_photo(width=4032, height=3024) -> bytes:
    """A 12-megapixel JPEG like a phone's (shapes and grain, about 4 MB): what a resident's
    real photo costs a filing, decoded, shrunk and re-encoded."""
    from PIL import Image, ImageChops

    channels = []
    for sigma in (60, 70, 80):
        shapes = Image.effect_noise((width // 48, height // 48), sigma)
        shapes = shapes.resize((width, height), Image.Resampling.BICUBIC)
        channels.append(
            ImageChops.add(shapes, Image.effect_noise((width, height), 10), offset=-128)
        )
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=90)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filings", type=int, default=20)
    args = parser.parse_args()
    if args.filings < 4:
        parser.error("--filings must be at least 4 (every fourth carries a photo)")
    django.setup()

    from django.contrib.messages.storage.cookie import CookieStorage
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client

    from grids.models import User
    from grids.views import LOGIN_BACKEND
    from issues.models import Category, Photo

    user = User.objects.filter(username__startswith="load-").select_related("home_building").first()
    # A category without extra questions, as most filings are.
    category = Category.objects.filter(is_active=True, questions__isnull=True).first()
    client = Client()
    client.force_login(user, backend=LOGIN_BACKEND)  # as the sign-in page does
    jpeg = photo()
    message_cookie = CookieStorage.cookie_name

    def post(with_photo=False, content=jpeg):
        data = {
            "submission_token": str(uuid.uuid4()),
            "building": user.home_building_id,
            "category": category.pk,
            "title": "路灯不亮（剖析）",
            "description": "路灯不亮，已经好几天了。",
            "address": "",
            "latitude": "",
            "longitude": "",
        }
        # Sent as the page sends it (static/js/site.js): multipart only with a photo.
        if with_photo:
            data["photos"] = SimpleUploadedFile("photo.jpg", content, content_type="image/jpeg")
            form = {"data": data}
        else:
            form = {"data": urlencode(data), "content_type": "application/x-www-form-urlencoded"}
        started = time.perf_counter()
        response = client.post("/report/", **form)
        elapsed = time.perf_counter() - started
        if response.status_code != 302:
            raise SystemExit(f"profile: the filing answered {response.status_code}, not 302")
        # The "filed" message is read by the page the filing leads to, which a resident's
        # browser opens next. Left in the cookie, the messages would pile up filing after
        # filing, spill into the session, and every later filing would pay for them.
        client.cookies.pop(message_cookie, None)
        return elapsed

    for _ in range(3):  # warm: templates, caches, connection
        client.get("/report/")
        post()

    def queries_of(action) -> list[str]:
        # Counted at the cursor: the test client's request_started signal empties the
        # connection's query log halfway through (django.db.reset_queries).
        seen = []

        def record(execute, sql, params, many, context):
            seen.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            action()
        return seen

    filing_queries = queries_of(post)
    plain, photos = [], []
    for number in range(args.filings):
        plain.append(post())
        if number % 4 == 3:
            photos.append(post(with_photo=True))
    phone = phone_photo()
    with_phone = [post(with_photo=True, content=phone) for _ in range(3)]
    kept = Photo.objects.latest("pk")
    started = time.perf_counter()
    page_queries = queries_of(lambda: client.get("/report/"))
    page_ms = (time.perf_counter() - started) * 1000

    print(f"\nprofile: one filing in-process (test client, {args.filings} filings timed)")
    print(
        f"  filing POST: median {statistics.median(plain) * 1000:.1f} ms, "
        f"{len(filing_queries)} queries; with a photo median "
        f"{statistics.median(photos) * 1000:.1f} ms; the report page {page_ms:.1f} ms, "
        f"{len(page_queries)} queries"
    )
    print(
        f"  with a 12-megapixel phone photo ({len(phone) / 1e6:.1f} MB): median "
        f"{statistics.median(with_phone) * 1000:.0f} ms; kept at {kept.width} × {kept.height}, "
        f"{kept.image.size / 1e3:.0f} KB, its thumbnail "
        f"{kept.thumbnail.size / 1e3 if kept.thumbnail else 0:.0f} KB"
    )
    print("  queries of one filing:")
    shapes = Counter()
    for sql in filing_queries:
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
        verb = sql.split(None, 1)[0].upper()
        shapes[f"{verb} {table.group(1)}" if table else sql[:40]] += 1
    for shape, count in shapes.items():
        print(f"    {count} × {shape}")

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.filings):
        post()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    # Time spent in psycopg itself is waiting for PostgreSQL (and sending it the queries).
    in_database = sum(
        own
        for (filename, _, _), (_, _, own, _, _) in stats.stats.items()
        if "/psycopg/" in filename
    )
    rows = []
    for (filename, line, function), (_, calls, _own, cumulative, _) in stats.stats.items():
        # The middleware's __call__ wrap everything: the costs start at the view.
        if function != "__call__" and OWN_CODE.search(
            filename[len(ROOT) :] if filename.startswith(ROOT) else ""
        ):
            rows.append((cumulative, calls, f"{filename[len(ROOT) + 1 :]}:{line} {function}"))
    print(
        f"  cProfile of {args.filings} filing POSTs: {total * 1000 / args.filings:.1f} ms each, "
        f"{in_database / total:.0%} of it in psycopg, waiting for PostgreSQL"
    )
    print("  the project's functions by share of that time (themselves and what they call):")
    for cumulative, calls, name in sorted(rows, reverse=True)[:14]:
        print(f"    {cumulative / total:6.1%}  {calls / args.filings:4.1f}× {name}")
    everything = sorted(
        (
            (own, f"{Path(filename).name}:{line} {function}")
            for (filename, line, function), (_, _, own, _, _) in stats.stats.items()
        ),
        reverse=True,
    )
    print("  where the time is spent itself (own time, any code):")
    for own, name in everything[:8]:
        print(f"    {own / total:6.1%}  {name}")


if __name__ == "__main__":
    main()
