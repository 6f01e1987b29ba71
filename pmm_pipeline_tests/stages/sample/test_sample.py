"""Tests of the synthetic submission generator behind `pmm sample`, checked against the real intake."""

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.ingestion.context import ValidationContext
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.json_reader import read_json_submission
from pmm_pipeline.stages.ingestion.reading import read_submission
from pmm_pipeline.stages.ingestion.validate import validate_submission
from pmm_pipeline.stages.sample.broken import ERROR_KINDS, corrupt_documents
from pmm_pipeline.stages.sample.documents import build_sample_documents, latest_documents, render_json
from pmm_pipeline.stages.sample.generate import WRITERS, generate_sample, write_sample
from pmm_pipeline.stages.sample.moments import parse_timestamp

CYCLES = ("2023", "2025")


@pytest.fixture(scope="module")
def documents(reference: Reference, catalogue: Catalogue) -> dict[str, list[dict[str, Any]]]:
    return {cycle_id: build_sample_documents(reference, catalogue, cycle_id, seed=7) for cycle_id in CYCLES}


def context(reference: Reference, catalogue: Catalogue, cycle_id: str) -> ValidationContext:
    cycle = reference.cycles.get(cycle_id)
    return ValidationContext(
        cycle=cycle,
        members_in_force=frozenset(reference.members_in_force(cycle)),
        known_members=frozenset(reference.known_member_codes()),
        items=catalogue.items_for_version(cycle.catalogue_version),
        kpi_ids=frozenset(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version)),
    )


def reported(document: dict[str, Any]) -> dict[tuple[str, int], Any]:
    return {(a["item"], a["year"]): a["value"] for a in document["answers"] if "value" in a}


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(
    reference: Reference, catalogue: Catalogue, tmp_path: Path
) -> None:
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        generate_sample(reference, catalogue, "2023", tmp_path / name, members=30, seed=seed, error_share=0.3)
    assert files_of(tmp_path / "a") == files_of(tmp_path / "b")
    assert files_of(tmp_path / "a") != files_of(tmp_path / "c")


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_every_document_passes_validation(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    ctx = context(reference, catalogue, cycle_id)
    for document in documents[cycle_id]:
        submission, problems = validate_submission(read_json_submission(render_json(document)), ctx)
        assert problems == [], (document["member"], problems[:3])
        assert submission is not None and submission.member_code == document["member"]


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_documents_answer_every_item_of_the_cycle(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    cycle = reference.cycles.get(cycle_id)
    expected_items = set(catalogue.items_for_version(cycle.catalogue_version))
    for document in documents[cycle_id]:
        assert {a["item"] for a in document["answers"] if a["year"] == cycle.reporting_year} == expected_items
        for answer in document["answers"]:
            if answer.get("status") in ("not_applicable", "not_available"):
                assert "value" not in answer
            if answer.get("status") == "not_applicable":
                assert answer.get("comment")


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_parts_never_exceed_their_wholes(
    catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    pairs_checked = 0
    for document in documents[cycle_id]:
        values = reported(document)
        for (code, year), value in values.items():
            whole = catalogue.items[code].part_of
            if whole is not None and (whole, year) in values:
                assert 0 <= value <= values[(whole, year)], (document["member"], code, year)
                pairs_checked += 1
    assert pairs_checked > 500


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_about_a_third_of_the_members_do_not_take_part(
    reference: Reference, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    in_force = reference.members_in_force(reference.cycles.get(cycle_id))
    participating = {d["member"] for d in documents[cycle_id]}
    assert participating <= set(in_force)
    assert 0.20 <= 1 - len(participating) / len(in_force) <= 0.45


def test_a_small_sample_keeps_at_least_two_participants(reference: Reference, catalogue: Catalogue) -> None:
    for seed in range(20):
        docs = build_sample_documents(reference, catalogue, "2023", members=5, seed=seed)
        members = {d["member"] for d in docs}
        assert 2 <= len(members) <= 5
    with pytest.raises(ValueError, match="more than"):
        build_sample_documents(reference, catalogue, "2023", members=1000)


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_items_used_at_t_minus_1_are_answered_for_t_minus_1_near_t(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    cycle = reference.cycles.get(cycle_id)
    t_minus_1, t = cycle.years
    used_at_t_minus_1 = {
        ref.item
        for kpi in catalogue.kpis_for_version(cycle.catalogue_version)
        for series in kpi.series
        for ref in catalogue.formulas[(kpi.id, series.id)].refs
        if ref.offset == -1
    }
    assert used_at_t_minus_1
    for document in documents[cycle_id]:
        answered = {(a["item"], a["year"]) for a in document["answers"]}
        assert {(code, t_minus_1) for code in used_at_t_minus_1} <= answered
        assert {code for code, year in answered if year == t_minus_1} == used_at_t_minus_1
        values = reported(document)
        for code in used_at_t_minus_1:
            now, before = values.get((code, t)), values.get((code, t_minus_1))
            if now is not None and before is not None and before >= 100:
                assert abs(now / before - 1) <= 0.16


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_most_kpis_have_many_reporting_members(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    cycle = reference.cycles.get(cycle_id)
    latest = latest_documents(documents[cycle_id]).values()
    for kpi in catalogue.kpis_for_version(cycle.catalogue_version):
        needs = {
            (ref.item, cycle.reporting_year + ref.offset)
            for series in kpi.series
            for ref in catalogue.formulas[(kpi.id, series.id)].refs
        }
        complete = sum(needs <= reported(d).keys() for d in latest)
        assert complete >= 0.6 * len(latest), kpi.id


def test_not_applicable_and_not_available_both_occur(documents: dict[str, list[dict[str, Any]]]) -> None:
    statuses = Counter(a.get("status", "reported") for d in documents["2023"] for a in d["answers"])
    total = sum(statuses.values())
    assert 0.01 < statuses["not_applicable"] / total < 0.15
    assert 0.02 < statuses["not_available"] / total < 0.10


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_resubmissions_are_earlier_different_and_inside_the_window(
    reference: Reference, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    cycle = reference.cycles.get(cycle_id)
    by_member: dict[str, list[dict[str, Any]]] = {}
    for document in documents[cycle_id]:
        by_member.setdefault(document["member"], []).append(document)
        moment = parse_timestamp(document["submitted_at"])
        assert document["submitted_at"].endswith("Z")
        assert cycle.collection.opens <= moment.date() <= cycle.collection.closes
    resubmitted = {m: docs for m, docs in by_member.items() if len(docs) > 1}
    assert 1 <= len(resubmitted) <= 0.15 * len(by_member)
    for draft, final in resubmitted.values():
        assert parse_timestamp(draft["submitted_at"]) < parse_timestamp(final["submitted_at"])
        assert reported(draft).keys() == reported(final).keys()
        assert reported(draft) != reported(final)


def test_disclosure_is_mostly_public_and_names_only_kpis_of_the_cycle(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]]
) -> None:
    version = reference.cycles.get("2025").catalogue_version
    kpi_ids = {k.id for k in catalogue.kpis_for_version(version)}
    choices: Counter[str] = Counter()
    for document in latest_documents(documents["2025"]).values():
        assert set(document["disclosure"]) <= kpi_ids
        choices.update(document["disclosure"].get(kpi_id, "left_out") for kpi_id in kpi_ids)
    shares = {level: n / sum(choices.values()) for level, n in choices.items()}
    assert 0.45 < shares["public"] < 0.65
    assert 0.17 < shares["wco"] < 0.33
    assert 0.05 < shares["secretariat"] < 0.15
    assert 0.05 < shares["left_out"] < 0.15


@pytest.mark.parametrize("cycle_id", CYCLES)
def test_every_erroneous_file_is_rejected_with_its_expected_reason(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], cycle_id: str
) -> None:
    ctx = context(reference, catalogue, cycle_id)
    erroneous = corrupt_documents(documents[cycle_id], reference, catalogue, cycle_id, error_share=0.25, seed=7)
    latest = latest_documents(documents[cycle_id])
    assert {bad.expected_reason for bad in erroneous} == set(ERROR_KINDS)
    assert len({bad.member for bad in erroneous}) == len(erroneous) == round(0.25 * len(latest))
    for bad in erroneous:
        submission, problems = read_submission(bad.file_name, bad.data, ctx)
        assert submission is None
        assert [p.code for p in problems] == [bad.expected_reason], (bad.file_name, problems)
        if bad.expected_reason not in ("not_json", "empty_file"):
            bad_at = parse_timestamp(json.loads(bad.data)["submitted_at"])
            assert bad_at > parse_timestamp(latest[bad.member]["submitted_at"])


def test_intake_accepts_the_valid_files_and_quarantines_the_broken_ones(
    reference: Reference, catalogue: Catalogue, tmp_path: Path
) -> None:
    landing = tmp_path / "landing" / "2023"
    documents = build_sample_documents(reference, catalogue, "2023", members=40, seed=3)
    erroneous = corrupt_documents(documents, reference, catalogue, "2023", error_share=0.5, seed=3)
    written = write_sample(landing, documents, erroneous)
    assert len(written) == len(documents) + len(erroneous)
    assert all(p.name.endswith(".json") and "_2023_" in p.name for p in written)
    result = take_in_cycle(
        landing,
        tmp_path / "archive",
        tmp_path / "quarantine",
        context(reference, catalogue, "2023"),
        previously_received={},
        now=dt.datetime(2024, 4, 1, tzinfo=dt.UTC),
    )
    assert len(result.accepted) == len(documents)
    assert Counter(r.reason_code for r in result.rejected) == Counter(b.expected_reason for b in erroneous)


def test_versions_are_numbered_in_submission_order(
    reference: Reference, catalogue: Catalogue, documents: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    write_sample(tmp_path, documents["2023"])
    for member, document in latest_documents(documents["2023"]).items():
        versions = sorted(tmp_path.glob(f"{member}_2023_v*.json"))
        expected = json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"
        assert versions[-1].read_bytes() == expected


def test_formats_without_a_writer_are_refused_before_anything_is_written(
    reference: Reference, catalogue: Catalogue, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="unknown format 'parquet'; choose from json, xlsx, csv"):
        generate_sample(reference, catalogue, "2023", tmp_path / "landing", members=5, formats=("json", "parquet"))
    assert not (tmp_path / "landing").exists()


def test_members_take_the_registered_formats_in_turn(
    reference: Reference, catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(WRITERS, "csv", lambda document, _context: (".csv", document["member"].encode()))
    documents = build_sample_documents(reference, catalogue, "2023", members=12, seed=5)
    written = write_sample(tmp_path, documents, formats=("json", "csv"))
    suffixes = Counter(p.suffix for p in written)
    assert set(suffixes) == {".json", ".csv"}
    for member in {d["member"] for d in documents}:
        assert len({p.suffix for p in written if p.name.startswith(f"{member}_")}) == 1
