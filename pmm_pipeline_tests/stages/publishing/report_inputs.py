"""The hand-made published tables of the report tests and what is drawn from them: `tables()` (a few KPI values
and rollups of cycle 2023), the group and member names in three languages, the report's `context(lang)` with its
earlier cycles (`trends()`), and `hand_made_profile_inputs(lang)`, KEN's profile inputs over the same tables. Used
by test_report.py, test_report_catalogues.py, test_audit_cells.py, test_profiles.py and
test_release_pages_browser.py.
"""

import pandas as pd

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.catalogue.load import load_catalogue
from pmm_pipeline.stages.publishing.report import ReportContext
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS


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


GROUP_NAMES = {
    ("region", "ESA"): {
        "en": "East and Southern Africa",
        "fr": "Afrique orientale et australe",
        "es": "África Oriental",
    }
}
MEMBER_NAMES = {
    "KEN": {"en": "Kenya", "fr": "Kenya", "es": "Kenia"},
    "FRA": {"en": "France", "fr": "France", "es": "Francia"},
}


def context(lang: str) -> ReportContext:
    return ReportContext(
        cycle="2023",
        reporting_year=2022,
        tier="public",
        kpis=load_catalogue(Settings.from_env({}).specs_dir).kpis_for_version("1.0"),
        group_names=GROUP_NAMES,
        min_group_size=3,
        completeness=None,
        lang=lang,
        member_names=MEMBER_NAMES,
        publication_date="2025-01-15",
        catalogue_version="1.0",
        release_id="run-1",
        code_version="abc123",
        trends=trends(),
    )


def trends() -> pd.DataFrame:
    """Earlier cycles of the hand-made tables: electronic_declaration_rate changed its definition in 2021."""
    from pmm_pipeline.stages.publishing.series import TREND_COLUMNS

    rows = [
        ("2019", "electronic_declaration_rate", "total", "global", "all", 3, 4, 80.0, 81.0, None),
        ("2021", "electronic_declaration_rate", "total", "global", "all", 3, 4, 85.0, 86.0, False),
        ("2023", "electronic_declaration_rate", "total", "global", "all", 3, 4, None, 95.0, True),
        ("2021", "aeo_trade_share", "import", "global", "all", 3, 4, 27.0, 26.0, None),
        ("2023", "aeo_trade_share", "import", "global", "all", 3, 4, 30.0, 25.0, True),
    ]
    frame = pd.DataFrame(rows, columns=TREND_COLUMNS)
    frame["comparable_with_previous"] = pd.array(frame["comparable_with_previous"], dtype="boolean")
    return frame


def hand_made_profile_inputs(lang: str):
    """KEN in the hand-made tables above, with a previous cycle of each kind (changed, not comparable)."""
    import pandas as pd

    from pmm_pipeline.stages.publishing.profile_document import ProfileInputs

    ctx = context(lang)
    values = tables()["kpi_values"]
    memberships = pd.DataFrame(
        [("KEN", "global", "all"), ("KEN", "region", "ESA")], columns=["member_code", "group_type", "group_code"]
    )
    previous = {
        "KEN": {
            "cycle": "2021",
            "kpis": [
                {"kpi_id": "electronic_declaration_rate", "series": "total", "value": 90.0, "status": "reported"},
                {"kpi_id": "aeo_trade_share", "series": "import", "value": None, "status": "missing"},
            ],
        }
    }
    return ProfileInputs(
        cycle="2023",
        reporting_year=2022,
        kpis=ctx.kpis,
        values=values,
        wco_rollups=tables()["rollups"],
        memberships=memberships,
        languages={"KEN": lang},
        group_names=ctx.group_names,
        member_names=ctx.member_names,
        min_group_size=3,
        definitions={"electronic_declaration_rate": "a", "aeo_trade_share": "b"},
        previous=previous,
        previous_definitions={"electronic_declaration_rate": "a", "aeo_trade_share": "changed"},
        targets={("KEN", "electronic_declaration_rate", "total"): 98.0},  # as a member's own statement would set it
    )
