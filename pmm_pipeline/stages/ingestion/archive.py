"""The content-addressed archive: copies written from the bytes that were hashed, and verified whenever read.

A copy is stored at `archive/<sha[:2]>/<sha256><suffix>` under the SHA-256 of the file's bytes. It is
written from the very bytes that were read (and hashed) from the landing entry's open descriptor,
never by reopening the file by name, and its hash is checked again on disk before it gets its
name. A file over the size limit is hashed in full but only a bounded record of it is kept:
`<sha256>.head` (its first `max_file_bytes` bytes) and `<sha256>.oversized.json` (its full size and
hash, and the head's hash), so a sparse 4 GiB file costs at most the limit on disk.

Whenever a copy is read back it is hashed again: a copy that is gone or whose bytes no longer hash
to its name raises `DamagedCopyError` (an ArchiveIntegrityError naming the file and both hashes);
callers keep the version on record as damaged instead of using or dropping it.
"""

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.errors import ArchiveIntegrityError
from pmm_pipeline.core.files import write_atomically

READ_BLOCK = 1 << 20
OVERSIZED_NOTE = ".oversized.json"
HEAD_SUFFIX = ".head"
ARCHIVE_CORRUPT = "archive_corrupt"
ARCHIVE_MISSING = "archive_missing"
_MAX_NOTE_BYTES = 64 * 1024  # a note is a few hundred bytes; more is not a note we wrote


def read_hashed(fd: int, keep: int) -> tuple[str, int, bytes]:
    """(SHA-256, size, first `keep` bytes) of what an open descriptor gives, read in blocks.

    One pass: a file over the size limit is hashed whole while only its head is held in memory, and
    what is hashed is exactly what is kept (the file is never read again by name).
    """
    digest, head, size = hashlib.sha256(), bytearray(), 0
    while block := os.read(fd, READ_BLOCK):
        digest.update(block)
        size += len(block)
        room = keep - len(head)
        if room > 0:
            head += block[:room]
    return digest.hexdigest(), size, bytes(head)


class DamagedCopyError(ArchiveIntegrityError):
    """An archived copy is gone (`found` None) or its bytes hash to `found` instead of `expected`."""

    def __init__(self, path: Path, expected: str, found: str | None, detail: str = ""):
        self.path = Path(path)
        self.expected = expected
        self.found = found
        self.state = ARCHIVE_MISSING if found is None else ARCHIVE_CORRUPT
        what = "is missing" if found is None else f"hashes to {found}, not to {expected}"
        super().__init__(
            f"archived copy {self.path} {what}{detail}; restore it from a backup, or have the member send the"
            " file again"
        )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_suffix(file_name: str) -> str:
    suffix = Path(file_name).suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else ""


def whole_copy_path(archive_dir: Path, digest: str, file_name: str) -> Path:
    return archive_dir / digest[:2] / f"{digest}{safe_suffix(file_name)}"


def oversized_note_path(archive_dir: Path, digest: str) -> Path:
    return archive_dir / digest[:2] / f"{digest}{OVERSIZED_NOTE}"


def locate_copy(archive_dir: Path, digest: str, file_name: str) -> Path:
    """Where a version's copy is: the whole file, or else the bounded record of an oversized one."""
    whole = whole_copy_path(archive_dir, digest, file_name)
    note = oversized_note_path(archive_dir, digest)
    return note if not whole.exists() and note.exists() else whole


class NotARegularCopyError(OSError):
    """What is at a copy's path is no regular file (a pipe, a device, a socket): it is never read."""


def _open_regular(path: Path) -> int:
    """A descriptor on the regular file at `path`, opened without blocking; raises OSError for anything else."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotARegularCopyError(errno.EINVAL, "not a regular file", str(path))
    return fd


def hash_file(path: Path, keep_up_to: int = -1) -> tuple[str, int, bytes | None]:
    """SHA-256 and size of a file read in blocks; its bytes too when it holds at most `keep_up_to`.

    Opened without blocking and checked to be a regular file before any read: a pipe or a device put
    where a copy should be (/dev/zero through a link) would otherwise hang the run or never end.
    """
    digest = hashlib.sha256()
    kept = bytearray()
    size = 0
    fd = _open_regular(path)
    try:
        while block := os.read(fd, READ_BLOCK):
            digest.update(block)
            size += len(block)
            if size <= keep_up_to:
                kept += block
    finally:
        os.close(fd)
    return digest.hexdigest(), size, bytes(kept) if size <= keep_up_to else None


def _matches(path: Path, digest: str) -> bool:
    try:
        return path.is_file() and hash_file(path)[0] == digest
    except OSError:
        return False


def write_verified(path: Path, data: bytes, digest: str) -> bool:
    """Put `data` at `path` unless a copy hashing to `digest` is there; returns True when a bad copy was replaced.

    The bytes are written under a hidden name, flushed to disk and hashed again from the disk before the
    rename: a name in the archive only ever points at bytes that hash to it.
    """
    if sha256_of(data) != digest:  # the caller's hash is not of these bytes: a bug, never stored
        raise ArchiveIntegrityError(f"refusing to archive {path}: the bytes do not hash to {digest}")
    existed = path.exists()
    if existed and _matches(path, digest):
        return False

    def check_written(written: Path) -> None:
        if not _matches(written, digest):
            raise ArchiveIntegrityError(f"the copy written for {path} does not hash to {digest}; check the disk")

    write_atomically(path, data, check_written)
    return existed


@dataclass(frozen=True)
class StoredCopy:
    path: Path  # the whole copy, or the oversized note
    repaired: bool = False  # a damaged copy of the same bytes was found and replaced from landing


def store_copy(head: bytes, digest: str, size: int, archive_dir: Path, file_name: str) -> StoredCopy:
    """Archive a file read as `head` and hashed as `digest`.

    `head` is all its bytes, or its first bytes when `size` is larger.
    """
    if size == len(head):
        path = whole_copy_path(archive_dir, digest, file_name)
        return StoredCopy(path, write_verified(path, head, digest))
    head_digest = sha256_of(head)
    head_path = archive_dir / digest[:2] / f"{digest}{HEAD_SUFFIX}"
    repaired = write_verified(head_path, head, head_digest)
    note = {
        "sha256": digest,
        "size_bytes": size,
        "stored_bytes": len(head),
        "head": head_path.name,
        "head_sha256": head_digest,
        "why": "the file is larger than PMM_MAX_FILE_BYTES: only its first bytes are kept",
    }
    data = json.dumps(note, indent=1, sort_keys=True).encode()
    note_path = oversized_note_path(archive_dir, digest)
    repaired = write_verified(note_path, data, sha256_of(data)) or repaired
    return StoredCopy(note_path, repaired)


def archive_bytes(data: bytes, archive_dir: Path, file_name: str) -> Path:
    """Store a whole file's bytes under their hash; an identical file is stored once."""
    return store_copy(data, sha256_of(data), len(data), archive_dir, file_name).path


@dataclass(frozen=True)
class ArchivedCopy:
    data: bytes | None  # the file's bytes; None when over `max_bytes` or only a bounded record is kept
    size: int


def _read_note(path: Path, digest: str) -> dict:
    try:
        with os.fdopen(_open_regular(path), "rb") as handle:
            raw = handle.read(_MAX_NOTE_BYTES + 1)
    except FileNotFoundError:
        raise DamagedCopyError(path, digest, None) from None
    except OSError as err:
        raise DamagedCopyError(path, digest, "unreadable", f" ({err.strerror})") from None
    try:
        note = json.loads(raw) if len(raw) <= _MAX_NOTE_BYTES else None
    except ValueError:
        note = None
    if not isinstance(note, dict) or note.get("sha256") != digest or not isinstance(note.get("size_bytes"), int):
        detail = " (it should be the note of an oversized file, as the archive writes it)"
        raise DamagedCopyError(path, digest, sha256_of(raw), detail)
    return note


def read_archived(path: Path, digest: str, max_bytes: int) -> ArchivedCopy:
    """Read back an archived copy, verified against `digest`; raises DamagedCopyError if gone or altered."""
    path = Path(path)
    if path.name.endswith(OVERSIZED_NOTE):
        note = _read_note(path, digest)
        head = path.parent / str(note.get("head", ""))
        try:
            found = hash_file(head)[0]
        except OSError:
            raise DamagedCopyError(head, str(note.get("head_sha256")), None) from None
        if found != note.get("head_sha256") or head.parent != path.parent:
            raise DamagedCopyError(head, str(note.get("head_sha256")), found)
        return ArchivedCopy(None, note["size_bytes"])
    try:
        found, size, data = hash_file(path, keep_up_to=max_bytes)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise DamagedCopyError(path, digest, None) from None
    except NotARegularCopyError:
        raise DamagedCopyError(
            path, digest, "not a regular file", " (a folder, pipe, device or socket is there)"
        ) from None
    if found != digest:
        raise DamagedCopyError(path, digest, found)
    return ArchivedCopy(data, size)
