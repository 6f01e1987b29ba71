"""Issue 16: the landing sensor opens files as safely as the intake: no FIFO or device blocks it, no link is
followed, reads are bounded, and one bad entry never stops the runs of the good files beside it."""

import os
import threading

import dagster as dg
import pytest

from pmm_pipeline.defs.jobs import COLLECTION_JOB
from pmm_pipeline.defs.sensors import build_landing_file_sensor, read_landing_file
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.tags import MEMBER_TAG, SOURCE_FILE_TAG

KNOWN = frozenset({"KEN", "UGA", "FRA"})
GOOD = b'{"format": "pmm-submission", "member": "UGA", "cycle": "2023"}'


def tick_within(data_dir, seconds: float = 20.0):
    """One sensor evaluation in a thread: (run requests, finished in time)."""
    sensor = build_landing_file_sensor(COLLECTION_JOB, ["2023"], KNOWN)
    outcome = {}

    def evaluate():
        context = dg.build_sensor_context(resources={"storage": PmmStorage(data_dir=str(data_dir))})
        outcome["result"] = sensor(context)

    worker = threading.Thread(target=evaluate, daemon=True)  # a blocked open must not hang the test run
    worker.start()
    worker.join(seconds)
    result = outcome.get("result")
    return (result if isinstance(result, list) else []), not worker.is_alive()


@pytest.fixture
def landing(tmp_path):
    folder = tmp_path / "landing" / "2023"
    folder.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_bytes(b'{"member": "KEN", "secret": "not for the sensor"}')
    return tmp_path, folder, outside


def test_fifo_symlink_and_hard_link_beside_a_good_file(landing):
    data_dir, folder, outside = landing
    os.mkfifo(folder / "KEN_fifo.json")  # opened with a plain open(), this blocked the sensor for good
    os.symlink(outside / "secret.json", folder / "FRA_link.json")
    os.link(outside / "secret.json", folder / "KEN_hardlink.json")
    (folder / "upload.json").write_bytes(GOOD)

    requests, in_time = tick_within(data_dir)
    assert in_time
    by_file = {r.tags[SOURCE_FILE_TAG]: r for r in requests}
    assert set(by_file) == {"KEN_fifo.json", "FRA_link.json", "KEN_hardlink.json", "upload.json"}
    assert by_file["upload.json"].tags[MEMBER_TAG] == "UGA"
    # Nothing was read through the link or the hard link: no member taken from the file outside landing,
    # and no fingerprint of its bytes (the run records each entry as rejected).
    for name in ("KEN_fifo.json", "FRA_link.json", "KEN_hardlink.json"):
        assert MEMBER_TAG not in by_file[name].tags
        assert by_file[name].run_key.split("/")[-1].split(":")[0] in ("special", "link", "hardlink")


def test_a_file_swapped_for_a_fifo_after_listing_is_not_read(landing):
    _, folder, _ = landing
    path = folder / "KEN.json"
    path.write_bytes(GOOD)
    listed = path.lstat()
    path.unlink()
    os.mkfifo(path)  # the race: a FIFO where a regular file was listed
    assert read_landing_file(path, listed, 1 << 20) is None


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(landing):
    _, folder, outside = landing
    path = folder / "KEN.json"
    path.write_bytes(GOOD)
    listed = path.lstat()
    path.unlink()
    os.symlink(outside / "secret.json", path)
    assert read_landing_file(path, listed, 1 << 20) is None


def test_reads_stop_at_the_size_limit(landing):
    _, folder, _ = landing
    path = folder / "big.json"
    with open(path, "wb") as handle:  # sparse: 4 GiB of size, nothing on disk
        handle.truncate(4 << 30)
    fingerprint, head = read_landing_file(path, path.lstat(), 1 << 20)
    assert fingerprint == f"over-limit:{4 << 30}" and head == b""


def test_one_unreadable_entry_does_not_stop_the_others(landing):
    data_dir, folder, _ = landing
    (folder / "unreadable.json").write_bytes(GOOD)
    (folder / "upload.json").write_bytes(GOOD)
    real_open = os.open

    def refusing(path, flags, *args, **kwargs):
        if str(path).endswith("unreadable.json"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    os.open = refusing
    try:
        requests, in_time = tick_within(data_dir)
    finally:
        os.open = real_open
    assert in_time and [r.tags[SOURCE_FILE_TAG] for r in requests] == ["upload.json"]
