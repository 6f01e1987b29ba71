"""The landing sensor: a new or changed file in landing/<cycle>/ launches one collection run of its
cycle per file version.

The cursor is JSON: for every cycle, every landing entry seen with its size, modification time
and SHA-256. An entry whose size and time are unchanged is not read again; one whose bytes are
unchanged (touched, copied over with the same content) launches nothing. Links, hard links,
folders, FIFOs and devices are fingerprinted without being opened or followed: the run records them
as rejected. A regular file is opened as the intake opens it (no link followed, never blocking,
checked to be the same regular file with one link once open) and read once, up to the size limit,
for both its hash and its member. Hidden and lock files (`.x`, `~$x.xlsx`) are uploads in progress
and are ignored until renamed. An entry that cannot be read now is tried again at the next tick;
it never stops the others.
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

from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.tags import CYCLE_TAG, MEMBER_TAG, SOURCE_FILE_TAG
from pmm_pipeline.stages.ingestion.landing import is_skipped
from pmm_pipeline.stages.ingestion.limits import display_name, file_name_member

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


def _open_flags() -> int:
    # No link followed; a FIFO or device swapped in after lstat opens at once instead of blocking;
    # no controlling terminal taken from a tty.
    return os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def read_landing_file(path: Path, listed: os.stat_result, limit: int) -> tuple[str, bytes] | None:
    """(fingerprint, first bytes) of a regular landing file, read once without following links.

    The fingerprint is the SHA-256 of the bytes, or `over-limit:<size>` past `limit` (never read
    further), or `hardlink:<n>` for a file with other names (the intake refuses those unread);
    None when the entry is not the regular file that was listed (replaced meanwhile), or cannot be
    read now: the next tick looks again.
    """
    try:
        fd = os.open(path, _open_flags())
    except OSError:
        return None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (listed.st_dev, listed.st_ino):
                return None
            if info.st_nlink > 1:
                return f"hardlink:{info.st_nlink}:{info.st_mtime_ns}", b""
            if info.st_size > limit:
                return f"over-limit:{info.st_size}", b""
            digest = hashlib.sha256()
            head = b""
            read = 0
            while block := handle.read(min(1 << 20, limit + 1 - read)):
                digest.update(block)
                if len(head) < MEMBER_SNIFF_BYTES:
                    head += block[: MEMBER_SNIFF_BYTES - len(head)]
                read += len(block)
                if read > limit:  # grew while read: as large as the limit says, whatever its size was
                    return f"over-limit:{read}", b""
        except OSError:
            return None
    return digest.hexdigest(), head


def _member_of(name: str, head: bytes, known_members: frozenset[str]) -> str | None:
    """The member a file is from, as a run tag: what a JSON file's head says, else what its name says."""
    if name.lower().endswith(".json"):
        match = JSON_MEMBER.search(head)
        member = match.group(1).decode() if match else None
        return member if member in known_members else None
    return file_name_member(name, known_members)


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
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue  # the folder cannot be listed now: the next tick tries again
        for path in entries:
            if is_skipped(path.name):
                continue
            name = display_name(path.name)
            try:
                info = path.lstat()
            except OSError:
                continue  # gone between listing and looking: the next tick sees what is there
            size, mtime = info.st_size, info.st_mtime_ns
            previous = before.get(name)
            head = b""
            if stat.S_ISREG(info.st_mode):
                if previous and previous[0] == size and previous[1] == mtime:
                    current[name] = previous
                    continue
                read = read_landing_file(path, info, max_bytes)
                if read is None:
                    continue  # not readable yet (permissions, a file being replaced): try again next tick
                fingerprint, head = read
            else:
                kind = "link" if stat.S_ISLNK(info.st_mode) else "folder" if stat.S_ISDIR(info.st_mode) else "special"
                fingerprint = f"{kind}:{mtime}"
            current[name] = [size, mtime, fingerprint]
            if previous and previous[2] == fingerprint:
                continue  # touched or rewritten with the same bytes: nothing new to take in
            versions.append(FileVersion(cycle, name, fingerprint, _member_of(path.name, head, known_members)))
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
        description="Launches the cycle's collection run (intake, quality gate, feedback; no publication) once for"
        " every new or changed file in landing/<cycle>/, tagged with"
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
