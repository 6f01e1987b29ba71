"""The KPI catalogue: the shipped one is valid and complete; each kind of error is reported with its file."""

import shutil
from pathlib import Path

import pytest

from pmm_pipeline.catalogue.load import CatalogueError, load_catalogue, validate_catalogue
from pmm_pipeline.catalogue.models import Shape
from pmm_pipeline.cli import main

SPECS = Path(__file__).resolve().parents[1] / "kpi_specs"
CONFIRMED_ITEMS = {
    "declarations_total", "declarations_electronic", "aeo_count", "import_value_total", "import_value_aeo",
    "export_value_total", "export_value_aeo", "import_shipments_total", "import_shipments_ecommerce",
    "export_shipments_total", "export_shipments_ecommerce", "rfi_count", "alcohol_seizures",
    "data_elements_total", "data_elements_wco_dm", "pca_controls_total", "pca_controls_with_findings",
    "drug_controls_total", "drug_controls_with_seizure",
}
CONFIRMED_FORMULAS = {
    ("electronic_declaration_rate", "total"): "100 * declarations_electronic[T] / declarations_total[T]",
    ("aeo_count_variation", "total"): "100 * (aeo_count[T] - aeo_count[T-1]) / aeo_count[T-1]",
    ("aeo_trade_share", "import"): "100 * import_value_aeo[T] / import_value_total[T]",
    ("aeo_trade_share", "export"): "100 * export_value_aeo[T] / export_value_total[T]",
    ("ecommerce_shipment_share", "import"): "100 * import_shipments_ecommerce[T] / import_shipments_total[T]",
    ("ecommerce_shipment_share", "export"): "100 * export_shipments_ecommerce[T] / export_shipments_total[T]",
    ("rfi_variation", "total"): "100 * (rfi_count[T] - rfi_count[T-1]) / rfi_count[T-1]",
    ("alcohol_seizure_variation", "total"): "100 * (alcohol_seizures[T] - alcohol_seizures[T-1]) / alcohol_seizures[T-1]",
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


def write_spec(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.yaml").write_text(text)


VALID = (SPECS / "pca_effectiveness.yaml").read_text()
RATIO = "100 * pca_controls_with_findings[T] / pca_controls_total[T]"


@pytest.fixture
def broken_catalogue(tmp_path):
    folder = tmp_path / "specs"
    shutil.copytree(SPECS, folder)
    write_spec(folder, "unknown_item_kpi", VALID.replace("id: pca_effectiveness", "id: unknown_item_kpi")
               .replace("pca_controls_with_findings[T]", "pca_controls_with_result[T]"))
    write_spec(folder, "syntax_error_kpi", VALID.replace("id: pca_effectiveness", "id: syntax_error_kpi")
               .replace("100 * pca_controls_with_findings[T] /", "100 * (pca_controls_with_findings[T] /"))
    # Same id in a second file (also a stem mismatch).
    write_spec(folder, "pca_effectiveness_copy", VALID)
    return folder


def test_check_reports_every_error_with_its_file(broken_catalogue):
    _, problems = validate_catalogue(broken_catalogue)
    by_file = {}
    for p in problems:
        by_file.setdefault(p.file.name, []).append(p.message)
    assert any("unknown item(s) pca_controls_with_result" in m for m in by_file["unknown_item_kpi.yaml"])
    assert any("syntax error" in m for m in by_file["syntax_error_kpi.yaml"])
    assert any("duplicate id 'pca_effectiveness'" in m for m in by_file["pca_effectiveness_copy.yaml"])
    with pytest.raises(CatalogueError):
        load_catalogue(broken_catalogue)


def test_specs_check_command(broken_catalogue, capsys):
    assert main(["specs", "check", str(broken_catalogue)]) == 1
    err = capsys.readouterr().err
    for name in ("unknown_item_kpi.yaml", "syntax_error_kpi.yaml", "pca_effectiveness_copy.yaml"):
        assert name in err
    assert main(["specs", "check", str(SPECS)]) == 0


@pytest.mark.parametrize(
    "change,fragment",
    [
        (("dimension: 3", "dimension: 7"), "dimension"),
        (("shape: ratio", "shape: ratio\nweight: 2"), "weight: Extra inputs are not permitted"),
        (("  es: Eficacia", "  de: Wirksamkeit\n  es: Eficacia"), "de: Extra inputs"),
        (("100 * pca_controls_with_findings[T] / pca_controls_total[T]", "pca_controls_with_findings[T] - 1"),
         "numerator / denominator"),
        (("pca_controls_total[T]", "pca_controls_total[T-2]"), "year offset"),
        ((RATIO, f"round({RATIO})"), "ROUND is not allowed"),
        ((RATIO, f"pct({RATIO})"), "unknown function pct()"),
        (("    part_of: pca_controls_total", "    part_of: nothing_here"), "part_of unknown item"),
        (("id: pca_effectiveness", "id: Bad-Id"), "id"),
    ],
)
def test_each_invalid_spec_names_its_file(tmp_path, change, fragment):
    old, new = change
    assert old in VALID, old
    write_spec(tmp_path, "pca_effectiveness", VALID.replace(old, new, 1))
    _, problems = validate_catalogue(tmp_path)
    assert problems and all(p.file.name == "pca_effectiveness.yaml" for p in problems)
    assert any(fragment in p.message for p in problems), [p.message for p in problems]


def test_unparsable_yaml_and_unused_item(tmp_path):
    write_spec(tmp_path, "broken", "id: [unclosed")
    write_spec(tmp_path, "pca_effectiveness", VALID.replace("items:", "items:\n  - {code: spare_item, labels: {en: a, fr: b, es: c}, type: count, unit: x}", 1))
    _, problems = validate_catalogue(tmp_path)
    messages = {p.file.name: p.message for p in problems}
    assert "not valid YAML" in messages["broken.yaml"]
    assert "spare_item is declared but used by no formula" in messages["pca_effectiveness.yaml"]


def test_shared_items_must_be_identical(tmp_path):
    write_spec(tmp_path, "pca_effectiveness", VALID)
    other = VALID.replace("id: pca_effectiveness", "id: pca_other").replace("unit: controls", "unit: audits", 1)
    write_spec(tmp_path, "pca_other", other)
    _, problems = validate_catalogue(tmp_path)
    assert any("differs from its definition" in p.message and p.file.name == "pca_other.yaml" for p in problems)
