"""The HTML report on hand-made tables: self-contained, audited when read back; the Chromium helpers.

The released report of a real run is drawn in headless Chromium in test_publication_formats.py.
"""

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.stages.publishing.report import ReportContext, read_report, render_report
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--virtual-time-budget=20000",
]


def chromium() -> str:
    """Debian's chromium, installed when missing (the one set-up step that needs the package mirror)."""
    found = shutil.which("chromium")
    if not found:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("chromium is not installed and could not be installed")
    return found


def tables() -> dict[str, pd.DataFrame]:
    values = pd.DataFrame(
        [
            ("2023", 2022, "KEN", "electronic_declaration_rate", "total", 95.0, "reported", "public", ""),
            ("2023", 2022, "FRA", "electronic_declaration_rate", "total", 100.0, "reported", "public", ""),
            ("2023", 2022, "KEN", "aeo_trade_share", "import", 25.0, "reported", "public", ""),
        ],
        columns=PUBLISHED_KPI_COLUMNS,
    )
    rollups = pd.DataFrame(
        [
            (
                "2023",
                "electronic_declaration_rate",
                "total",
                "global",
                "all",
                3,
                4,
                None,
                95.0,
                None,
                100.0,
                None,
                True,
                "mean:differencing;min:hidden_member;pooled:differencing",
            ),
            (
                "2023",
                "electronic_declaration_rate",
                "total",
                "region",
                "ESA",
                3,
                3,
                87.5,
                95.0,
                80.0,
                100.0,
                88.0,
                False,
                None,
            ),
            ("2023", "aeo_trade_share", "import", "global", "all", 3, 4, 30.0, 25.0, 20.0, 45.0, 28.0, False, None),
        ],
        columns=PUBLISHED_ROLLUP_COLUMNS,
    )
    return {"kpi_values": values, "rollups": rollups}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    settings = Settings.from_env({})
    catalogue = load_catalogue(settings.specs_dir)
    context = ReportContext(
        cycle="2023",
        reporting_year=2022,
        tier="public",
        kpis=catalogue.kpis_for_version("1.0"),
        group_names={("global", "all"): "All members", ("region", "ESA"): "East and Southern Africa"},
        min_group_size=3,
        completeness=None,
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(tables(), context), encoding="utf-8")
    return path


def test_report_is_self_contained_and_reads_back_as_its_tables(report: Path):
    text = report.read_text()
    assert "cdn" not in text.lower().split("<script>", 1)[0]  # nothing fetched by the head
    assert "<script src=" not in text and "<link" not in text
    assert "@media print" in text
    assert "100 * declarations_electronic[T] / declarations_total[T]" in text  # methodology from the spec
    assert "n=3 of N=4 (withheld)" in text
    embedded, problems = read_report(report)
    assert problems == []
    assert sorted(embedded["kpi_values"].member_code) == ["FRA", "KEN", "KEN"]
    assert embedded["rollups"]["mean"].isna().tolist() == [True, False, False]


def test_a_charted_number_outside_the_tables_is_a_problem(report: Path, tmp_path: Path):
    tampered = tmp_path / "report.html"
    tampered.write_text(report.read_text().replace('"y": [95.0, 100.0]', '"y": [75.0, 100.0]'))
    _, problems = read_report(tampered)
    assert problems and "draws 75.0" in problems[0]
