"""Writing files and folders so that no reader ever sees half of one: under a hidden name, then renamed.

A folder (a tier's release, the members' feedback) is built beside its place as
`.<name>.building-<token>` and switched in by `switch_folder_in`; `recover_folder` cleans up after a
process killed in between. Callers hold a lock that excludes other writers of the same folder, so
whatever `recover_folder` finds half-done belongs to a dead process.
"""

import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, data: bytes, check_written: Callable[[Path], None] | None = None) -> None:
    """Replace `path` with `data` in one rename; the temporary name starts with a dot, which intake skips.

    `check_written`, when given, is called with the temporary file once it is on disk and may raise to
    stop the rename (the archive hashes what the disk holds before giving it its name).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            # On disk before the rename: after a power loss the name must not point at empty bytes
            # (an archived file is written once and never again).
            handle.flush()
            os.fsync(handle.fileno())
        if check_written is not None:
            check_written(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def append_durably(path: Path, data: bytes) -> None:
    """Append `data` to `path` and flush it to disk before returning (an append-only log that must survive a crash).

    A last line cut short by a crash (no final newline) is ended first, so the new record starts on a
    line of its own and the torn one stays recognisable as torn.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":
                    data = b"\n" + data
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable (where the file system allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def building_folder(target: Path, token: str) -> Path:
    """The hidden folder beside `target` where its next version is built (`token`: e.g. the run id)."""
    return target.parent / f".{target.name}.building-{token}"


def exchange_folders(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS):  # file system or kernel without the flag
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


def switch_folder_in(building: Path, target: Path) -> None:
    """Replace `target` by `building` in one step: readers and a killed process see the old or the new folder.

    Where folders cannot be exchanged atomically, the old folder is renamed aside first; a process
    killed between the two renames leaves it there, and recover_folder() puts it back.
    """
    token = building.name.rsplit("-", 1)[-1]
    retired = target.parent / f".{target.name}.retired-{token}"
    if target.exists() and exchange_folders(building, target):
        shutil.rmtree(building)  # now holds the old folder
        return
    if target.exists():
        os.replace(target, retired)
    os.replace(building, target)
    if retired.exists():
        shutil.rmtree(retired)


def recover_folder(target: Path) -> None:
    """Clean up after a process killed while switching: put back a folder left aside, drop half-built ones."""
    parent = target.parent
    if not parent.exists():
        return
    retired = sorted(parent.glob(f".{target.name}.retired-*"))
    if retired and not target.exists():
        os.replace(retired[-1], target)
        retired = retired[:-1]
    for leftover in [*retired, *parent.glob(f".{target.name}.building-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
