"""The member platform's intake: an upload's verdict is what the pipeline records of that file (issue #14, item 3).

Uploads go through `deliver_upload`; then the cycle's intake runs as Dagster runs it (the ingestion step of the
cycle job); the raw tables, the receipt ledger and the quarantine's reasons are compared field by field with the
verdicts the platform showed.
"""

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.stages.delivery import (
    DeliveryError,
    cycle_accepts_uploads,
    deliver_upload,
    landing_name_for,
    member_versions,
    prefilled_answers,
    prefilled_document,
)
from pmm_pipeline.stages.feedback.texts import PROBLEMS
from pmm_pipeline.stages.ingestion.arrivals import notes_path, read_arrivals
from pmm_pipeline.stages.ingestion.landing import is_skipped
from pmm_pipeline.stages.ingestion.limits import check_file_name, file_name_member
from pmm_pipeline.stages.ingestion.receipts import ledger_path, read_ledger
from pmm_pipeline.stages.questionnaire.template import render_questionnaire
from pmm_pipeline_tests.conftest import settings_for
from pmm_pipeline_tests.stages.delivery.intake_cases import CYCLE, OPEN_DAY, T, at, query, run_intake, submission

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """A few uploads of every kind, one hand-copied file, then the intake run; (settings, verdicts by label)."""
    settings = settings_for(tmp_path_factory.mktemp("data"))
    ken = dict(account="ken-ncp", member="KEN")
    verdicts = {
        "first": deliver_upload(settings, CYCLE, "KEN_2027.json", submission("KEN", 900), received_at=at(0), **ken),
        # Dated 2099 by the file: its submitted_at is the receipt time, and the correction after it still wins.
        "dated_2099": deliver_upload(
            settings,
            CYCLE,
            "KEN_2027.json",
            submission("KEN", 910, stated="2099-01-01T00:00:00Z"),
            received_at=at(1),
            **ken,
        ),
        "correction": deliver_upload(
            settings, CYCLE, "KEN fixed.json", submission("KEN", 950), received_at=at(2), **ken
        ),
        "bad": deliver_upload(
            settings, CYCLE, "KEN_bad.json", submission("KEN", 950, year=2019), received_at=at(3), **ken
        ),
        "wrong_member": deliver_upload(settings, CYCLE, "x.json", submission("UGA", 800), received_at=at(4), **ken),
        "duplicate": deliver_upload(settings, CYCLE, "again.json", submission("KEN", 950), received_at=at(5), **ken),
        "secretariat": deliver_upload(
            settings, CYCLE, "uga.json", submission("UGA", 700), account="wco-sec", member=None, received_at=at(6)
        ),
        "unreadable": deliver_upload(settings, CYCLE, "notes.pdf", b"%PDF-1.4 not data", received_at=at(7), **ken),
        "empty": deliver_upload(settings, CYCLE, "empty.csv", b"", received_at=at(8), **ken),
        "closed": deliver_upload(
            settings,
            CYCLE,
            "late.json",
            submission("KEN", 960),
            received_at=dt.datetime(2027, 4, 1, 0, 0, 1, tzinfo=dt.UTC),
            **ken,
        ),
    }
    # A file copied into landing by hand keeps today's behaviour: no account, its own submitted_at.
    hand = settings.layout.landing_dir(CYCLE) / "DEU.json"
    # (Stated at the opening: the run receives it now, whatever the day the test runs after the opening.)
    hand.write_bytes(submission("DEU", 990, stated="2026-12-01T00:00:00Z"))
    run_intake(settings)
    return settings, verdicts


def test_every_verdict_is_what_the_raw_tables_record(delivered):
    settings, verdicts = delivered
    received = {r["sha256"] + r["file_name"]: r for r in query(settings, "SELECT * FROM raw.received_files")}
    submissions = {r["file_name"]: r for r in query(settings, "SELECT * FROM raw.submissions")}
    rejections = {r["file_name"]: r for r in query(settings, "SELECT * FROM raw.rejections")}
    assert len(received) == len(verdicts) + 1  # every upload recorded once, and the hand-copied file
    for label, verdict in verdicts.items():
        row = received[verdict.sha256 + verdict.landing_name]
        assert (row["channel"], row["account"]) == ("platform", verdict.account), label
        assert row["received_at"].to_pydatetime() == verdict.received_at, label
        if verdict.status == "accepted":
            version = submissions[verdict.landing_name]
            assert row["outcome"] == "accepted", label
            assert version["version"] == verdict.version, label
            assert version["member_code"] == verdict.member and version["submission_id"] == verdict.sha256, label
            assert version["submitted_at"].to_pydatetime() == verdict.received_at, label  # never the file's own
            assert (version["channel"], version["account"]) == ("platform", verdict.account), label
            assert verdict.landing_name not in rejections and verdict.reason_code is None and not verdict.problems
        else:
            rejection = rejections[verdict.landing_name]
            assert verdict.landing_name not in submissions and verdict.version is None, label
            assert rejection["reason_code"] == verdict.reason_code, label
            assert rejection["member_code"] == verdict.member, label
            assert rejection["sha256"] == verdict.sha256, label
            recorded = json.loads(rejection["problems"])
            assert [(p["code"], p["message"], p["location"]) for p in recorded] == [
                (p["code"], p["message"], p["place"]) for p in verdict.problems
            ], label
            assert (rejection["channel"], rejection["account"]) == ("platform", verdict.account), label
    hand_row = submissions["DEU.json"]
    assert (hand_row["channel"], hand_row["account"]) == ("landing", None)
    assert hand_row["submitted_at"].to_pydatetime() == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)


def test_the_verdicts_say_what_each_upload_is(delivered):
    _, v = delivered
    assert [(v[k].status, v[k].version) for k in ("first", "dated_2099", "correction")] == [
        ("accepted", 1),
        ("accepted", 2),
        ("accepted", 3),
    ]
    assert {k: v[k].reason_code for k in ("bad", "wrong_member", "duplicate", "closed", "unreadable", "empty")} == {
        "bad": "year_out_of_range",
        "wrong_member": "wrong_member",
        "duplicate": "duplicate_file",
        "closed": "cycle_closed",
        "unreadable": "unsupported_format",
        "empty": "empty_file",
    }
    assert v["wrong_member"].member == "KEN"  # credited to the account's member: it shows in KEN's history
    assert (v["secretariat"].status, v["secretariat"].member) == ("accepted", "UGA")
    assert v["bad"].problems[0]["place"] == "/answers/0"  # the problem names its place in the file
    # The contract's verdict object, exactly.
    body = v["bad"].as_json()
    assert list(body) == ["status", "member", "cycle", "version", "sha256", "reason_code", "problems", "findings"]
    assert all(set(p) == {"code", "message", "place"} for p in body["problems"])


def test_the_latest_correction_is_used_not_the_file_dated_2099(delivered):
    settings, v = delivered
    latest = query(settings, "SELECT submission_id FROM raw.submissions WHERE member_code = 'KEN' AND is_latest")
    assert [r["submission_id"] for r in latest] == [v["correction"].sha256]


def test_ledger_and_quarantine_reasons_agree_with_the_verdicts(delivered):
    settings, verdicts = delivered
    receipts = read_ledger(ledger_path(settings.layout.archive_dir, CYCLE)).receipts
    quarantine = settings.layout.quarantine_dir(CYCLE)
    for label, verdict in verdicts.items():
        receipt = receipts[(verdict.sha256, verdict.landing_name)]
        expected = "duplicate" if verdict.reason_code == "duplicate_file" else verdict.status
        assert (receipt.outcome, receipt.member_code) == (expected, verdict.member), label
        assert receipt.received_at == verdict.received_at, label
        if verdict.status == "rejected" and verdict.reason_code != "duplicate_file":
            (reason_file,) = quarantine.glob(f"{verdict.sha256[:16]}_*.reason.json")
            reason = json.loads(reason_file.read_text())
            assert reason["reason_code"] == verdict.reason_code and reason["account"] == verdict.account, label
            assert [p["code"] for p in reason["problems"]] == [p["code"] for p in verdict.problems], label


def test_member_versions_list_every_upload_newest_first_as_recorded(delivered):
    settings, v = delivered
    rows = member_versions(settings, CYCLE, "KEN", now=at(100))
    recorded = {r["submission_id"]: r["version"] for r in query(settings, "SELECT * FROM raw.submissions")}
    assert [r["sha256"] for r in rows if r["channel"] == "platform"][:2] == [v["closed"].sha256, v["empty"].sha256]
    times = [r["received_at"] for r in rows]
    assert times == sorted(times, reverse=True)
    for row in rows:
        assert row["version"] == recorded.get(row["sha256"]) if row["status"] == "accepted" else row["version"] is None
        assert row["taken_in"]
    assert {r["reason_code"] for r in rows if r["status"] == "rejected"} >= {"wrong_member", "cycle_closed"}
    assert {r["sha256"] for r in member_versions(settings, CYCLE, "UGA")} == {v["secretariat"].sha256}
    with pytest.raises(DeliveryError):
        member_versions(settings, "../2027", "KEN")


def test_the_landing_sensor_sees_each_delivered_file_once_and_no_staged_one(delivered):
    from pmm_pipeline.defs.sensors import scan_landing

    settings, verdicts = delivered
    known = frozenset({"KEN", "UGA", "DEU"})
    versions, _ = scan_landing(settings.data_dir / "landing", [CYCLE], {}, known, settings.intake_limits.max_file_bytes)
    names = sorted(v.name for v in versions)
    assert names == sorted([v.landing_name for v in verdicts.values()] + ["DEU.json"])


def test_a_hand_copied_file_waiting_in_landing_is_counted_in_the_version(tmp_path):
    settings = settings_for(tmp_path)
    landing = settings.layout.landing_dir(CYCLE)
    landing.mkdir(parents=True)
    # Not taken in yet, stated before the upload: the intake will number it before the upload.
    (landing / "KEN_mail.json").write_bytes(submission("KEN", 800, stated="2026-12-01T00:00:00Z"))
    verdict = deliver_upload(
        settings, CYCLE, "k.json", submission("KEN", 900), account="a", member="KEN", received_at=at(0)
    )
    assert verdict.version == 2
    run_intake(settings)
    (row,) = query(settings, "SELECT version FROM raw.submissions WHERE submission_id = ?", [verdict.sha256])
    assert row["version"] == verdict.version


def test_a_replaced_or_removed_platform_file_is_still_taken_in_from_the_archive(tmp_path):
    settings = settings_for(tmp_path)
    kw = dict(account="a", member="KEN")
    kept = deliver_upload(settings, CYCLE, "k1.json", submission("KEN", 900), received_at=at(0), **kw)
    gone = deliver_upload(settings, CYCLE, "k2.json", submission("KEN", 910), received_at=at(1), **kw)
    landing = settings.layout.landing_dir(CYCLE)
    (landing / kept.landing_name).write_bytes(submission("KEN", 999))  # overwritten by hand after delivery
    (landing / gone.landing_name).unlink()  # removed before any run
    logged = " ".join(run_intake(settings))
    assert f"arrival note for {kept.landing_name}" in logged and "the note is ignored" in logged
    rows = {(r["submission_id"], r["channel"]) for r in query(settings, "SELECT * FROM raw.submissions")}
    assert (kept.sha256, "platform") in rows and (gone.sha256, "platform") in rows
    overwritten = [r for r in query(settings, "SELECT * FROM raw.submissions") if r["channel"] == "landing"]
    assert len(overwritten) == 1 and overwritten[0]["account"] is None


def test_a_torn_last_note_is_ignored_and_a_damaged_one_reported(tmp_path):
    settings = settings_for(tmp_path)
    deliver_upload(settings, CYCLE, "k.json", submission("KEN", 900), account="a", member="KEN", received_at=at(0))
    path = notes_path(settings.layout.archive_dir, CYCLE)
    good = path.read_bytes()
    path.write_bytes(b'{"format": "pmm-arrival", "sha256": "zz"}\n' + good + b'{"format": "pmm-arr')
    book = read_arrivals(path)
    assert len(book.notes) == 1 and len(book.unreadable) == 1 and "line 1" in book.unreadable[0]
    assert not settings.layout.warehouse_path.exists()  # the platform never opens (nor creates) the warehouse


def test_cycle_accepts_uploads_in_its_window_and_reopening_only(reference, tmp_path):
    assert cycle_accepts_uploads(reference, CYCLE, dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC))
    assert cycle_accepts_uploads(reference, CYCLE, dt.datetime(2027, 3, 31, 23, 59, tzinfo=dt.UTC))
    assert not cycle_accepts_uploads(reference, CYCLE, dt.datetime(2027, 4, 1, 0, 0, tzinfo=dt.UTC))
    assert not cycle_accepts_uploads(reference, CYCLE, dt.datetime(2026, 11, 30, 23, 59, tzinfo=dt.UTC))
    assert not cycle_accepts_uploads(reference, "2025", OPEN_DAY)
    reopened = yaml.safe_load(Settings.from_env({}).cycles_file.read_text())
    next(c for c in reopened["cycles"] if c["id"] == "2025")["reopened_until"] = "2026-12-31"
    (tmp_path / "cycles.yaml").write_text(yaml.safe_dump(reopened))
    settings = replace(settings_for(tmp_path / "data"), cycles_file=tmp_path / "cycles.yaml")
    verdict = deliver_upload(
        settings,
        "2025",
        "k.json",
        submission("KEN", 900, cycle="2025", year=2024),
        account="a",
        member="KEN",
        received_at=OPEN_DAY,
    )
    assert verdict.status == "accepted"  # the reopening takes uploads
    with pytest.raises(DeliveryError):
        deliver_upload(settings, "1999", "k.json", b"{}", account="a", member="KEN", received_at=OPEN_DAY)
    with pytest.raises(DeliveryError):
        deliver_upload(
            settings, CYCLE, "k.json", b"{}", account="a", member="KEN", received_at=OPEN_DAY.replace(tzinfo=None)
        )


@pytest.mark.parametrize(
    "sent_as",
    [
        "../../etc/passwd.json",
        "KEN_\u202egpj.json",
        ".hidden.json",
        "~$lock.xlsx",
        "a" * 400 + ".xlsx",
        "",
        "KEN 2027.XLSX",
    ],
)
def test_landing_names_are_safe_whatever_the_sender_called_the_file(sent_as, reference):
    name = landing_name_for(sent_as, OPEN_DAY, "ab" * 32)
    assert check_file_name(name) is None and not is_skipped(name) and "/" not in name
    assert Path(name).suffix == Path(sent_as).suffix.lower()
    if sent_as.startswith("KEN"):
        assert file_name_member(name, frozenset({"KEN"})) == "KEN"  # member_mismatch applies as in landing
    assert landing_name_for(sent_as, OPEN_DAY, "ab" * 32) != name  # two uploads never share a name


def test_the_platform_reasons_speak_to_members_in_three_languages():
    for code in ("cycle_closed", "wrong_member"):
        assert set(PROBLEMS[code]) == {"en", "fr", "es"}
        assert len({PROBLEMS[code][lang] for lang in ("en", "fr", "es")}) == 3


def test_the_verdict_gives_what_to_do_in_the_asked_language(tmp_path):
    settings = settings_for(tmp_path)
    verdict = deliver_upload(
        settings, CYCLE, "x.json", submission("UGA", 1), account="a", member="KEN", received_at=at(0), lang="fr"
    )
    assert verdict.problems[0]["title"] == PROBLEMS["wrong_member"]["fr"][0]
    assert verdict.problems[0]["what_to_do"] == PROBLEMS["wrong_member"]["fr"][1]


def test_findings_are_those_pmm_validate_gives_for_the_same_file(tmp_path, reference, catalogue):
    from pmm_pipeline.app.self_check import check_file
    from pmm_pipeline.app.self_check_report import as_document

    settings = settings_for(tmp_path / "data")
    data = submission("KEN", 1200)  # more electronic declarations than declarations: a part above its whole
    verdict = deliver_upload(settings, CYCLE, "k.json", data, account="a", member="KEN", received_at=at(0))
    (tmp_path / "k.json").write_bytes(data)
    check = as_document(
        check_file(tmp_path / "k.json", reference, catalogue, settings.intake_limits, CYCLE, at(0)), "en"
    )
    assert verdict.status == "accepted" and "part_not_above_whole" in {f["rule"] for f in verdict.findings}
    key = lambda f: (f["rule"], f["item"], f["year"], f["message"])  # noqa: E731
    assert sorted(map(key, verdict.findings)) == sorted(map(key, check["findings"]))


def test_prefill_is_the_latest_accepted_version_then_the_earlier_cycles_t_minus_1(tmp_path, catalogue):
    annual = yaml.safe_load(Settings.from_env({}).cycles_file.read_text())
    annual["cycles"].append(
        {
            "id": "2028",
            "reporting_year": 2027,
            "collection": {"opens": "2027-12-01", "closes": "2028-03-31"},
            "publication_date": "2029-01-15",
            "catalogue_version": "1.1",
        }
    )
    (tmp_path / "cycles.yaml").write_text(yaml.safe_dump(annual))
    settings = replace(settings_for(tmp_path / "data"), cycles_file=tmp_path / "cycles.yaml")
    kw = dict(account="a", member="KEN")
    deliver_upload(settings, CYCLE, "k.json", submission("KEN", 900), received_at=at(0), **kw)
    deliver_upload(settings, CYCLE, "k.json", submission("KEN", 950), received_at=at(1), **kw)
    ordered = lambda answers: sorted(answers, key=lambda a: (a["item"], a["year"]))  # noqa: E731
    assert ordered(prefilled_answers(settings, "2028", "KEN")) == [  # 2026 is T-1 of cycle 2028, T of cycle 2027
        {"item": "aeo_count", "year": 2026, "value": 50.0},
        {"item": "declarations_electronic", "year": 2026, "value": 950.0},
        {"item": "declarations_total", "year": 2026, "value": 1000.0},
    ]
    answers = prefilled_answers(settings, CYCLE, "KEN")
    assert {(a["item"], a["year"]): a["value"] for a in answers}[("declarations_electronic", 2026)] == 950.0
    assert prefilled_answers(settings, CYCLE, "UGA") == []
    # The questionnaire takes them in its cells; sent back as it is, it is the same answers again.
    from pmm_pipeline.stages.delivery.inputs import load_inputs

    inputs = load_inputs(settings)
    document = prefilled_document(settings, CYCLE, "KEN")
    assert document["disclosure"] == {"electronic_declaration_rate": "public"}  # the latest version's choices
    workbook = render_questionnaire(inputs.catalogue, inputs.reference, CYCLE, "KEN", "fr", document)
    verdict = deliver_upload(settings, CYCLE, "KEN.xlsx", workbook, received_at=at(2), **kw)
    assert (verdict.status, verdict.version) == ("accepted", 3)
    assert ordered(prefilled_answers(settings, CYCLE, "KEN")) == ordered(answers)


def test_the_reused_quality_context_judges_each_file_on_its_own(tmp_path):
    """The offline gate keeps Great Expectations' suites between verdicts: no result may leak from one to the next."""
    settings = settings_for(tmp_path)
    kw = dict(account="a", member="KEN")
    rules = lambda verdict: sorted((f["rule"], f["item"], f["year"]) for f in verdict.findings)  # noqa: E731
    clean = deliver_upload(settings, CYCLE, "a.json", submission("KEN", 900), received_at=at(0), **kw)
    broken = deliver_upload(settings, CYCLE, "b.json", submission("KEN", 1500), received_at=at(1), **kw)
    again = deliver_upload(settings, CYCLE, "c.json", submission("KEN", 901), received_at=at(2), **kw)
    assert ("part_not_above_whole", "declarations_electronic", T) in rules(broken)
    assert ("part_not_above_whole", "declarations_electronic", T) not in rules(clean)
    assert rules(again) == rules(clean)
