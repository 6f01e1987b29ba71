"""Issue 16: the record never changes without an error naming the file.

Whole `pmm run`s are SIGKILLed at points of the intake (after an archived copy is written, after the
receipt ledger is appended, inside the raw tables' transaction), then the next run must reproduce
exactly what a run never killed records and releases. Then the files of the record are corrupted on
disk (an archived copy altered in place keeping its size, one deleted, the ledger's last line cut, a
file of the release record altered): each next run either reproduces the record or reports an error
naming the damaged file, never a silent change.
"""

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pmm_pipeline.stages.ingestion.receipts import ledger_path, read_ledger
from pmm_pipeline_tests.conftest import run_cycle_in_process
from pmm_pipeline_tests.paths import CHECKOUT
from pmm_pipeline_tests.released_workspace import workspace, workspace_settings
from pmm_pipeline_tests.stages.publishing.release_cases import release_hashes

# Columns of the record that a run decides; received_at and archive_path depend on when and where it ran.
SUBMISSION_COLUMNS = (
    "member_code, submission_id, file_name, version, submitted_at, n_answers, is_latest, is_late,"
    " is_frozen_out, archive_state"
)
# Each patch runs in the child before `pmm run`; `die()` SIGKILLs the child's whole process at that point.
CHILD = """
import os, signal, sys
from pmm_pipeline.stages.ingestion import intake, raw_tables, receipts
from pmm_pipeline.warehouse import writes

def die():
    os.kill(os.getpid(), signal.SIGKILL)

{patch}
from pmm_pipeline.app.cli import main
sys.exit(main(["run", "--cycle", "2023"]))
"""
KILL_AT = {
    # FRA_v2's copy is in the archive; nothing of it is in the ledger or the warehouse yet.
    "after_the_archive_copy": """
store = intake.store_copy
def store_then_die(head, digest, size, archive_dir, file_name):
    stored = store(head, digest, size, archive_dir, file_name)
    if file_name == "FRA_v2.json":
        die()
    return stored
intake.store_copy = store_then_die
""",
    # The ledger holds FRA_v2's receipt, durably; the raw tables do not.
    "after_the_ledger_append": """
append = receipts.append_durably
def append_then_die(path, data):
    append(path, data)
    die()
receipts.append_durably = append_then_die
""",
    # Some raw tables' rows of this run are deleted and inserted, the transaction not committed.
    "inside_the_raw_tables_transaction": """
replace = writes.replace_cycle_rows_of_tables
class DieOnSecondInsert:
    def __init__(self, conn):
        self.conn, self.inserts = conn, 0
    def execute(self, sql, *args):
        if sql.startswith("INSERT"):
            self.inserts += 1
            if self.inserts == 2:
                die()
        return self.conn.execute(sql, *args)
    def __getattr__(self, name):
        return getattr(self.conn, name)
raw_tables.replace_cycle_rows_of_tables = lambda conn, cycle, rows: replace(DieOnSecondInsert(conn), cycle, rows)
""",
}


def pmm_run(root: Path, patch: str = "") -> subprocess.CompletedProcess:
    script = textwrap.dedent(CHILD).format(patch=textwrap.dedent(patch))
    env = {**workspace(root), "PYTHONPATH": str(CHECKOUT)}
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600, start_new_session=True
    )


def recorded(root: Path) -> dict:
    """What the record says: versions and their use, each received file's outcome, the published data files."""
    with duckdb.connect(str(root / "data" / "warehouse.duckdb"), read_only=True) as conn:
        submissions = conn.execute(
            f"SELECT {SUBMISSION_COLUMNS} FROM raw.submissions WHERE cycle = '2023' ORDER BY member_code, version"
        ).fetchall()
        files = conn.execute(
            "SELECT file_name, sha256, outcome FROM raw.received_files WHERE cycle = '2023' ORDER BY file_name"
        ).fetchall()
        answers = conn.execute(
            "SELECT member_code, submission_id, item, year, value FROM raw.answers WHERE cycle = '2023' ORDER BY ALL"
        ).fetchall()
    return {
        "submissions": submissions,
        "received_files": files,
        "answers": answers,
        "published": release_hashes(root / "data" / "published" / "2023"),
    }


@pytest.fixture(scope="module")
def released_once(released_once_workspace):
    """The released-once workspace of test_release_reproducible, and what its second, never-killed run records."""
    prepared, clean = released_once_workspace
    expected = recorded(clean)
    assert ("FRA", 2) in {(row[0], row[3]) for row in expected["submissions"]}  # the second version is on record
    return prepared, expected, clean


@pytest.mark.subprocess
def test_runs_killed_during_intake_leave_a_record_the_next_run_completes_as_never_killed(released_once, tmp_path):
    prepared, expected, _ = released_once
    root = tmp_path / "w"
    shutil.copytree(prepared, root)
    ledger = ledger_path(root / "data" / "archive", "2023")
    for point, patch in KILL_AT.items():
        killed = pmm_run(root, patch)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)
        if point == "after_the_ledger_append":
            assert any(name == "FRA_v2.json" for _, name in read_ledger(ledger).receipts)
    # Nothing of the killed runs reached the raw tables: the first run's record stands, FRA_v2 unseen.
    between = recorded(root)
    assert "FRA_v2.json" not in {row[0] for row in between["received_files"]}
    assert run_cycle_in_process(workspace_settings(root), "2023").success
    assert recorded(root) == expected


def failures(result) -> str:
    """The error messages of a run's failed steps."""
    return " ".join(e.event_specific_data.error.message for e in result.all_events if e.is_step_failure)


def archived_copy(root: Path, file_name: str) -> Path:
    state = read_ledger(ledger_path(root / "data" / "archive", "2023"))
    (receipt,) = [r for (_, name), r in state.receipts.items() if name == file_name]
    return root / "data" / "archive" / receipt.archive_path


def test_a_corrupted_record_is_reproduced_or_stops_with_an_error_naming_the_file(released_once, tmp_path):
    _, expected, clean = released_once
    root = tmp_path / "w"
    shutil.copytree(clean, root)  # released twice, as never killed
    settings = workspace_settings(root)
    landing = root / "data" / "landing" / "2023"

    # 1. FRA_v2's copy altered in place (same size) and KEN_v1's copy deleted, their landing files gone.
    fra_v2, ken_v1 = archived_copy(root, "FRA_v2.json"), archived_copy(root, "KEN_v1.json")
    fra_bytes, ken_bytes = fra_v2.read_bytes(), ken_v1.read_bytes()
    (landing / "FRA_v2.json").unlink()
    (landing / "KEN_v1.json").unlink()
    fra_v2.write_bytes(fra_bytes.replace(b'"value": 1800', b'"value": 1700'))
    assert len(fra_v2.read_bytes()) == len(fra_bytes) and fra_v2.read_bytes() != fra_bytes
    ken_v1.unlink()
    result = run_cycle_in_process(settings, "2023")
    (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "archive_copies_intact"]
    assert not check.passed and "FRA_v2.json" in check.description and "KEN_v1.json" in check.description
    states = {(row[0], row[3]): row[9] for row in recorded(root)["submissions"]}
    assert states[("FRA", 2)] == "archive_corrupt" and states[("KEN", 1)] == "archive_missing"
    # The altered figure is never used: FRA's version in use is none (on hold), not the altered one.
    assert not [row for row in recorded(root)["answers"] if row[1] == fra_v2.stem]
    # Restored from a backup, the copies give back exactly the record of a run never damaged.
    fra_v2.write_bytes(fra_bytes)
    ken_v1.write_bytes(ken_bytes)
    assert run_cycle_in_process(settings, "2023").success
    assert recorded(root) == expected

    # 2. The ledger's last line cut short (FRA_v2's landing file still gone): the receipt it held must not
    # leave the record silently.
    ledger = ledger_path(root / "data" / "archive", "2023")
    whole = ledger.read_bytes()
    ledger.write_bytes(whole[: whole.rstrip(b"\n").rfind(b"\n") + 1 + 40])
    cut = run_cycle_in_process(settings, "2023")
    assert not cut.success and str(ledger) in failures(cut) and "FRA_v2.json" in failures(cut), failures(cut)
    assert recorded(root) == expected  # nothing was written from the damaged ledger
    ledger.write_bytes(whole)

    # 3. A file of the release record altered on disk: the release stops, naming it.
    record_file = sorted((root / "data" / "published" / "2023" / "record" / "public").glob("*.json"))[0]
    original = record_file.read_bytes()
    record_file.write_bytes(original.replace(b'"value', b'"VALUE', 1) if b'"value' in original else original + b" ")
    altered = run_cycle_in_process(settings, "2023")
    assert not altered.success and str(record_file) in failures(altered), failures(altered)
    assert recorded(root) == expected  # every tier still holds the release of the record as it was


def test_a_ledger_lacking_or_redating_a_receipt_of_the_warehouse_is_an_error_naming_both(tmp_path):
    import datetime as dt

    from pmm_pipeline.core.errors import ArchiveIntegrityError
    from pmm_pipeline.stages.ingestion.receipts import (
        Receipt,
        append_to_ledger,
        check_ledger_covers_warehouse,
        ledger_updates,
    )

    path = ledger_path(tmp_path, "2023")
    at = dt.datetime(2024, 1, 5, 10, 0, 0, 123456, tzinfo=dt.UTC)
    a, b = "a" * 64, "b" * 64
    append_to_ledger(path, ledger_updates(read_ledger(path), [Receipt(a, "KEN.json", 3, at, "aa/a.json")], at))
    row = {"sha256": a, "file_name": "KEN.json", "received_at": at}
    check_ledger_covers_warehouse(read_ledger(path), [row], path)  # the same receipt: nothing to say
    check_ledger_covers_warehouse(read_ledger(tmp_path / "none.jsonl"), [row], path)  # no ledger: taken over
    later = {**row, "received_at": at + dt.timedelta(seconds=1)}
    missing = {"sha256": b, "file_name": "FRA.json", "received_at": at}
    for rows, says in (([later], "KEN.json"), ([row, missing], "FRA.json")):
        with pytest.raises(ArchiveIntegrityError) as raised:
            check_ledger_covers_warehouse(read_ledger(path), rows, path)
        assert str(path) in str(raised.value) and says in str(raised.value)
