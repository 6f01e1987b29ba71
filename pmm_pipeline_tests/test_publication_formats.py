"""Every reader format of every tier read back and compared with the tier's warehouse tables; SDMX codes; injection.

Fixture facts (fixtures/cycle_2023, see test_disclosure_tiers.py): electronic_declaration_rate is KEN 95 and
FRA 100 public, DEU 75 wco, UGA undefined (secretariat); in the public tier the global mean is withheld
for differencing and the global min (DEU's) as a hidden member's value; EUR has 2 members (min_group_size).
"""

import json
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from pysdmx.io import read_sdmx

from pmm_pipeline.publishing.disclosure import TIERS
from pmm_pipeline.publishing.formats import (
    LANGUAGES,
    KpiLabels,
    read_excel,
    read_sdmx_csv,
    write_excel,
    write_json,
    write_sdmx_csv,
)
from pmm_pipeline.publishing.release import read_release_files, read_table_file, table_kind, write_csv
from pmm_pipeline.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

COLUMNS = {"kpi_values": PUBLISHED_KPI_COLUMNS, "rollups": PUBLISHED_ROLLUP_COLUMNS}
KEYS = {"kpi_values": ["kpi_id", "series", "member_code"], "rollups": ["kpi_id", "series", "group_type", "group_code"]}
READER_FILES = {
    "kpi_values.csv", "kpi_values.parquet", "kpi_values.json", "kpi_values.sdmx.csv",
    "rollups.csv", "rollups.parquet", "rollups.json", "rollups.sdmx.csv",
    "report.html#kpi_values", "report.html#rollups",
    *(f"tables_{lang}.xlsx#{t}" for lang in LANGUAGES for t in ("kpi_values", "rollups")),
}


def warehouse_table(settings, tier: str, table: str) -> pd.DataFrame:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(f"SELECT * FROM publish_{tier}.{table} WHERE cycle = '2023'").df()


def normalized(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Same rows in the same order, NULL as None, numbers as floats: what both sides must agree on."""
    frame = frame[COLUMNS[table]].sort_values(KEYS[table]).reset_index(drop=True).astype(object)
    frame = frame.where(frame.notna(), None)
    if "flags" in frame:
        frame["flags"] = frame["flags"].map(lambda v: v or "")  # an empty CSV cell and "" are both "no flags"
    for column in ("value", "mean", "median", "min", "max", "pooled", "n_reporting", "n_participating",
                   "reporting_year"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: None if v is None else float(v))
    if "suppressed" in frame:
        frame["suppressed"] = frame["suppressed"].map(bool)
    return frame


@pytest.fixture(scope="module")
def released(fixture_cycle):
    settings, result = fixture_cycle
    assert result.success
    return settings, {t: settings.layout.published_dir("2023") / t for t in TIERS}


@pytest.mark.parametrize("tier", TIERS)
def test_every_format_reads_back_as_the_tiers_warehouse_tables(released, tier):
    settings, folders = released
    frames, problems = read_release_files(folders[tier])
    assert problems == []
    assert set(frames) == READER_FILES
    for name, frame in frames.items():
        table = table_kind(name)
        expected = normalized(warehouse_table(settings, tier, table), table)
        pd.testing.assert_frame_equal(normalized(frame, table), expected, obj=f"{tier}/{name}")


def test_manifest_lists_every_file_with_its_hash(released):
    _, folders = released
    manifest = json.loads((folders["public"] / "manifest.json").read_text())
    on_disk = {p.name for p in folders["public"].iterdir()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    assert {"changes.json", "report.html", "tables_fr.xlsx", "kpi_values.sdmx.csv"} <= on_disk


def test_sdmx_csv_passes_pysdmx_parsing_with_status_and_confidentiality_codes(released):
    _, folders = released
    for tier in TIERS:
        for table in ("kpi_values", "rollups"):
            message = read_sdmx((folders[tier] / f"{table}.sdmx.csv").read_text())  # the library's own reader
            assert len(message.data) == 1 and message.data[0].short_urn == f"Dataflow=WCO:PMM_{table.upper()}(1.0)"
    obs = read_sdmx((folders["public"] / "kpi_values.sdmx.csv").read_text()).data[0].data
    ken = obs[(obs.REF_AREA == "KEN") & (obs.KPI == "electronic_declaration_rate")].iloc[0]
    assert (float(ken.OBS_VALUE), ken.OBS_STATUS, ken.CONF_STATUS, ken.TIME_PERIOD) == (95.0, "A", "F", "2022")
    assert "DEU" not in set(obs.REF_AREA)  # wco only
    wco = read_sdmx((folders["wco"] / "kpi_values.sdmx.csv").read_text()).data[0].data
    deu = wco[(wco.REF_AREA == "DEU") & (wco.KPI == "electronic_declaration_rate")].iloc[0]
    assert (deu.OBS_STATUS, deu.CONF_STATUS) == ("A", "N")
    secretariat = read_sdmx((folders["secretariat"] / "kpi_values.sdmx.csv").read_text()).data[0].data
    uga = secretariat[(secretariat.REF_AREA == "UGA") & (secretariat.KPI == "electronic_declaration_rate")].iloc[0]
    assert (uga.OBS_VALUE in ("", None) or pd.isna(uga.OBS_VALUE), uga.OBS_STATUS, uga.CONF_STATUS) == (True, "M", "C")

    rollups = read_sdmx((folders["public"] / "rollups.sdmx.csv").read_text()).data[0].data
    glob = rollups[(rollups.KPI == "electronic_declaration_rate") & (rollups.GROUP_TYPE == "global")]
    by_stat = {r.STATISTIC: (r.OBS_VALUE or None, r.OBS_STATUS, r.CONF_STATUS) for r in glob.itertuples()}
    assert by_stat["MEDIAN"] == ("95.0", "A", "F")
    assert by_stat["MIN"] == (None, "A", "C")  # hidden_member: primary confidentiality
    assert by_stat["MEAN"] == (None, "A", "S")  # differencing: secondary confidentiality
    eur = rollups[(rollups.KPI == "electronic_declaration_rate") & (rollups.REF_AREA == "EUR")
                  & (rollups.STATISTIC == "MEAN")].iloc[0]
    assert (eur.CONF_STATUS, eur.N_REPORTING, eur.N_PARTICIPATING) == ("A", "2", "2")  # small count


def test_excel_workbooks_keep_numbers_as_numbers_in_three_languages(released):
    _, folders = released
    headers = {"en": "Value", "fr": "Valeur", "es": "Valor"}
    sheets = {"en": "KPI values", "fr": "Valeurs des ICP", "es": "Valores de los ICD"}
    names = {"en": "Rate of electronic declarations"}
    for lang in LANGUAGES:
        workbook = openpyxl.load_workbook(folders["public"] / f"tables_{lang}.xlsx")
        sheet = workbook[sheets[lang]]
        header = [c.value for c in sheet[1]]
        assert headers[lang] in header
        rows = [dict(zip(header, (c for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
        ken = next(r for r in rows if r[header[2]].value == "KEN" and r[header[3]].value == "electronic_declaration_rate")
        cell = ken[headers[lang]]
        assert cell.data_type == "n" and cell.value == 95.0 and cell.number_format == "#,##0.0"
        if lang in names:
            assert ken["KPI"].value == names[lang]
        assert len(workbook.sheetnames) == 3  # about, values, group statistics
        about = " ".join(str(c.value) for c in workbook[workbook.sheetnames[0]]["A"])
        assert "not_applicable" in about and "%" in about


def test_pmm_trace_prints_the_chain_down_to_the_place_in_the_file(released, monkeypatch, capsys):
    import hashlib

    from pmm_pipeline.cli import main
    from pmm_pipeline_tests.conftest import FIXTURES

    settings, _ = released
    monkeypatch.setenv("PMM_DATA_DIR", str(settings.data_dir))
    assert main(["trace", "--cycle", "2023", "--member", "KEN", "--kpi", "aeo_count_variation"]) == 0
    out = capsys.readouterr().out
    sha = hashlib.sha256((FIXTURES / "cycle_2023" / "landing" / "KEN_v2.json").read_bytes()).hexdigest()
    for expected in (
        "series total: value 25.0, status reported",
        "formula: 100 * (aeo_count[T] - aeo_count[T-1]) / aeo_count[T-1]",
        "aeo_count[T] = year 2022: 50 (reported)",
        "from file KEN_v2.json, JSON pointer /answers/3",
        "aeo_count[T-1] = year 2021: 40 (reported)",
        "from file KEN_v2.json, JSON pointer /answers/2",
        "quality: passed all 11 rules",
        f"submission: version 2 submitted 2024-02-01 09:00:00+00:00, sha256 {sha}",
        f"archive/{sha[:2]}/{sha}.json",
        "catalogue version 1.0",
    ):
        assert expected in out, expected
    for argv, message in (
        (["--member", "ZZZ", "--kpi", "aeo_count_variation"], "unknown member 'ZZZ'"),
        (["--member", "KEN", "--kpi", "nope"], "unknown KPI 'nope'"),
        (["--member", "BRA", "--kpi", "aeo_count_variation"], "no value of aeo_count_variation for member BRA"),
    ):
        assert main(["trace", "--cycle", "2023", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
    assert main(["trace", "--cycle", "1999", "--member", "KEN", "--kpi", "aeo_count_variation"]) == 2


def test_provenance_has_one_row_per_value_and_answer(released):
    settings, _ = released
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT series, item, year, answer_value, answer_status, source_pointer, submission_version"
            " FROM lineage.provenance WHERE cycle = '2023' AND member_code = 'KEN' AND kpi_id = 'aeo_trade_share'"
            " ORDER BY series, item"
        ).fetchall()
        n_values = conn.execute("SELECT count(*) FROM kpi.kpi_values WHERE cycle = '2023'").fetchall()[0][0]
        n_valued = conn.execute(
            "SELECT count(DISTINCT (member_code, kpi_id, series)) FROM lineage.provenance WHERE cycle = '2023'"
        ).fetchall()[0][0]
    assert rows == [
        ("export", "export_value_aeo", 2022, 60.0, "reported", "/answers/7", 2),
        ("export", "export_value_total", 2022, 100.0, "reported", "/answers/6", 2),
        ("import", "import_value_aeo", 2022, 50.0, "reported", "/answers/5", 2),
        ("import", "import_value_total", 2022, 200.0, "reported", "/answers/4", 2),
    ]
    assert n_valued == n_values


MALICIOUS = "=HYPERLINK(\"http://evil.example\",\"click\")"


def test_text_that_would_execute_is_neutralized_in_csv_excel_and_sdmx(tmp_path: Path):
    values = pd.DataFrame([{
        "cycle": "2023", "reporting_year": 2022, "member_code": "KEN", "kpi_id": "k", "series": "total",
        "value": -12.5, "status": "reported", "disclosure": "public", "flags": MALICIOUS,
    }])
    rollups = pd.DataFrame(columns=PUBLISHED_ROLLUP_COLUMNS)
    write_csv(values, tmp_path / "kpi_values.csv")
    assert "'=HYPERLINK" in (tmp_path / "kpi_values.csv").read_text()
    write_excel({"kpi_values": values, "rollups": rollups}, tmp_path / "tables_en.xlsx", "en", "2023", "public",
                {"k": KpiLabels({"en": "+cmd|' /C calc'!A0", "fr": "k", "es": "k"}, "%")})
    sheet = openpyxl.load_workbook(tmp_path / "tables_en.xlsx")["KPI values"]
    cells = {sheet.cell(1, c).value: sheet.cell(2, c) for c in range(1, sheet.max_column + 1)}
    assert cells["Quality flags"].data_type == "s" and cells["Quality flags"].value == "'" + MALICIOUS
    assert cells["KPI"].value.startswith("'+cmd")
    assert cells["Value"].data_type == "n" and cells["Value"].value == -12.5  # a negative number stays a number
    assert read_excel(tmp_path / "tables_en.xlsx")["kpi_values"]["flags"][0] == MALICIOUS
    write_sdmx_csv(values, tmp_path / "kpi_values.sdmx.csv", "kpi_values", 2022)
    text = (tmp_path / "kpi_values.sdmx.csv").read_text()
    assert "'=HYPERLINK" in text and ",-12.5," in text
    assert read_sdmx_csv(tmp_path / "kpi_values.sdmx.csv")[1]["flags"][0] == MALICIOUS
    assert read_table_file(tmp_path / "kpi_values.csv")["flags"][0] == MALICIOUS


def test_the_release_guard_refuses_files_it_cannot_read_or_that_disagree(released, tmp_path: Path):
    import shutil

    from pmm_pipeline.publishing.release import sha256_file

    _, folders = released
    copy = tmp_path / "public"
    shutil.copytree(folders["public"], copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    # A JSON file edited to show DEU (wco only) and relisted with its new hash is read back as a table
    # (the disclosure audit then sees DEU); a stray file and a changes.json claiming a row are refused here.
    document = json.loads((copy / "kpi_values.json").read_text())
    document["rows"].append({**document["rows"][0], "member_code": "DEU", "value": 75.0})
    (copy / "kpi_values.json").write_text(json.dumps(document))
    manifest["files"]["kpi_values.json"]["sha256"] = sha256_file(copy / "kpi_values.json")
    (copy / "notes.txt").write_text("x")
    manifest["files"]["notes.txt"] = {"sha256": sha256_file(copy / "notes.txt"), "rows": 0}
    changes = json.loads((copy / "changes.json").read_text())
    changes["tables"]["kpi_values"]["added"].append({"member_code": "DEU", "kpi_id": "electronic_declaration_rate",
                                                     "series": "total", "value": 75.0})
    (copy / "changes.json").write_text(json.dumps(changes))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    frames, problems = read_release_files(copy)
    assert "DEU" in set(frames["kpi_values.json"].member_code)
    assert any("notes.txt: not a file the disclosure audit can read" in p for p in problems)
    assert any("changes.json: kpi_values row ('DEU'" in p for p in problems)


def test_json_keeps_every_digit(tmp_path: Path):
    frame = pd.DataFrame([{
        "cycle": "2023", "reporting_year": 2022, "member_code": "KEN", "kpi_id": "k", "series": "total",
        "value": 1 / 3, "status": "reported", "disclosure": "public", "flags": "",
    }])
    write_json(frame, tmp_path / "kpi_values.json", "kpi_values")
    document = json.loads((tmp_path / "kpi_values.json").read_text())
    assert document["rows"][0]["value"] == 1 / 3
