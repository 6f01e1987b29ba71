"""Uploads bounded while they stream and checked for type at the door; the intake does the deep checks.

Django's DATA_UPLOAD_MAX_MEMORY_SIZE and FILE_UPLOAD_MAX_MEMORY_SIZE do not bound a file's size: this handler counts
the bytes as they arrive and stops at PMM_MAX_FILE_BYTES, whatever the Content-Length said (or did not say).
"""

from pathlib import PurePosixPath

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler

# What the intake reads (stages/ingestion/reading.py READERS), as the contract lists: JSON, Excel questionnaire, CSV.
ACCEPTED_SUFFIXES = (".json", ".xlsx", ".csv")
ZIP_MAGIC = b"PK\x03\x04"
# Signatures of files that are none of the accepted kinds, whatever their name says.
FOREIGN_MAGIC = (
    b"MZ",
    b"%PDF",
    b"\x7fELF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\xd0\xcf\x11\xe0",
    b"\x1f\x8b",
    b"Rar!",
    b"7z\xbc\xaf",
)
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class FileTooLarge(Exception):
    """The streamed file passed PMM_MAX_FILE_BYTES: answered 413."""


class BoundedUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        self.received = 0
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.PMM_SETTINGS.intake_limits.max_file_bytes:
            raise FileTooLarge()
        return super().receive_data_chunk(raw_data, start)


def suffix_of(file_name: str) -> str:
    return PurePosixPath(file_name.replace("\\", "/")).suffix.lower()


def type_problem(file_name: str, head: bytes) -> str | None:
    """Why the file is not a kind the platform takes (its name's suffix, then its first bytes), or None."""
    suffix = suffix_of(file_name)
    if suffix not in ACCEPTED_SUFFIXES:
        return f"a {suffix or 'nameless'} file is not taken: send the questionnaire (.xlsx), a .json or a .csv file"
    if suffix == ".xlsx":
        if not head.startswith(ZIP_MAGIC):
            return "the file is named .xlsx but is not an Excel workbook"
        return None
    if head.startswith(ZIP_MAGIC) or head.startswith(FOREIGN_MAGIC):
        return f"the file is named {suffix} but its content is a binary file"
    if b"\x00" in head[:4096] and not head.startswith(UTF16_BOMS):
        return f"the file is named {suffix} but its content is not text"
    return None
