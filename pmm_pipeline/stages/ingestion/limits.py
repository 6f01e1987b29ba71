"""Hardening of intake: limits on what a received file may be, checked before any parser sees its bytes.

A member's file may be hostile or merely broken; neither may crash a run, use memory without
bound or slow it without bound. Everything here is cheap and runs first: the file name, the
container (an Office file is a zip; an encrypted or legacy one is an OLE compound file), the
declared sizes and compression ratios in the zip directory, macros, external links and XML
document type declarations (the door to entity expansion attacks).
"""

import io
import re
import unicodedata
import zipfile
from pathlib import PurePosixPath

from pmm_pipeline.core.settings import DEFAULT_LIMITS, MIB, IntakeLimits
from pmm_pipeline.stages.ingestion.submission import Problem, RejectedFile

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # compound file: encrypted OOXML or legacy .xls
# The stream names of an encrypted OOXML package, as UTF-16LE directory entries of the OLE file.
ENCRYPTION_STREAMS = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
MACRO_SUFFIXES = (".xlsm", ".xltm", ".xlsb", ".xlam")
# A DTD is how entity expansion ("billion laughs") and external entities get in; no sane workbook has one.
DTD_MARKERS = tuple(
    marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY") for encoding in ("ascii", "utf-16-le", "utf-16-be")
)
SCAN_CHUNK = 256 * 1024


RATIO_FLOOR_BYTES = MIB  # small parts compress well and are harmless whatever their ratio


def display_name(file_name: str) -> str:
    """The file name with control and undecodable characters escaped: safe in logs, tables and reports."""
    escaped = []
    for char in file_name:
        if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
            escaped.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            escaped.append(char.encode("unicode_escape").decode("ascii"))
        else:
            escaped.append(char)
    return "".join(escaped)


def check_file_name(file_name: str, limits: IntakeLimits = DEFAULT_LIMITS) -> Problem | None:
    """A problem for names that hide what a file is or could escape a folder downstream, else None."""
    shown = display_name(file_name)
    if len(file_name) > limits.max_file_name_length:
        return Problem(
            "bad_file_name",
            f"the file name has {len(file_name)} characters, over the limit of {limits.max_file_name_length}",
        )
    if shown != file_name:
        # Control characters (e.g. a right-to-left override making 'xlsx.exe' look like 'exe.xlsx'),
        # line breaks that forge log lines, or bytes that are not UTF-8.
        return Problem("bad_file_name", f"the file name {shown!r} holds control or undecodable characters")
    if ".." in file_name or "/" in file_name or "\\" in file_name or file_name != file_name.strip():
        return Problem(
            "bad_file_name",
            f"the file name {shown!r} holds '..', a path separator or leading/trailing spaces; rename it",
        )
    return None


def file_name_member(file_name: str, known_members: frozenset[str]) -> str | None:
    """The member code a file name starts with (`KEN_2023_v2.xlsx` -> KEN), if it is a known member."""
    match = re.match(r"([A-Za-z]{3})(?:[_\-. ]|$)", file_name)
    if match and match.group(1).upper() in known_members:
        return match.group(1).upper()
    return None


def _entry_has_dtd(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    overlap = max(len(m) for m in DTD_MARKERS)
    tail = b""
    with archive.open(info) as stream:
        while chunk := stream.read(SCAN_CHUNK):
            window = tail + chunk
            if any(marker in window for marker in DTD_MARKERS):
                return True
            tail = window[-overlap:]
    return False


def check_office_container(data: bytes, limits: IntakeLimits = DEFAULT_LIMITS) -> zipfile.ZipFile:
    """Open an .xlsx file's zip after checking it is safe to parse; raises RejectedFile otherwise.

    Every check reads the zip's central directory or streams a part through a bounded buffer;
    Python's zipfile never inflates a part beyond its declared size, so checking the declared
    sizes bounds the memory any later parser can use.
    """
    if data.startswith(OLE_SIGNATURE):
        if any(name in data for name in ENCRYPTION_STREAMS):
            raise RejectedFile(
                "encrypted_workbook",
                "the workbook is protected by a password (encrypted); save it again without a password to open",
            )
        raise RejectedFile(
            "unsupported_format", "this is an old-style Excel (.xls) or other OLE file; save it as .xlsx"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as err:
        raise RejectedFile("corrupt_workbook", f"is not a readable .xlsx workbook (not a valid zip: {err})") from None
    if len(entries) > limits.max_zip_entries:
        raise RejectedFile(
            "zip_bomb", f"the workbook holds {len(entries)} parts, over the limit of {limits.max_zip_entries}"
        )
    total = sum(e.file_size for e in entries)
    if total > limits.max_uncompressed_bytes:
        raise RejectedFile(
            "zip_bomb",
            f"the workbook would expand to {total} bytes, over the limit of {limits.max_uncompressed_bytes}",
        )
    for entry in entries:
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > RATIO_FLOOR_BYTES and ratio > limits.max_compression_ratio:
            raise RejectedFile(
                "zip_bomb",
                f"part {entry.filename} is compressed {ratio:.0f} times, over the limit of"
                f" {limits.max_compression_ratio}",
            )
        if entry.flag_bits & 0x1:
            raise RejectedFile("encrypted_workbook", f"part {entry.filename} is encrypted")
    names = {PurePosixPath(e.filename.lower()) for e in entries}
    if any(n.name in ("vbaproject.bin", "vbaprojectsignature.bin") for n in names):
        raise RejectedFile(
            "macro_enabled", "the workbook contains macros (VBA); save it as a plain .xlsx workbook without macros"
        )
    if any(str(n).startswith("xl/externallinks/") for n in names):
        raise RejectedFile(
            "external_links",
            "the workbook links to other workbooks; replace the links by their values (Data > Edit links > Break link)",
        )
    sheets = [n for n in names if str(n).startswith(("xl/worksheets/", "xl/chartsheets/")) and n.suffix == ".xml"]
    if len(sheets) > limits.max_sheets:
        raise RejectedFile(
            "too_many_sheets", f"the workbook has {len(sheets)} sheets, over the limit of {limits.max_sheets}"
        )
    for entry in entries:
        if entry.filename.lower().endswith((".xml", ".rels", ".vml")):
            try:
                if _entry_has_dtd(archive, entry):
                    raise RejectedFile(
                        "xml_entities",
                        f"part {entry.filename} declares a document type or entities, which workbooks never need",
                    )
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as err:
                raise RejectedFile("corrupt_workbook", f"part {entry.filename} cannot be read: {err}") from None
    return archive


def check_macro_suffix(file_name: str) -> Problem | None:
    if file_name.lower().endswith(MACRO_SUFFIXES):
        return Problem(
            "macro_enabled",
            f"{PurePosixPath(file_name).suffix} workbooks may carry macros and are not read; save as .xlsx",
        )
    return None
