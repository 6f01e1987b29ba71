"""Issue 16, part B: the intake loop, the archive and the durable record.

One file's failure rejects that file alone; the raw tables of a run are written whole or not at all;
every archived copy is verified when read and a damaged one is kept on record (never used, never
dropped); archive writes store what was hashed; oversized files cost at most the limit; hard links
are refused unread; receipt times and the freeze live in the receipt ledger; files per run and reason
files are bounded; members are credited from content only.
"""

import dataclasses
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pytest

from pmm_pipeline.core.errors import ArchiveIntegrityError
from pmm_pipeline.core.settings import DEFAULT_LIMITS
from pmm_pipeline.defs.ingestion import validation_context
from pmm_pipeline.stages.ingestion import intake, raw_tables, reading, versions
from pmm_pipeline.stages.ingestion.archive import DamagedCopyError, read_archived, write_verified
from pmm_pipeline.stages.ingestion.freeze import input_deadline
from pmm_pipeline.stages.ingestion.intake import take_in_cycle
from pmm_pipeline.stages.ingestion.outcomes import ReceivedFile
from pmm_pipeline.stages.ingestion.problem_lists import MAX_PROBLEMS_RECORDED
from pmm_pipeline.stages.ingestion.quarantine import quarantine
from pmm_pipeline.stages.ingestion.raw_tables import intake_frames, write_raw_tables
from pmm_pipeline.stages.ingestion.receipts import (
    Receipt,
    append_to_ledger,
    ledger_path,
    ledger_updates,
    read_ledger,
    receipt_line,
    record_for_intake,
)
from pmm_pipeline.stages.ingestion.submission import Problem
from pmm_pipeline.stages.ingestion.versions import ordering_time
from pmm_pipeline_tests.paths import FIXTURES

FIXTURE_LANDING = FIXTURES / "cycle_2023" / "landing"
T0 = dt.datetime(2024, 1, 10, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ctx(reference, catalogue):
    return validation_context(reference, catalogue, "2023")


def document(member: str, submitted_at: str = "2024-01-05T09:00:00Z", electronic: int = 950) -> bytes:
    doc = json.loads((FIXTURE_LANDING / "KEN_v2.json").read_text())
    doc.update(member=member, submitted_at=submitted_at)
    for answer in doc["answers"]:
        if answer["item"] == "declarations_electronic":
            answer["value"] = electronic
    return json.dumps(doc).encode()


class Folders:
    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing" / "2023"
        self.archive = root / "archive"
        self.quarantine = root / "quarantine" / "2023"
        self.landing.mkdir(parents=True)

    def put(self, name: str, data: bytes) -> Path:
        path = self.landing / name
        path.write_bytes(data)
        return path

    def take_in(self, ctx, now=T0, limits=DEFAULT_LIMITS, earlier=None):
        return take_in_cycle(self.landing, self.archive, self.quarantine, ctx, {}, now, limits, earlier=earlier or {})


def record_of(result) -> dict:
    """The receipts a later run starts from, as the ledger would give them."""
    return {r.key: r for r in result.receipts}


def outcomes(result) -> dict[str, str]:
    frames = intake_frames(result, "2023")
    return dict(zip(frames["received_files"].file_name, frames["received_files"].outcome, strict=True))


# --- isolation -----------------------------------------------------------------------------------


def test_a_file_whose_archive_copy_cannot_be_written_is_rejected_alone(tmp_path, ctx, monkeypatch):
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    folders.put("FRA.json", document("FRA"))
    real = intake.store_copy

    def failing(head, digest, size, archive_dir, file_name):
        if file_name == "KEN.json":
            raise PermissionError(13, "Permission denied")
        return real(head, digest, size, archive_dir, file_name)

    monkeypatch.setattr(intake, "store_copy", failing)
    result = folders.take_in(ctx)
    assert [a.submission.member_code for a in result.accepted] == ["FRA"]
    (rejection,) = result.rejected
    assert rejection.reason_code == "intake_failed" and "Permission denied" in rejection.message
    # Not on record as received: nothing was archived, so it is taken in again by the next run.
    assert [r.file_name for r in result.receipts] == ["FRA.json"]
    monkeypatch.setattr(intake, "store_copy", real)
    again = folders.take_in(ctx, earlier=record_of(result))
    assert sorted(a.submission.member_code for a in again.accepted) == ["FRA", "KEN"]


def test_a_full_disk_stops_the_intake_instead_of_rejecting_every_file_in_turn(tmp_path, ctx, monkeypatch):
    # The installation's fault, not a file's: rejecting each file as intake_failed would hide it.
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    folders.put("FRA.json", document("FRA"))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(intake, "store_copy", full)
    with pytest.raises(OSError, match="No space left"):
        folders.take_in(ctx)


def test_an_unforeseen_fault_reading_one_file_rejects_it_and_the_others_go_on(tmp_path, ctx, monkeypatch):
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    folders.put("FRA.json", document("FRA"))
    real = reading.read_file

    def faulty(file_name, data, *args, **kwargs):
        if file_name == "KEN.json":
            raise RecursionError("deep")
        return real(file_name, data, *args, **kwargs)

    monkeypatch.setattr(reading, "read_file", faulty)
    result = folders.take_in(ctx)
    assert [a.submission.member_code for a in result.accepted] == ["FRA"]
    assert [(r.received.file_name, r.reason_code) for r in result.rejected] == [("KEN.json", "unreadable_file")]


def test_a_rejection_whose_quarantine_fails_is_still_recorded(tmp_path, ctx, monkeypatch):
    folders = Folders(tmp_path)
    folders.put("KEN.json", b"{not json")
    folders.put("FRA.json", document("FRA"))

    def failing(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(intake, "quarantine", failing)
    result = folders.take_in(ctx)
    (rejection,) = result.rejected
    assert rejection.quarantine_path is None and rejection.reason_code == "not_json"
    assert "could not be written" in rejection.message
    assert [a.submission.member_code for a in result.accepted] == ["FRA"]


def test_undecodable_bytes_in_a_name_are_bad_file_name_and_storable(tmp_path, ctx):
    folders = Folders(tmp_path)
    for day, raw in enumerate((b"KEN.js\xffon", b"KEN_\xfe.json", b"\xff\xfe"), start=1):
        with open(os.fsencode(folders.landing) + b"/" + raw, "wb") as handle:
            handle.write(document("KEN", f"2024-01-0{day}T00:00:00Z"))  # other bytes each: no duplicates
    folders.put("FRA.json", document("FRA"))
    result = folders.take_in(ctx)
    assert {r.reason_code for r in result.rejected} == {"bad_file_name"}
    assert len(result.rejected) == 3
    frames = intake_frames(result, "2023")
    with duckdb.connect() as conn:
        write_raw_tables(conn, "2023", frames)  # raised "cannot encode str as UTF-8" before
        stored = conn.execute("SELECT file_name, message FROM raw.rejections ORDER BY file_name").fetchall()
    assert len(stored) == 3 and all(text.encode("utf-8") for row in stored for text in row)
    reasons = [json.loads(p.read_text()) for p in folders.quarantine.glob("*.reason.json")]
    assert len(reasons) == 3 and all(json.dumps(r, ensure_ascii=False).encode("utf-8") for r in reasons)


def test_text_with_a_lone_surrogate_is_stored_escaped_not_refused(tmp_path, ctx):
    folders = Folders(tmp_path)
    folders.put("FRA.json", document("FRA"))
    result = folders.take_in(ctx)
    frames = intake_frames(result, "2023")
    answers = frames["answers"]
    # The storage boundary: whatever a reader let through, a lone surrogate never reaches DuckDB raw.
    answers.loc[answers.index[0], "comment"] = "ok \ud800 bad"
    cleaned = raw_tables.storable_frame(answers)
    assert cleaned.loc[answers.index[0], "comment"] == "ok \\ud800 bad"


def test_the_raw_tables_of_a_run_are_written_whole_or_not_at_all(tmp_path, ctx):
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    first = intake_frames(folders.take_in(ctx), "2023")
    database = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(database) as conn:
        write_raw_tables(conn, "2023", first)
    before = _raw_state(database)

    folders.put("FRA.json", document("FRA"))
    second = intake_frames(folders.take_in(ctx, now=T0 + dt.timedelta(days=1)), "2023")
    assert len(second["submissions"]) == 2
    # The fourth of the five tables cannot be written (a value DuckDB refuses): nothing of the run may stay.
    second["disclosure_choices"].loc[0, "kpi_id"] = "bad \udcff"
    with duckdb.connect(database) as conn, pytest.raises(duckdb.Error):
        write_raw_tables(conn, "2023", second)
    assert _raw_state(database) == before


def _raw_state(database: str) -> dict:
    with duckdb.connect(database, read_only=True) as conn:
        return {
            name: conn.execute(f"SELECT * FROM raw.{name} ORDER BY ALL").fetchall()  # noqa: S608 - fixed names
            for name in ("received_files", "submissions", "answers", "disclosure_choices", "rejections")
        }


# --- integrity of the record ---------------------------------------------------------------------


def _two_versions(folders: Folders, ctx):
    folders.put("KEN_v1.json", document("KEN", "2024-01-05T09:00:00Z", electronic=900))
    folders.put("FRA.json", document("FRA"))
    first = folders.take_in(ctx)
    folders.put("KEN_v2.json", document("KEN", "2024-01-20T09:00:00Z", electronic=950))
    second = folders.take_in(ctx, now=T0 + dt.timedelta(days=10), earlier=record_of(first))
    return {**record_of(first), **record_of(second)}


def _copy_of(result, name: str) -> Path:
    return Path(next(r.archive_path for r in result.received if r.file_name == name))


def test_a_copy_altered_in_place_is_never_used_and_never_moves_the_member_back(tmp_path, ctx):
    folders = Folders(tmp_path)
    record = _two_versions(folders, ctx)
    for path in folders.landing.iterdir():
        path.unlink()  # the landing copies are gone: only the archive holds the versions
    intact = folders.take_in(ctx, now=T0 + dt.timedelta(days=20), earlier=record)
    copy = _copy_of(intact, "KEN_v2.json")
    data = copy.read_bytes()
    copy.write_bytes(data.replace(b"950", b"123"))  # same size, other figures
    assert len(copy.read_bytes()) == len(data)

    result = folders.take_in(ctx, now=T0 + dt.timedelta(days=21), earlier=record)
    (damaged,) = result.damaged
    assert damaged.state == "archive_corrupt" and damaged.error.expected == damaged.received.sha256
    assert damaged.error.found == hashlib.sha256(copy.read_bytes()).hexdigest()
    frames = intake_frames(result, "2023")
    subs = frames["submissions"].set_index("file_name")
    # Kept on record with its number; not used; KEN is not silently back on version 1.
    assert subs.loc["KEN_v2.json", "version"] == 2 and subs.loc["KEN_v2.json", "archive_state"] == "archive_corrupt"
    assert not subs.loc[["KEN_v1.json", "KEN_v2.json"], "is_latest"].any()
    assert subs.loc["FRA.json", "is_latest"]  # the other members go on
    assert set(frames["answers"].submission_id) == set(subs.loc[["KEN_v1.json", "FRA.json"], "submission_id"])
    assert outcomes(result)["KEN_v2.json"] == "archive_corrupt"
    row = frames["rejections"].set_index("file_name").loc["KEN_v2.json"]
    assert row.reason_code == "archive_corrupt" and row.member_code == "KEN"
    assert damaged.received.sha256 in row.message and damaged.error.found in row.message


def test_a_missing_copy_keeps_the_version_on_record_as_missing(tmp_path, ctx):
    folders = Folders(tmp_path)
    record = _two_versions(folders, ctx)
    for path in folders.landing.iterdir():
        path.unlink()
    intact = folders.take_in(ctx, now=T0 + dt.timedelta(days=20), earlier=record)
    _copy_of(intact, "KEN_v2.json").unlink()
    result = folders.take_in(ctx, now=T0 + dt.timedelta(days=21), earlier=record)
    assert len(result.received) == len(intact.received)  # nothing leaves the record
    assert [(d.received.file_name, d.state) for d in result.damaged] == [("KEN_v2.json", "archive_missing")]
    subs = intake_frames(result, "2023")["submissions"].set_index("file_name")
    assert list(subs.sort_values("version").loc[lambda s: s.member_code == "KEN"].index) == [
        "KEN_v1.json",
        "KEN_v2.json",
    ]
    assert not subs.loc[subs.member_code == "KEN", "is_latest"].any()
    message = intake_frames(result, "2023")["rejections"].set_index("file_name").loc["KEN_v2.json", "message"]
    assert "missing" in message and "KEN_v2.json" in message


@pytest.mark.parametrize("put_in_place", ["fifo", "link_to_device", "folder"])
def test_a_pipe_or_device_where_a_copy_should_be_is_a_damaged_copy_not_a_hang(tmp_path, ctx, put_in_place):
    # Opening a FIFO by name blocks until a writer comes; /dev/zero behind a link never ends: the run hung.
    folders = Folders(tmp_path)
    record = _two_versions(folders, ctx)
    for path in folders.landing.iterdir():
        path.unlink()
    intact = folders.take_in(ctx, now=T0 + dt.timedelta(days=20), earlier=record)
    copy = _copy_of(intact, "KEN_v2.json")
    copy.unlink()
    {"fifo": os.mkfifo, "link_to_device": lambda p: os.symlink("/dev/zero", p), "folder": os.mkdir}[put_in_place](copy)
    result = folders.take_in(ctx, now=T0 + dt.timedelta(days=21), earlier=record)
    assert [(d.received.file_name, d.state) for d in result.damaged] == [("KEN_v2.json", "archive_corrupt")]
    assert str(copy) in str(result.damaged[0].error)
    subs = intake_frames(result, "2023")["submissions"].set_index("file_name")
    assert not subs.loc[["KEN_v1.json", "KEN_v2.json"], "is_latest"].any() and subs.loc["FRA.json", "is_latest"]
    with pytest.raises(DamagedCopyError, match="not a regular file"):
        read_archived(copy, intact.received[0].sha256, 1 << 20)


def test_a_damaged_earlier_version_does_not_hold_a_member_whose_later_version_is_intact(tmp_path, ctx):
    folders = Folders(tmp_path)
    record = _two_versions(folders, ctx)
    (folders.landing / "KEN_v1.json").unlink()
    intact = folders.take_in(ctx, now=T0 + dt.timedelta(days=20), earlier=record)
    _copy_of(intact, "KEN_v1.json").write_bytes(b"x" * len(_copy_of(intact, "KEN_v1.json").read_bytes()))
    result = folders.take_in(ctx, now=T0 + dt.timedelta(days=21), earlier=record)
    subs = intake_frames(result, "2023")["submissions"].set_index("file_name")
    assert subs.loc["KEN_v2.json", "is_latest"] and subs.loc["KEN_v1.json", "archive_state"] == "archive_corrupt"


def test_a_landing_copy_repairs_a_damaged_archive_copy_of_the_same_bytes(tmp_path, ctx):
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    first = folders.take_in(ctx)
    copy = _copy_of(first, "KEN.json")
    copy.write_bytes(b"\0" * copy.stat().st_size)
    again = folders.take_in(ctx, earlier=record_of(first))
    assert again.repaired == ["KEN.json"] and hashlib.sha256(copy.read_bytes()).hexdigest() == first.received[0].sha256


def test_reading_back_a_copy_verifies_it(tmp_path):
    data = b"some bytes"
    digest = hashlib.sha256(data).hexdigest()
    path = tmp_path / "a" / f"{digest}.json"
    write_verified(path, data, digest)
    assert read_archived(path, digest, 100).data == data
    path.write_bytes(b"other byte")
    with pytest.raises(ArchiveIntegrityError, match="hashes to"):
        read_archived(path, digest, 100)
    path.unlink()
    with pytest.raises(DamagedCopyError) as missing:
        read_archived(path, digest, 100)
    assert missing.value.state == "archive_missing" and str(path) in str(missing.value)


def test_an_archive_write_never_stores_bytes_under_another_hash(tmp_path):
    with pytest.raises(ArchiveIntegrityError):
        write_verified(tmp_path / "x.json", b"small", hashlib.sha256(b"large").hexdigest())
    assert not any(tmp_path.iterdir())


def test_a_file_swapped_after_it_was_read_is_archived_as_it_was_read(tmp_path, ctx, monkeypatch):
    limits = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=1024)
    folders = Folders(tmp_path)
    large = b'{"x": "' + b"a" * 5000 + b'"}'
    path = folders.put("KEN_big.json", large)
    real = intake.open_entry

    def then_swap(p, lim):
        entry = real(p, lim)
        path.write_bytes(b"{}")  # a small file takes the large one's place once it has been hashed
        return entry

    monkeypatch.setattr(intake, "open_entry", then_swap)
    result = folders.take_in(ctx, limits=limits)
    (received,) = result.received
    assert received.sha256 == hashlib.sha256(large).hexdigest()
    note = json.loads(Path(received.archive_path).read_text())
    head = Path(received.archive_path).with_name(note["head"]).read_bytes()
    assert head == large[:1024] and note["head_sha256"] == hashlib.sha256(head).hexdigest()
    assert note["size_bytes"] == len(large) and note["sha256"] == received.sha256


def test_an_oversized_sparse_file_costs_at_most_the_limit_in_the_archive(tmp_path, ctx):
    limits = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=1 << 20)
    folders = Folders(tmp_path)
    with open(folders.landing / "KEN_sparse.json", "wb") as handle:
        handle.truncate(64 << 20)  # 64 MiB of holes
    expected = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(64):
        expected.update(block)
    result = folders.take_in(ctx, limits=limits)
    (rejection,) = result.rejected
    assert rejection.reason_code == "file_too_large" and rejection.member_code is None  # the name credits nobody
    assert rejection.received.sha256 == expected.hexdigest()  # hashed in full
    stored = sum(p.stat().st_size for p in folders.archive.rglob("*") if p.is_file())
    assert stored <= limits.max_file_bytes + 4096
    assert Path(rejection.quarantine_path).exists()
    # Read back from the archive (landing gone), it is verified and still rejected unread.
    (folders.landing / "KEN_sparse.json").unlink()
    again = folders.take_in(ctx, limits=limits, earlier=record_of(result))
    assert [r.reason_code for r in again.rejected] == ["file_too_large"] and again.damaged == []


def test_a_hard_link_is_refused_without_reading_it(tmp_path, ctx):
    folders = Folders(tmp_path)
    outside = tmp_path / "secret.json"
    outside.write_bytes(document("KEN").replace(b'"fully_implemented"', b'"SECRET-LINE"'))
    os.link(outside, folders.landing / "KEN_link.json")
    folders.put("FRA.json", document("FRA"))
    result = folders.take_in(ctx)
    (rejection,) = result.rejected
    assert rejection.reason_code == "not_a_regular_file" and "hard link" in rejection.message
    assert rejection.member_code is None and rejection.received.sha256 is None
    everything = b"".join(
        p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p != outside and not p.samefile(outside)
    )
    assert b"SECRET-LINE" not in everything and "SECRET" not in rejection.message


# --- the durable record --------------------------------------------------------------------------


def test_the_ledger_keeps_the_first_receipt_time_and_survives_a_torn_last_line(tmp_path):
    path = ledger_path(tmp_path, "2023")
    receipt = Receipt("a" * 64, "KEN.json", 10, T0, "aa/x.json", "accepted", "KEN", T0, 3, "json")
    state = read_ledger(path)
    append_to_ledger(path, ledger_updates(state, [receipt], T0))
    later = dataclasses.replace(receipt, received_at=T0 + dt.timedelta(days=3), outcome="rejected")
    append_to_ledger(path, ledger_updates(read_ledger(path), [later], T0))
    with open(path, "ab") as handle:
        handle.write(b'{"format": "pmm-receipts", "kind": "rec')  # a crash in the middle of an append
    state = read_ledger(path)
    assert state.first_intake_at == T0
    assert state.receipts[receipt.key].received_at == T0 and state.receipts[receipt.key].outcome == "rejected"
    append_to_ledger(path, ledger_updates(state, [dataclasses.replace(receipt, file_name="FRA.json")], T0))
    assert set(read_ledger(path).receipts) == {("a" * 64, "KEN.json"), ("a" * 64, "FRA.json")}


def test_a_damaged_line_inside_the_ledger_is_an_error_naming_it(tmp_path):
    path = ledger_path(tmp_path, "2023")
    receipt = Receipt("a" * 64, "KEN.json", 10, T0, "aa/x.json")
    append_to_ledger(path, ledger_updates(read_ledger(path), [receipt], T0))
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"sha256": "', b'"sha256": "zz')
    path.write_bytes(b"\n".join(lines) + b"\n" + lines[0] + b"\n")
    with pytest.raises(ArchiveIntegrityError, match=r"receipts/2023.jsonl, line 2"):
        read_ledger(path)


def _ledger_of_three(tmp_path) -> Path:
    path = ledger_path(tmp_path, "2023")
    receipts = [
        Receipt(c * 64, f"{m}.json", 10, T0 + dt.timedelta(days=i), f"{c * 2}/x.json")
        for i, (c, m) in enumerate([("a", "KEN"), ("b", "FRA"), ("c", "UGA")])
    ]
    append_to_ledger(path, ledger_updates(read_ledger(path), receipts, T0))
    return path


@pytest.mark.parametrize("line", [2, 4])  # a receipt in the middle, and the last one
def test_a_receipt_time_edited_in_the_ledger_is_an_error_naming_the_line_even_without_a_warehouse(tmp_path, line):
    # With the warehouse gone there is nothing to compare the ledger with: a version frozen out at closing
    # could be redated into the window, and a rebuilt warehouse would use it.
    path = _ledger_of_three(tmp_path)
    lines = path.read_bytes().split(b"\n")
    moved = lines[line - 1].replace(b'"received_at": "2024-01', b'"received_at": "2023-12')
    assert moved != lines[line - 1] and json.loads(moved)  # still a well-formed receipt line
    lines[line - 1] = moved
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ArchiveIntegrityError, match=rf"receipts/2023.jsonl, line {line}, .*chain"):
        read_ledger(path)


def test_a_line_removed_from_inside_the_ledger_is_an_error_naming_where(tmp_path):
    path = _ledger_of_three(tmp_path)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(lines[:2] + lines[3:]))
    with pytest.raises(ArchiveIntegrityError, match=r"line 3, .*chain"):
        read_ledger(path)


def test_a_whole_last_line_without_its_line_feed_is_torn_and_the_chain_goes_on_after_it_is_cut(tmp_path):
    path = _ledger_of_three(tmp_path)
    path.write_bytes(path.read_bytes()[:-1])  # the crash came just before the line feed
    state = read_ledger(path)
    assert ("c" * 64, "UGA.json") not in state.receipts  # the next append cuts it: nothing may rest on it
    append_to_ledger(path, ledger_updates(state, [Receipt("d" * 64, "DEU.json", 1, T0, "dd/x.json")], T0))
    assert set(read_ledger(path).receipts) == {("a" * 64, "KEN.json"), ("b" * 64, "FRA.json"), ("d" * 64, "DEU.json")}


def test_a_ledger_written_before_the_chain_is_read_and_continued_but_no_line_may_drop_it(tmp_path):
    path = ledger_path(tmp_path, "2023")
    path.parent.mkdir(parents=True)
    old = Receipt("a" * 64, "KEN.json", 10, T0, "aa/x.json")
    path.write_bytes(json.dumps(receipt_line(old)).encode() + b"\n")  # as the ledger was written before
    append_to_ledger(path, ledger_updates(read_ledger(path), [dataclasses.replace(old, file_name="FRA.json")], T0))
    assert len(read_ledger(path).receipts) == 2
    with open(path, "ab") as handle:  # an unchained line after chained ones: written by hand, or spliced in
        handle.write(json.dumps(receipt_line(dataclasses.replace(old, file_name="UGA.json"))).encode() + b"\n")
    with pytest.raises(ArchiveIntegrityError, match=r"line 4, .*no chain"):
        read_ledger(path)


def test_the_ledger_takes_over_a_warehouse_older_than_it_once(tmp_path):
    rows = [
        {
            "sha256": "b" * 64,
            "file_name": "KEN.json",
            "size_bytes": 5,
            "received_at": T0,
            "archive_path": str(tmp_path / "bb" / ("b" * 64 + ".json")),
            "outcome": "accepted",
            "member_code": "KEN",
            "submitted_at": T0,
            "n_answers": 3,
            "format": "json",
        }
    ]
    earlier, migrated, first = record_for_intake(read_ledger(ledger_path(tmp_path, "2023")), rows, tmp_path)
    assert first == T0 and [r.archive_path for r in migrated] == [f"bb/{'b' * 64}.json"]
    assert earlier[("b" * 64, "KEN.json")].member_code == "KEN"


def test_archived_versions_are_judged_at_their_recorded_receipt_time(tmp_path, ctx, monkeypatch):
    folders = Folders(tmp_path)
    folders.put("KEN.json", document("KEN"))
    first = folders.take_in(ctx)
    (folders.landing / "KEN.json").unlink()
    seen = []
    real = reading.read_file

    def spy(*args, **kwargs):
        seen.append(kwargs.get("received_at"))
        return real(*args, **kwargs)

    monkeypatch.setattr(reading, "read_file", spy)
    folders.take_in(ctx, now=T0 + dt.timedelta(days=400), earlier=record_of(first))
    assert seen == [T0]


def test_a_stated_submission_time_cannot_outrank_later_receipts_without_bound(tmp_path, ctx):
    assert ordering_time(dt.datetime(2099, 1, 1, tzinfo=dt.UTC), T0) == T0 + versions.ORDER_CLOCK_BOUND
    folders = Folders(tmp_path)
    folders.put("KEN_a.json", document("KEN", "2099-01-01T00:00:00Z", electronic=1))
    first = folders.take_in(ctx)
    folders.put("KEN_b.json", document("KEN", "2024-01-20T00:00:00Z", electronic=950))
    second = folders.take_in(ctx, now=T0 + dt.timedelta(days=10), earlier=record_of(first))
    subs = intake_frames(second, "2023")["submissions"]
    assert list(subs.loc[subs.is_latest, "file_name"]) == ["KEN_b.json"]


def test_the_freeze_follows_the_ledger_not_the_run(tmp_path, ctx, reference):
    """Receipts recorded before closing stay before closing: the same versions are frozen out on every rebuild."""
    folders = Folders(tmp_path)
    folders.put("KEN_v1.json", document("KEN"))
    first = folders.take_in(ctx, now=dt.datetime(2024, 4, 5, tzinfo=dt.UTC))  # first intake after closing
    folders.put("KEN_v2.json", document("KEN", "2024-04-10T00:00:00Z"))
    record = record_of(first)
    second = folders.take_in(ctx, now=dt.datetime(2024, 4, 10, tzinfo=dt.UTC), earlier=record)
    deadline = input_deadline(reference.cycles, "2023")
    frames = intake_frames(second, "2023", deadline, first_intake_at=dt.datetime(2024, 4, 5, tzinfo=dt.UTC))
    subs = frames["submissions"].set_index("file_name")
    assert subs.loc["KEN_v2.json", "is_frozen_out"] and subs.loc["KEN_v1.json", "is_latest"]
    for path in folders.landing.iterdir():
        path.unlink()
    rebuilt = folders.take_in(ctx, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), earlier={**record, **record_of(second)})
    again = intake_frames(rebuilt, "2023", deadline, first_intake_at=dt.datetime(2024, 4, 5, tzinfo=dt.UTC))
    columns = ["file_name", "version", "received_at", "is_frozen_out", "is_latest"]
    assert again["submissions"][columns].sort_values("file_name").values.tolist() == (
        frames["submissions"][columns].sort_values("file_name").values.tolist()
    )


# --- bounded costs and credit --------------------------------------------------------------------


def test_new_files_beyond_the_cap_wait_in_landing_for_the_next_run(tmp_path, ctx):
    limits = dataclasses.replace(DEFAULT_LIMITS, max_files_per_run=2)
    folders = Folders(tmp_path)
    members = ["ARG", "FRA", "GBR", "KEN", "SEN"]
    for i, member in enumerate(members):
        path = folders.put(f"{member}.json", document(member))
        os.utime(path, ns=(10**18 + i, 10**18 + i))  # the order they arrived in
    record: dict = {}
    taken: list[list[str]] = []
    for day in range(3):
        result = folders.take_in(ctx, now=T0 + dt.timedelta(days=day), limits=limits, earlier=record)
        record.update(record_of(result))
        taken.append(sorted(r.file_name for r in result.receipts if r.received_at == T0 + dt.timedelta(days=day)))
        assert len(result.deferred) == max(len(members) - 2 * (day + 1), 0)
    assert taken == [["ARG.json", "FRA.json"], ["GBR.json", "KEN.json"], ["SEN.json"]]
    assert sorted(a.submission.member_code for a in result.accepted) == members  # nothing lost
    assert {p.name for p in folders.landing.iterdir()} == {f"{m}.json" for m in members}


def test_a_reason_file_is_bounded_and_says_how_many_problems_it_left_out(tmp_path):
    received = ReceivedFile("c" * 64, "KEN.json", 10, T0, None)
    problems = [Problem("not_a_number", f"answer {i}: " + "x" * 5000) for i in range(20_000)]
    path = quarantine(b"data", received, problems, tmp_path)
    reason_file = Path(str(path) + ".reason.json")
    reason = json.loads(reason_file.read_text())
    assert len(reason["problems"]) == MAX_PROBLEMS_RECORDED
    assert reason["problems_left_out"] == 20_000 - MAX_PROBLEMS_RECORDED
    assert reason_file.stat().st_size < 200_000
    assert "19990 more problem(s)" in reason["message"]


def test_members_are_credited_from_content_never_from_a_file_name(tmp_path, ctx):
    limits = dataclasses.replace(DEFAULT_LIMITS, max_file_bytes=len(document("FRA")) + 10)
    folders = Folders(tmp_path)
    folders.put("FRA.json", document("FRA"))
    folders.put("KEN_copy.json", document("FRA"))  # FRA's bytes under a KEN name
    folders.put("KEN_big.json", b" " * (limits.max_file_bytes + 1))
    (folders.landing / "KEN_dir").mkdir()
    (folders.landing / "KEN_link.json").symlink_to(folders.landing / "FRA.json")
    result = folders.take_in(ctx, limits=limits)
    frames = intake_frames(result, "2023")
    members = dict(zip(frames["rejections"].file_name, frames["rejections"].member_code, strict=True))
    assert members["KEN_copy.json"] == "FRA"
    assert members["KEN_big.json"] is None and members["KEN_dir"] is None and members["KEN_link.json"] is None


# --- through Dagster: a warehouse rebuilt from the archive and the ledger, and a damaged copy ------


def _pipeline(tmp_path):
    import shutil

    from pmm_pipeline_tests.conftest import settings_for

    landing = tmp_path / "landing" / "2023"
    shutil.copytree(FIXTURE_LANDING, landing)
    return settings_for(tmp_path), landing


def _query(settings, sql):
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def _published(settings) -> dict[str, bytes]:
    tier = settings.layout.published_dir("2023") / "secretariat"
    return {p.name: p.read_bytes() for p in tier.iterdir() if p.suffix == ".csv"}


VERSIONS_SQL = (
    "SELECT file_name, member_code, version, received_at, is_late, is_frozen_out, is_latest FROM raw.submissions"
    " WHERE cycle = '2023' ORDER BY ALL"
)


@pytest.mark.cycle
def test_a_warehouse_rebuilt_from_the_archive_and_ledger_reproduces_the_record_and_releases(tmp_path):
    from pmm_pipeline_tests.conftest import run_cycle_in_process

    settings, landing = _pipeline(tmp_path)
    assert run_cycle_in_process(settings, "2023").success  # the first intake, after closing: what it finds stands
    (landing / "KEN_v4.json").write_bytes(document("KEN", "2024-03-01T00:00:00Z", electronic=10))
    assert run_cycle_in_process(settings, "2023").success  # a late file: recorded, frozen out
    versions = _query(settings, VERSIONS_SQL)
    assert ("KEN_v4.json", "KEN", 3) in {row[:3] for row in versions}
    assert next(row for row in versions if row[0] == "KEN_v4.json")[5] is True
    published = _published(settings)
    assert published

    settings.layout.warehouse_path.unlink()
    for path in landing.iterdir():
        path.unlink()
    assert run_cycle_in_process(settings, "2023").success
    assert _query(settings, VERSIONS_SQL) == versions  # same receipt times, versions, freeze
    assert _published(settings) == published  # same releases, byte for byte


@pytest.mark.cycle
def test_a_damaged_copy_fails_the_archive_check_naming_it_and_the_others_are_published(tmp_path):
    from pmm_pipeline_tests.conftest import run_cycle_in_process

    settings, landing = _pipeline(tmp_path)
    assert run_cycle_in_process(settings, "2023").success
    ((copy_path,),) = _query(settings, "SELECT archive_path FROM raw.received_files WHERE file_name = 'KEN_v2.json'")
    copy = Path(copy_path)
    copy.write_bytes(copy.read_bytes().replace(b"950", b"123"))
    for path in landing.iterdir():
        path.unlink()
    result = run_cycle_in_process(settings, "2023")
    assert result.success  # the check is not blocking: one damaged copy never stops the cycle
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "archive_copies_intact"]
    assert not check.passed and check.severity.value == "ERROR"
    assert "KEN_v2.json" in check.description and "backup" in check.description
    assert check.metadata["members_on_hold"].value == ["KEN"]
    participants = {row[0] for row in _query(settings, "SELECT DISTINCT member_code FROM kpi.kpi_values")}
    assert "KEN" not in participants and {"DEU", "FRA", "UGA"} <= participants
    assert _query(settings, "SELECT outcome FROM raw.received_files WHERE file_name = 'KEN_v2.json'") == [
        ("archive_corrupt",)
    ]


def test_the_new_reason_codes_speak_to_members_in_their_three_languages():
    from pmm_pipeline.stages.feedback.texts import HEADINGS, PROBLEMS

    for code in ("intake_failed", "archive_corrupt", "archive_missing"):
        assert set(PROBLEMS[code]) == {"en", "fr", "es"}
        assert len({PROBLEMS[code][lang] for lang in ("en", "fr", "es")}) == 3
    for state in ("archive_corrupt", "archive_missing"):
        assert len({HEADINGS[lang][state] for lang in ("en", "fr", "es")}) == 3
