"""JSON submissions: every kind of bad file is rejected with its reason code; good files survive next to them."""

import copy
import datetime as dt
import json

import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import read_submission

GOOD = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "KEN",
    "cycle": "2023",
    "submitted_at": "2024-01-31T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 1200345},
        {"item": "declarations_electronic", "year": 2022, "value": 1190000},
        {"item": "aeo_count", "year": 2021, "value": 40},
        {"item": "pca_controls_total", "year": 2022, "status": "not_applicable", "comment": "no PCA unit"},
        {"item": "single_window_level", "year": 2022, "value": " Partially_Implemented "},
        {"item": "strategic_plan_adopted", "year": 2022, "value": True},
    ],
    "disclosure": {"electronic_declaration_rate": "public", "aeo_count_variation": "wco"},
}


@pytest.fixture(scope="module")
def ctx():
    settings = Settings.from_env({})
    return validation_context(
        load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir), "2023"
    )


def mutated(change) -> bytes:
    doc = copy.deepcopy(GOOD)
    change(doc)
    return json.dumps(doc).encode()


def test_good_submission_is_accepted(ctx):
    submission, problems = read_submission("KEN.json", json.dumps(GOOD).encode(), ctx)
    assert problems == []
    assert submission.member_code == "KEN"
    assert submission.submitted_at == dt.datetime(2024, 1, 31, 10, tzinfo=dt.UTC)
    by_item = {(a.item, a.year): a for a in submission.answers}
    assert by_item[("pca_controls_total", 2022)].status == "not_applicable"
    assert by_item[("pca_controls_total", 2022)].value is None
    assert by_item[("single_window_level", 2022)].value_text == "partially_implemented"
    assert by_item[("strategic_plan_adopted", 2022)].value == 1.0
    assert by_item[("declarations_total", 2022)].location.pointer == "/answers/0"
    assert submission.disclosure == GOOD["disclosure"]


BAD_FILES = {
    "not_json": b'{"format": "pmm-submission", ',
    "empty_file": b"",
    "not_json_encoding": b"\xff\xfe\x00garbage",
    "duplicate_keys": b'{"member": "KEN", "member": "UGA"}',
    "bad_structure": b"[1, 2, 3]",
    "wrong_format": mutated(lambda d: d.update(format="pmm-other")),
    "unsupported_format_version": mutated(lambda d: d.update(format_version=2)),
    "unknown_member": mutated(lambda d: d.update(member="XXX")),
    "cycle_mismatch": mutated(lambda d: d.update(cycle="2025")),
    "unknown_item": mutated(lambda d: d["answers"].append({"item": "declarations_paper", "year": 2022, "value": 1})),
    "year_out_of_range": mutated(lambda d: d["answers"].append({"item": "aeo_count", "year": 2020, "value": 1})),
    "bad_status": mutated(lambda d: d["answers"][0].update(status="maybe")),
    "not_a_number": mutated(lambda d: d["answers"][0].update(value="1,200,345")),
    "not_a_number_bool": mutated(lambda d: d["answers"][0].update(value=True)),
    "duplicate_answer": mutated(lambda d: d["answers"].append(dict(d["answers"][0]))),
    "missing_field": mutated(lambda d: d.pop("submitted_at")),
    "unknown_field": mutated(lambda d: d.update(extra=1)),
    "bad_timestamp": mutated(lambda d: d.update(submitted_at="31/01/2024")),
    "conflicting_status": mutated(lambda d: d["answers"][3].update(value=0)),
    "missing_value": mutated(lambda d: d["answers"][0].pop("value")),
    "unknown_level": mutated(lambda d: d["answers"][4].update(value="mostly")),
    "unknown_kpi": mutated(lambda d: d["disclosure"].update(made_up_kpi="public")),
    "bad_disclosure": mutated(lambda d: d["disclosure"].update(electronic_declaration_rate="everyone")),
    "nan_value": (
        b'{"format": "pmm-submission", "answers": [{"item": "declarations_total", "year": 2022, "value": NaN}]}'
    ),
}
EXPECTED_CODES = {
    "not_json_encoding": "not_json",
    "duplicate_keys": "not_json",
    "not_a_number_bool": "not_a_number",
    "nan_value": "not_json",
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_file_rejected_with_reason(ctx, kind):
    submission, problems = read_submission(f"{kind}.json", BAD_FILES[kind], ctx)
    assert submission is None
    codes = [p.code for p in problems]
    assert EXPECTED_CODES.get(kind, kind) in codes
    assert all(p.message for p in problems)


def test_every_problem_is_reported_not_just_the_first(ctx):
    data = mutated(lambda d: (d.update(member="XXX", cycle="1999"), d["answers"][0].update(status="maybe")))
    _, problems = read_submission("many.json", data, ctx)
    assert {"unknown_member", "cycle_mismatch", "bad_status"} <= {p.code for p in problems}


def test_oversized_and_unknown_format_files(ctx):
    assert read_submission("big.json", b"{" + b" " * 100 + b"}", ctx, max_bytes=50)[1][0].code == "file_too_large"
    assert read_submission("notes.docx", b"PK\x03\x04", ctx)[1][0].code == "unsupported_format"


def test_cycle_intake_quarantines_bad_files_and_keeps_good_ones(tmp_path, ctx):
    landing = tmp_path / "landing" / "2023"
    landing.mkdir(parents=True)
    for kind, data in BAD_FILES.items():
        (landing / f"{kind}.json").write_bytes(data)
    (landing / "KEN.json").write_text(json.dumps(GOOD))
    (landing / "KEN_copy.json").write_text(json.dumps(GOOD))  # same bytes under another name
    (landing / ".hidden.json").write_text("ignored")
    now = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
    result = take_in_cycle(landing, tmp_path / "archive", tmp_path / "quarantine", ctx, {}, now)
    assert [a.received.file_name for a in result.accepted] == ["KEN.json"]
    assert len(result.rejected) == len(BAD_FILES)
    assert len(result.received) == len(BAD_FILES) + 2
    quarantined = {p.name for p in (tmp_path / "quarantine").iterdir()}
    assert len([n for n in quarantined if n.endswith(".reason.json")]) == len(BAD_FILES)
    frames = intake_frames(result, "2023")
    outcomes = dict(zip(frames["received_files"].file_name, frames["received_files"].outcome, strict=True))
    assert outcomes["KEN.json"] == "accepted" and outcomes["KEN_copy.json"] == "duplicate"
    assert set(frames["rejections"].reason_code) >= {"not_json", "unknown_member", "cycle_mismatch"}
    assert len(list((tmp_path / "archive").rglob("*.json"))) == len(BAD_FILES) + 1
    assert {p.name for p in landing.iterdir()} >= {"KEN.json", "KEN_copy.json"}  # landing is never modified
