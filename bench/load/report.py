"""The load benchmark's summary: what locust recorded (bench/load/locustfile.py), counted
against the rows in the database. Exits 1 when a request failed, a filing was lost or a
form made more than one issue.

    DJANGO_SETTINGS_MODULE=config.bench_settings python -m bench.load.report RESULTS.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter, defaultdict

import django

# The measured kinds of request, in the order printed; "file" is the filing POST.
PAGES = ["home", "my issues", "issue page", "report page"]
TARGET_RATIO = 0.5


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Measures:
    """Per kind of request: completions inside the slices of its phase, latencies and the
    server's own time."""

    def __init__(self, results: dict):
        self.windows = results["windows"]
        self.seconds = defaultdict(float)  # phase -> measured seconds
        for window in self.windows:
            self.seconds[window["kind"]] += window["end"] - window["start"]
        self.done = Counter()  # kind -> completions inside its slices' windows
        self.latency = defaultdict(list)  # kind -> seconds
        self.server = defaultdict(list)  # kind -> ms in the worker
        self.statuses = defaultdict(Counter)
        for kind, index, started, seconds, status, server_ms in results["requests"]:
            self.statuses[kind][status] += 1
            if index < 0 or index >= len(self.windows):
                continue  # warm-up
            window = self.windows[index]
            self.latency[kind].append(seconds)
            if server_ms is not None:
                self.server[kind].append(server_ms)
            if window["start"] <= started + seconds <= window["end"]:
                self.done[kind] += 1

    def rate(self, kind: str, phase: str) -> float:
        return self.done[kind] / self.seconds[phase] if self.seconds[phase] else 0.0

    def line(self, kind: str, phase: str) -> str:
        lat = self.latency[kind]
        server = self.server[kind]
        return (
            f"  {kind:<16} {self.rate(kind, phase):7.1f}/s"
            f"   p50 {percentile(lat, 0.5) * 1000:6.0f} ms"
            f"   p95 {percentile(lat, 0.95) * 1000:6.0f} ms   in the worker: mean "
            f"{statistics.fmean(server) if server else 0:5.1f} ms, p95 "
            f"{percentile(server, 0.95):5.1f} ms   (n={len(lat)})"
        )


def count_rows(results: dict) -> dict:
    """The issues the load residents filed, the bare rows, their events and photos."""
    from django.db.models import Count

    from issues.models import Issue, IssueEvent, Photo, Source

    filed = Issue.objects.filter(
        reporter__username__startswith="load-", source__in=[Source.RESIDENT, Source.VOLUNTEER]
    )
    rows = {
        str(token): number
        for token, number in filed.values_list("submission_token", "tracking_number")
    }
    events = dict(
        IssueEvent.objects.filter(issue__in=filed, kind=IssueEvent.Kind.FILED)
        .values_list("issue__submission_token")
        .annotate(n=Count("id"))
        .values_list("issue__submission_token", "n")
    )
    return {
        "rows": rows,
        "rows_total": filed.count(),
        "events": {str(token): n for token, n in events.items()},
        "photos": Photo.objects.filter(issue__in=filed).count(),
        "bare_rows": Issue.objects.filter(
            tracking_number__startswith="B", title="bare insert"
        ).count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    args = parser.parse_args()
    with open(args.results) as data:
        results = json.load(data)
    django.setup()
    db = count_rows(results)
    measures = Measures(results)
    problems = []

    # --- filings, by form (submission token) ---------------------------------------------
    by_token = defaultdict(list)
    for filing in results["filings"]:
        by_token[filing["token"]].append(filing)
    attempted = len(by_token)
    succeeded = {t: fs for t, fs in by_token.items() if any(f["number"] for f in fs)}
    failed = attempted - len(succeeded)
    resent = {t: fs for t, fs in by_token.items() if len(fs) > 1}
    resent_split = [t for t, fs in resent.items() if len({f["number"] for f in fs}) != 1]
    lost = [t for t, fs in succeeded.items() if db["rows"].get(t) not in {f["number"] for f in fs}]
    extra_rows = db["rows_total"] - len(db["rows"])  # rows without a token of their own
    unanswered = [t for t in db["rows"] if t not in succeeded]  # filed, but the answer failed
    duplicates = extra_rows + sum(n - 1 for n in db["events"].values() if n > 1)
    duplicates += len([t for t in db["rows"] if t not in by_token])
    photo_forms = sum(1 for fs in succeeded.values() if fs[0]["photo"])
    bare_ok = measures.statuses["bare insert"][201]

    failures = results["failures"]
    server_errors = sum(
        n
        for statuses in measures.statuses.values()
        for s, n in statuses.items()
        if s == 0 or s >= 500
    )

    print("\nload: filing under load (make bench-load)")
    windows = results["windows"]
    print(
        f"  {results['users']} residents; {len(windows)} slices alternating: "
        f"{measures.seconds['residents']:.0f} s residents browsing and filing, "
        f"{measures.seconds['filings']:.0f} s filings alone, "
        f"{measures.seconds['bare']:.0f} s bare inserts"
    )
    for note in results["notes"]:
        print(f"  note: {note}")
        problems.append(note)
    if not results["complete"]:
        problems.append("the run did not finish its slices")

    print("\nfilings (each form counted once; resent copies below)")
    print(f"  attempted {attempted}   succeeded {len(succeeded)}   failed {failed}")
    print(
        f"  rows in the database {db['rows_total']} for {len(succeeded)} successful responses:"
        f" lost {len(lost)}, duplicates {duplicates}, filed but answered with an error "
        f"{len(unanswered)}"
    )
    print(
        f"  resent forms {len(resent)} (double clicks and resends): each made one issue:"
        f" {'yes' if not resent_split and not duplicates else 'NO'}"
        + (f", {len(resent_split)} answered with different issues" if resent_split else "")
    )
    print(f"  photos: {photo_forms} successful filings carried one; {db['photos']} stored")
    print(
        f"  bare inserts: {bare_ok} answered 201, {db['bare_rows']} bare rows"
        f" ({'none lost' if db['bare_rows'] >= bare_ok else 'SOME LOST'})"
    )

    print("\nthroughput inside the slices, latency as the residents saw it (queue included)")
    print(measures.line("file", "residents"))
    for page in PAGES:
        print(measures.line(page, "residents"))
    print(measures.line("filing only", "filings"))
    print(measures.line("bare insert", "bare"))
    sign_ins = measures.statuses["sign in"]
    print(f"  sign in: {sum(sign_ins.values())} ({dict(sign_ins)}), during the warm-up")

    file_rate, bare_rate = measures.rate("file", "residents"), measures.rate("bare insert", "bare")
    alone_rate = measures.rate("filing only", "filings")
    # The target compares like with like: filing POSTs and bare inserts, each sent back to
    # back by the same residents. Among the residents' other requests a filing is one in
    # four, so that rate is printed for what it is, not held to the target.
    ratio = alone_rate / bare_rate if bare_rate else 0.0
    file_ms = statistics.fmean(measures.server["file"]) if measures.server["file"] else 0.0
    bare_ms = (
        statistics.fmean(measures.server["bare insert"]) if measures.server["bare insert"] else 0.0
    )
    cost_ratio = bare_ms / file_ms if file_ms else 0.0
    print("\nfiling against the bare insert, same run")
    for label, kind, rate in (
        ("filing POSTs alone", "filing only", alone_rate),
        ("bare inserts", "bare insert", bare_rate),
    ):
        latency = measures.latency[kind]
        print(
            f"  {label:<18} {rate:6.1f}/s (p50 {percentile(latency, 0.5) * 1000:.0f} ms,"
            f" p95 {percentile(latency, 0.95) * 1000:.0f} ms)"
        )
    print(
        f"  ratio {ratio:.1%} of the bare insert's throughput (target ≥ {TARGET_RATIO:.0%}): "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}"
    )
    file_latency = measures.latency["file"]
    print(
        f"  while the residents also browse: filing POST {file_rate:.1f}/s (p50 "
        f"{percentile(file_latency, 0.5) * 1000:.0f} ms, p95 "
        f"{percentile(file_latency, 0.95) * 1000:.0f} ms), {file_rate / (bare_rate or 1):.1%}"
        " of the bare insert's rate"
    )
    print(
        f"  in the worker a filing POST takes {file_ms:.1f} ms, a bare insert {bare_ms:.1f} ms:"
        f" per worker, filing runs at {cost_ratio:.1%} of the bare insert's rate"
    )
    resident_kinds = ["file", "file (resent)", *PAGES]
    everything = sum(measures.done[k] for k in resident_kinds) / (
        measures.seconds["residents"] or 1
    )
    print(f"  (all the residents' requests together: {everything:.1f}/s)")

    errors = len(failures) + server_errors
    print(f"\nerrors: {len(failures)} failed steps, {server_errors} server errors or no answer")
    for failure in failures[:10]:
        print(f"  resident {failure['user']}: {failure['what']}: {failure['detail']}")
    if errors:
        problems.append(f"{errors} errors")
    if lost:
        problems.append(f"{len(lost)} filings lost")
    if duplicates or resent_split:
        problems.append(f"{duplicates + len(resent_split)} duplicates")
    if unanswered:
        problems.append(f"{len(unanswered)} issues filed but answered with an error")
    if db["bare_rows"] < bare_ok:
        problems.append("bare rows lost")
    if photo_forms != db["photos"]:
        problems.append(f"{photo_forms} photos sent, {db['photos']} stored")
    print(
        "load: "
        + (
            "FAILED: " + "; ".join(problems)
            if problems
            else "ok: no errors, nothing lost, no duplicates"
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
