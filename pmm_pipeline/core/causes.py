"""What an exception's chain says about its cause: a full disk, a corrupt DuckDB file; named with what to do."""

import re
from collections.abc import Iterator
from pathlib import Path

from pmm_pipeline.core.errors import DISK_FULL_ERRNOS, CorruptWarehouseError, DiskFullError
from pmm_pipeline.core.text import one_line

DISK_FULL_TEXTS = ("no space left on device", "disk quota exceeded", "file too large", "not enough space on the disk")
# DuckDB's words for a database file it cannot trust (seen with duckdb 2.0: random bytes, a
# truncated file, a flipped block, a WAL that does not replay).
CORRUPT_DUCKDB_TEXTS = (
    "not a valid duckdb database file",
    "corrupt database file",
    "could not read enough bytes from file",
    "does not match stored checksum",
    "replaying wal",
    "failed to deserialize",
)
_QUOTED_PATH = re.compile(r'"(/[^"]+)"')


def cause_chain(err: BaseException) -> Iterator[BaseException]:
    """The exception and the ones it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)


def is_duckdb_error(err: BaseException) -> bool:
    return type(err).__module__.split(".")[0] in ("duckdb", "_duckdb")


def path_in(err: BaseException) -> str | None:
    filename = getattr(err, "filename", None)
    if filename:
        return str(filename)
    match = _QUOTED_PATH.search(str(err))
    return match.group(1) if match else None


def disk_full_error(err: BaseException, what: str = "") -> DiskFullError | None:
    """A DiskFullError naming the file (or `what` was written), if `err` or its cause is a write on a full disk."""
    for cause in cause_chain(err):
        if isinstance(cause, DiskFullError):
            return cause
        full = isinstance(cause, OSError) and cause.errno in DISK_FULL_ERRNOS
        full = full or any(text in str(cause).lower() for text in DISK_FULL_TEXTS)
        if full:
            path = path_in(cause)
            where = f"writing {what or path or 'a file'}"
            folder = str(Path(path).parent) if path else "PMM_DATA_DIR"
            return DiskFullError(
                f"disk full while {where} ({one_line(str(cause), 300)}): free space on that disk (df -h {folder})"
                " or move PMM_DATA_DIR to a larger one, then run `pmm run` again"
            )
    return None


def corrupt_warehouse_error(path: Path | str, err: BaseException) -> CorruptWarehouseError:
    """The one message for a warehouse file DuckDB cannot read: what is wrong, and the two ways out."""
    return CorruptWarehouseError(
        f"the warehouse {path} is corrupt ({one_line(str(err), 300)}): restore it from a backup, or move it"
        f" aside (mv {path} {path}.corrupt, and its .wal file if any) so that the next run rebuilds it from the"
        " archive"
    )


def is_corrupt_duckdb(err: BaseException) -> bool:
    return any(is_duckdb_error(c) and any(t in str(c).lower() for t in CORRUPT_DUCKDB_TEXTS) for c in cause_chain(err))
