"""A corpus of malformed and hostile files, made in hostile_corpus.py: none crashes intake, each is staged or
quarantined with its reason.
"""

import datetime as dt
import io
import json
import tracemalloc
from pathlib import Path

import openpyxl
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames
from pmm_pipeline.stages.ingestion.reading import read_file
from pmm_pipeline.stages.questionnaire.template import render_questionnaire
from pmm_pipeline_tests.stages.ingestion.hostile_corpus import (
    BILLION_LAUGHS,
    LIMITS,
    MB,
    build_corpus,
    edit_workbook,
    fill,
    lying_zip_bomb,
    rezip,
    without_declaration,
    zip_bomb,
)


@pytest.fixture(scope="module")
def world():
    settings = Settings.from_env({})
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    return reference, catalogue, validation_context(reference, catalogue, "2023")


@pytest.fixture(scope="module")
def intake(world, tmp_path_factory):
    reference, catalogue, ctx = world
    root = tmp_path_factory.mktemp("hostile")
    landing = root / "landing"
    landing.mkdir()
    expected = build_corpus(reference, catalogue, landing)
    result = take_in_cycle(landing, root / "archive", root / "quarantine", ctx, {}, dt.datetime.now(dt.UTC), LIMITS)
    return expected, result, root


def test_corpus_is_large_and_covers_every_kind(intake):
    expected, _, _ = intake
    assert len(expected) >= 40
    assert set(expected.values()) >= {
        "xml_entities",
        "zip_bomb",
        "file_too_large",
        "too_many_rows",
        "too_many_columns",
        "too_many_sheets",
        "macro_enabled",
        "encrypted_workbook",
        "external_links",
        "bad_file_name",
        "not_a_regular_file",
        "empty_file",
        "duplicate_file",
        "member_mismatch",
        "cycle_mismatch",
        "template_modified",
        "outdated_template",
        "formula_without_value",
        "ambiguous_number",
        "bad_encoding",
        "accepted",
    }


def test_every_file_is_staged_or_quarantined_with_its_reason(intake):
    expected, result, _ = intake
    frames = intake_frames(result, "2023")
    outcome = {a.received.file_name: "accepted" for a in result.accepted}
    outcome.update(dict(zip(frames["rejections"].file_name, frames["rejections"].reason_code, strict=True)))
    assert outcome == expected


def test_files_received_equal_staged_plus_quarantined_by_hash(intake):
    _, result, root = intake
    received = {r.sha256 for r in result.received}
    staged = {a.received.sha256 for a in result.accepted}
    quarantined = {r.received.sha256 for r in result.rejected if r.received.sha256}
    assert received == staged | quarantined and not staged & quarantined
    duplicates = {d.received.sha256 for d in result.duplicates}
    assert duplicates <= staged | quarantined
    for rejection in result.rejected:
        reason = json.loads(Path(rejection.quarantine_path + ".reason.json").read_text())
        assert reason["reason_code"] == rejection.reason_code and reason["message"]
        if rejection.received.sha256:  # a copy of every rejected file's bytes sits beside its reason
            assert Path(rejection.quarantine_path).exists()


def test_valid_files_next_to_hostile_ones_are_taken_in(intake):
    _, result, _ = intake
    assert sorted(a.submission.member_code for a in result.accepted) == ["ARG", "FRA", "GBR", "KEN", "MAR", "SEN"]
    by_member = {a.submission.member_code: a.submission for a in result.accepted}
    assert [(a.item, a.value) for a in by_member["ARG"].answers] == [("declarations_total", 1234.5)]
    assert [(a.item, a.value) for a in by_member["SEN"].answers] == [("declarations_total", 1234.0)]
    assert by_member["ARG"].disclosure == {"aeo_count_variation": "wco"}


def test_landing_is_left_untouched_and_links_are_not_followed(intake):
    _, result, root = intake
    assert (root / "landing" / "KEN_link.json").is_symlink()
    assert not any("root:" in Path(p).read_text(errors="replace") for p in (root / "archive").rglob("*") if p.is_file())


def test_zip_bombs_are_refused_in_bounded_memory(world):
    _, _, ctx = world
    for data in (zip_bomb(256 * MB), lying_zip_bomb(256 * MB)):
        assert len(data) < LIMITS.max_file_bytes  # small on disk, huge when inflated
        tracemalloc.start()
        try:
            outcome = read_file("KEN_bomb.xlsx", data, ctx, LIMITS)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert outcome.submission is None and outcome.problems[0].code in ("zip_bomb", "corrupt_workbook")
        assert peak < 64 * MB, f"peak {peak / MB:.0f} MB"


def test_the_workbook_parser_refuses_entity_bombs_and_external_entities_even_without_the_precheck(world):
    """openpyxl parses received workbooks through defusedxml, even with lxml installed (pysdmx's xml extra brings
    it; pmm_pipeline/__init__.py keeps openpyxl off lxml, which would expand a small internal entity): it refuses an
    entity bomb and an external entity by itself, so the pre-check is a second line, not the only one."""
    from defusedxml import DefusedXmlException

    refusals = (DefusedXmlException,)
    reference, catalogue, _ = world
    base = edit_workbook(render_questionnaire(catalogue, reference, "2023", "KEN"), fill)
    external = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>'
    for declaration, entity in ((BILLION_LAUGHS, b"&lol9;"), (external, b"&xxe;")):

        def attack(xml: bytes, declaration=declaration, entity=entity) -> bytes:
            used = without_declaration(xml).replace(b'name="Cover"', b'name="' + entity + b'Cover"', 1)
            assert entity in used
            return declaration + used

        data = rezip(base, replace={"xl/workbook.xml": attack})
        with pytest.raises(Exception) as raised:
            openpyxl.load_workbook(io.BytesIO(data))
        cause = raised.value.__cause__ or raised.value.__context__ or raised.value
        assert isinstance(cause, refusals), (entity, repr(raised.value))
