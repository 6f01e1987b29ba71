"""The release audit compares published cells column by column, exactly: one ulp off in any format is caught."""

import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from pmm_pipeline.stages.disclosure.audit import PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.cells import Precision, as_written, same_cell, same_cells
from pmm_pipeline.stages.publishing.excel import SIGNIFICANT_DIGITS, read_excel, write_excel
from pmm_pipeline.stages.publishing.formats import read_json, write_json
from pmm_pipeline.stages.publishing.readback import SDMX_READ_BACK, read_back_precision, read_table_file
from pmm_pipeline.stages.publishing.release import write_csv, write_parquet
from pmm_pipeline.stages.publishing.report import render_report
from pmm_pipeline.stages.publishing.report_read import read_report
from pmm_pipeline.stages.publishing.sdmx import read_sdmx_csv, write_sdmx_csv
from pmm_pipeline.warehouse.tables import PUBLISHED_ROLLUP_COLUMNS
from pmm_pipeline_tests.stages.publishing.report_inputs import context, tables

pytestmark = pytest.mark.unit

TRUE = 0.1 + 0.2  # 0.30000000000000004: 17 significant digits, so a workbook holds 0.3
OFF = math.nextafter(TRUE, 1.0)  # one ulp above


def _replace_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (path.name, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _replace_in_sheet(path: Path, old: str, new: str) -> None:
    """One cell's stored number changed inside the workbook's XML (a writer one ulp off)."""
    with zipfile.ZipFile(path) as archive:
        parts = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    sheet = "xl/worksheets/sheet2.xml"  # the kpi_values sheet, after About
    assert parts[sheet].count(old.encode()) == 1
    parts[sheet] = parts[sheet].replace(old.encode(), new.encode())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def _release_tables() -> dict[str, pd.DataFrame]:
    frames = tables()
    frames["kpi_values"].loc[0, "value"] = TRUE
    return frames


def _write(fmt: str, folder: Path, frames: dict[str, pd.DataFrame], off: bool) -> tuple[str, pd.DataFrame]:
    """The kpi_values table written in `fmt` and read back as the audit reads it; `off`: one cell one ulp off."""
    values = frames["kpi_values"]
    if fmt == "parquet":
        path = folder / "kpi_values.parquet"
        written = values.copy()
        if off:
            written.loc[0, "value"] = OFF
        write_parquet(written, path)
        return path.name, read_table_file(path)
    if fmt == "csv":
        path = folder / "kpi_values.csv"
        write_csv(values, path)
        if off:
            _replace_text(path, repr(TRUE), repr(OFF))
        return path.name, read_table_file(path)
    if fmt == "json":
        path = folder / "kpi_values.json"
        write_json(values, path, "kpi_values")
        if off:
            _replace_text(path, repr(TRUE), repr(OFF))
        return path.name, read_json(path)[1]
    if fmt == "sdmx":
        path = folder / "kpi_values.sdmx.csv"
        write_sdmx_csv(values, path, "kpi_values", 2022)
        if off:
            _replace_text(path, repr(TRUE), repr(OFF))
        return path.name, read_sdmx_csv(path)[1]
    if fmt == "report":
        path = folder / "report_en.html"
        path.write_text(render_report(frames, context("en"), ["kpi_values.csv"]), encoding="utf-8")
        if off:
            _replace_text(path, repr(TRUE), repr(OFF))
        read, amiss = read_report(path)
        assert amiss == []
        return f"{path.name}#kpi_values", read["kpi_values"]
    path = folder / "tables_en.xlsx"
    write_excel(frames, path, "en", "2023", "public", {})
    held = as_written(TRUE, SIGNIFICANT_DIGITS)
    assert held == 0.3
    if off:
        _replace_in_sheet(path, f"<v>{held!r}</v>", f"<v>{math.nextafter(held, 0.0)!r}</v>")
    return f"{path.name}#kpi_values", read_excel(path)["kpi_values"]


def _audit(tmp_path: Path, fmt: str, off: bool, frames: dict[str, pd.DataFrame]) -> list[tuple[str, str, str]]:
    folder = tmp_path / f"{fmt}-{off}"
    folder.mkdir()
    name, frame = _write(fmt, folder, frames, off)
    table = PublishedTable("public", name, "kpi_values", frame, read_back_precision([name]))
    findings = audit_tiers([table], [], frames["kpi_values"], pd.DataFrame(columns=PUBLISHED_ROLLUP_COLUMNS), 3)
    return [(f.member_code, f.kpi_id, f.problem) for f in findings]


VALUE_DIFFERS = [("KEN", "electronic_declaration_rate", "value differs from the computed value")]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "report", "xlsx"])
def test_a_cell_one_ulp_off_in_any_format_is_a_finding_and_the_exact_file_none(tmp_path: Path, fmt: str):
    frames = _release_tables()
    assert _audit(tmp_path, fmt, False, frames) == []
    assert _audit(tmp_path, fmt, True, frames) == VALUE_DIFFERS


def test_sdmx_csv_is_held_to_the_tolerance_its_reader_needs(tmp_path: Path):
    """pysdmx reads a number column without an empty cell through pandas' default parser: 0.30000000000000004
    comes back one ulp off, so SDMX-CSV files alone keep the relative tolerance of 1e-12."""
    frames = _release_tables()
    assert _audit(tmp_path, "sdmx", False, frames) == []
    assert read_back_precision(["kpi_values.sdmx.csv"]) == SDMX_READ_BACK == Precision(rtol=1e-12)
    frames_off = _release_tables()
    frames_off["kpi_values"].loc[0, "value"] = TRUE * (1 + 1e-9)  # a written figure off in its ninth digit
    folder = tmp_path / "sdmx-far"
    folder.mkdir()
    name, frame = _write("sdmx", folder, frames_off, False)
    table = PublishedTable("public", name, "kpi_values", frame, read_back_precision([name]))
    findings = audit_tiers([table], [], frames["kpi_values"], pd.DataFrame(columns=PUBLISHED_ROLLUP_COLUMNS), 3)
    assert [(f.member_code, f.kpi_id, f.problem) for f in findings] == VALUE_DIFFERS


def test_the_column_comparison_is_the_one_cell_rule_for_every_kind_of_cell():
    cells = [None, pd.NA, np.nan, "", "a", "2023", 2023, 2023.0, True, 0.0, -0.0, TRUE, OFF, 0.3, math.inf, -math.inf]
    cells += [np.float64(TRUE), np.int64(2023)]
    pairs = [(p, t) for p in cells for t in cells]
    published = pd.Series([p for p, _ in pairs], dtype=object)
    true = pd.Series([t for _, t in pairs], dtype=object)
    precisions = [Precision(), Precision(digits=SIGNIFICANT_DIGITS), Precision(rtol=1e-12)]
    for precision in precisions:
        expected = [same_cell(p, t, precision) for p, t in pairs]
        assert same_cells(published, true, precision).tolist() == expected
    # Columns of one plain type take numpy's path; it must say what the one-cell rule says.
    numbers = [np.nan, 0.0, -0.0, TRUE, OFF, 0.3, math.inf, -math.inf, 1e308]
    grid = [(p, t) for p in numbers for t in numbers]
    for precision in precisions:
        shown = pd.Series([p for p, _ in grid], dtype="float64")
        truth = pd.Series([t for _, t in grid], dtype="float64")
        assert same_cells(shown, truth, precision).tolist() == [same_cell(p, t, precision) for p, t in grid]
    texts = [None, "", "a", "b", np.nan]
    text_grid = [(p, t) for p in texts for t in texts]
    shown = pd.Series([p for p, _ in text_grid], dtype=object)
    truth = pd.Series([t for _, t in text_grid], dtype=object)
    assert same_cells(shown, truth).tolist() == [same_cell(p, t) for p, t in text_grid]
    assert same_cell(OFF, TRUE) is False and same_cell(0.3, TRUE, Precision(digits=SIGNIFICANT_DIGITS)) is True
    assert same_cell(OFF, TRUE, Precision(rtol=1e-12)) is True


def test_a_workbook_reads_back_with_calamine_as_openpyxl_reads_it(tmp_path: Path):
    """Numbers to the bit of the 16 digits stored, an empty text apart from an empty cell, text as written."""
    frames = _release_tables()
    values = frames["kpi_values"]
    values["value"] = values["value"].astype(object)
    values.loc[1, "value"] = None
    values.loc[1, "series"] = ""  # an empty text where a code is expected: it must not read back as no cell
    values.loc[2, "flags"] = "'=cmd;a\rb_x000D_"
    path = tmp_path / "tables_en.xlsx"
    write_excel(frames, path, "en", "2023", "public", {})
    back = read_excel(path)["kpi_values"]
    assert back["series"].tolist() == ["total", "", "import"]
    assert back["flags"].tolist() == ["", "", "'=cmd;a\rb_x000D_"]
    assert back["value"].iloc[0] == 0.3 and math.isnan(back["value"].iloc[1])
    sheet = load_workbook(path, read_only=True)["KPI values"]
    stored = [row[6] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert [float(v) if v is not None else None for v in stored] == [0.3, None, 25.0]
    assert back["value"].iloc[2] == 25.0 and back["reporting_year"].tolist() == [2022, 2022, 2022]
