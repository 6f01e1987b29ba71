"""Member feedback and resubmission history, after one whole cycle run over mixed good and bad files."""

import io
import json
import re
import zipfile

import duckdb
import openpyxl
import pandas as pd
import pytest

from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.questionnaire.template import render_questionnaire
from pmm_pipeline_tests.conftest import run_cycle_in_process, settings_for, slow_fixture

MEMBERS = ("KEN", "FRA", "ARG", "UGA", "DEU")


def document(member: str, submitted_at: str, answers: list[dict], disclosure=None) -> bytes:
    return json.dumps(
        {
            "format": "pmm-submission",
            "format_version": 1,
            "member": member,
            "cycle": "2023",
            "submitted_at": submitted_at,
            "answers": answers,
            "disclosure": disclosure or {},
        }
    ).encode()


def french_questionnaire_with_text_in_a_number(settings) -> tuple[bytes, str]:
    reference = load_reference(settings.reference_dir, settings.cycles_file)
    catalogue = load_catalogue(settings.specs_dir)
    workbook = openpyxl.load_workbook(io.BytesIO(render_questionnaire(catalogue, reference, "2023", "FRA")))
    sheet = workbook["Réponses"]
    for row in sheet.iter_rows(min_row=5):
        if row[0].value == "declarations_total":
            row[4].value = "environ mille"
            cell = row[4].coordinate
        if row[0].value == "declarations_electronic":
            row[4].value = 900
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue(), cell


@pytest.fixture(scope="module")
@slow_fixture("cycle")
def cycle_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("feedback")
    settings = settings_for(data_dir)
    landing = settings.layout.landing_dir("2023")
    landing.mkdir(parents=True)
    (landing / "KEN_2023_v1.json").write_bytes(
        document(
            "KEN",
            "2024-01-10T10:00:00Z",
            [
                {"item": "declarations_total", "year": 2022, "value": 1000},
                {"item": "declarations_electronic", "year": 2022, "value": 900},
                {"item": "aeo_count", "year": 2021, "value": 40},
            ],
        )
    )
    (landing / "KEN_2023_v2.json").write_bytes(
        document(
            "KEN",
            "2024-01-20T10:00:00Z",
            [
                {"item": "declarations_total", "year": 2022, "value": 1000},
                {"item": "declarations_electronic", "year": 2022, "value": 950},
                {"item": "aeo_count", "year": 2021, "status": "not_available"},
                {"item": "aeo_count", "year": 2022, "value": 44},
            ],
        )
    )
    (landing / "KEN_link.json").symlink_to(landing / "KEN_2023_v1.json")
    (landing / "FRA_2023_v1.json").write_bytes(
        document(
            "FRA",
            "2024-01-10T10:00:00Z",
            [
                {"item": "declarations_total", "year": 2022, "value": 5000},
            ],
        )
    )
    xlsx, cell = french_questionnaire_with_text_in_a_number(settings)
    (landing / "FRA_2023_v2.xlsx").write_bytes(xlsx)
    (landing / "ARG_2023.csv").write_bytes(
        "member;cycle;submitted_at;item;year;value;status\n"
        "ARG;2023;2024-01-15T09:00:00Z;declarations_total;2022;1.500;\n"
        "ARG;2023;2024-01-15T09:00:00Z;pca_controls_total;2022;;quizás\n".encode("cp1252")
    )
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 1024 * 1024))
    (landing / "UGA_2023.xlsx").write_bytes(bomb.getvalue())
    (landing / "DEU_2023.json").write_bytes(
        document(
            "DEU",
            "2024-01-12T10:00:00Z",
            [
                {"item": "declarations_total", "year": 2022, "value": 3000},
            ],
        )
    )
    result = run_cycle_in_process(settings, "2023")
    yield settings, result, cell


def query(settings, sql, params=()):
    with duckdb.connect(str(settings.layout.warehouse_path), read_only=True) as conn:
        return conn.execute(sql, list(params)).df()


def report_cells(path) -> dict[str, list[list]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in workbook}


def findings_members(settings) -> set[str]:
    tables = query(settings, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'quality'")
    if "findings" not in set(tables.table_name):
        return set()
    return set(query(settings, "SELECT DISTINCT member_code FROM quality.findings WHERE cycle = '2023'").member_code)


def test_run_succeeds_with_hostile_files_in_the_folder(cycle_run):
    settings, result, _ = cycle_run
    assert result.success
    versions = query(settings, "SELECT member_code, count(*) AS n FROM raw.submissions GROUP BY 1 ORDER BY 1")
    assert dict(zip(versions.member_code, versions.n, strict=True)) == {"DEU": 1, "FRA": 1, "KEN": 2}


def test_every_member_with_problems_gets_a_report_in_its_language(cycle_run):
    settings, _, _ = cycle_run
    reports = query(settings, "SELECT member_code, language, path, n_blocking FROM feedback.member_reports")
    by_member = {r.member_code: r for r in reports.itertuples()}
    # UGA_2023.xlsx is a zip bomb: its content names no member, so it is credited to nobody (a file
    # name alone never decides whose feedback a file reaches: anyone can name a file UGA_...).
    with_rejections = {"KEN", "FRA", "ARG"}
    assert set(by_member) == with_rejections | findings_members(settings)
    assert {m: by_member[m].language for m in with_rejections} == {"KEN": "en", "FRA": "fr", "ARG": "es"}
    feedback_dir = settings.layout.published_dir("2023") / "feedback"
    for member, row in by_member.items():
        assert row.path == str(feedback_dir / member / f"feedback_{member}_2023.xlsx")
    sheet_names = {m: list(report_cells(by_member[m].path)) for m in with_rejections}
    assert sheet_names["FRA"] == ["Résumé", "Problèmes", "Fichiers reçus"]
    assert sheet_names["ARG"] == ["Resumen", "Problemas", "Archivos recibidos"]
    assert sheet_names["KEN"] == ["Summary", "Problems", "Files received"]


def test_reports_name_the_cell_line_and_what_to_do(cycle_run):
    settings, _, cell = cycle_run
    folder = settings.layout.published_dir("2023") / "feedback"
    fra = report_cells(folder / "FRA" / "feedback_FRA_2023.xlsx")["Problèmes"]
    header, rows = fra[0], fra[1:]
    assert header[:9] == [
        "Gravité",
        "Fichier",
        "Emplacement dans le fichier",
        "Élément",
        "Question",
        "Année",
        "Valeur",
        "Problème",
        "Que faire",
    ]
    assert ["Bloquant", "FRA_2023_v2.xlsx", f"feuille Réponses, cellule {cell}", "declarations_total"] in [
        r[:4] for r in rows
    ]
    row = next(r for r in rows if r[3] == "declarations_total" and r[1] == "FRA_2023_v2.xlsx")
    assert (row[5], row[6], row[7]) == (2022, "environ mille", "Pas un nombre")
    assert row[8].startswith("Saisissez le chiffre")
    arg = report_cells(folder / "ARG" / "feedback_ARG_2023.xlsx")["Problemas"]
    assert ["Bloqueante", "ARG_2023.csv", "línea 3", "pca_controls_total"] in [r[:4] for r in arg[1:]]
    ken = report_cells(folder / "KEN" / "feedback_KEN_2023.xlsx")["Problems"]
    # A link has no content to name a member: its file name alone credits (and tells) nobody (issue 16).
    assert "KEN_link.json" not in [r[1] for r in ken[1:]]
    reports = [list(report_cells(path).values())[1] for path in folder.glob("*/feedback_*.xlsx")]  # Problems
    assert not any(r[1] == "UGA_2023.xlsx" for problems in reports for r in problems[1:])  # credited to nobody


def test_a_report_never_shows_another_members_data(cycle_run):
    settings, _, _ = cycle_run
    folder = settings.layout.published_dir("2023") / "feedback"
    for path in folder.glob("*/feedback_*_2023.xlsx"):
        member = path.parent.name
        text = " ".join(str(v) for rows in report_cells(path).values() for row in rows for v in row if v is not None)
        others = [m for m in MEMBERS if m != member and re.search(rf"\b{m}\b", text)]
        assert others == [], f"{member}'s report mentions {others}"
        # Figures only the other members sent.
        for figure in ("5000", "1.500", "3000", "quizás", "environ mille"):
            if figure in text:
                assert (
                    member
                    in {"5000": "FRA", "1.500": "ARG", "3000": "DEU", "quizás": "ARG", "environ mille": "FRA"}[figure]
                )


def test_history_lists_who_sent_what_when(cycle_run):
    settings, _, _ = cycle_run
    history = query(
        settings,
        "SELECT member_code, file_name, outcome, reason_code, version, is_latest, n_changes"
        " FROM staging.submission_history WHERE cycle = '2023' ORDER BY member_code, file_name",
    )
    rows = {r.file_name: (r.member_code, r.outcome, r.reason_code) for r in history.itertuples()}
    assert rows == {
        "ARG_2023.csv": ("ARG", "rejected", "bad_status"),
        "DEU_2023.json": ("DEU", "accepted", None),
        "FRA_2023_v1.json": ("FRA", "accepted", None),
        "FRA_2023_v2.xlsx": ("FRA", "rejected", "not_a_number"),
        "KEN_2023_v1.json": ("KEN", "accepted", None),
        "KEN_2023_v2.json": ("KEN", "accepted", None),
        "KEN_link.json": (None, "rejected", "not_a_regular_file"),  # no content, so no member (issue 16)
        "UGA_2023.xlsx": (None, "rejected", "zip_bomb"),  # no member in the content: nobody's
    }
    ken_v2 = history[history.file_name == "KEN_2023_v2.json"].iloc[0]
    assert (ken_v2.version, bool(ken_v2.is_latest), ken_v2.n_changes) == (2, True, 3)


def test_changes_between_versions_answer_by_answer(cycle_run):
    settings, _, _ = cycle_run
    changes = query(
        settings,
        "SELECT item, year, change, previous_status, status, previous_value, value, source_pointer"
        " FROM staging.submission_changes WHERE cycle = '2023' AND member_code = 'KEN' ORDER BY item, year",
    )
    got = [
        (
            r.item,
            r.year,
            r.change,
            r.previous_status,
            r.status,
            None if r.previous_value != r.previous_value else r.previous_value,
            None if r.value != r.value else r.value,
            r.source_pointer,
        )
        for r in changes.itertuples()
    ]
    assert got == [
        ("aeo_count", 2021, "changed", "reported", "not_available", 40.0, None, "/answers/2"),
        ("aeo_count", 2022, "added", None, "reported", None, 44.0, "/answers/3"),
        ("declarations_electronic", 2022, "changed", "reported", "reported", 900.0, 950.0, "/answers/1"),
    ]


def test_a_bad_file_removed_from_landing_stays_in_its_members_report(cycle_run):
    # Received files stay on record (read back from the archive), so removing a file from the
    # landing folder does not erase its rejection: the member's report still tells about it.
    settings, _, _ = cycle_run
    landing = settings.layout.landing_dir("2023")
    (landing / "ARG_2023.csv").unlink()
    assert run_cycle_in_process(settings, "2023").success
    folder = settings.layout.published_dir("2023") / "feedback"
    assert (folder / "ARG").is_dir()
    assert (folder / "FRA" / "feedback_FRA_2023.xlsx").exists()
    assert "ARG" in set(query(settings, "SELECT member_code FROM feedback.member_reports").member_code)


def summary_lines(path) -> str:
    return "\n".join(" ".join(str(v) for v in row if v is not None) for row in list(report_cells(path).values())[0])


def test_each_report_opens_with_the_verdict_in_the_members_language(cycle_run):
    settings, _, _ = cycle_run
    rows = query(settings, "SELECT member_code, outcome, version_used, has_receipt, path FROM feedback.member_reports")
    by_member = {r.member_code: r for r in rows.itertuples()}
    # FRA: version 1 (JSON) is in use, its later questionnaire was rejected: the report says both, in French.
    fra = by_member["FRA"]
    assert fra.version_used == 1 and fra.outcome in {"used", "used_with_warnings", "blocked"}
    text = summary_lines(fra.path)
    assert text.startswith("Rapport de validation MMP") and "Ce qu'il est advenu de votre soumission" in text
    assert "Le fichier FRA_2023_v2.xlsx envoyé le" in text and "La version 1 reste utilisée" in text
    assert "Date limite" in text and "/cycles/2023/members/FRA/" in text
    # ARG sent only a rejected file: no version is used, in Spanish.
    arg = by_member["ARG"]
    assert (arg.outcome, arg.has_receipt) == ("rejected_only", False) and pd.isna(arg.version_used)
    assert "No se usa ninguna versión de su envío" in summary_lines(arg.path)
    # KEN's version 2 is in use; a member whose submission passed has the receipt of that version.
    ken = by_member["KEN"]
    assert ken.version_used == 2
    if ken.has_receipt:
        sha = query(settings, "SELECT submission_id FROM raw.submissions WHERE file_name = 'KEN_2023_v2.json'")
        assert "Receipt" in summary_lines(ken.path) and sha.submission_id[0] in summary_lines(ken.path)
    assert all(r.has_receipt == (r.outcome in {"used", "used_with_warnings"}) for r in rows.itertuples())
    assert any(r.has_receipt for r in rows.itertuples())
