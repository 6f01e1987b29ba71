"""Errors an operator reads in one line: what failed, which file or table, and what to do.

A `PermanentError` is one that running the step again cannot fix (a corrupt archive copy, a full
disk, a corrupt warehouse): the step is not retried, and `pmm run` prints the message as it is.
"""

import errno

# A write that failed for want of room: no retry and no other file can fare better.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class PmmError(Exception):
    """An error whose message names the failed thing and says what to do."""


class PermanentError(PmmError):
    """Retrying cannot help: the cause must be mended by a person first."""


class ArchiveIntegrityError(PermanentError):
    """An archived copy is missing or its bytes no longer hash to the SHA-256 it is stored under."""


class CorruptWarehouseError(PermanentError):
    """The warehouse file cannot be opened or read as a DuckDB database."""


class DiskFullError(PermanentError):
    """A write failed because the file system has no room left."""


class ReleaseRecordError(PermanentError):
    """A file of the record of earlier releases (published/<cycle>/record/) is unreadable or altered."""


def is_systemic(err: BaseException) -> bool:
    """True when the fault is the installation's, not one file's: a permanent error, a full or read-only disk.

    Intake takes files in one by one and rejects a file alone when taking it in fails; such a fault
    would reject every file in turn, so it stops the step instead, with its own message.
    """
    if isinstance(err, PermanentError):
        return True
    return isinstance(err, OSError) and (err.errno in DISK_FULL_ERRNOS or err.errno == errno.EROFS)
