"""Seeded quality defects in sample data: deterministic, confined to the chosen members, accepted by intake."""

import copy

import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.ingestion.reading import read_submission
from pmm_pipeline.stages.sample.defects import QUALITY_DEFECT_KINDS, inject_quality_defects
from pmm_pipeline.stages.sample.documents import build_sample_documents, latest_documents, render_json

CYCLE = "2025"


@pytest.fixture(scope="module")
def setting():
    settings = Settings.from_env({})
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    return reference, catalogue, build_sample_documents(reference, catalogue, CYCLE, seed=5)


def seeded_copy(setting, share: float, seed: int):
    reference, catalogue, documents = setting
    documents = copy.deepcopy(documents)
    return documents, inject_quality_defects(documents, reference, catalogue, CYCLE, share, seed)


def test_the_same_seed_seeds_the_same_defects(setting):
    first, seeded = seeded_copy(setting, 0.3, seed=1)
    again, seeded_again = seeded_copy(setting, 0.3, seed=1)
    other, seeded_other = seeded_copy(setting, 0.3, seed=2)
    assert seeded == seeded_again and first == again
    assert seeded != seeded_other


def test_only_the_latest_submission_of_the_chosen_members_changes(setting):
    _, _, original = setting
    documents, seeded = seeded_copy(setting, 0.3, seed=1)
    members = {member for member, _ in seeded}
    assert len(members) == len(seeded)  # one defect per member
    latest = {id(d) for d in latest_documents(documents).values()}
    for before, after in zip(original, documents, strict=True):
        if id(after) in latest and after["member"] in members:
            assert before["answers"] != after["answers"]
        else:
            assert before == after


def test_intake_accepts_every_submission_with_a_quality_defect(setting):
    reference, catalogue, _ = setting
    documents, seeded = seeded_copy(setting, 1.0, seed=3)
    assert {rule for _, rule in seeded} == set(QUALITY_DEFECT_KINDS)  # every kind, when every member gets one
    ctx = validation_context(reference, catalogue, CYCLE)
    for document in documents:
        submission, problems = read_submission(f"{document['member']}.json", render_json(document), ctx)
        assert submission is not None, problems


def test_share_zero_changes_nothing_and_a_share_outside_0_1_is_refused(setting):
    _, _, original = setting
    documents, seeded = seeded_copy(setting, 0.0, seed=1)
    assert seeded == [] and documents == original
    with pytest.raises(ValueError, match="between 0 and 1"):
        seeded_copy(setting, 1.5, seed=1)
