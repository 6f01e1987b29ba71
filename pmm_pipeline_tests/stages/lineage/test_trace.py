"""`pmm trace` fit for audit: every status kind traced, compared field by field with the warehouse and the files.

One small cycle is run once for the module: hand-written submissions in JSON (whose number texts are
chosen to be hard to print: 1198295777, 305028581, 0.1, 1e-6), a CSV export and an Excel questionnaire
(written by the sample writers from a document), and a member the quality gate blocks. Each test reads
the trace the command prints (text and --json) and checks it against the warehouse tables, the landing
files (re-read here with their own parsers), the archive and the published files.
"""

import csv
import hashlib
import json
import random
import shutil
import struct
from decimal import Decimal
from pathlib import Path

import duckdb
import jsonschema
import openpyxl
import pytest

from pmm_pipeline.app.cli import main
from pmm_pipeline.core.text import printable
from pmm_pipeline.specs.catalogue.formula import ItemRef, parse_formula
from pmm_pipeline.stages.lineage.as_written import exact_decimal
from pmm_pipeline.stages.lineage.recompute import evaluate
from pmm_pipeline.stages.lineage.trace import TraceError, load_trace
from pmm_pipeline.stages.lineage.trace_model import SCHEMA_FILE, Trace, schema_text, trace_json_schema
from pmm_pipeline.stages.sample.formats import SampleContext, render_csv, xlsx_writer
from pmm_pipeline_tests.conftest import run_cycle_in_process, settings_for

# Its kind for `make test-fast` (pmm_pipeline_tests/conftest.py): not a unit test.
pytestmark = pytest.mark.cycle


CYCLE = "2023"  # T = 2022, T-1 = 2021

# Written as text so that the numbers are exactly these tokens in the file.
KEN_JSON = """{"format": "pmm-submission", "format_version": 1, "member": "KEN", "cycle": "2023",
 "submitted_at": "2024-01-20T08:30:00Z",
 "answers": [
  {"item": "declarations_total", "year": 2022, "value": 1198295777},
  {"item": "declarations_electronic", "year": 2022, "value": 305028581},
  {"item": "aeo_count", "year": 2021, "value": 40},
  {"item": "aeo_count", "year": 2022, "value": 50},
  {"item": "import_value_total", "year": 2022, "value": 0.1},
  {"item": "import_value_aeo", "year": 2022, "value": 1e-6},
  {"item": "export_value_total", "year": 2022, "value": 0},
  {"item": "export_value_aeo", "year": 2022, "value": 0},
  {"item": "pca_controls_total", "year": 2022, "status": "not_applicable", "comment": "no PCA | ![x](y) \\u202e txet"},
  {"item": "pca_controls_with_findings", "year": 2022, "status": "not_applicable"},
  {"item": "rfi_count", "year": 2022, "value": 120},
  {"item": "rfi_count", "year": 2021, "status": "not_available", "comment": "not counted before 2022"},
  {"item": "single_window_level", "year": 2022, "value": "partially_implemented"}
 ],
 "disclosure": {"electronic_declaration_rate": "public", "aeo_count_variation": "wco"}}
"""
# Blocked: the electronic declarations exceed all declarations (part_not_above_whole is blocking).
DEU_JSON = """{"format": "pmm-submission", "format_version": 1, "member": "DEU", "cycle": "2023",
 "submitted_at": "2024-01-22T10:00:00Z",
 "answers": [
  {"item": "declarations_total", "year": 2022, "value": 1000},
  {"item": "declarations_electronic", "year": 2022, "value": 1500},
  {"item": "aeo_count", "year": 2021, "value": 200},
  {"item": "aeo_count", "year": 2022, "value": 150}
 ],
 "disclosure": {"electronic_declaration_rate": "public"}}
"""
UGA_DOC = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "UGA",
    "cycle": CYCLE,
    "submitted_at": "2024-01-21T09:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 400},
        {"item": "declarations_electronic", "year": 2022, "value": 300},
        {"item": "aeo_count", "year": 2021, "value": 10},
        {"item": "aeo_count", "year": 2022, "value": 12},
        {"item": "import_value_total", "year": 2022, "value": 2000.5},
        {"item": "import_value_aeo", "year": 2022, "value": 500.25},
    ],
    "disclosure": {"electronic_declaration_rate": "wco", "aeo_count_variation": "public"},
}
FRA_DOC = {
    "format": "pmm-submission",
    "format_version": 1,
    "member": "FRA",
    "cycle": CYCLE,
    "submitted_at": "2024-01-23T09:00:00Z",
    "answers": [
        {"item": "declarations_total", "year": 2022, "value": 5000},
        {"item": "declarations_electronic", "year": 2022, "value": 4900},
        {"item": "aeo_count", "year": 2021, "value": 100},
        {"item": "aeo_count", "year": 2022, "value": 110},
    ],
    "disclosure": {"electronic_declaration_rate": "public", "aeo_count_variation": "public"},
}


@pytest.fixture(scope="module")
def cycle_run(tmp_path_factory, reference, catalogue):
    data_dir = tmp_path_factory.mktemp("trace_data")
    landing = data_dir / "landing" / CYCLE
    landing.mkdir(parents=True)
    (landing / "KEN.json").write_text(KEN_JSON)
    (landing / "DEU.json").write_text(DEU_JSON)
    (landing / "UGA.csv").write_bytes(render_csv(UGA_DOC, "en"))
    suffix, data = xlsx_writer(FRA_DOC, SampleContext(reference=reference, catalogue=catalogue))
    (landing / f"FRA{suffix}").write_bytes(data)
    settings = settings_for(data_dir)
    result = run_cycle_in_process(settings, CYCLE)
    assert result.success
    _RUN["result"] = result
    return settings


_RUN: dict = {}  # the module's cycle run (its events carry the provenance asset's metadata)


_PRINTED: dict[tuple[str, str], tuple[str, dict]] = {}  # the cycle is read-only: each trace is run once


@pytest.fixture
def trace_of(cycle_run, monkeypatch, capsys):
    """Runs `pmm trace` for (member, kpi) and returns (text, parsed JSON)."""
    monkeypatch.setenv("PMM_DATA_DIR", str(cycle_run.data_dir))

    def run(member: str, kpi: str):
        if (member, kpi) not in _PRINTED:
            assert main(["trace", "--cycle", CYCLE, "--member", member, "--kpi", kpi]) == 0
            text = capsys.readouterr().out
            assert main(["trace", "--cycle", CYCLE, "--member", member, "--kpi", kpi, "--json"]) == 0
            _PRINTED[(member, kpi)] = text, json.loads(capsys.readouterr().out)
        return _PRINTED[(member, kpi)]

    return run


def _sql(settings, query: str, params=()) -> list[dict]:
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        frame = conn.execute(query, list(params)).df()
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _json_token(path: Path, pointer: str) -> str:
    """The number's text exactly as written in the JSON file, at the pointer the trace gives."""
    doc = json.loads(path.read_text(), parse_float=str, parse_int=str)
    node = doc
    for part in pointer.strip("/").split("/"):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node["value"]


def _series(doc: dict, series: str) -> dict:
    return next(s for s in doc["series"] if s["series"] == series)


def _input(series: dict, item: str, year: int) -> dict:
    return next(i for i in series["inputs"] if i["item"] == item and i["year"] == year)


# --- numbers exactly as received ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kpi,series,item,shown",
    [
        ("electronic_declaration_rate", "total", "declarations_total", "1198295777"),
        ("electronic_declaration_rate", "total", "declarations_electronic", "305028581"),
        ("aeo_trade_share", "import", "import_value_total", "0.1"),
        ("aeo_trade_share", "import", "import_value_aeo", "0.000001"),
    ],
)
def test_a_json_answer_is_the_number_in_the_file_with_every_digit(trace_of, cycle_run, kpi, series, item, shown):
    text, doc = trace_of("KEN", kpi)
    answer = _input(_series(doc, series), item, 2022)
    token = _json_token(cycle_run.layout.landing_dir(CYCLE) / answer["place"]["file"], answer["place"]["pointer"])
    assert Decimal(answer["value_exact"]) == Decimal(token) and answer["value_exact"] == shown
    assert answer["as_written"] == token  # the token itself, read back from the archived copy
    assert answer["value"] == float(token)  # the JSON number reads back as the very double
    written = "" if token == shown else f", written {token}"  # 1e-6 in the file: both are printed
    assert f"{item}[T] = year 2022: {shown}{written} (reported)" in text
    assert "e+" not in text and "e-0" not in text  # never 1.1983e+09 or 3.05029e+08


def test_csv_and_excel_answers_are_the_cells_of_the_files(trace_of, cycle_run):
    landing = cycle_run.layout.landing_dir(CYCLE)
    _, uga = trace_of("UGA", "aeo_trade_share")
    rows = list(csv.reader((landing / "UGA.csv").read_text(encoding="utf-8").splitlines()))
    header = rows[0]
    for item in ("import_value_total", "import_value_aeo"):
        answer = _input(_series(uga, "import"), item, 2022)
        line = rows[answer["place"]["line"] - 1]  # line 1 is the header
        assert line[header.index("item")] == item
        assert Decimal(line[header.index("value")]) == Decimal(answer["value_exact"])
        assert answer["as_written"] == line[header.index("value")]
    _, fra = trace_of("FRA", "aeo_count_variation")
    for year in (2021, 2022):
        answer = _input(_series(fra, "total"), "aeo_count", year)
        sheet = openpyxl.load_workbook(landing / "FRA.xlsx", read_only=True)[answer["place"]["sheet"]]
        assert sheet[answer["place"]["cell"]].value == answer["value"]
        assert Decimal(answer["as_written"]) == Decimal(str(sheet[answer["place"]["cell"]].value))
        assert answer["value"] == next(
            a["value"] for a in FRA_DOC["answers"] if a["year"] == year and a["item"] == "aeo_count"
        )


@pytest.mark.parametrize("x", [305028581.0, 1198295777.0, 0.1, 1e-7, 1e22, -2.5, 0.0, 123456789.125, 5e-324])
def test_exact_decimal_is_plain_and_reads_back_as_the_same_double(x):
    text = exact_decimal(x)
    assert "e" not in text.lower() and float(text) == x and Decimal(text) == Decimal(repr(x))


def test_exact_decimal_reads_back_for_any_double():
    rng = random.Random(18)
    for _ in range(2_000):
        x = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if x == x and abs(x) != float("inf"):
            assert float(exact_decimal(x)) == x


# --- field by field against the warehouse ---------------------------------------------------------------------
TRACED = [
    ("KEN", "electronic_declaration_rate"),  # reported
    ("KEN", "aeo_trade_share"),  # reported (import) and undefined (export)
    ("KEN", "pca_effectiveness"),  # not_applicable
    ("KEN", "rfi_variation"),  # missing: T-1 not_available
    ("UGA", "single_window_implementation"),  # missing: not answered
    ("KEN", "aeo_count_variation"),  # withheld from public by the member's choice
    ("FRA", "aeo_count_variation"),  # Excel
    ("UGA", "aeo_trade_share"),  # CSV
    ("DEU", "electronic_declaration_rate"),  # blocked
]


@pytest.mark.parametrize("member,kpi", TRACED)
def test_the_trace_is_the_warehouse_field_by_field(trace_of, cycle_run, member, kpi):
    _, doc = trace_of(member, kpi)
    settings = cycle_run
    (participation,) = _sql(
        settings, "SELECT * FROM staging.participation WHERE cycle = ? AND member_code = ?", [CYCLE, member]
    )
    (submission,) = _sql(
        settings,
        "SELECT * FROM raw.submissions WHERE cycle = ? AND submission_id = ?",
        [CYCLE, participation["submission_id"]],
    )
    sub = doc["submission"]
    assert sub["submission_id"] == participation["submission_id"] and sub["version"] == submission["version"]
    assert sub["archive_path"] == submission["archive_path"] and sub["file_name"] == submission["file_name"]
    for field in ("submitted_at", "received_at"):
        assert Path(sub["archive_path"]).exists()
        assert sub[field].replace("+00:00", "") == submission[field].tz_convert("UTC").isoformat().replace("+00:00", "")
    # The archived copy is the file received, byte for byte: its SHA-256 is the submission id.
    archived = Path(sub["archive_path"]).read_bytes()
    assert hashlib.sha256(archived).hexdigest() == sub["submission_id"]
    assert archived == (settings.layout.landing_dir(CYCLE) / sub["file_name"]).read_bytes()

    values = {
        v["series"]: v
        for v in _sql(
            settings,
            "SELECT * FROM kpi.kpi_values WHERE cycle = ? AND member_code = ? AND kpi_id = ?",
            [CYCLE, member, kpi],
        )
    }
    answers = {
        (a["item"], a["year"]): a
        for a in _sql(
            settings,
            "SELECT * FROM staging.answers WHERE cycle = ? AND member_code = ?",
            [CYCLE, member],
        )
    }
    lineage = {
        (p["series"], p["item"], p["year"]): p
        for p in _sql(
            settings,
            "SELECT * FROM lineage.provenance WHERE cycle = ? AND member_code = ? AND kpi_id = ?",
            [CYCLE, member, kpi],
        )
    }
    assert {s["series"] for s in doc["series"]} == (set(values) or {s["series"] for s in doc["series"]})
    for series in doc["series"]:
        value = values.get(series["series"])
        if value is None:
            assert series["status"] == "blocked" and doc["member_state"] == "blocked"
        else:
            assert (series["status"], series["value"], series["disclosure"]) == (
                value["status"],
                value["value"],
                value["disclosure"],
            )
            assert ";".join(series["flags"]) == (value["flags"] or "")
            assert (series["numerator"], series["denominator"]) == (value["numerator"], value["denominator"])
        for item in series["inputs"]:
            stored = answers.get((item["item"], item["year"]))
            if stored is None:
                assert item["status"] == "missing" and item["place"] is None
                continue
            assert (item["status"], item["value"], item["comment"], item["level"]) == (
                stored["status"],
                stored["value"],
                stored["comment"],
                stored["value_text"],
            )
            place = item["place"]
            assert (place["file"], place["pointer"], place["sheet"], place["cell"], place["line"]) == (
                stored["source_file"],
                stored["source_pointer"],
                stored["source_sheet"],
                stored["source_cell"],
                stored["source_line"],
            )
            assert item["submission_id"] == stored["submission_id"] and item["submission_version"] == stored["version"]
            if value is not None:  # admitted: the lineage table says the same
                row = lineage[(series["series"], item["item"], item["year"])]
                assert (row["answer_value"], row["answer_status"], row["source_file"]) == (
                    item["value"],
                    item["status"],
                    place["file"],
                )
                assert doc["run"]["run_id"] == row["run_id"] and doc["run"]["code_version"] == row["code_version"]
    # Every finding of the member's submission on these inputs, as recorded.
    findings = _sql(
        settings,
        "SELECT rule, severity, item, year, message FROM quality.findings WHERE cycle = ? AND member_code = ?",
        [CYCLE, member],
    )
    for series in doc["series"]:
        keys = {(i["item"], i["year"]) for i in series["inputs"]}
        expected = sorted((f["rule"], f["severity"], f["message"]) for f in findings if (f["item"], f["year"]) in keys)
        shown = sorted((f["rule"], f["severity"], f["message"]) for i in series["inputs"] for f in i["findings"])
        assert shown == expected
        assert {r["rule"] for r in series["rules"] if r["result"] == "finding"} >= {f[0] for f in expected}


def test_a_reported_value_is_recomputed_bit_for_bit(trace_of):
    for member, kpi in TRACED:
        _, doc = trace_of(member, kpi)
        for series in doc["series"]:
            if series["status"] == "reported":
                assert series["recomputed_value"] == series["value"] and series["reason"] is None


# --- why there is no number -----------------------------------------------------------------------------------
def test_not_applicable_names_the_inputs_declared_so(trace_of):
    text, doc = trace_of("KEN", "pca_effectiveness")
    reason = _series(doc, "total")["reason"]
    assert reason["kind"] == "input_not_applicable"
    assert set(reason["inputs"]) == {"pca_controls_total[T]", "pca_controls_with_findings[T]"}
    assert "why: the member declared" in text and "not applicable" in text


def test_missing_names_the_input_and_its_state(trace_of):
    text, doc = trace_of("KEN", "rfi_variation")
    reason = _series(doc, "total")["reason"]
    assert (reason["kind"], reason["inputs"]) == ("input_not_reported", ["rfi_count[T-1]"])
    assert "rfi_count[T-1] is not_available" in reason["message"] and reason["message"] in text
    assert "comment: not counted before 2022" in text
    _, absent = trace_of("UGA", "single_window_implementation")
    reason = _series(absent, "total")["reason"]
    assert reason["inputs"] == ["single_window_level[T]"] and "is not answered" in reason["message"]
    assert _series(absent, "total")["inputs"][0]["status"] == "missing"


def test_undefined_names_the_zero_denominator(trace_of):
    text, doc = trace_of("KEN", "aeo_trade_share")
    export = _series(doc, "export")
    assert export["status"] == "undefined" and export["value"] is None and export["recomputed_value"] is None
    assert export["reason"]["kind"] == "zero_denominator"
    assert export["reason"]["denominator"] == "export_value_total[T]"
    assert _input(export, "export_value_total", 2022)["value"] == 0
    assert "why: the denominator export_value_total[T] is 0" in text


def test_the_zero_denominator_names_whole_references_only():
    from pmm_pipeline.stages.lineage.reasons import explain

    states = [("import_total[T]", "reported"), ("total[T]", "reported")]
    assert explain("undefined", states, ["total[T]"])[2] == ["total[T]"]
    assert explain("undefined", states, ["import_total[T] - total[T]"])[2] == ["import_total[T]", "total[T]"]


def test_evaluate_finds_the_zero_denominator_inside_a_formula():
    formula = parse_formula("100 * (a[T] - a[T-1]) / a[T-1]")
    assert evaluate(formula, {ItemRef("a", 0): 5.0, ItemRef("a", -1): 0.0}) == (None, ["a[T-1]"])
    assert evaluate(formula, {ItemRef("a", 0): 50.0, ItemRef("a", -1): 40.0}) == (25.0, [])
    assert evaluate(formula, {ItemRef("a", 0): 50.0}) == (None, [])  # an input without a number: no value


def test_a_blocked_member_shows_the_finding_that_kept_it_out(trace_of, cycle_run):
    text, doc = trace_of("DEU", "electronic_declaration_rate")
    blocking = _sql(
        cycle_run,
        "SELECT rule, item, year, message FROM quality.findings WHERE cycle = ? AND member_code = ?"
        " AND severity = 'blocking' ORDER BY rule, item, year",
        [CYCLE, "DEU"],
    )
    assert blocking and doc["member_state"] == "blocked" and doc["gate"]["is_admitted"] is False
    shown = [(f["rule"], f["item"], f["year"], f["message"]) for f in doc["gate"]["blocking_findings"]]
    assert shown == [(f["rule"], f["item"], f["year"], f["message"]) for f in blocking]
    series = _series(doc, "total")
    assert series["status"] == "blocked" and series["reason"]["kind"] == "member_blocked"
    assert series["reason"]["findings"] == doc["gate"]["blocking_findings"]
    assert [t["state"] for t in series["publication"]] == ["not_computed"] * 3 and series["rollups"] == []
    assert _input(series, "declarations_electronic", 2022)["value_exact"] == "1500"  # its answers, as received
    assert "member blocked by the quality gate" in text and blocking[0]["message"] in text
    assert "part_not_above_whole (blocking) on declarations_electronic[2022]" in text


def test_a_member_without_an_accepted_submission_is_a_one_line_error(cycle_run, monkeypatch, capsys):
    monkeypatch.setenv("PMM_DATA_DIR", str(cycle_run.data_dir))
    assert main(["trace", "--cycle", CYCLE, "--member", "CHL", "--kpi", "aeo_count_variation", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no value of aeo_count_variation for member CHL" in err and "no file received" in err and "\n" not in err


# --- where it is published ------------------------------------------------------------------------------------
def _csv_row(path: Path, line: int) -> dict:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return rows[line - 2]


@pytest.mark.parametrize("member,kpi", TRACED)
def test_publication_per_tier_is_the_published_tables_and_files(trace_of, cycle_run, member, kpi):
    _, doc = trace_of(member, kpi)
    for series in doc["series"]:
        for tier in series["publication"]:
            rows = _sql(
                cycle_run,
                f"SELECT * FROM publish_{tier['tier']}.kpi_values WHERE cycle = ? AND member_code = ? AND kpi_id = ?"
                " AND series = ?",
                [CYCLE, member, kpi, series["series"]],
            )
            assert (tier["state"] == "published") == bool(rows)
            if rows:
                csv_file = next(f for f in tier["files"] if f["path"].endswith(".csv"))
                row = _csv_row(cycle_run.data_dir / csv_file["path"], csv_file["row"])
                assert (row["member_code"], row["kpi_id"], row["series"], row["status"]) == (
                    member,
                    kpi,
                    series["series"],
                    series["status"],
                )
                assert (float(row["value"]) if row["value"] else None) == series["value"]
                assert all(f["value_matches"] for f in tier["files"]) and len(tier["files"]) == 2
            elif series["status"] != "blocked":
                assert tier["withheld_by"] == "disclosure_choice" and tier["reason"] == series["disclosure"]
        for feed in series["rollups"]:
            for tier in feed["tiers"]:
                (row,) = _sql(
                    cycle_run,
                    f"SELECT * FROM publish_{tier['tier']}.rollups WHERE cycle = ? AND kpi_id = ? AND series = ?"
                    " AND group_type = ? AND group_code = ?",
                    [CYCLE, kpi, feed["series"], feed["group_type"], feed["group_code"]],
                )
                reasons = dict(e.split(":", 1) for e in (row["suppression_reason"] or "").split(";") if e)
                assert tier["suppressed"] == reasons
                assert tier["published"] == [
                    s for s in ("mean", "median", "min", "max", "pooled") if row[s] is not None
                ]


def test_a_value_the_member_keeps_from_public_is_withheld_there_only(trace_of):
    text, doc = trace_of("KEN", "aeo_count_variation")  # KEN chose `wco`
    states = {t["tier"]: (t["state"], t["withheld_by"]) for t in _series(doc, "total")["publication"]}
    assert states == {
        "public": ("withheld", "disclosure_choice"),
        "wco": ("published", None),
        "secretariat": ("published", None),
    }
    assert "public: withheld: the member chose `wco`" in text


def test_the_rollups_fed_are_the_members_groups(trace_of, reference):
    _, doc = trace_of("KEN", "electronic_declaration_rate")
    groups = {(f["group_type"], f["group_code"]) for f in _series(doc, "total")["rollups"]}
    cycle = reference.cycles.get(CYCLE)
    ken = reference.members_in_force(cycle)["KEN"]
    assert groups == {
        ("global", "all"),
        ("region", ken.region_code),
        ("income_group", ken.income_group),
        ("landlocked", "landlocked" if ken.is_landlocked else "not_landlocked"),
        ("admin_type", ken.admin_type),
    }
    assert {f["counts_in"] for f in _series(doc, "total")["rollups"]} == {"statistics"}
    _, na = trace_of("KEN", "pca_effectiveness")
    assert {f["counts_in"] for f in _series(na, "total")["rollups"]} == {"coverage"}


# --- states the small cycle does not reach, made in a copy of its warehouse ---------------------------------------
@pytest.fixture
def warehouse_copy(cycle_run, tmp_path):
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(cycle_run.layout.warehouse_path, path)
    return path


def test_a_value_withheld_by_disclosure_control_gives_the_rule(warehouse_copy, catalogue):
    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(
            "DELETE FROM publish_public.kpi_values WHERE cycle = ? AND member_code = 'UGA' AND kpi_id = ?",
            [CYCLE, "aeo_count_variation"],
        )
        conn.execute(
            "INSERT INTO disclosure.withheld VALUES (?, 'public', 'aeo_count_variation', 'total', 'member', 'UGA',"
            " 'value', 'earlier_release')",
            [CYCLE],
        )
        trace = load_trace(conn, CYCLE, "UGA", catalogue.kpis["aeo_count_variation"], catalogue)
    public = next(t for t in trace.series[0].publication if t.tier == "public")
    assert (public.state, public.withheld_by, public.reason) == ("withheld", "disclosure_control", "earlier_release")


def test_the_account_that_sent_the_file_is_shown_when_recorded(warehouse_copy, catalogue):
    from pmm_pipeline.stages.lineage.render import render_trace

    with duckdb.connect(str(warehouse_copy)) as conn:
        # The run recorded every file of the fixture as copied into landing (channel landing, no account).
        landed = load_trace(conn, CYCLE, "UGA", catalogue.kpis["aeo_count_variation"], catalogue)
        # A file the platform received: its submission's record says so (as the intake writes it).
        conn.execute(
            "UPDATE raw.submissions SET channel = 'platform', account = 'ncp-ken' WHERE cycle = ? AND member_code = ?",
            [CYCLE, "KEN"],
        )
        trace = load_trace(conn, CYCLE, "KEN", catalogue.kpis["aeo_count_variation"], catalogue)
        # A record without the submission's own account falls back to the received file's.
        conn.execute("UPDATE raw.submissions SET account = NULL WHERE cycle = ? AND member_code = ?", [CYCLE, "KEN"])
        conn.execute(
            "UPDATE raw.received_files SET account = 'ncp-ken-2' WHERE cycle = ? AND file_name = ?", [CYCLE, "KEN.json"]
        )
        fallback = load_trace(conn, CYCLE, "KEN", catalogue.kpis["aeo_count_variation"], catalogue)
    assert (trace.submission.channel, trace.submission.account) == ("platform", "ncp-ken")
    assert "through the member platform, account ncp-ken" in render_trace(trace)
    assert (fallback.submission.channel, fallback.submission.account) == ("platform", "ncp-ken-2")
    assert (landed.submission.channel, landed.submission.account) == ("landing", None)
    assert "copied into the landing folder" in render_trace(landed)


def test_no_lineage_is_a_trace_error(tmp_path, catalogue):
    with duckdb.connect(str(tmp_path / "empty.duckdb")) as conn, pytest.raises(TraceError, match="run the cycle"):
        load_trace(conn, CYCLE, "KEN", catalogue.kpis["aeo_count_variation"], catalogue)


# --- JSON and its schema --------------------------------------------------------------------------------------
def test_the_shipped_schema_is_the_models_schema():
    assert SCHEMA_FILE.read_text() == schema_text(), "regenerate trace.schema.json from trace_model.py"


@pytest.mark.parametrize("member,kpi", TRACED)
def test_json_output_validates_against_the_schema_and_the_models(trace_of, member, kpi):
    _, doc = trace_of(member, kpi)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(doc)
    assert Trace.model_validate(doc).model_dump(mode="json") == doc


def test_the_schema_refuses_what_is_not_a_trace():
    validator = jsonschema.Draft202012Validator(trace_json_schema())
    assert not validator.is_valid({"format": "pmm-trace"})
    bad_status = json.loads(SCHEMA_FILE.read_text())
    assert "SeriesStatus" in json.dumps(bad_status) or "blocked" in json.dumps(bad_status)


def test_text_and_json_say_the_same(trace_of):
    for member, kpi in TRACED:
        text, doc = trace_of(member, kpi)
        for series in doc["series"]:
            assert f"series {series['series']}: value " in text and f"status {series['status']}" in text
            for item in series["inputs"]:
                assert f"{item['item']}[{item['year_ref']}] = year {item['year']}:" in text
            for tier in series["publication"]:
                assert f"    {tier['tier']}: {tier['state']}: " in text
        assert doc["submission"]["submission_id"] in text and doc["run"]["run_id"] in text


# --- member text ------------------------------------------------------------------------------------------------
def test_member_text_is_printed_inert_and_kept_exact_in_json(trace_of):
    text, doc = trace_of("KEN", "pca_effectiveness")
    comment = _input(_series(doc, "total"), "pca_controls_total", 2022)["comment"]
    assert comment == "no PCA | ![x](y) \u202e txet"  # JSON: exactly as received
    assert "\u202e" not in text and "comment: no PCA | ![x](y) \\u202e txet" in text


@pytest.mark.parametrize(
    "raw,shown",
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("l1\nl2", "l1\\x0al2"),
        ("x\u2066y", "x\\u2066y"),
        ("é ok", "é ok"),
        ("a\u2028b\ud800", "a\\u2028b\\ud800"),
        ("1\u00a0234", "1\u00a0234"),
    ],
)
def test_printable_escapes_control_and_bidi_characters(raw, shown):
    assert printable(raw) == shown


# --- the same in the Dagster UI -------------------------------------------------------------------------------
def _provenance_metadata() -> dict:
    import dagster as dg

    result = _RUN["result"]
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(["lineage", "provenance"])
    ]
    return event.step_materialization_data.materialization.metadata


def test_the_provenance_asset_carries_the_traces_in_brief(cycle_run, catalogue, reference, trace_of):
    import dagster as dg

    metadata = _provenance_metadata()
    values = _sql(cycle_run, "SELECT status, count(*) AS n FROM kpi.kpi_values WHERE cycle = ? GROUP BY 1", [CYCLE])
    blocked = _sql(
        cycle_run, "SELECT member_code FROM quality.member_summary WHERE cycle = ? AND NOT is_admitted", [CYCLE]
    )
    kpis = catalogue.kpis_for_version(reference.cycles.get(CYCLE).catalogue_version)
    expected = {s: 0 for s in ("reported", "not_applicable", "missing", "undefined")}
    expected |= {v["status"]: v["n"] for v in values}
    expected["blocked"] = len(blocked) * sum(len(k.series) for k in kpis)
    assert metadata["trace/values_by_status"].data == expected and expected["blocked"] > 0
    without = {(r["member_code"], r["kpi_id"], r["series"]): r for r in metadata["trace/without_number_list"].data}
    table = metadata["trace/without_number"].md_str
    assert "| member_code | kpi_id | series | status | reason |" in table and "\\[T\\]" in table  # escaped cells
    for member, kpi, series in (
        ("KEN", "pca_effectiveness", "total"),
        ("KEN", "aeo_trade_share", "export"),
        ("KEN", "rfi_variation", "total"),
        ("UGA", "single_window_implementation", "total"),
    ):
        _, doc = trace_of(member, kpi)  # the UI says what the trace says
        assert without[(member, kpi, series)]["reason"] == _series(doc, series)["reason"]["message"]
    assert metadata["trace/without_number_count"].value == sum(v["n"] for v in values if v["status"] != "reported")
    assert "| DEU | part_not_above_whole | declarations_electronic |" in metadata["trace/blocking_findings"].md_str
    by_series = metadata["trace/by_kpi_series"].md_str
    assert "public_by_choice" in by_series and "public_by_control" in by_series
    size = sum(len(k) + len(dg.serialize_value(v)) for k, v in metadata.items())
    assert size < 256 * 1024


def test_a_kpi_outside_the_cycles_catalogue_is_a_one_line_error(cycle_run, monkeypatch, capsys, catalogue, reference):
    later = [k.id for k in catalogue.kpis.values() if k not in catalogue.kpis_for_version("1.0")]
    assert later  # the shipped catalogue adds KPIs in 1.1
    monkeypatch.setenv("PMM_DATA_DIR", str(cycle_run.data_dir))
    for member in ("KEN", "DEU"):  # admitted or blocked: no trace of a KPI the cycle does not compute
        assert main(["trace", "--cycle", CYCLE, "--member", member, "--kpi", later[0]]) == 2
        err = capsys.readouterr().err.strip()
        assert f"KPI {later[0]} is not in cycle 2023's catalogue" in err and "\n" not in err


def test_a_released_file_without_the_row_is_flagged(cycle_run, tmp_path, catalogue):
    from pmm_pipeline.stages.lineage.render import render_trace

    data_dir = tmp_path / "data"
    shutil.copytree(cycle_run.layout.published_dir(CYCLE), data_dir / "published" / CYCLE)
    public = data_dir / "published" / CYCLE / "public" / "kpi_values.csv"
    lines = public.read_text(encoding="utf-8").splitlines(keepends=True)
    public.write_text("".join(line for line in lines if "KEN,electronic_declaration_rate" not in line))
    (data_dir / "published" / CYCLE / "wco" / "kpi_values.parquet").unlink()
    with duckdb.connect(str(cycle_run.layout.warehouse_path), read_only=True) as conn:
        trace = load_trace(conn, CYCLE, "KEN", catalogue.kpis["electronic_declaration_rate"], catalogue, data_dir)
    files = {f.path: f for t in trace.series[0].publication for f in t.files}
    assert files["published/2023/public/kpi_values.csv"].value_matches is False
    assert files["published/2023/public/kpi_values.csv"].row is None
    assert files["published/2023/wco/kpi_values.parquet"].value_matches is False
    assert files["published/2023/public/kpi_values.parquet"].value_matches is True
    assert "WARNING: published/2023/public/kpi_values.csv does not show the warehouse's value" in render_trace(trace)


def test_a_member_whose_versions_are_not_in_use_says_so(warehouse_copy, catalogue):
    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(
            "UPDATE staging.participation SET is_participating = false, submission_id = NULL"
            " WHERE cycle = ? AND member_code = 'UGA'",
            [CYCLE],
        )
        conn.execute(
            "UPDATE raw.submissions SET archive_state = 'archive_corrupt' WHERE cycle = ? AND member_code = 'UGA'",
            [CYCLE],
        )
        with pytest.raises(TraceError, match="has accepted versions but none in use: v1 archive_corrupt"):
            load_trace(conn, CYCLE, "UGA", catalogue.kpis["aeo_count_variation"], catalogue)


def test_the_summary_counts_what_each_tier_shows_as_the_tiers_do(warehouse_copy, catalogue, reference):
    from pmm_pipeline.stages.lineage.summary import summarize_cycle

    kpis = catalogue.kpis_for_version(reference.cycles.get(CYCLE).catalogue_version)
    series = {k.id: [s.id for s in k.series] for k in kpis}
    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(  # UGA chose public for aeo_count_variation: withheld from public by control here
            "INSERT INTO disclosure.withheld VALUES (?, 'public', 'aeo_count_variation', 'total', 'member', 'UGA',"
            " 'value', 'earlier_release')",
            [CYCLE],
        )
        summary = summarize_cycle(conn, CYCLE, series)
        counts = {
            t: dict(
                ((k, s), n)
                for k, s, n in conn.execute(
                    f"SELECT kpi_id, series, count(*) FROM publish_{t}.kpi_values WHERE cycle = ? GROUP BY ALL", [CYCLE]
                ).fetchall()
            )
            for t in ("public", "wco", "secretariat")
        }
    rows = {(r["kpi_id"], r["series"]): r for r in summary.by_series.to_dict("records")}
    for (kpi_id, s), row in rows.items():
        for tier in ("wco", "secretariat"):  # the published tables, as they were written
            assert row[f"{tier}_shown"] == counts[tier].get((kpi_id, s), 0), (tier, kpi_id, s)
        expected_public = counts["public"].get((kpi_id, s), 0) - (
            1 if (kpi_id, s) == ("aeo_count_variation", "total") else 0
        )
        assert row["public_shown"] == expected_public, (kpi_id, s)
    assert rows[("aeo_count_variation", "total")]["public_by_control"] == 1
    assert rows[("aeo_count_variation", "total")]["public_by_choice"] == 1  # KEN chose wco


def test_an_altered_archive_copy_is_flagged_and_not_read(cycle_run, tmp_path, catalogue):
    from pmm_pipeline.stages.lineage.render import render_trace

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(cycle_run.layout.warehouse_path, warehouse)
    (archived,) = _sql(cycle_run, "SELECT archive_path FROM raw.submissions WHERE member_code = 'KEN'")
    altered = tmp_path / "KEN_altered.json"
    altered.write_text(KEN_JSON.replace("1198295777", "1198295778"))
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("UPDATE raw.submissions SET archive_path = ? WHERE member_code = 'KEN'", [str(altered)])
        trace = load_trace(conn, CYCLE, "KEN", catalogue.kpis["electronic_declaration_rate"], catalogue)
        intact = load_trace(conn, CYCLE, "UGA", catalogue.kpis["electronic_declaration_rate"], catalogue)
    assert trace.submission.archive_intact is False and intact.submission.archive_intact is True
    assert all(i.as_written is None for i in trace.series[0].inputs)  # never read from a copy that is not the file
    assert [i.value_exact for i in trace.series[0].inputs] == ["305028581", "1198295777"]  # the stored numbers
    assert "WARNING: it no longer hashes to the submission's SHA-256" in render_trace(trace)
    assert Path(archived["archive_path"]).exists()


def test_a_value_a_tier_shows_against_the_members_choice_is_flagged(warehouse_copy, catalogue):
    from pmm_pipeline.stages.lineage.render import render_trace

    with duckdb.connect(str(warehouse_copy)) as conn:
        conn.execute(  # KEN chose secretariat for rfi_variation: a public row would be a leak
            "INSERT INTO publish_public.kpi_values SELECT * FROM publish_secretariat.kpi_values"
            " WHERE cycle = ? AND member_code = 'KEN' AND kpi_id = 'rfi_variation'",
            [CYCLE],
        )
        trace = load_trace(conn, CYCLE, "KEN", catalogue.kpis["rfi_variation"], catalogue)
    public = next(t for t in trace.series[0].publication if t.tier == "public")
    assert public.state == "published" and "WARNING: the member chose `secretariat`" in public.message
    assert "WARNING: the member chose `secretariat`, which public readers may not see" in render_trace(trace)
