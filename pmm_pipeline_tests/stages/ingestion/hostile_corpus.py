"""The corpus of malformed and hostile files the intake tests are run on, made here: `build_corpus` writes it into
a landing folder and says what the intake must make of each file (accepted, or the reason of its quarantine), with
the small intake limits (`LIMITS`) it is judged by, the valid submission (`DOCUMENT`) its JSON files start from, and
the makers of its hostile parts (zip bombs, entity bombs, edited workbooks). Used by test_hostile_files.py and
pmm_pipeline_tests/app/test_self_check.py.
"""

import copy
import io
import json
import os
import re
import struct
import zipfile
from pathlib import Path

import openpyxl

from pmm_pipeline.core.settings import IntakeLimits
from pmm_pipeline.stages.ingestion.limits import display_name
from pmm_pipeline.stages.questionnaire.layout import stamp_checksum
from pmm_pipeline.stages.questionnaire.template import render_questionnaire

MB = 1024 * 1024
LIMITS = IntakeLimits(max_file_bytes=2 * MB)  # small enough to test "too large" cheaply; other limits default
DOCUMENT = {
    "format": "pmm-submission",
    "format_version": 1,
    "cycle": "2023",
    "submitted_at": "2024-01-31T10:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 1000},
        {"item": "declarations_electronic", "year": 2022, "value": 900},
    ],
    "disclosure": {"electronic_declaration_rate": "public"},
}
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"&lol%d;" % (i - 1) * 10 if i > 1 else b"&lol;" * 10) for i in range(1, 10)
    )
    + b"]>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def json_of(member: str, **changes) -> bytes:
    return json.dumps({**copy.deepcopy(DOCUMENT), "member": member, **changes}).encode()


def without_declaration(xml: bytes) -> bytes:
    return re.sub(rb"^<\?xml[^>]*\?>\s*", b"", xml)


def rezip(data: bytes, replace=None, add=None, drop=()) -> bytes:
    """A copy of a zip with some parts replaced, added or dropped."""
    replace, add = replace or {}, add or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            content = source.read(info)
            if info.filename in replace:
                content = replace[info.filename](content)
            target.writestr(info.filename, content)
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def edit_workbook(data: bytes, edit) -> bytes:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    edit(workbook)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def set_answer(workbook, item: str, value) -> None:
    for row in workbook.worksheets[1].iter_rows(min_row=5):
        if row[0].value == item:
            row[4].value = value


def fill(workbook) -> None:
    set_answer(workbook, "declarations_total", 1000)
    set_answer(workbook, "declarations_electronic", 900)


def zip_bomb(size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        target.writestr("[Content_Types].xml", b"<Types/>")
        target.writestr("xl/worksheets/sheet1.xml", b"\0" * size)
    return out.getvalue()


def lying_zip_bomb(size: int) -> bytes:
    """A part whose zip directory claims 1 KB but inflates to `size`: the sizes are checked, then the CRC."""
    data = bytearray(zip_bomb(size))
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        for match in re.finditer(re.escape(signature), data):
            start = match.start() + offset
            if struct.unpack("<I", data[start : start + 4])[0] == size:
                data[start : start + 4] = struct.pack("<I", 1024)
    return bytes(data)


def ole_file(stream_names: list[str]) -> bytes:
    body = b"".join(name.encode("utf-16-le") + b"\0\0" for name in stream_names)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + body.ljust(1024, b"\0")


def build_corpus(reference, catalogue, landing: Path) -> dict[str, str]:
    """Write the corpus into `landing`; returns file name -> expected outcome (`accepted` or the reason code)."""
    template = {m: render_questionnaire(catalogue, reference, "2023", m) for m in ("KEN", "FRA", "ARG", "UGA", "BRA")}
    filled_ken = edit_workbook(template["KEN"], fill)
    csv_header = "member,cycle,submitted_at,item,year,value,status,comment,kpi,disclosure"
    csv_line = "{m},2023,2024-01-31T10:00:00Z,declarations_total,2022,{v},,,,"
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (landing / name).write_bytes(data)
        expected[display_name(name)] = outcome  # what tables and reports show for names with control characters

    # Valid files next to the hostile ones, some typed the way people type (item 3 of the issue).
    put("KEN_2023.json", json_of("KEN"), "accepted")
    put(
        "FRA_2023.xlsx",
        edit_workbook(
            template["FRA"],
            lambda wb: (
                set_answer(wb, "declarations_total", " 1 000 "),
                set_answer(wb, "declarations_electronic", "900"),
                set_answer(wb, "import_value_total", "2.500.000,5"),
            ),
        ),
        "accepted",
    )
    put(
        "ARG_2023.csv",
        "\r\n".join(
            [
                csv_header.replace(",", ";"),
                "ARG;2023;2024-01-31T10:00:00Z;declarations_total;2022;1.234,5;;;;",
                "",
                "ARG;2023;2024-01-31T10:00:00Z;;;;;;aeo_count_variation;wco",
            ]
        ).encode("cp1252"),
        "accepted",
    )
    put(
        "GBR_2023.txt",
        "\n".join([csv_header, csv_line.format(m="GBR", v="12000")]).replace(",", "\t").encode("utf-16"),
        "accepted",
    )
    put(
        "SEN_2023.csv",
        (
            "\ufeff"
            + "\n".join(
                [
                    "Notes,comment ,VALUE,item,year,member,cycle,submitted_at,status",
                    'x,entered by hand,"1 234",declarations_total,2022,SEN ,2023,2024-01-31T10:00:00Z,',
                    ",,,,,,,,",
                ]
            )
        ).encode("utf-8"),
        "accepted",
    )
    put("MAR_2023.json", json_of("MAR", answers=[{"item": "aeo_count", "year": 2021, "value": 5}]), "accepted")

    # Hostile workbooks (item 4).
    put(
        "KEN_billion_laughs.xlsx",
        rezip(filled_ken, replace={"xl/workbook.xml": lambda c: BILLION_LAUGHS + without_declaration(c)}),
        "xml_entities",
    )
    put(
        "KEN_xxe.xlsx",
        rezip(filled_ken, replace={"xl/styles.xml": lambda c: XXE + without_declaration(c)}),
        "xml_entities",
    )
    put("KEN_xxe_utf16.xlsx", rezip(filled_ken, add={"xl/custom.xml": XXE.decode().encode("utf-16")}), "xml_entities")
    put("KEN_zip_bomb.xlsx", zip_bomb(64 * MB), "zip_bomb")
    put("KEN_zip_bomb_lying.xlsx", lying_zip_bomb(32 * MB), "corrupt_workbook")
    put("KEN_zip_many_parts.xlsx", rezip(filled_ken, add={f"xl/media/p{i}.bin": b"x" for i in range(1001)}), "zip_bomb")
    put("KEN_macros.xlsx", rezip(filled_ken, add={"xl/vbaProject.bin": b"\0" * 100}), "macro_enabled")
    put("KEN_2023.xlsm", edit_workbook(filled_ken, lambda wb: set_answer(wb, "aeo_count", 3)), "macro_enabled")
    put("KEN_encrypted.xlsx", ole_file(["Root Entry", "EncryptionInfo", "EncryptedPackage"]), "encrypted_workbook")
    put("KEN_legacy.xls", ole_file(["Root Entry", "Workbook"]), "unsupported_format")
    put("KEN_legacy_renamed.xlsx", ole_file(["Root Entry", "Workbook", "SummaryInformation"]), "unsupported_format")
    put(
        "KEN_external_links.xlsx",
        rezip(filled_ken, add={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
        "external_links",
    )
    put(
        "KEN_many_sheets.xlsx",
        edit_workbook(filled_ken, lambda wb: [wb.create_sheet(f"s{i}") for i in range(20)]),
        "too_many_sheets",
    )
    put(
        "KEN_far_rows.xlsx",
        edit_workbook(filled_ken, lambda wb: wb.worksheets[1].cell(10_005, 7, "x")),
        "too_many_rows",
    )
    put(
        "KEN_far_columns.xlsx",
        edit_workbook(filled_ken, lambda wb: wb.worksheets[1].cell(10, 60, "x")),
        "too_many_columns",
    )
    put("KEN_truncated.xlsx", filled_ken[: len(filled_ken) // 2], "corrupt_workbook")
    put("KEN_random.xlsx", os.urandom(5000), "corrupt_workbook")
    put("KEN_not_a_workbook.xlsx", rezip(filled_ken, drop={"xl/workbook.xml"}), "corrupt_workbook")
    put(
        "KEN_plain_workbook.xlsx",
        edit_workbook(template["KEN"], lambda wb: wb.remove(wb["_pmm"])),
        "not_a_questionnaire",
    )
    put(
        "KEN_formula.xlsx",
        edit_workbook(template["KEN"], lambda wb: set_answer(wb, "declarations_total", "=SUM(1,2)")),
        "formula_without_value",
    )
    put(
        "KEN_renamed_sheet.xlsx",
        edit_workbook(filled_ken, lambda wb: setattr(wb.worksheets[1], "title", "Mine")),
        "template_modified",
    )

    def restamp(member=None, digest=None):
        def edit(wb):
            sheet = wb["_pmm"]
            stamp = {row[0].value: row[1] for row in sheet.iter_rows(max_col=2)}
            if member:
                stamp["member"].value = member
            if digest:
                stamp["questionnaire_digest"].value = digest
                stamp["checksum"].value = stamp_checksum({k: c.value for k, c in stamp.items()})

        return edit

    put("UGA_2023.xlsx", edit_workbook(filled_ken, restamp(member="UGA")), "template_modified")
    put("KEN_outdated.xlsx", edit_workbook(filled_ken, restamp(digest="0" * 64)), "outdated_template")
    put("UGA_from_kenya.xlsx", filled_ken, "member_mismatch")
    cycle_2025 = edit_workbook(render_questionnaire(catalogue, reference, "2025", "BRA"), fill)
    put("BRA_2025_in_2023.xlsx", cycle_2025, "cycle_mismatch")

    # Hostile or broken text files and names.
    put("KEN_too_large.json", b" " * (LIMITS.max_file_bytes + 10) + json_of("KEN"), "file_too_large")
    put(
        "KEN_rows.csv",
        "\n".join([csv_header] + [csv_line.format(m="KEN", v=i) for i in range(10_001)]).encode(),
        "too_many_rows",
    )
    put("KEN_columns.csv", (csv_header + "," + ",".join(f"x{i}" for i in range(60))).encode(), "too_many_columns")
    put(
        "KEN_answers.json",
        json_of("KEN", answers=[{"item": "aeo_count", "year": 2022, "value": 1}] * 10_001),
        "too_many_rows",
    )
    put("KEN_binary.csv", b"\x00\x01\x02garbage" * 100, "bad_encoding")
    put("KEN_undecodable.csv", b"member,cycle\n\x81\x8d\x8f", "bad_encoding")
    put("KEN_missing_column.csv", b"member,cycle,item,value\nKEN,2023,aeo_count,1", "missing_column")
    put(
        "KEN_two_members.csv",
        "\n".join([csv_header, csv_line.format(m="KEN", v=1), csv_line.format(m="UGA", v=2)]).encode(),
        "inconsistent_rows",
    )
    put("KEN_ambiguous.csv", "\n".join([csv_header, csv_line.format(m="KEN", v="1.234")]).encode(), "ambiguous_number")
    put("KEN_empty.xlsx", b"", "empty_file")
    put("KEN_empty.csv", b"", "empty_file")
    put("KEN_report.pdf", b"%PDF-1.4", "unsupported_format")
    put("KEN_copy_of_json.json", json_of("KEN"), "duplicate_file")
    put("KEN..2023.json", json_of("KEN", submitted_at="2024-01-31T11:00:00Z"), "bad_file_name")
    put("KEN_\x1b[31m_red.json", json_of("KEN", submitted_at="2024-01-31T12:00:00Z"), "bad_file_name")
    put("KEN_\u202ejson.exe", b"MZ", "bad_file_name")
    put("KEN_" + "x" * 220 + ".json", json_of("KEN", submitted_at="2024-01-31T13:00:00Z"), "bad_file_name")
    raw_name = os.fsencode(landing) + b"/KEN_\xff\xfe.json"
    with open(raw_name, "wb") as handle:
        handle.write(json_of("KEN", submitted_at="2024-01-31T14:00:00Z"))
    expected["KEN_\\xff\\xfe.json"] = "bad_file_name"
    (landing / "KEN_link.json").symlink_to("/etc/passwd")
    expected["KEN_link.json"] = "not_a_regular_file"
    (landing / "KEN_folder").mkdir()
    expected["KEN_folder"] = "not_a_regular_file"
    os.mkfifo(landing / "KEN_pipe.json")
    expected["KEN_pipe.json"] = "not_a_regular_file"
    (landing / "~$KEN_2023.xlsx").write_bytes(b"lock")  # Excel's lock file: not a submission, ignored
    return expected
