"""The landing folder as the intake sees it: which entries count, in what order, and each opened safely.

An entry is read once through a descriptor opened without following links or blocking on pipes, and hashed
as it is read (stages/ingestion/archive.py's `read_hashed`): what is archived and read is what that descriptor
gave, never the file opened again by name.
"""

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.stages.ingestion.archive import read_hashed
from pmm_pipeline.stages.ingestion.limits import display_name


def is_skipped(name: str) -> bool:
    """Hidden files and Office lock files (`~$x.xlsx`): uploads in progress, never submissions."""
    return name.startswith((".", "~$"))


def landing_entries(landing_dir: Path) -> list[Path]:
    """Every entry of the landing folder in name order, except hidden and lock files."""
    if not landing_dir.is_dir():
        return []
    return sorted(p for p in landing_dir.iterdir() if not is_skipped(p.name))


@dataclass(frozen=True)
class Delivered:
    """A landing entry opened safely: its bytes (or its first bytes, when over the size limit) and their hash."""

    path: Path
    name: str  # display_name of the entry: what tables, logs and reports show
    sha256: str | None
    size: int
    data: bytes | None  # every byte of the file; None when over the size limit
    not_a_file: str | None = None  # what the entry is instead (a symbolic link, a folder, a hard link, ...)
    file_name: str = ""  # the name it was delivered under (readers look at its suffix)
    head: bytes = b""  # the bytes archived: all of them, or the first max_file_bytes of a larger file


def open_entry(path: Path, limits: IntakeLimits) -> Delivered:
    """Read a regular file through one descriptor, without following links or blocking on pipes.

    Everything the archive stores and everything read is what this descriptor gave, hashed as it was
    read: the file is never opened again by name, so a file swapped in meanwhile cannot be stored
    under another's hash. A file with several names (a hard link, perhaps to a file outside landing)
    is refused before any of its bytes is read.
    """
    name = display_name(path.name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError:
        kind = "a symbolic link" if path.is_symlink() else "not readable"
        return Delivered(path, name, None, 0, None, kind)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            return Delivered(path, name, None, 0, None, kind)
        if info.st_nlink > 1:
            kind = f"a hard link (the same file has {info.st_nlink} names, some perhaps outside the landing folder)"
            return Delivered(path, name, None, 0, None, kind)
        digest, size, head = read_hashed(fd, limits.max_file_bytes)
    finally:
        os.close(fd)
    data = head if size <= limits.max_file_bytes else None
    return Delivered(path, name, digest, size, data, head=head)


def arrival_order(paths: Iterable[Path]) -> list[Path]:
    """Oldest entries first (then by name): when a run cannot take every new file, the earliest go first."""

    def when(path: Path) -> int:
        try:
            return path.lstat().st_mtime_ns
        except OSError:
            return 0

    return sorted(paths, key=lambda p: (when(p), p.name))
