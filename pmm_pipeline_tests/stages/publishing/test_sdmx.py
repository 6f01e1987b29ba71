"""SDMX of a release: the direct SDMX-CSV writer gives pysdmx's bytes; structure.xml holds every code the data use.

Fixture facts (fixtures/cycle_2023): KEN, FRA, DEU and UGA have values; KEN's electronic declaration rate is
public; the public tier withholds statistics for min_group_size, hidden_member and differencing.
"""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from pmm_pipeline.stages.publishing import sdmx_check
from pmm_pipeline.stages.publishing.sdmx import (
    read_sdmx_csv,
    sdmx_name,
    write_sdmx_csv,
    write_sdmx_csv_with_pysdmx,
)
from pmm_pipeline.stages.publishing.sdmx_structure import STRUCTURE_FILE, StructureInputs, structure_message
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS
from pmm_pipeline_tests.stages.publishing.sdmx_inputs import TABLES, structure_inputs

pytestmark = pytest.mark.unit


def kpi_row(**changes) -> dict:
    row = {
        "cycle": "2023",
        "reporting_year": 2022,
        "member_code": "KEN",
        "kpi_id": "electronic_declaration_rate",
        "series": "total",
        "value": 95.0,
        "status": "reported",
        "disclosure": "public",
        "flags": "",
    }
    return row | changes


def rollup_row(**changes) -> dict:
    row = {
        "cycle": "2023",
        "kpi_id": "electronic_declaration_rate",
        "series": "total",
        "group_type": "region",
        "group_code": "ESA",
        "n_reporting": 3,
        "n_participating": 4,
        "mean": 1 / 3,
        "median": 2.0,
        "min": None,
        "max": None,
        "pooled": None,
        "suppressed": True,
        "suppression_reason": "min:hidden_member;max:hidden_member",
    }
    return row | changes


HOSTILE = [
    "a,b",
    'say "hi", twice',
    "line\nbreak",
    '=HYPERLINK("http://evil.example","x")',
    "+1",
    "'=already",
    "Côte d'Ivoire — 東京 ✓ \u00a0",
    " leading and trailing ",
    "",
    "#N/A",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_direct_writer_gives_pysdmx_writers_bytes_on_hostile_text(tmp_path: Path, text: str):
    values = pd.DataFrame(
        [kpi_row(flags=text), kpi_row(member_code="FRA", series=text, value=None, status="missing", flags=None)],
        columns=PUBLISHED_KPI_COLUMNS,
    )
    rollups = pd.DataFrame(
        [rollup_row(suppression_reason=text or None), rollup_row(group_code=text, mean=-1e308)],
        columns=PUBLISHED_ROLLUP_COLUMNS,
    )
    for table, frame in (("kpi_values", values), ("rollups", rollups)):
        write_sdmx_csv(frame, tmp_path / "direct.csv", table, 2022)
        write_sdmx_csv_with_pysdmx(frame, tmp_path / "pysdmx.csv", table, 2022)
        assert (tmp_path / "direct.csv").read_bytes() == (tmp_path / "pysdmx.csv").read_bytes(), (table, text)
    write_sdmx_csv(values, tmp_path / sdmx_name("kpi_values"), "kpi_values", 2022)
    assert read_sdmx_csv(tmp_path / sdmx_name("kpi_values"))[1]["flags"][0] == text  # pysdmx reads it back


def test_both_writers_refuse_a_carriage_return_and_agree_on_an_empty_table(tmp_path: Path):
    values = pd.DataFrame([kpi_row(flags="a\r\nb")], columns=PUBLISHED_KPI_COLUMNS)
    for writer in (write_sdmx_csv, write_sdmx_csv_with_pysdmx):
        with pytest.raises(ValueError, match="carriage return"):
            writer(values, tmp_path / "x.csv", "kpi_values", 2022)
    for table, columns in (("kpi_values", PUBLISHED_KPI_COLUMNS), ("rollups", PUBLISHED_ROLLUP_COLUMNS)):
        empty = pd.DataFrame(columns=columns)
        write_sdmx_csv(empty, tmp_path / sdmx_name(table), table, 2022)
        write_sdmx_csv_with_pysdmx(empty, tmp_path / "pysdmx.csv", table, 2022)
        assert (tmp_path / sdmx_name(table)).read_bytes() == (tmp_path / "pysdmx.csv").read_bytes()
        assert read_sdmx_csv(tmp_path / sdmx_name(table))[1].empty


def test_the_structure_is_written_from_the_reference_data_and_byte_stable():
    inputs = structure_inputs()
    first = structure_message(inputs)
    assert structure_message(inputs) == first
    root = etree.fromstring(first)
    members = root.xpath("//*[local-name()='Codelist'][@id='CL_PMM_MEMBER']/*[local-name()='Code']/@id")
    assert sorted(members) == sorted(inputs.members) and len(members) >= 180
    kpis = root.xpath("//*[local-name()='Codelist'][@id='CL_PMM_KPI']/*[local-name()='Code']/@id")
    assert sorted(kpis) == sorted(k.id for k in inputs.kpis)
    later = replace(inputs, members={c: m for c, m in inputs.members.items() if c != "KEN"})
    assert b'id="KEN"' in first and b'id="KEN"' not in structure_message(later)


def write_case(tmp_path: Path, inputs: StructureInputs) -> Path:
    """A tier-like folder: two SDMX-CSV files of hand-written rows and the structure of `inputs`."""
    tmp_path.mkdir(parents=True)
    values = pd.DataFrame([kpi_row(), kpi_row(member_code="FRA", value=None, status="missing")])
    rollups = pd.DataFrame([rollup_row(), rollup_row(group_code="EUR", suppression_reason="mean:differencing")])
    write_sdmx_csv(values, tmp_path / sdmx_name("kpi_values"), "kpi_values", 2022)
    write_sdmx_csv(rollups, tmp_path / sdmx_name("rollups"), "rollups", 2022)
    (tmp_path / STRUCTURE_FILE).write_bytes(structure_message(inputs))
    return tmp_path


def problems_of(folder: Path) -> list[str]:
    found = sdmx_check.structure_problems(folder / STRUCTURE_FILE)
    for table in TABLES:
        found += sdmx_check.data_problems(folder / sdmx_name(table), folder / STRUCTURE_FILE)
        found += sdmx_check.read_checked(folder / sdmx_name(table), folder / STRUCTURE_FILE)[2]
    return found


def test_a_code_missing_from_its_list_is_found(tmp_path: Path):
    inputs = structure_inputs()
    assert problems_of(write_case(tmp_path / "whole", inputs)) == []
    without_ken = replace(inputs, members={c: m for c, m in inputs.members.items() if c != "KEN"})
    found = problems_of(write_case(tmp_path / "member", without_ken))
    assert found == ["REF_AREA 'KEN' is not a code of CL_PMM_MEMBER"] * 2
    without_esa = replace(inputs, groups=[g for g in inputs.groups if g.group_code != "ESA"])
    assert "REF_AREA 'ESA' is not a code of CL_PMM_GROUP" in problems_of(write_case(tmp_path / "group", without_esa))
    without_kpi = replace(inputs, kpis=[k for k in inputs.kpis if k.id != "electronic_declaration_rate"])
    found = problems_of(write_case(tmp_path / "kpi", without_kpi))
    assert "KPI 'electronic_declaration_rate' is not a code of CL_PMM_KPI" in found


def test_a_withholding_reason_or_value_the_structure_does_not_allow_is_found(tmp_path: Path, monkeypatch):
    from pmm_pipeline.stages.publishing import sdmx_structure

    monkeypatch.setattr(sdmx_structure, "REASONS", tuple(r for r in sdmx_structure.REASONS if r != "differencing"))
    found = problems_of(write_case(tmp_path / "reason", structure_inputs()))
    assert "PMM_SUPPRESSION_REASON 'mean:differencing' does not follow its pattern" in found
    monkeypatch.undo()
    folder = write_case(tmp_path / "values", structure_inputs())
    path = folder / sdmx_name("kpi_values")
    text = path.read_text().replace(",95.0,A,", ",lots,A,").replace("FRA,2022,,O,", "FRA,2022,,A,")
    path.write_text(text)
    _table, frame, found = sdmx_check.read_checked(path, folder / STRUCTURE_FILE)
    assert frame is None and found[:2] == [
        "OBS_VALUE 'lots' is not a number",
        "1 empty OBS_VALUE(s) neither missing nor withheld",
    ]
    assert found[2].startswith("cannot be read back as kpi_values")
