"""SDMX of the fixture cycle's release: bytes of the direct writer, data parsed against structure.xml, the audit.

Fixture facts (fixtures/cycle_2023): KEN, FRA, DEU and UGA have values, DEU's in the wco tier only; the public
tier holds two member values and withholds statistics for min_group_size, hidden_member and differencing.
"""

import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest
from lxml import etree
from pysdmx.io import get_datasets, read_sdmx

from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing import sdmx_check
from pmm_pipeline.stages.publishing.readback import read_release_files
from pmm_pipeline.stages.publishing.release import sha256_file
from pmm_pipeline.stages.publishing.sdmx import COMPONENTS, sdmx_name, write_sdmx_csv, write_sdmx_csv_with_pysdmx
from pmm_pipeline.stages.publishing.sdmx_structure import STRUCTURE_FILE, structure_message
from pmm_pipeline_tests.stages.publishing.sdmx_inputs import TABLES, XML_LANG, structure_inputs

pytestmark = pytest.mark.cycle


@pytest.fixture(scope="module")
def released(fixture_cycle):
    settings, result = fixture_cycle
    assert result.success
    return {t: settings.layout.published_dir("2023") / t for t in TIERS}


# --- the direct writer ------------------------------------------------------------------------------------------
def test_the_direct_writer_gives_pysdmx_writers_bytes_for_every_table_of_the_fixture_cycle(released, tmp_path):
    for tier, folder in released.items():
        for table in TABLES:
            frame = pd.read_parquet(folder / f"{table}.parquet")
            assert len(frame) > 0 or tier == "public", (tier, table)
            write_sdmx_csv(frame, tmp_path / "direct.csv", table, 2022)
            write_sdmx_csv_with_pysdmx(frame, tmp_path / "pysdmx.csv", table, 2022)
            direct = (tmp_path / "direct.csv").read_bytes()
            assert direct == (tmp_path / "pysdmx.csv").read_bytes(), (tier, table)
            assert direct == (folder / sdmx_name(table)).read_bytes(), (tier, table)  # what the release holds


# --- the structure ----------------------------------------------------------------------------------------------
def test_every_tiers_sdmx_parses_against_its_structure_with_every_value_a_code(released):
    for tier, folder in released.items():
        structure = (folder / STRUCTURE_FILE).read_text(encoding="utf-8")
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["files"][STRUCTURE_FILE]["sha256"] == sha256_file(folder / STRUCTURE_FILE)
        message = read_sdmx(structure, validate=True)  # against the SDMX-ML 3.0 schemas
        assert {d.id for d in message.get_dataflows()} == {"PMM_KPI_VALUES", "PMM_ROLLUPS"}
        for table in TABLES:
            text = (folder / sdmx_name(table)).read_text(encoding="utf-8")
            if "\n" not in text.strip():
                continue  # no rows in this tier
            (dataset,) = get_datasets(text, structure)  # the data read with the structure, as an SDMX tool does
            data = dataset.data.astype(object).where(dataset.data.notna(), "").map(str)
            checked = 0
            for component in dataset.structure.components:
                column = data[component.id]
                if component.enumeration is not None:
                    codes = {c.id for c in component.enumeration.items}
                    assert set(column[column != ""]) <= codes, (tier, table, component.id)
                    checked += 1
            assert checked == sum(1 for c in COMPONENTS[table] if c.codelist), (tier, table)
            empty = data["OBS_VALUE"] == ""
            assert data.loc[~empty, "OBS_VALUE"].map(float).notna().all()
            assert (data.loc[~empty, "OBS_STATUS"] == "A").all(), (tier, table)
            withheld = data["CONF_STATUS"].isin({"A", "C", "S"})
            if table == "rollups":
                withheld |= data["PMM_SUPPRESSION_REASON"] != ""
            assert (data.loc[empty, "OBS_STATUS"].isin({"M", "O"}) | withheld[empty]).all(), (tier, table)
            assert sdmx_check.data_problems(folder / sdmx_name(table), folder / STRUCTURE_FILE) == []
    # Each tier's members' list names exactly the members its files name (a member it leaves out, nowhere).
    for tier, folder in released.items():
        root = etree.fromstring((folder / STRUCTURE_FILE).read_bytes())
        listed = set(root.xpath("//*[local-name()='Codelist'][@id='CL_PMM_MEMBER']/*[local-name()='Code']/@id"))
        named = set(pd.read_csv(folder / "kpi_values.csv", dtype=str, keep_default_na=False)["member_code"])
        assert listed == named, tier


def test_the_structure_names_codes_in_three_languages_from_the_catalogue_and_reference_data(released):
    root = etree.fromstring((released["public"] / STRUCTURE_FILE).read_bytes())

    def names(codelist: str, code: str) -> dict[str, str]:
        (element,) = root.xpath(f"//*[local-name()='Codelist'][@id='{codelist}']/*[local-name()='Code'][@id='{code}']")
        return {n.get(XML_LANG): n.text for n in element if etree.QName(n).localname == "Name"}

    assert names("CL_PMM_MEMBER", "KEN")["es"] == "Kenia"
    assert set(names("CL_PMM_MEMBER", "KEN")) == {"en", "fr", "es"}
    assert names("CL_PMM_KPI", "electronic_declaration_rate") == {
        "en": "Rate of electronic declarations",
        "fr": "Taux de déclarations électroniques",
        "es": "Tasa de declaraciones electrónicas",
    }
    assert names("CL_PMM_GROUP", "ESA")["es"] == "África Oriental y Austral"
    assert names("CL_PMM_SERIES", "fully_implemented")["en"].startswith("Fully implemented")
    assert names("CL_CONF_STATUS", "S")["fr"].startswith("Confidentialité secondaire")
    assert names("CL_PMM_WITHHOLDING_REASON", "min_group_size")["en"].startswith("fewer than 3 members")
    concept = root.xpath("//*[local-name()='Concept'][@id='OBS_STATUS']/*[local-name()='Name']")
    assert [n.get(XML_LANG) for n in concept] == ["en", "fr", "es"]


def test_the_release_audit_checks_the_sdmx_against_the_structure_beside_it(released, tmp_path):
    copy = tmp_path / "wco"
    shutil.copytree(released["wco"], copy)
    assert read_release_files(copy)[1] == []
    inputs = structure_inputs()
    (copy / STRUCTURE_FILE).write_bytes(
        structure_message(replace(inputs, members={c: m for c, m in inputs.members.items() if c != "DEU"}))
    )
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][STRUCTURE_FILE]["sha256"] = sha256_file(copy / STRUCTURE_FILE)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    problems = read_release_files(copy)[1]
    assert problems == [f"{copy / 'kpi_values.sdmx.csv'}: REF_AREA 'DEU' is not a code of CL_PMM_MEMBER"]
    (copy / STRUCTURE_FILE).write_text("<not sdmx/>")
    manifest["files"][STRUCTURE_FILE]["sha256"] = sha256_file(copy / STRUCTURE_FILE)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    problems = read_release_files(copy)[1]
    assert any(p.startswith(f"{copy / STRUCTURE_FILE}: not a readable SDMX structure message") for p in problems)
    assert any("kpi_values.sdmx.csv: cannot be checked against structure.xml" in p for p in problems)
