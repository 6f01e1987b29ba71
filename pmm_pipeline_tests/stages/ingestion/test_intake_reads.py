"""The intake's reuse of reads (stages/ingestion/read_cache.py): an accepted version is not parsed again while
nothing its reading depends on changed, and gives exactly what reading it gives; anything else is read again."""

import dataclasses
import datetime as dt
import json

import pytest

from pmm_pipeline.core.settings import DEFAULT_LIMITS
from pmm_pipeline.stages.ingestion import read_cache
from pmm_pipeline.stages.ingestion.context import validation_context
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.read_cache import ReadCache, context_digest, load_cache, save_cache
from pmm_pipeline.stages.sample.generate import generate_sample

pytestmark = pytest.mark.unit

NOW = dt.datetime.now(dt.UTC)  # after every sample submission


@pytest.fixture(autouse=True)
def fixed_code_version(monkeypatch):
    """The code version as `pmm run` would state it (without asking git: no process in a unit test)."""
    monkeypatch.setattr(read_cache, "code_version", lambda: "1.0.0+abcdef012345")


@pytest.fixture(scope="module")
def world(reference, catalogue):
    """The shipped reference data and catalogue (conftest.py's), and cycle 2023's validation context."""
    return reference, catalogue, validation_context(reference, catalogue, "2023")


@pytest.fixture
def landing(world, tmp_path):
    reference, catalogue, _ = world
    folder = tmp_path / "landing"
    generate_sample(reference, catalogue, "2023", folder, members=9, seed=3, formats=("json", "xlsx", "csv"))
    (folder / "KEN_broken.json").write_text('{"format": "pmm-submission", "answers": [')  # rejected
    return folder


def intake(landing, ctx, reads=None, earlier=None, limits=DEFAULT_LIMITS):
    root = landing.parent
    return take_in_cycle(
        landing, root / "archive", root / "quarantine", ctx, {}, NOW, limits, earlier=earlier or {}, reads=reads
    )


def receipts(result) -> dict:
    return {(r.sha256, r.file_name): r for r in result.receipts}


def test_a_second_intake_parses_no_accepted_version_again_and_gives_the_same_versions(world, landing, tmp_path):
    _, _, ctx = world
    shared = context_digest(ctx, DEFAULT_LIMITS)
    first_reads = ReadCache(shared)
    first = intake(landing, ctx, first_reads)
    assert len(first.accepted) >= 5 and len(first.rejected) == 1
    assert {a.submission.format for a in first.accepted} == {"json", "xlsx", "csv"}
    assert (first_reads.reused, first_reads.read) == (0, len(first.accepted) + 1)
    save_cache(tmp_path / "reads.json", first_reads)

    reads = load_cache(tmp_path / "reads.json", shared)
    second = intake(landing, ctx, reads, earlier=receipts(first))
    assert (reads.reused, reads.read) == (len(first.accepted), 1)  # the rejected file is read again
    # Field for field and type for type (the time zone of submitted_at too): what reading the file gives.
    assert second.accepted == first.accepted
    assert [repr(a.submission) for a in second.accepted] == [repr(a.submission) for a in first.accepted]
    assert [r.problems for r in second.rejected] == [r.problems for r in first.rejected]
    # Without the cache, the same versions again.
    assert intake(landing, ctx, earlier=receipts(first)).accepted == first.accepted


def test_a_read_is_made_again_when_anything_it_depends_on_changes(world, landing, tmp_path, monkeypatch):
    _, _, ctx = world
    shared = context_digest(ctx, DEFAULT_LIMITS)
    reads = ReadCache(shared)
    first = intake(landing, ctx, reads)
    save_cache(tmp_path / "reads.json", reads)
    accepted = len(first.accepted)

    def reused_with(ctx=ctx, limits=DEFAULT_LIMITS, earlier=None) -> int:
        again = load_cache(tmp_path / "reads.json", context_digest(ctx, limits))
        intake(landing, ctx, again, earlier=receipts(first) if earlier is None else earlier, limits=limits)
        return again.reused

    assert reused_with() == accepted
    first_member = sorted(ctx.members_in_force)[0]
    languages = {**ctx.member_languages, first_member: "fr" if ctx.member_languages.get(first_member) != "fr" else "es"}
    assert reused_with(ctx=dataclasses.replace(ctx, member_languages=languages)) == 0  # numbers read by locale
    assert reused_with(ctx=dataclasses.replace(ctx, questionnaire_digest="another")) == 0
    assert reused_with(ctx=dataclasses.replace(ctx, members_in_force=ctx.members_in_force - {first_member})) == 0
    assert reused_with(limits=dataclasses.replace(DEFAULT_LIMITS, max_problems=DEFAULT_LIMITS.max_problems + 1)) == 0
    # One version received at another time (its submitted_at is checked against it): that one is read again.
    moved = dict(receipts(first))
    key = next(k for k, r in moved.items() if r.outcome == "accepted")
    moved[key] = dataclasses.replace(moved[key], received_at=moved[key].received_at + dt.timedelta(seconds=1))
    assert reused_with(earlier=moved) == accepted - 1
    monkeypatch.setattr(read_cache, "source_digest", lambda: "an uncommitted edit")
    assert reused_with() == 0
    monkeypatch.undo()
    monkeypatch.setattr(read_cache, "code_version", lambda: "9.9.9+another-commit")
    assert reused_with() == 0


def test_a_cache_that_is_not_one_or_is_damaged_is_not_trusted(world, landing, tmp_path):
    _, _, ctx = world
    shared = context_digest(ctx, DEFAULT_LIMITS)
    reads = ReadCache(shared)
    first = intake(landing, ctx, reads)
    path = tmp_path / "reads.json"
    save_cache(path, reads)
    body = json.loads(path.read_text())

    path.write_text(path.read_text()[:-20])  # cut short: nothing of it is used
    assert load_cache(path, shared).previous == {}
    path.write_text(json.dumps({**body, "format_version": 99}))
    assert load_cache(path, shared).previous == {}
    # An entry that does not decode is read again; the others are reused.
    broken_key = sorted(body["reads"])[0]
    body["reads"][broken_key] = {"member_code": "KEN", "submission": {"answers": "not a list"}}
    path.write_text(json.dumps(body))
    damaged = load_cache(path, shared)
    second = intake(landing, ctx, damaged, earlier=receipts(first))
    assert (damaged.reused, damaged.read) == (len(first.accepted) - 1, 2)
    assert second.accepted == first.accepted
