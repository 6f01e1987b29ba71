"""Concurrent uploads of different members through the real server: none lost, each recorded exactly once.

The server is waitress on 127.0.0.1 with the platform's SQLite database in the data folder (portal_fixtures); each
member's NCP sends at the same moment from its own thread. The suite sends 12 at once (PORTAL_LOAD_UPLOADS
sets another number); benchmarks/portal_load.py sends 50 and writes the figures to BENCHMARKS.md.
"""

import hashlib
import json
import os
import threading
import urllib.request

import pytest

from benchmarks.platform_inputs import multipart
from pmm_pipeline_tests.portal_fixtures import OPEN_CYCLE, json_submission, live_server, portal  # noqa: F401

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.subprocess


CONCURRENT = int(os.environ.get("PORTAL_LOAD_UPLOADS") or 12)


def _send(base, token, member, results, barrier):
    body, content_type = multipart(f"{member}.json", json_submission(member, value=1000 + len(member)))
    request = urllib.request.Request(
        f"{base}/api/v1/cycles/{OPEN_CYCLE}/submissions",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        method="POST",
    )
    barrier.wait()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            results[member] = (response.status, json.loads(response.read()), hashlib.sha256(body).hexdigest())
    except Exception as err:  # noqa: BLE001 - a lost upload is what the test reports
        results[member] = (None, repr(err), None)


def test_concurrent_uploads_lose_none_and_are_recorded_once(portal, live_server):  # noqa: F811
    from pmm_pipeline.portal import accounts, intake
    from pmm_pipeline.portal.models import AuditEvent, Upload

    reference = intake.specs(portal).reference
    members = sorted(reference.members_in_force(reference.cycles.get(OPEN_CYCLE)))
    # Members no other portal test sends for, so that the counts below are this test's alone.
    members = [m for m in members if m not in {"KEN", "SEN", "FRA", "BRA", "JPN", "CIV"}][:CONCURRENT]
    tokens = {}
    for member in members:
        login = f"load-{member.lower()}"
        accounts.add_account(login, "ncp", member=member, lang="en", password=None, known_members={member})
        tokens[member] = accounts.issue_token(login)
    results, barrier = {}, threading.Barrier(len(members))
    threads = [threading.Thread(target=_send, args=(live_server, tokens[m], m, results, barrier)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lost = {m: r for m, r in results.items() if r[0] != 201}
    assert len(results) == CONCURRENT and not lost, lost
    assert {r[1]["member"] for r in results.values()} == set(members)
    assert all(r[1]["status"] == "accepted" for r in results.values())

    rows = Upload.objects.filter(login__startswith="load-", cycle=OPEN_CYCLE)
    assert sorted(rows.values_list("member", flat=True)) == sorted(members)  # exactly once each
    assert {row.sha256 for row in rows} == {r[1]["sha256"] for r in results.values()}
    events = AuditEvent.objects.filter(login__startswith="load-", action="upload", cycle=OPEN_CYCLE)
    assert sorted(events.values_list("member", flat=True)) == sorted(members)
    landing = portal.layout.landing_dir(OPEN_CYCLE)
    landed = [hashlib.sha256(p.read_bytes()).hexdigest() for p in landing.iterdir() if p.is_file()]
    for verdict in (r[1] for r in results.values()):
        assert landed.count(verdict["sha256"]) == 1, verdict["member"]
        on_record = intake.versions_on_record(portal, OPEN_CYCLE, verdict["member"])
        if on_record is not None:  # the pipeline's record of the file is the verdict the platform showed
            same = [v for v in on_record if v["sha256"] == verdict["sha256"]]
            assert len(same) == 1 and same[0]["version"] == verdict["version"], verdict["member"]
            assert same[0]["status"] == verdict["status"] and same[0]["account"] == f"load-{verdict['member'].lower()}"
