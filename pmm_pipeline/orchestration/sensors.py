"""The landing sensor: a new or changed file in landing/<cycle>/ launches one collection run of its cycle per file version.

The cursor is JSON: for every cycle, every landing entry seen with its size, modification time
and SHA-256. An entry whose size and time are unchanged is not read again; one whose bytes are
unchanged (touched, copied over with the same content) launches nothing. Links and folders are
fingerprinted without being followed: the run records them as rejected. Hidden and lock files
(`.x`, `~$x.xlsx`) are uploads in progress and are ignored until renamed.
"""

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from pmm_pipeline.ingestion.intake import is_skipped
from pmm_pipeline.ingestion.limits import display_name, file_name_member
from pmm_pipeline.orchestration.tags import CYCLE_TAG, MEMBER_TAG, SOURCE_FILE_TAG
from pmm_pipeline.resources.storage import PmmStorage

LANDING_SENSOR = "landing_file_sensor"
CURSOR_VERSION = 1
MEMBER_SNIFF_BYTES = 64 * 1024  # a JSON file names its member near the top
JSON_MEMBER = re.compile(rb'"member"\s*:\s*"([A-Z]{3})"')
MAX_TAG_LENGTH = 200

Seen = dict[str, dict[str, list]]  # cycle -> entry name -> [size, mtime_ns, fingerprint]


@dataclass(frozen=True)
class FileVersion:
    """A landing entry in a state not seen before: what one run is launched for."""

    cycle: str
    name: str  # display_name of the entry
    fingerprint: str  # SHA-256 of the bytes, or a description of what the entry is instead
    member: str | None

    @property
    def run_key(self) -> str:
        return f"{self.cycle}/{self.name}/{self.fingerprint}"

    @property
    def tags(self) -> dict[str, str]:
        tags = {CYCLE_TAG: self.cycle, SOURCE_FILE_TAG: self.name[:MAX_TAG_LENGTH]}
        if self.member:
            tags[MEMBER_TAG] = self.member
        return tags


def read_cursor(cursor: str | None) -> Seen:
    """The entries seen so far; an unreadable cursor counts as nothing seen (every file runs once more)."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(state, dict) or state.get("version") != CURSOR_VERSION or not isinstance(state.get("seen"), dict):
        return {}
    return state["seen"]


def write_cursor(seen: Seen) -> str:
    return json.dumps({"version": CURSOR_VERSION, "seen": seen}, sort_keys=True, separators=(",", ":"))


def _sha256(path: Path, limit: int) -> str | None:
    """SHA-256 of a regular file read without following links; None if it cannot be read now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    digest = hashlib.sha256()
    with os.fdopen(fd, "rb") as handle:
        read = 0
        while block := handle.read(1 << 20):
            digest.update(block)
            read += len(block)
            if read > limit:
                return f"over-limit:{read}"
    return digest.hexdigest()


def _member_of(path: Path, name: str, known_members: frozenset[str]) -> str | None:
    """The member a file is from, if its name or the first bytes of a JSON file say so cheaply."""
    member = file_name_member(name, known_members)
    if member or not name.lower().endswith(".json"):
        return member
    try:
        with open(path, "rb") as handle:
            match = JSON_MEMBER.search(handle.read(MEMBER_SNIFF_BYTES))
    except OSError:
        return None
    return match.group(1).decode() if match and match.group(1).decode() in known_members else None


def scan_landing(
    landing_root: Path, cycle_ids: Iterable[str], seen: Seen, known_members: frozenset[str], max_bytes: int
) -> tuple[list[FileVersion], Seen]:
    """The file versions not seen before in every cycle's landing folder, and the cursor state after them."""
    versions: list[FileVersion] = []
    now_seen: Seen = {}
    for cycle in cycle_ids:
        folder = landing_root / cycle
        if not folder.is_dir():
            continue
        before = seen.get(cycle, {})
        current: dict[str, list] = {}
        for path in sorted(folder.iterdir()):
            if is_skipped(path.name):
                continue
            name = display_name(path.name)
            try:
                info = path.lstat()
            except OSError:
                continue  # gone between listing and looking: the next tick sees what is there
            size, mtime = info.st_size, info.st_mtime_ns
            previous = before.get(name)
            if stat.S_ISREG(info.st_mode):
                if previous and previous[0] == size and previous[1] == mtime:
                    current[name] = previous
                    continue
                fingerprint = _sha256(path, max_bytes)
                if fingerprint is None:
                    continue  # not readable yet (permissions, a file being replaced): try again next tick
            else:
                kind = "link" if stat.S_ISLNK(info.st_mode) else "folder" if stat.S_ISDIR(info.st_mode) else "special"
                fingerprint = f"{kind}:{mtime}"
            current[name] = [size, mtime, fingerprint]
            if previous and previous[2] == fingerprint:
                continue  # touched or rewritten with the same bytes: nothing new to take in
            versions.append(FileVersion(cycle, name, fingerprint, _member_of(path, path.name, known_members)))
        if current:
            now_seen[cycle] = current
    return versions, now_seen


def build_landing_file_sensor(
    job_name: str, cycle_ids: list[str], known_members: frozenset[str]
) -> dg.SensorDefinition:
    """Off until switched on in the UI (Automation): a first tick over a full landing folder launches a run per file."""

    @dg.sensor(
        name=LANDING_SENSOR,
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Launches the cycle's collection run (intake, quality gate, feedback; no publication) once for every new or changed file in landing/<cycle>/, tagged with"
        " the cycle, the member (when the file name or a JSON file's head says) and the file name.",
    )
    def landing_file_sensor(context: dg.SensorEvaluationContext, storage: PmmStorage):
        landing_root = storage.layout.data_dir / "landing"
        versions, seen = scan_landing(
            landing_root, cycle_ids, read_cursor(context.cursor), known_members, storage.intake_limits.max_file_bytes
        )
        context.update_cursor(write_cursor(seen))
        if not versions:
            return dg.SkipReason(f"no new or changed file in {landing_root}/<cycle>/")
        return [dg.RunRequest(run_key=v.run_key, partition_key=v.cycle, tags=v.tags) for v in versions]

    return landing_file_sensor
