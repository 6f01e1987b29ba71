"""Every reader format of every tier read back and compared with the tier's warehouse tables; SDMX codes; injection.

Fixture facts (fixtures/cycle_2023, see test_disclosure_tiers.py): electronic_declaration_rate is KEN 95 and
FRA 100 public, DEU 75 wco, UGA undefined (secretariat); in the public tier the global mean is withheld
for differencing and the global min (DEU's) as a hidden member's value; EUR has 2 members (min_group_size).
"""

import csv
import json
import re
import subprocess
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from pysdmx.io import read_sdmx

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing.excel import read_excel, write_excel
from pmm_pipeline.stages.publishing.formats import KpiLabels, write_json
from pmm_pipeline.stages.publishing.readback import read_release_files, read_table_file, table_kind
from pmm_pipeline.stages.publishing.release import write_csv
from pmm_pipeline.stages.publishing.sdmx import read_sdmx_csv, write_sdmx_csv
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

COLUMNS = {"kpi_values": PUBLISHED_KPI_COLUMNS, "rollups": PUBLISHED_ROLLUP_COLUMNS}
KEYS = {"kpi_values": ["kpi_id", "series", "member_code"], "rollups": ["kpi_id", "series", "group_type", "group_code"]}
READER_FILES = {
    "kpi_values.csv",
    "kpi_values.parquet",
    "kpi_values.json",
    "kpi_values.sdmx.csv",
    "rollups.csv",
    "rollups.parquet",
    "rollups.json",
    "rollups.sdmx.csv",
    *(f"report_{lang}.html#{t}" for lang in LANGUAGES for t in ("kpi_values", "rollups")),
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
    for column in (
        "value",
        "mean",
        "median",
        "min",
        "max",
        "pooled",
        "n_reporting",
        "n_participating",
        "reporting_year",
    ):
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


def test_a_test_on_a_fixture_built_on_the_shared_run_is_a_cycle_test(released, request):
    """`released` is built on fixture_cycle: the kind comes through, with nothing to write here."""
    assert request.node.get_closest_marker("cycle") and not request.node.get_closest_marker("unit")


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
    assert {
        "changes.json",
        "report_en.html",
        "report_fr.html",
        "report_es.html",
        "tables_fr.xlsx",
        "kpi_values.sdmx.csv",
        "structure.xml",
    } <= on_disk


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
    eur = rollups[
        (rollups.KPI == "electronic_declaration_rate") & (rollups.REF_AREA == "EUR") & (rollups.STATISTIC == "MEAN")
    ].iloc[0]
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
        ken = next(
            r for r in rows if r[header[2]].value == "KEN" and r[header[3]].value == "electronic_declaration_rate"
        )
        cell = ken[headers[lang]]
        assert cell.data_type == "n" and cell.value == 95.0 and cell.number_format == "#,##0.0"
        if lang in names:
            assert ken["KPI"].value == names[lang]
        assert len(workbook.sheetnames) == 3  # about, values, group statistics
        about = " ".join(str(c.value) for c in workbook[workbook.sheetnames[0]]["A"])
        assert "not_applicable" in about and "%" in about


def test_pmm_trace_prints_the_chain_down_to_the_place_in_the_file(released, monkeypatch, capsys):
    import hashlib

    from pmm_pipeline.app.cli import main
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


MALICIOUS = '=HYPERLINK("http://evil.example","click")'


def test_text_that_would_execute_is_neutralized_in_csv_excel_and_sdmx(tmp_path: Path):
    values = pd.DataFrame(
        [
            {
                "cycle": "2023",
                "reporting_year": 2022,
                "member_code": "KEN",
                "kpi_id": "k",
                "series": "total",
                "value": -12.5,
                "status": "reported",
                "disclosure": "public",
                "flags": MALICIOUS,
            }
        ]
    )
    rollups = pd.DataFrame(columns=PUBLISHED_ROLLUP_COLUMNS)
    write_csv(values, tmp_path / "kpi_values.csv")
    assert "'=HYPERLINK" in (tmp_path / "kpi_values.csv").read_text()
    write_excel(
        {"kpi_values": values, "rollups": rollups},
        tmp_path / "tables_en.xlsx",
        "en",
        "2023",
        "public",
        {"k": KpiLabels({"en": "+cmd|' /C calc'!A0", "fr": "k", "es": "k"}, "%")},
    )
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

    from pmm_pipeline.stages.publishing.release import sha256_file

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
    changes["tables"]["kpi_values"]["added"].append(
        {"member_code": "DEU", "kpi_id": "electronic_declaration_rate", "series": "total", "value": 75.0}
    )
    (copy / "changes.json").write_text(json.dumps(changes))
    (copy / "manifest.json").write_text(json.dumps(manifest))
    frames, problems = read_release_files(copy)
    assert "DEU" in set(frames["kpi_values.json"].member_code)
    assert any("notes.txt: not a file the disclosure audit can read" in p for p in problems)
    assert any("changes.json: kpi_values row ('DEU'" in p for p in problems)


def test_json_keeps_every_digit(tmp_path: Path):
    frame = pd.DataFrame(
        [
            {
                "cycle": "2023",
                "reporting_year": 2022,
                "member_code": "KEN",
                "kpi_id": "k",
                "series": "total",
                "value": 1 / 3,
                "status": "reported",
                "disclosure": "public",
                "flags": "",
            }
        ]
    )
    write_json(frame, tmp_path / "kpi_values.json", "kpi_values")
    document = json.loads((tmp_path / "kpi_values.json").read_text())
    assert document["rows"][0]["value"] == 1 / 3


def declared_tables() -> dict[str, list[str]]:
    """Every table declared in warehouse/tables/ (the tiers' copies too): qualified name -> columns."""
    from pmm_pipeline.warehouse import tables

    return {t.qualified: t.column_names for t in tables.declared_tables()}


def test_every_table_materialization_carries_row_count_schema_lineage_and_preview(released, fixture_cycle):
    from pmm_pipeline.definitions import build_definitions

    settings, result = fixture_cycle
    graph = build_definitions(settings).resolve_asset_graph()
    columns_of = declared_tables()
    # sql_release copies tables out of the warehouse, it makes none; questionnaires are written by the
    # cycle's opening job, not the cycle job (their asset uses the same written_table_metadata).
    # published/profiles and published/series write folders of files (with their own manifests), no table.
    table_assets = {k for k in graph.get_all_asset_keys() if k.path[-1] != "sql_release" and k.path[0] != "published"}
    materialized = {
        e.asset_key: e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key in table_assets
    }
    assert set(materialized) == table_assets - {dg_key("collection.questionnaires")}
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        rows_in_warehouse = {
            key: conn.execute(f"SELECT count(*) FROM {'.'.join(key.path)} WHERE cycle = ?", ["2023"]).fetchall()[0][0]
            for key in materialized
        }
    assert any(rows_in_warehouse.values())  # the fixture cycle fills tables: the counts are not all 0 = 0
    for key, metadata in materialized.items():
        name = ".".join(key.path)
        four = {"dagster/row_count", "dagster/column_schema", "dagster/column_lineage", "preview"}
        assert four <= set(metadata), name
        own = columns_of.get(name, columns_of["kpi.kpi_values"])  # a KPI view has kpi.kpi_values' columns
        assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == own, name
        assert metadata["dagster/row_count"].value == rows_in_warehouse[key], name
        preview = metadata["preview"].value
        assert preview.startswith("(no rows)") if rows_in_warehouse[key] == 0 else preview.startswith("|"), name
        lineage = metadata["dagster/column_lineage"].column_lineage.deps_by_column
        upstream = graph.get(key).parent_keys
        assert bool(lineage) == bool(upstream), name  # only tables made from files or reference data have none
        for column, deps in lineage.items():
            assert column in own, (name, column)
            for dep in deps:
                assert dep.asset_key in upstream, (name, column, dep)
                assert dep.column_name in columns_of[".".join(dep.asset_key.path)], (name, column, dep)

    # Spot checks written by hand from the SQL and code of each stage.
    def deps(name: str, column: str) -> set[str]:
        lineage = materialized[dg_key(name)]["dagster/column_lineage"].column_lineage.deps_by_column
        return {f"{'.'.join(d.asset_key.path)}.{d.column_name}" for d in lineage[column]}

    assert deps("kpi.kpi_values", "flags") == {"quality.findings.rule", "quality.findings.severity"}
    assert deps("publish_public.rollups", "mean") == {
        "rollup.rollups.mean",
        "disclosure.withheld.statistic",
        "disclosure.withheld.reason",
    }
    assert deps("lineage.provenance", "source_cell") == {"quality.admitted_answers.source_cell"}
    # Each KPI's view (made by the KPI step, listed on kpi.kpi_values) holds that KPI's rows, as counted there.
    views = materialized[dg_key("kpi.kpi_values")]["kpi_views"].value
    assert "kpi.electronic_declaration_rate" in views
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        for view, listed in views.items():
            by_status = conn.execute(f"SELECT status, count(*) FROM {view} WHERE cycle = ? GROUP BY ALL", ["2023"])
            assert dict(by_status.fetchall()) == listed["values_by_status"], view
            others = conn.execute(f"SELECT count(*) FROM {view} WHERE kpi_id <> ?", [view.split(".")[1]])
            assert others.fetchall()[0][0] == 0, view
    assert sum(views["kpi.electronic_declaration_rate"]["values_by_status"].values()) > 0
    assert deps("staging.answers", "version") == {"raw.submissions.version"}


def dg_key(name: str):
    import dagster as dg

    return dg.AssetKey(name.split("."))


# Fixture facts: 185 members in force in 2023; BRA, DEU, FRA, KEN and UGA sent files, BRA's only file was
# rejected; every file was first seen after the collection closed. In the public tier only KEN's and
# FRA's electronic_declaration_rate are visible; DEU and UGA show no value there at all.
VISIBLE_IN_PUBLIC = {"electronic_declaration_rate": {"FRA", "KEN"}}
MEMBERS_WITH_VALUES = {"DEU", "FRA", "KEN", "UGA"}
SECTION = re.compile(r"<section class='kpi' id='([a-z0-9_]+)'>(.*?)</section>", re.S)


@pytest.mark.browser
def test_chromium_draws_a_chart_per_kpi_series_of_the_released_public_report(released, tmp_path):
    """The report as released from the run's public tables: drawn, with methodology, coverage, no hidden member."""
    import html

    from pmm_pipeline.specs.catalogue.load import load_catalogue
    from pmm_pipeline_tests.paths import ARTIFACTS
    from pmm_pipeline_tests.stages.publishing.chromium_checks import CHROMIUM_FLAGS, chromium

    settings, folders = released
    report = folders["public"] / "report_en.html"
    browser = chromium()
    dom = subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium-dom'}",  # not in the shared run's folders
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    ).stdout
    # What a reader of the page sees, without the inlined plotly.js (its code is not the report's text).
    text = report.read_text()
    head, body = text.split("</head>", 1)
    page = html.unescape(re.sub(r"<script>.*?</script>", "", head, flags=re.S) + body)

    catalogue = load_catalogue(settings.specs_dir)
    kpis = {k.id: k for k in catalogue.kpis_for_version("1.0")}
    rollups = warehouse_table(settings, "public", "rollups")
    sections = dict(SECTION.findall(page))
    assert set(sections) == set(rollups.kpi_id)  # every KPI with group figures in the tier has its section
    drawn = dict(re.findall(r'<section class="kpi" id="([a-z0-9_]+)">(.*?)</section>', dom, re.S))
    for kpi_id, section in sections.items():
        kpi = kpis[kpi_id]
        series = sorted(set(rollups[rollups.kpi_id == kpi_id].series))
        charts = re.findall(r'<div id="chart-[^"]+" class="chart[^"]*"[^>]*>(.*?)</div>\s*<script', drawn[kpi_id], re.S)
        assert len(charts) == len(series), kpi_id
        assert all(
            'class="main-svg"' in chart and ('class="point"' in chart or 'class="bars"' in chart) for chart in charts
        ), f"{kpi_id}: a chart was not drawn"
        for s in kpi.series:
            assert f"{s.id}: {s.formula}" in section, (kpi_id, s.id)
        rules = set(re.findall(r"<li><code>([a-z_]+)</code> \(", section))
        numeric = kpi.shape.value != "categorical"
        # Issue 16 added earlier_release (disclosure over time) and not_finite (a statistic beyond a double).
        assert rules == (
            {"min_group_size", "hidden_member", "differencing", "complementary", "earlier_release", "not_finite"}
            if numeric
            else {"min_group_size", "differencing", "complementary", "earlier_release"}
        ), kpi_id
        shown = set(re.findall(r"\b[A-Z]{3}\b", section)) & MEMBERS_WITH_VALUES
        assert shown <= VISIBLE_IN_PUBLIC.get(kpi_id, set()), (kpi_id, shown)
    assert not set(re.findall(r"\b(?:DEU|UGA)\b", page))  # hidden from public readers in every KPI

    coverage = page.split("Coverage and timeliness of submissions", 1)[1].split("How figures are withheld", 1)[0]
    global_row = re.search(r"<tr><td>[^<]*</td>((?:<td class='num'>[^<]*</td>){6})</tr>", coverage).group(1)
    assert re.findall(r">([^<]*)<", global_row)[::2] == ["185", "4", "0", "4", "2.2", "0.0"]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report_public.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium-shot'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=180,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


# (text, as written to CSV and Excel): a formula trigger, after any quotes, gets one more quote in front.
@pytest.mark.parametrize(
    ("text", "written_text"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=already quoted", "''=already quoted"),
        ("''+twice", "'''+twice"),
        ("'plain quote", "'plain quote"),
        ("plain", "plain"),
    ],
)
def test_neutralized_text_reads_back_exactly_and_numbers_stay_numbers(tmp_path: Path, text: str, written_text: str):
    values = pd.DataFrame(
        [
            {
                "cycle": "2023",
                "reporting_year": 2022,
                "member_code": "KEN",
                "kpi_id": "k",
                "series": "total",
                "value": -0.5,
                "status": "reported",
                "disclosure": "public",
                "flags": text,
            }
        ]
    )
    rollups = pd.DataFrame(columns=PUBLISHED_ROLLUP_COLUMNS)
    write_csv(values, tmp_path / "kpi_values.csv")
    write_excel({"kpi_values": values, "rollups": rollups}, tmp_path / "tables_en.xlsx", "en", "2023", "public", {})
    with (tmp_path / "kpi_values.csv").open(newline="") as handle:
        written_csv = list(csv.reader(handle))[1]
    assert written_csv[-1] == written_text and written_csv[5] == "-0.5"
    sheet = openpyxl.load_workbook(tmp_path / "tables_en.xlsx")["KPI values"]
    written = {sheet.cell(1, c).value: sheet.cell(2, c) for c in range(1, sheet.max_column + 1)}
    # openpyxl shows a carriage return as Excel stores it, _x000D_
    assert written["Quality flags"].value == written_text.replace("\r", "_x000D_")
    assert written["Quality flags"].data_type == "s"
    assert written["Value"].data_type == "n" and written["Value"].value == -0.5
    assert read_table_file(tmp_path / "kpi_values.csv")["flags"][0] == text
    assert read_table_file(tmp_path / "kpi_values.csv")["value"][0] == -0.5
    assert read_excel(tmp_path / "tables_en.xlsx")["kpi_values"]["flags"][0] == text
    if "\r" in text:  # pysdmx would leave the field unquoted, breaking the file: refused instead
        with pytest.raises(ValueError, match="carriage return"):
            write_sdmx_csv(values, tmp_path / "kpi_values.sdmx.csv", "kpi_values", 2022)
        return
    write_sdmx_csv(values, tmp_path / "kpi_values.sdmx.csv", "kpi_values", 2022)
    assert read_sdmx_csv(tmp_path / "kpi_values.sdmx.csv")[1]["flags"][0] == text
    assert ",-0.5," in (tmp_path / "kpi_values.sdmx.csv").read_text()


def test_sdmx_marks_a_withheld_level_share_confidential_not_missing(tmp_path: Path):
    rollups = pd.DataFrame(
        [
            (
                "2023",
                "single_window_implementation",
                "fully_implemented",
                "region",
                "ESA",
                None,
                5,
                None,
                None,
                None,
                None,
                None,
                True,
                "level_counts:differencing",
            ),
            (
                "2023",
                "single_window_implementation",
                "fully_implemented",
                "region",
                "EUR",
                None,
                2,
                None,
                None,
                None,
                None,
                None,
                True,
                "level_counts:min_group_size",
            ),
            (
                "2023",
                "single_window_implementation",
                "partially",
                "global",
                "all",
                4,
                9,
                50.0,
                None,
                None,
                None,
                None,
                False,
                None,
            ),
        ],
        columns=PUBLISHED_ROLLUP_COLUMNS,
    )
    write_sdmx_csv(rollups, tmp_path / "rollups.sdmx.csv", "rollups", 2022)
    obs = read_sdmx((tmp_path / "rollups.sdmx.csv").read_text()).data[0].data
    codes = {(r.REF_AREA, r.STATISTIC): (r.OBS_VALUE or None, r.OBS_STATUS, r.CONF_STATUS) for r in obs.itertuples()}
    assert codes[("ESA", "MEAN")] == (None, "A", "S")  # exists, withheld for differencing
    assert codes[("EUR", "MEAN")] == (None, "A", "A")  # exists, withheld for a small count
    assert codes[("ESA", "MEDIAN")] == (None, "M", "F")  # a categorical KPI has no median
    assert codes[("all", "MEAN")] == ("50.0", "A", "F")


def test_every_exact_format_reads_back_bit_for_bit_as_the_parquet_file(released):
    """CSV, JSON, SDMX-CSV and the report carry unrounded doubles: read back, they equal Parquet to the last bit
    (so the release guard audits them as one table); Excel keeps 16 significant digits, as Excel does."""
    from pmm_pipeline.stages.publishing.readback import identical_tables

    _, folders = released
    for tier in TIERS:
        frames, _ = read_release_files(folders[tier])
        groups = identical_tables(frames)
        for t in COLUMNS:
            with_parquet = next(set(g) for g in groups if f"{t}.parquet" in g)
            assert {
                f"{t}.csv",
                f"{t}.json",
                f"{t}.sdmx.csv",
                *(f"report_{lang}.html#{t}" for lang in LANGUAGES),
            } <= with_parquet, (tier, groups)
        assert len(groups) <= 4  # and the three workbooks read back alike


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("tier,hidden", [("public", {"DEU", "UGA"}), ("wco", {"UGA"})])
def test_a_report_never_names_a_member_with_no_value_in_its_tier(released, tier, hidden, lang):
    _, folders = released
    head, body = (folders[tier] / f"report_{lang}.html").read_text().split("</head>", 1)
    page = re.sub(r"<script>.*?</script>", "", head, flags=re.S) + body  # without the inlined plotly.js
    assert not set(re.findall(r"\b[A-Z]{3}\b", page)) & hidden
    assert set(re.findall(r"\b[A-Z]{3}\b", page)) & (MEMBERS_WITH_VALUES - hidden)  # the others are named
