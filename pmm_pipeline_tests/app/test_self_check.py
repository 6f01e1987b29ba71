"""`pmm validate FILE`: the same problems as an intake of the file, the same findings as the quality gate, offline,
in the member's language, and nothing written to the data folder."""

import copy
import datetime as dt
import io
import json
import os
import shutil
import stat
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from pmm_pipeline.app.cli import main
from pmm_pipeline.app.self_check import check_file
from pmm_pipeline.app.self_check_report import WORDS
from pmm_pipeline.core.settings import DEFAULT_LIMITS, IntakeLimits
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.stages.feedback.texts import HEADINGS, PROBLEMS
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.quality.offline import OFFLINE_LIMITS
from pmm_pipeline.warehouse.tables import FINDINGS
from pmm_pipeline_tests.conftest import FIXTURES
from pmm_pipeline_tests.stages.ingestion.hostile_corpus import DOCUMENT, LIMITS, build_corpus

FIXTURE_LANDING = FIXTURES / "cycle_2023" / "landing"
FINDING_COLUMNS = [c for c in FINDINGS.column_names if c not in ("cycle",)]


def _regular_files(landing: Path) -> list[Path]:
    """The entries an NCP could name: regular files with one name (links and pipes are the intake's own cases)."""
    files = []
    for path in sorted(landing.iterdir()):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and not path.name.startswith((".", "~$")):
            files.append(path)
    return files


@pytest.fixture(scope="module")
def hostile_landing(reference, catalogue, tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("hostile") / "landing"
    landing.mkdir()
    build_corpus(reference, catalogue, landing)
    return landing


# A whole intake of the hostile corpus (zip bombs included) and of the fixtures, then each file checked again:
# about 20 s in process, out of `make test-fast`.
@pytest.mark.slow
@pytest.mark.parametrize("which", ["fixtures", "hostile"])
def test_problems_are_those_of_an_intake_of_the_same_file(which, reference, catalogue, hostile_landing, tmp_path):
    landing, limits = (FIXTURE_LANDING, DEFAULT_LIMITS) if which == "fixtures" else (hostile_landing, LIMITS)
    ctx = validation_context(reference, catalogue, "2023")
    now = dt.datetime.now(dt.UTC)
    result = take_in_cycle(landing, tmp_path / "archive", tmp_path / "quarantine", ctx, {}, now, limits)
    recorded = intake_frames(result, "2023")["rejections"].set_index("file_name")
    accepted = {a.received.file_name for a in result.accepted}
    duplicates = {d.received.file_name for d in result.duplicates}
    files = [p for p in _regular_files(landing) if p.name not in duplicates]
    formats = {p.suffix.lower() for p in files}
    if which == "hostile":
        assert formats >= {".json", ".xlsx", ".csv"}
        assert len(files) >= 25
    seen_rejected = seen_accepted = 0
    for path in files:
        check = check_file(path, reference, catalogue, limits, "2023", now=now)
        assert check.accepted == (check.file_name in accepted), path.name
        if check.accepted:
            seen_accepted += 1
            continue
        seen_rejected += 1
        mine, theirs = check.rejections.iloc[0], recorded.loc[check.file_name]
        assert mine["reason_code"] == theirs["reason_code"], path.name
        assert mine["message"] == theirs["message"], path.name
        # every problem: code, message, place (sheet, cell, line, pointer), item, year, value
        assert json.loads(mine["problems"]) == json.loads(theirs["problems"]), path.name
        assert mine["member_code"] == theirs["member_code"] or (
            pd.isna(mine["member_code"]) and pd.isna(theirs["member_code"])
        )
    assert seen_rejected >= 3 and seen_accepted >= 2


def _findings_of(conn, member: str) -> pd.DataFrame:
    return conn.execute("SELECT * FROM quality.findings WHERE cycle = '2023' AND member_code = ?", [member]).df()


def _comparable(findings: pd.DataFrame) -> list[dict]:
    frame = findings[FINDING_COLUMNS].astype(object).where(findings[FINDING_COLUMNS].notna(), None)
    rows = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in frame.to_dict("records")]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_findings_are_those_of_the_gate_in_a_pipeline_run(fixture_cycle, reference, catalogue):
    settings, result = fixture_cycle
    assert result.success
    judged_offline = {r for r, (kind, _) in OFFLINE_LIMITS.items() if kind == "not_checked"}
    compared = 0
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        latest = conn.execute(
            "SELECT member_code, file_name FROM raw.submissions WHERE cycle = '2023' AND is_latest"
        ).fetchall()
        for member, file_name in latest:
            pipeline = _findings_of(conn, member)
            pipeline = pipeline[~pipeline["rule"].isin(judged_offline)]
            check = check_file(FIXTURE_LANDING / file_name, reference, catalogue, settings.intake_limits)
            assert check.accepted and check.member_code == member
            assert _comparable(check.findings) == _comparable(pipeline), member
            compared += len(pipeline)
    assert len(latest) == 4 and compared > 10


def _run(capsys, monkeypatch, data_dir: Path, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("PMM_DATA_DIR", str(data_dir))
    code = main(["validate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(path: Path, member: str, **changes) -> Path:
    document = {**copy.deepcopy(DOCUMENT), "member": member, **changes}
    path.write_text(json.dumps(document))
    return path


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry under root with its mode and, for files, its bytes."""
    tree = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        tree[str(path.relative_to(root))] = (info.st_mode, path.read_bytes() if stat.S_ISREG(info.st_mode) else None)
    return tree


def test_nothing_is_written_to_the_data_folder(capsys, monkeypatch, tmp_path):
    data = tmp_path / "data"
    landing = data / "landing" / "2023"
    shutil.copytree(FIXTURE_LANDING, landing)
    (data / "archive").mkdir()
    (data / "quarantine" / "2023").mkdir(parents=True)
    duckdb.connect(str(data / "warehouse.duckdb")).close()
    before = _tree(data)
    monkeypatch.chdir(tmp_path)
    for name in ("KEN_v2.json", "BRA.json", "KEN_v3_wrong_cycle.json", "BRA_truncated.json"):
        code, _, _ = _run(capsys, monkeypatch, data, str(landing / name), "--output", str(tmp_path / "fb.xlsx"))
        assert code in (0, 1)
        _run(capsys, monkeypatch, data, str(landing / name), "--json")
    assert _tree(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "fb.xlsx"]  # nothing else beside it either


def test_exit_status_says_accepted_rejected_or_blocked(capsys, monkeypatch, tmp_path):
    good = _write(tmp_path / "KEN_good.json", "KEN")
    code, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(good))
    assert code == 0 and WORDS["en"]["accepted"] in out

    rejected = _write(tmp_path / "KEN_bad.json", "KEN", answers=[{"item": "nope", "year": 2022, "value": 1}])
    code, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(rejected))
    assert code == 1 and "unknown_item" in out and "/answers/0" in out

    # a part above its whole: accepted by the intake, blocked by the gate (part_not_above_whole)
    blocked = _write(
        tmp_path / "KEN_blocked.json",
        "KEN",
        answers=[
            {"item": "declarations_total", "year": 2022, "value": 100},
            {"item": "declarations_electronic", "year": 2022, "value": 900},
        ],
    )
    code, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(blocked), "--json")
    document = json.loads(out)
    assert code == 1 and document["status"] == "accepted" and document["quality_gate"] == "blocked"
    blocking = [f for f in document["findings"] if f["severity"] == "blocking"]
    assert [(f["rule"], f["item"], f["year"], f["place"]) for f in blocking] == [
        ("part_not_above_whole", "declarations_electronic", 2022, "/answers/1")
    ]
    assert document["exit_status"] == 1


@pytest.mark.parametrize(
    "argv, says",
    [
        (["missing.json"], "no such file"),
        ([".", "--json"], "not a file"),
        (["{good}", "--output", "feedback.txt"], "must end with .xlsx"),
        (["{good}", "--cycle", "1999"], "unknown cycle"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, says, capsys, monkeypatch, tmp_path):
    good = _write(tmp_path / "KEN_good.json", "KEN")
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, monkeypatch, tmp_path / "data", *[a.format(good=good) for a in argv])
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1 and out == ""


def test_bad_language_is_refused(capsys, monkeypatch, tmp_path):
    good = _write(tmp_path / "KEN_good.json", "KEN")
    with pytest.raises(SystemExit) as exit_info:
        _run(capsys, monkeypatch, tmp_path / "data", str(good), "--lang", "de")
    assert exit_info.value.code == 2


def test_json_document_has_the_platform_verdict_fields(capsys, monkeypatch, tmp_path):
    bad = _write(tmp_path / "KEN_bad.json", "KEN", cycle="2025")
    code, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(bad), "--cycle", "2023", "--json")
    document = json.loads(out)
    assert code == 1
    assert {"status", "member", "cycle", "version", "sha256", "reason_code", "problems", "findings"} <= set(document)
    assert document["format"] == "pmm-self-check" and document["format_version"] == 1
    assert (document["status"], document["reason_code"], document["member"]) == ("rejected", "cycle_mismatch", "KEN")
    assert document["version"] is None and document["findings"] == [] and document["quality_gate"] is None
    problem = document["problems"][0]
    assert {"code", "message", "place"} <= set(problem) and problem["place"] == "/cycle"
    assert {r["rule"] for r in document["not_checked_offline"]} >= set(OFFLINE_LIMITS)


def test_cycle_defaults_to_the_files_own(capsys, monkeypatch, tmp_path):
    other = _write(tmp_path / "KEN_2025.json", "KEN", cycle="2025", answers=[])
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(other), "--json")
    document = json.loads(out)
    assert document["cycle"] == "2025" and document["cycle_from"] == "file"
    assert document["reason_code"] != "cycle_mismatch"

    unknown = _write(tmp_path / "KEN_1999.json", "KEN", cycle="1999")
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(unknown))
    assert "'1999'" in out and "--cycle" in out and "cycle_mismatch" in out
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(unknown), "--json", "--cycle", "2023")
    assert json.loads(out)["cycle_from"] == "option"


def test_words_are_the_members_language_by_default(capsys, monkeypatch, tmp_path):
    french = _write(tmp_path / "SEN_bad.json", "SEN", answers=[{"item": "nope", "year": 2022, "value": 1}])
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(french))
    assert WORDS["fr"]["rejected"].split("(")[0] in out
    assert PROBLEMS["unknown_item"]["fr"][0] in out and PROBLEMS["unknown_item"]["fr"][1] in out
    assert f"[{HEADINGS['fr']['blocking']}]" in out
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(french), "--lang", "ES")
    assert PROBLEMS["unknown_item"]["es"][0] in out and PROBLEMS["unknown_item"]["fr"][0] not in out
    unknown = _write(tmp_path / "XXX.json", "XXX")
    _, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(unknown))
    assert WORDS["en"]["rejected"].split("(")[0] in out


def test_every_word_exists_in_three_languages():
    assert set(WORDS) == {"en", "fr", "es"}
    assert set(WORDS["en"]) == set(WORDS["fr"]) == set(WORDS["es"])
    assert all(WORDS["fr"][k] != WORDS["en"][k] for k in WORDS["en"] if k not in ("sha256",))


def test_output_is_the_members_feedback_report(capsys, monkeypatch, tmp_path):
    blocked = _write(
        tmp_path / "FRA_blocked.json",
        "FRA",
        answers=[
            {"item": "declarations_total", "year": 2022, "value": 100},
            {"item": "declarations_electronic", "year": 2022, "value": 900},
        ],
    )
    output = tmp_path / "feedback.xlsx"
    code, out, _ = _run(capsys, monkeypatch, tmp_path / "data", str(blocked), "--output", str(output), "--json")
    document = json.loads(out)
    workbook = openpyxl.load_workbook(io.BytesIO(output.read_bytes()))
    assert workbook.sheetnames[1] == HEADINGS["fr"]["sheet_problems"]  # France answers in French
    rows = list(workbook.worksheets[1].iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(document["problems"]) + len(document["findings"]) > 1
    assert (rows[0][0], rows[0][2], rows[0][3]) == (HEADINGS["fr"]["blocking"], "/answers/1", "declarations_electronic")
    assert os.path.getsize(output) > 0 and code == 1


def test_a_file_over_the_size_limit_is_told_without_being_read(reference, catalogue, tmp_path):
    big = tmp_path / "KEN_big.json"
    big.write_bytes(b" " * 5000)
    check = check_file(big, reference, catalogue, IntakeLimits(max_file_bytes=1000), "2023")
    problems = json.loads(check.rejections.iloc[0]["problems"])
    assert [p["code"] for p in problems] == ["file_too_large"] and "5000 bytes" in problems[0]["message"]
