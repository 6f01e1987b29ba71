"""The landing sensor, stepped tick by tick through its cursor: new, changed, unchanged and invalid files."""

import json
import os

import dagster as dg
import pytest

from pmm_pipeline.defs.jobs import COLLECTION_JOB
from pmm_pipeline.defs.sensors import LANDING_SENSOR, build_landing_file_sensor
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.tags import CYCLE_TAG, MEMBER_TAG, SOURCE_FILE_TAG

KNOWN = frozenset({"KEN", "UGA", "FRA"})


@pytest.fixture
def landing(tmp_path):
    (tmp_path / "landing" / "2023").mkdir(parents=True)
    (tmp_path / "landing" / "2025").mkdir(parents=True)
    return tmp_path


def tick(data_dir, cursor):
    """One evaluation: (run requests, skip reason, new cursor)."""
    sensor = build_landing_file_sensor(COLLECTION_JOB, ["2023", "2025"], KNOWN)
    context = dg.build_sensor_context(cursor=cursor, resources={"storage": PmmStorage(data_dir=str(data_dir))})
    result = sensor(context)
    requests = result if isinstance(result, list) else []
    skip = result if isinstance(result, dg.SkipReason) else None
    return requests, skip, context.cursor


def write(path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_definitions_name_and_target():
    sensor = build_landing_file_sensor(COLLECTION_JOB, ["2023"], KNOWN)
    assert sensor.name == LANDING_SENSOR == "landing_file_sensor"
    assert sensor.job_name == COLLECTION_JOB


def test_cursor_steps_through_new_changed_unchanged_and_invalid_files(landing):
    cycle_dir = landing / "landing" / "2023"

    # Nothing there yet.
    requests, skip, cursor = tick(landing, None)
    assert requests == [] and skip is not None

    # Two new files in two cycles: one run each, for the cycle's partition, tagged with member and file.
    write(cycle_dir / "KEN_2023_v1.json", b'{"member": "KEN"}', 1_000)
    write(landing / "landing" / "2025" / "upload.json", b'{"format": "pmm-submission", "member": "UGA"}', 1_000)
    requests, _, cursor = tick(landing, cursor)
    assert sorted((r.partition_key, r.tags[SOURCE_FILE_TAG], r.tags.get(MEMBER_TAG)) for r in requests) == [
        ("2023", "KEN_2023_v1.json", "KEN"),
        ("2025", "upload.json", "UGA"),  # no member in the name: read from the JSON's head
    ]
    assert all(r.tags[CYCLE_TAG] == r.partition_key for r in requests)
    first_keys = {r.run_key for r in requests}

    # Unchanged: nothing to launch.
    requests, skip, cursor = tick(landing, cursor)
    assert requests == [] and skip is not None

    # Touched with the same bytes: nothing to launch either, but the cursor learns the new time.
    write(cycle_dir / "KEN_2023_v1.json", b'{"member": "KEN"}', 2_000)
    requests, _, cursor = tick(landing, cursor)
    assert requests == []
    assert json.loads(cursor)["seen"]["2023"]["KEN_2023_v1.json"][1] == 2_000

    # Changed bytes under the same name: a new file version, a new run key.
    write(cycle_dir / "KEN_2023_v1.json", b'{"member": "KEN", "v": 2}', 3_000)
    requests, _, cursor = tick(landing, cursor)
    assert [r.tags[SOURCE_FILE_TAG] for r in requests] == ["KEN_2023_v1.json"]
    assert requests[0].run_key not in first_keys
    changed_key = requests[0].run_key

    # Invalid entries: a link and a folder launch one run each (the run records them as rejected);
    # an upload in progress (hidden) and Excel's lock file launch nothing.
    (cycle_dir / "FRA_link.json").symlink_to("/etc/passwd")
    (cycle_dir / "FRA_folder").mkdir()
    write(cycle_dir / ".KEN_2023_v2.json.part", b"half", 4_000)
    write(cycle_dir / "~$KEN.xlsx", b"lock", 4_000)
    write(cycle_dir / "bad\x1bname.csv", b"x", 4_000)
    requests, _, cursor = tick(landing, cursor)
    assert sorted(r.tags[SOURCE_FILE_TAG] for r in requests) == ["FRA_folder", "FRA_link.json", "bad\\x1bname.csv"]
    assert {r.tags.get(MEMBER_TAG) for r in requests} == {"FRA", None}
    invalid_keys = {r.run_key for r in requests}
    requests, _, cursor = tick(landing, cursor)
    assert requests == []

    # The same file version seen again after the cursor was lost gets the same run key,
    # so Dagster does not launch it twice.
    again, _, _ = tick(landing, None)
    assert {r.run_key for r in again} >= invalid_keys | {changed_key}


def test_unreadable_cursor_starts_over(landing):
    write(landing / "landing" / "2023" / "KEN.json", b"{}", 1_000)
    requests, _, cursor = tick(landing, "not json")
    assert len(requests) == 1
    assert json.loads(cursor)["version"] == 1


def test_sensor_is_in_the_code_location(tmp_path):
    from dataclasses import replace

    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.definitions import build_definitions

    defs = build_definitions(replace(Settings.from_env({}), data_dir=tmp_path))
    assert defs.resolve_sensor_def(LANDING_SENSOR).job_name == COLLECTION_JOB
