"""The Excel questionnaire of `pmm template`: what it asks, in which language, and how it guards its structure."""

import io

import openpyxl
import pytest

from pmm_pipeline.app.cli import main
from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.questionnaire.layout import plan_questionnaire, stamp_checksum
from pmm_pipeline.stages.questionnaire.template import QuestionnaireError, render_questionnaire

# Cycle 2023 (catalogue 1.0): items the shipped variation KPIs use at [T-1], worked out by hand. A KPI file added
# later may use more items at [T-1]: the test asks for the rule's set, of which these must be part.
SHIPPED_T_MINUS_1_ITEMS = {"aeo_count", "rfi_count", "alcohol_seizures", "customs_revenue_total"}


def items_used_at_t_minus_1(catalogue, version: str) -> set[str]:
    """The items some formula of the catalogue version uses at [T-1] (the catalogue's parsed formulas)."""
    return {
        ref.item
        for kpi in catalogue.kpis_for_version(version)
        for series in kpi.series
        for ref in catalogue.formulas[(kpi.id, series.id)].refs
        if ref.offset == -1
    }


@pytest.fixture(scope="module")
def world():
    settings = Settings.from_env({})
    return load_reference(settings.reference_dir, settings.cycles_file), load_catalogue(settings.specs_dir)


def workbook_of(world, member="KEN", lang="en", cycle="2023"):
    reference, catalogue = world
    return openpyxl.load_workbook(io.BytesIO(render_questionnaire(catalogue, reference, cycle, member, lang)))


def answer_rows(sheet):
    return [row for row in sheet.iter_rows(min_row=5, values_only=True) if row[3] is not None]


def test_one_row_per_item_and_year_it_is_needed(world):
    reference, catalogue = world
    rows = answer_rows(workbook_of(world)["Answers"])
    items = catalogue.items_for_version("1.0")
    t_minus_1 = items_used_at_t_minus_1(catalogue, "1.0")
    assert SHIPPED_T_MINUS_1_ITEMS <= t_minus_1
    assert sorted((r[0], r[3]) for r in rows) == sorted(
        [(code, 2022) for code in items] + [(code, 2021) for code in t_minus_1]
    )
    assert {r[0] for r in rows if r[3] == 2021} == t_minus_1


@pytest.mark.parametrize(
    "lang,sheets,label,unit,header",
    [
        (
            "en",
            ["Cover", "Answers", "Disclosure", "_pmm"],
            "Number of goods declarations lodged (all channels)",
            "declarations",
            "Item code",
        ),
        (
            "fr",
            ["Couverture", "Réponses", "Diffusion", "_pmm"],
            "Nombre de déclarations de marchandises déposées (tous canaux)",
            "déclarations",
            "Code de l'élément",
        ),
        (
            "es",
            ["Portada", "Respuestas", "Divulgación", "_pmm"],
            "Número de declaraciones de mercancías presentadas (todos los canales)",
            "declaraciones",
            "Código del elemento",
        ),
    ],
)
def test_words_in_the_chosen_language(world, lang, sheets, label, unit, header):
    workbook = workbook_of(world, lang=lang)
    assert workbook.sheetnames == sheets
    answers = workbook[sheets[1]]
    assert answers["A4"].value == header
    row = next(r for r in answer_rows(answers) if r[0] == "declarations_total")
    assert (row[1], row[2]) == (label, unit)


def test_input_cells_validated_and_only_they_unlocked(world):
    workbook = workbook_of(world, lang="fr")
    answers = workbook["Réponses"]
    assert answers.protection.sheet and answers.freeze_panes == "B5"
    validations = {str(dv.sqref): dv for dv in answers.data_validations.dataValidation}
    by_item = {answers.cell(r, 1).value: r for r in range(5, answers.max_row + 1) if answers.cell(r, 4).value == 2022}
    count = validations[f"E{by_item['declarations_total']}"]
    assert (count.type, count.operator, count.formula1) == ("whole", "greaterThanOrEqual", "0")
    level = validations[f"E{by_item['single_window_level']}"]
    assert level.type == "list" and level.formula1.startswith("'_pmm'!")
    status = next(dv for dv in validations.values() if dv.sqref and "F" in str(dv.sqref))
    assert status.type == "list"
    meta = workbook["_pmm"]
    assert [meta.cell(r, status_col).value for r in (1, 2, 3) for status_col in [4]] == [
        "Déclaré [reported]",
        "Sans objet [not_applicable]",
        "Non disponible [not_available]",
    ]
    row = by_item["declarations_total"]
    assert answers.cell(row, 5).protection.locked is False  # value
    assert answers.cell(row, 6).protection.locked is False  # status
    assert answers.cell(row, 7).protection.locked is False  # comment
    assert answers.cell(row, 1).protection.locked is not False  # item code
    disclosure = workbook["Diffusion"]
    kpis = [r[0] for r in disclosure.iter_rows(min_row=5, values_only=True) if r[0]]
    reference, catalogue = world
    assert sorted(kpis) == sorted(k.id for k in catalogue.kpis_for_version("1.0"))


def test_cover_names_member_cycle_years_and_asks_for_contact(world):
    cover = workbook_of(world, member="SEN", lang="fr")["Couverture"]
    values = {r[1]: r[2] for r in cover.iter_rows(values_only=True) if r[1]}
    assert values["Membre"] == "Sénégal (SEN)"
    assert (values["Cycle"], values["Année de référence (T)"], values["Année précédente (T-1)"]) == (
        "2023",
        "2022",
        "2021",
    )
    keys = [r[0] for r in cover.iter_rows(values_only=True) if r[0]]
    assert keys == [
        "pmm:submitted_at",
        "pmm:contact_name",
        "pmm:contact_role",
        "pmm:contact_email",
        "pmm:contact_phone",
    ]


def test_stamp_is_very_hidden_and_checksummed(world):
    reference, catalogue = world
    workbook = workbook_of(world, member="KEN", lang="es")
    meta = workbook["_pmm"]
    assert meta.sheet_state == "veryHidden"
    stamp = {r[0]: r[1] for r in meta.iter_rows(max_col=2, values_only=True) if r[0]}
    assert (stamp["member"], stamp["cycle"], stamp["language"], stamp["template_version"]) == ("KEN", "2023", "es", "1")
    assert stamp["questionnaire_digest"] == plan_questionnaire(catalogue, reference.cycles.get("2023")).digest
    assert stamp["checksum"] == stamp_checksum(stamp)
    assert stamp_checksum({**stamp, "member": "UGA"}) != stamp["checksum"]


def test_digest_depends_on_what_is_asked_not_on_wording(world):
    reference, catalogue = world
    plans = {c: plan_questionnaire(catalogue, reference.cycles.get(c)).digest for c in ("2023", "2025")}
    assert plans["2023"] != plans["2025"]
    assert plan_questionnaire(catalogue, reference.cycles.get("2023")).digest == plans["2023"]


def test_same_inputs_same_bytes(world):
    reference, catalogue = world
    assert render_questionnaire(catalogue, reference, "2023", "KEN") == render_questionnaire(
        catalogue, reference, "2023", "KEN"
    )


@pytest.mark.parametrize(
    "member,cycle,lang,message",
    [
        ("XXX", "2023", "en", "not in the members reference"),
        ("KEN", "1999", "en", "unknown cycle"),
        ("KEN", "2023", "de", "language"),
    ],
)
def test_bad_arguments(world, member, cycle, lang, message):
    reference, catalogue = world
    with pytest.raises(QuestionnaireError, match=message):
        render_questionnaire(catalogue, reference, cycle, member, lang)


def test_command_line(tmp_path, capsys):
    output = tmp_path / "KEN_2023.xlsx"
    assert main(["template", "--cycle", "2023", "--member", "KEN", "--lang", "fr", "--output", str(output)]) == 0
    assert openpyxl.load_workbook(output).sheetnames[0] == "Couverture"
    for args in (
        ["--cycle", "2023", "--member", "XXX", "--output", str(tmp_path / "a.xlsx")],
        ["--cycle", "1999", "--member", "KEN", "--output", str(tmp_path / "a.xlsx")],
        ["--cycle", "2023", "--member", "KEN", "--output", str(tmp_path / "a.txt")],
        ["--cycle", "2023", "--member", "KEN", "--output", str(tmp_path / "missing" / "a.xlsx")],
    ):
        capsys.readouterr()
        assert main(["template", *args]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("pmm: error:") and "\n" not in error
    with pytest.raises(SystemExit) as exit_info:
        main(["template", "--cycle", "2023", "--member", "KEN", "--lang", "de", "--output", "x.xlsx"])
    assert exit_info.value.code != 0
