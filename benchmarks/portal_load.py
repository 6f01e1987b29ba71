"""The member platform under load on 127.0.0.1: verdict latency of questionnaire uploads, and 50 concurrent uploads.

    .venv/bin/python -m benchmarks.portal_load [--uploads 50] [--rounds 20]

Starts `pmm portal`'s own server (waitress, 8 threads) on a free port over a fresh data folder with a cycle collecting
today, creates one NCP account per member, then
1. sends the same member's filled questionnaire `--rounds` times, one after the other, and reports the median and
   95th percentile of the time from sending to the verdict (the whole HTTP round trip);
2. sends one JSON submission for each of `--uploads` members at the same moment and checks that every one answered
   201, was recorded once in the platform's database and landed once in landing/<cycle>/.
Prints one JSON document with the figures (BENCHMARKS.md keeps them by hand, below its notes marker).
"""

import argparse
import datetime as dt
import hashlib
import io
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import openpyxl

from benchmarks.platform_inputs import cycles_file_with_open_cycle, multipart
from pmm_pipeline.core.settings import Settings

CYCLE = "BENCH"


def _post(base: str, token: str, name: str, data: bytes) -> tuple[int, dict, float]:
    body, content_type = multipart(name, data)
    request = urllib.request.Request(
        f"{base}/api/v1/cycles/{CYCLE}/submissions",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        method="POST",
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        verdict = json.loads(response.read())
        return response.status, verdict, time.perf_counter() - started


def _questionnaire(settings: Settings, member: str, value: int) -> bytes:
    from pmm_pipeline.portal import intake

    workbook = openpyxl.load_workbook(io.BytesIO(intake.questionnaire(settings, CYCLE, member, "en")))
    cover, answers = workbook.worksheets[:2]
    for row in cover.iter_rows():
        if row[0].value == "pmm:submitted_at":
            row[2].value = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0) - dt.timedelta(minutes=1)
    for row in answers.iter_rows(min_row=5):
        if row[0].value and row[3].value and row[4].value is None:
            row[5].value = "not_available"
        if row[0].value == "declarations_total":
            row[4].value, row[5].value = value, None
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _json(member: str, value: int) -> bytes:
    return json.dumps(
        {
            "format": "pmm-submission",
            "format_version": 1,
            "member": member,
            "cycle": CYCLE,
            "submitted_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "answers": [
                {"item": "declarations_total", "year": 2025, "value": value},
                {"item": "declarations_electronic", "year": 2025, "value": value // 2},
            ],
        }
    ).encode()


def run(settings: Settings, uploads: int, rounds: int) -> dict:
    from pmm_pipeline.portal.config import PortalSettings
    from pmm_pipeline.portal.server import make_server

    server = make_server("127.0.0.1", 0, settings, PortalSettings.from_env(settings, {}))  # configures Django
    from pmm_pipeline.portal import accounts, intake

    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}"
    reference = intake.specs(settings).reference
    members = sorted(reference.members_in_force(reference.cycles.get(CYCLE)))[: uploads + 1]
    tokens = {}
    for member in members:
        login = f"bench-{member.lower()}"
        accounts.add_account(login, "ncp", member=member, lang="en", password=None, known_members={member})
        tokens[member] = accounts.issue_token(login)

    first = members[0]
    latencies, statuses = [], []
    for i in range(rounds):
        status, verdict, seconds = _post(
            base, tokens[first], f"{first}_{CYCLE}.xlsx", _questionnaire(settings, first, 1000 + i)
        )
        latencies.append(seconds)
        statuses.append(verdict["status"])

    concurrent = members[1 : uploads + 1]
    results: dict[str, tuple] = {}
    barrier = threading.Barrier(len(concurrent))

    def send(member: str) -> None:
        data = _json(member, 5000 + len(results))
        barrier.wait()
        try:
            results[member] = _post(base, tokens[member], f"{member}.json", data)
        except Exception as err:  # noqa: BLE001 - a lost upload is the figure reported
            results[member] = (None, {"error": repr(err)}, None)

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(m,)) for m in concurrent]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started

    from pmm_pipeline.portal.models import Upload

    recorded = sorted(
        Upload.objects.filter(login__in=[f"bench-{m.lower()}" for m in concurrent]).values_list("member", flat=True)
    )
    landing = settings.layout.landing_dir(CYCLE)
    landed = [hashlib.sha256(p.read_bytes()).hexdigest() for p in landing.iterdir() if p.is_file()]
    once = all(landed.count(r[1].get("sha256")) == 1 for r in results.values() if r[0] == 201)
    server.close()
    ordered = sorted(latencies)
    return {
        "questionnaire_uploads": rounds,
        "verdict_latency_median_s": round(statistics.median(ordered), 3),
        "verdict_latency_p95_s": round(ordered[max(0, int(round(0.95 * len(ordered))) - 1)], 3),
        "questionnaire_statuses": sorted(set(statuses)),
        "concurrent_uploads": len(concurrent),
        "answered_201": sum(1 for r in results.values() if r[0] == 201),
        "lost": sorted(m for m, r in results.items() if r[0] != 201),
        "recorded_once": recorded == sorted(concurrent),
        "landed_once": once,
        "concurrent_wall_s": round(wall, 2),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="pmm-portal-bench-"))
    settings = Settings.from_env(
        {"PMM_DATA_DIR": str(root / "data"), "PMM_CYCLES_FILE": str(cycles_file_with_open_cycle(root, CYCLE, days=10))}
    )
    figures = run(settings, args.uploads, args.rounds)
    print(json.dumps(figures, indent=2))
    return 0 if not figures["lost"] and figures["recorded_once"] and figures["landed_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
