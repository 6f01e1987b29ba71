"""The KPI catalogue: the shipped one is valid and complete; each kind of error is reported with its file.

Items are their own catalogue (kpi_specs/items/<code>.yaml, each declared once); a KPI file names none and
uses the ones its formulas name.
"""

import shutil
from pathlib import Path

import pytest

from pmm_pipeline.app.cli import main
from pmm_pipeline.specs.catalogue.formula import parse_formula
from pmm_pipeline.specs.catalogue.load import (
    CatalogueError,
    catalogue_digest,
    load_catalogue,
    questionnaire_order,
    validate_catalogue,
)
from pmm_pipeline.specs.catalogue.models import Shape
from pmm_pipeline_tests.paths import CHECKOUT

SPECS = CHECKOUT / "kpi_specs"
CONFIRMED_ITEMS = {
    "declarations_total",
    "declarations_electronic",
    "aeo_count",
    "import_value_total",
    "import_value_aeo",
    "export_value_total",
    "export_value_aeo",
    "import_shipments_total",
    "import_shipments_ecommerce",
    "export_shipments_total",
    "export_shipments_ecommerce",
    "rfi_count",
    "alcohol_seizures",
    "data_elements_total",
    "data_elements_wco_dm",
    "pca_controls_total",
    "pca_controls_with_findings",
    "drug_controls_total",
    "drug_controls_with_seizure",
}
CONFIRMED_FORMULAS = {
    ("electronic_declaration_rate", "total"): "100 * declarations_electronic[T] / declarations_total[T]",
    ("aeo_count_variation", "total"): "100 * (aeo_count[T] - aeo_count[T-1]) / aeo_count[T-1]",
    ("aeo_trade_share", "import"): "100 * import_value_aeo[T] / import_value_total[T]",
    ("aeo_trade_share", "export"): "100 * export_value_aeo[T] / export_value_total[T]",
    ("ecommerce_shipment_share", "import"): "100 * import_shipments_ecommerce[T] / import_shipments_total[T]",
    ("ecommerce_shipment_share", "export"): "100 * export_shipments_ecommerce[T] / export_shipments_total[T]",
    ("rfi_variation", "total"): "100 * (rfi_count[T] - rfi_count[T-1]) / rfi_count[T-1]",
    (
        "alcohol_seizure_variation",
        "total",
    ): "100 * (alcohol_seizures[T] - alcohol_seizures[T-1]) / alcohol_seizures[T-1]",
    ("data_standardization", "total"): "100 * data_elements_wco_dm[T] / data_elements_total[T]",
    ("pca_effectiveness", "total"): "100 * pca_controls_with_findings[T] / pca_controls_total[T]",
    ("drug_control_effectiveness", "total"): "100 * drug_controls_with_seizure[T] / drug_controls_total[T]",
}


def test_shipped_catalogue_is_complete():
    catalogue = load_catalogue(SPECS)
    confirmed = {k for k, spec in catalogue.kpis.items() if spec.status == "confirmed"}
    assert confirmed == {kpi for kpi, _ in CONFIRMED_FORMULAS}
    for key, formula in CONFIRMED_FORMULAS.items():
        assert catalogue.formulas[key].source.replace(" ", "") == formula.replace(" ", "")
    confirmed_items = {i.code for k in confirmed for i in catalogue.kpis[k].items}
    assert confirmed_items == CONFIRMED_ITEMS
    provisional = [k for k in catalogue.kpis.values() if k.status == "provisional"]
    assert len(provisional) >= 12
    for dimension in (1, 2, 3, 4):
        assert sum(k.dimension == dimension for k in catalogue.kpis.values()) >= 3
    assert any(k.shape == Shape.categorical for k in catalogue.kpis.values())


VALID = (SPECS / "pca_effectiveness.yaml").read_text()
PART = (SPECS / "items" / "pca_controls_with_findings.yaml").read_text()
RATIO = "100 * pca_controls_with_findings[T] / pca_controls_total[T]"
# A KPI that the shipped catalogue does not have, using only items it declares: needs no other file.
NEW_KPI = (
    VALID.replace("id: pca_effectiveness", "id: customs_revenue_per_staff")
    .replace("shape: ratio", "shape: value")
    .replace(RATIO, "customs_revenue_total[T] / staff_total[T]")
    .replace("statistics: [mean, median, min, max, pooled]", "statistics: [mean, median]")
)


def write_spec(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text)


def write_item(folder: Path, name: str, text: str) -> None:
    (folder / "items" / f"{name}.yaml").write_text(text)


def by_file(problems) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for p in problems:
        found.setdefault(p.file.name, []).append(p.message)
    return found


@pytest.fixture
def specs_copy(tmp_path) -> Path:
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder)
    return folder


@pytest.fixture
def broken_catalogue(specs_copy):
    folder = specs_copy
    write_spec(
        folder,
        "unknown_item_kpi",
        VALID.replace("id: pca_effectiveness", "id: unknown_item_kpi").replace(
            "pca_controls_with_findings[T]", "pca_controls_with_result[T]"
        ),
    )
    write_spec(
        folder,
        "syntax_error_kpi",
        VALID.replace("id: pca_effectiveness", "id: syntax_error_kpi").replace(
            "100 * pca_controls_with_findings[T] /", "100 * (pca_controls_with_findings[T] /"
        ),
    )
    # Same id in a second file (also a stem mismatch).
    write_spec(folder, "pca_effectiveness_copy", VALID)
    # The same item declared a second time, in a .yml beside its .yaml.
    (folder / "items" / "pca_controls_total.yml").write_text((folder / "items" / "pca_controls_total.yaml").read_text())
    # A part whose whole is not in the item catalogue.
    write_item(folder, "pca_controls_with_findings", PART.replace("part_of: pca_controls_total", "part_of: pca_audits"))
    return folder


def test_check_reports_every_error_with_its_file(broken_catalogue):
    _, problems = validate_catalogue(broken_catalogue)
    found = by_file(problems)
    assert any("unknown item(s) pca_controls_with_result" in m for m in found["unknown_item_kpi.yaml"])
    assert any("syntax error" in m for m in found["syntax_error_kpi.yaml"])
    assert any("duplicate id 'pca_effectiveness'" in m for m in found["pca_effectiveness_copy.yaml"])
    assert any(
        "duplicate item 'pca_controls_total'" in m and "pca_controls_total.yaml" in m
        for m in found["pca_controls_total.yml"]
    )
    assert found["pca_controls_with_findings.yaml"] == [
        "item pca_controls_with_findings: part_of unknown item pca_audits"
    ]
    assert set(found) == {
        "unknown_item_kpi.yaml",
        "syntax_error_kpi.yaml",
        "pca_effectiveness_copy.yaml",
        "pca_controls_total.yml",
        "pca_controls_with_findings.yaml",
    }
    with pytest.raises(CatalogueError):
        load_catalogue(broken_catalogue)


def test_specs_check_command(broken_catalogue, capsys):
    assert main(["specs", "check", str(broken_catalogue)]) == 1
    err = capsys.readouterr().err
    for name in (
        "unknown_item_kpi.yaml",
        "syntax_error_kpi.yaml",
        "pca_effectiveness_copy.yaml",
        "items/pca_controls_total.yml",
        "items/pca_controls_with_findings.yaml",
    ):
        assert name in err
    assert main(["specs", "check", str(SPECS)]) == 0


@pytest.mark.parametrize(
    "change,fragment",
    [
        (("dimension: 3", "dimension: 7"), "dimension"),
        (("shape: ratio", "shape: ratio\nweight: 2"), "weight: Extra inputs are not permitted"),
        (("  es: Eficacia", "  de: Wirksamkeit\n  es: Eficacia"), "names.de: Extra inputs"),
        ((RATIO, "pca_controls_with_findings[T] - pca_controls_total[T]"), "numerator / denominator"),
        (("pca_controls_total[T]", "pca_controls_total[T-2]"), "year offset"),
        ((RATIO, f"round({RATIO})"), "ROUND is not allowed"),
        ((RATIO, f"pct({RATIO})"), "unknown function pct()"),
        (("id: pca_effectiveness", "id: Bad-Id"), "id"),
        (("shape: ratio", "shape: ratio\nshape: value"), "key 'shape' appears twice"),
        # The earlier format, items declared in the KPI file: refused, saying where items are declared.
        (("rollup:", "items:\n  - code: pca_controls_total\nrollup:"), "declare each once in items/<code>.yaml"),
    ],
)
def test_each_invalid_spec_names_its_file(specs_copy, change, fragment):
    old, new = change
    assert old in VALID, old
    write_spec(specs_copy, "pca_effectiveness", VALID.replace(old, new, 1))
    _, problems = validate_catalogue(specs_copy)
    assert problems and all(p.file.name == "pca_effectiveness.yaml" for p in problems), problems
    assert any(fragment in p.message for p in problems), [p.message for p in problems]


@pytest.mark.parametrize(
    "change,fragment",
    [
        (("part_of: pca_controls_total", "part_of: nothing_here"), "part_of unknown item nothing_here"),
        (
            ("part_of: pca_controls_total", "part_of: pca_controls_with_findings"),
            "part_of forms a cycle: pca_controls_with_findings -> pca_controls_with_findings",
        ),
        (("part_of: pca_controls_total", "part_of: risk_management_level"), "part_of needs numeric items"),
        (("unit: controls", "unit: audits"), "part_of pca_controls_total counts 'controls', not 'audits'"),
        (("type: count", "type: count\nweight: 2"), "weight: Extra inputs are not permitted"),
        (("  fr: Nombre de contrôles a posteriori", "  de: Anzahl"), "labels.fr: Field required"),
        (("type: count", "type: level"), "must declare its levels"),
        (("type: count", "type: count\nmin: 5\nmax: 1"), "min must not be above max"),
        (("code: pca_controls_with_findings", "code: pca_findings"), "must equal the file name stem"),
        (("unit: controls", "unit: controls\nunit: audits"), "key 'unit' appears twice"),
    ],
)
def test_each_invalid_item_names_its_file(specs_copy, change, fragment):
    old, new = change
    assert old in PART, old
    write_item(specs_copy, "pca_controls_with_findings", PART.replace(old, new, 1))
    _, problems = validate_catalogue(specs_copy)
    assert any(fragment in p.message for p in problems), [p.message for p in problems]
    item_file = specs_copy / "items" / "pca_controls_with_findings.yaml"
    # The item's own file is blamed; a KPI using an item that no longer loads says so in its own file.
    assert all(p.file == item_file or "unknown item(s) pca_controls_with_findings" in p.message for p in problems)
    assert any(p.file == item_file for p in problems)


def test_a_part_of_cycle_through_several_items_is_found(specs_copy):
    whole = (specs_copy / "items" / "pca_controls_total.yaml").read_text()
    cyclic = whole.replace("unit: controls", "unit: controls\npart_of: pca_controls_with_findings")
    write_item(specs_copy, "pca_controls_total", cyclic)
    _, problems = validate_catalogue(specs_copy)
    assert {p.file.name for p in problems} == {"pca_controls_total.yaml", "pca_controls_with_findings.yaml"}
    assert all("part_of forms a cycle" in p.message for p in problems)


def test_unparsable_yaml_and_unused_item(specs_copy):
    write_spec(specs_copy, "broken", "id: [unclosed")
    write_item(specs_copy, "spare_item", "{code: spare_item, labels: {en: a, fr: b, es: c}, type: count, unit: x}")
    write_item(specs_copy, "listed_item", "- code: listed_item\n- type: count\n")
    _, problems = validate_catalogue(specs_copy)
    messages = {p.file.name: p.message for p in problems}
    assert "not valid YAML" in messages["broken.yaml"]
    assert messages["spare_item.yaml"] == "item spare_item is declared but used by no KPI's formula"
    assert messages["listed_item.yaml"] == "must be a mapping of item fields"
    assert len(problems) == 3


def test_an_item_named_only_by_a_broken_kpi_is_not_called_unused(specs_copy):
    # pca_effectiveness fails (a bad dimension, a formula that does not parse) but still names its two items.
    broken = VALID.replace("dimension: 3", "dimension: 7").replace(RATIO, RATIO.replace("100 *", "100 * ("))
    write_spec(specs_copy, "pca_effectiveness", broken)
    _, problems = validate_catalogue(specs_copy)
    assert [p.file.name for p in problems] == ["pca_effectiveness.yaml"]


def test_a_missing_item_folder_is_reported(specs_copy):
    shutil.rmtree(specs_copy / "items")
    _, problems = validate_catalogue(specs_copy)
    assert problems[0].file == specs_copy / "items" and "items/<code>.yaml" in problems[0].message


def test_a_kpi_uses_the_items_its_formulas_name_declared_once(catalogue):
    """Every KPI's items are exactly its formulas' items, the same objects as in the item catalogue."""
    for kpi in catalogue.kpis.values():
        named = {r.item for s in kpi.series for r in catalogue.formulas[(kpi.id, s.id)].refs}
        assert {i.code for i in kpi.items} == named
        assert all(i is catalogue.items[i.code] for i in kpi.items)
        assert all(catalogue.item_files[i.code].name == f"{i.code}.yaml" for i in kpi.items)
    # staff_total is used by three KPIs and declared once.
    users = [k.id for k in catalogue.kpis.values() if "staff_total" in {i.code for i in k.items}]
    assert len(users) >= 3 and len(list((SPECS / "items").glob("staff_total.*"))) == 1


def test_an_item_edit_reaches_every_kpi_using_it_and_the_digest(specs_copy):
    digest_before = catalogue_digest(load_catalogue(specs_copy))
    path = specs_copy / "items" / "staff_total.yaml"
    path.write_text(path.read_text().replace("typical: [150, 60000]", "typical: [150, 70000]"))
    after = load_catalogue(specs_copy)
    users = [k for k in after.kpis.values() if "staff_total" in {i.code for i in k.items}]
    assert users and all(k.item("staff_total").typical == (150, 70000) for k in users)
    assert catalogue_digest(after) != digest_before
    assert ("items/staff_total.yaml", path) in after.source_files()


def test_the_questionnaire_asks_a_whole_before_its_parts():
    formulas = [
        parse_formula("100 * (a[T] + b[T]) / c[T]"),
        parse_formula("100 * (d[T] - d[T-1]) / d[T-1]"),
        parse_formula("a[T] - e[T]"),
    ]
    assert questionnaire_order(formulas) == ["c", "a", "b", "d", "e"]


def test_shipped_kpis_list_each_whole_before_its_part(catalogue):
    for kpi in catalogue.kpis.values():
        codes = [i.code for i in kpi.items]
        for i, item in enumerate(kpi.items):
            if item.part_of in codes:
                assert codes.index(item.part_of) < i, (kpi.id, codes)
    assert [i.code for i in catalogue.kpis["aeo_trade_share"].items] == [
        "import_value_total",
        "import_value_aeo",
        "export_value_total",
        "export_value_aeo",
    ]


def test_a_new_kpi_on_existing_items_is_one_file(specs_copy):
    write_spec(specs_copy, "customs_revenue_per_staff", NEW_KPI)
    catalogue = load_catalogue(specs_copy)
    kpi = catalogue.kpis["customs_revenue_per_staff"]
    assert [i.code for i in kpi.items] == ["staff_total", "customs_revenue_total"]
    assert catalogue.items_for_version("1.0").keys() == load_catalogue(SPECS).items_for_version("1.0").keys()
