"""Every aggregate stays finite: huge finite inputs never give a published infinity or NaN, nor a refused release.

The rollup SQL runs here on a small in-memory warehouse (only the columns it reads), with values
near the top of the double range: a plain sum of two of them overflows.
"""

import math

import duckdb
import numpy as np
import pandas as pd
import pytest

from pmm_pipeline.stages.disclosure.audit import PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.control import TIERS, control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import load_series_facts
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline.stages.rollups.compute import NOT_FINITE, render_rollups_sql

KPI = "electronic_declaration_rate"  # a ratio KPI: mean, median, min, max and the pooled ratio


def rollups_of(catalogue, rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """rollup.rollups of one cycle whose members (all in one region) have these (member, value, numerator,
    denominator)."""
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA staging; CREATE SCHEMA kpi")
    conn.execute(
        "CREATE TABLE staging.participation (cycle VARCHAR, member_code VARCHAR, is_participating BOOLEAN,"
        " region_code VARCHAR, income_group VARCHAR, landlocked VARCHAR, admin_type VARCHAR)"
    )
    conn.execute(
        "CREATE TABLE kpi.kpi_values (cycle VARCHAR, member_code VARCHAR, kpi_id VARCHAR, series VARCHAR,"
        " value DOUBLE, numerator DOUBLE, denominator DOUBLE, status VARCHAR, level_code VARCHAR)"
    )
    for member, value, numerator, denominator in rows:
        conn.execute(
            "INSERT INTO staging.participation VALUES ('C', ?, true, 'R', 'high', 'false', 'customs')", [member]
        )
        conn.execute(
            "INSERT INTO kpi.kpi_values VALUES ('C', ?, ?, 'total', ?, ?, ?, 'reported', NULL)",
            [member, KPI, value, numerator, denominator],
        )
    kpis = [k for k in catalogue.kpis_for_version("1.0") if k.id == KPI]
    compiled = render_rollups_sql(kpis, catalogue.formulas)
    return conn.execute(compiled.sql, {**compiled.params, "cycle": "C"}).df()


def global_row(rollups: pd.DataFrame) -> dict:
    return rollups[rollups["group_type"] == "global"].iloc[0].to_dict()


def test_sums_that_overflow_are_computed_at_scale(catalogue):
    # Plain sums: 2e308 overflows, so the plain mean is inf and the plain pooled ratio inf / inf = NaN.
    row = global_row(
        rollups_of(
            catalogue, [("A", 1.7e308, 1.7e308, 1e308), ("B", 1.7e308, 1.7e308, 1e308), ("C", 1.1e308, 1.1e308, 1e308)]
        )
    )
    assert math.isclose(row["mean"], 1.5e308, rel_tol=1e-12)
    assert math.isclose(row["pooled"], (1.7 * 2 + 1.1) / 3, rel_tol=1e-12)
    assert row["median"] == 1.7e308 and row["max"] == 1.7e308 and row["min"] == 1.1e308
    assert not row["suppressed"] and row["suppression_reason"] is None


def test_ordinary_figures_keep_every_bit(catalogue):
    values = [("A", 95.0, 950.0, 1000.0), ("B", 100.0 / 3, 100.0, 300.0), ("C", 75.0, 3.0, 4.0)]
    row = global_row(rollups_of(catalogue, values))
    assert row["mean"] == math.fsum(v for _, v, _, _ in values) / 3
    assert row["pooled"] == (950.0 + 100.0 + 3.0) / (1000.0 + 300.0 + 4.0)


@pytest.mark.parametrize(
    "rows,statistic",
    [
        # A pooled ratio that truly exceeds the double range: it cannot be published as a number.
        ([("A", 50.0, 1e308, 1e-10), ("B", 50.0, 1e308, 1e-10), ("C", 50.0, 1.0, 1e-10)], "pooled"),
        # An input that is itself not finite (the KPI stage makes such values undefined; defended here too).
        ([("A", math.inf, 1.0, 1.0), ("B", 50.0, 1.0, 2.0), ("C", 50.0, 1.0, 2.0)], "mean"),
    ],
)
def test_a_statistic_that_cannot_be_finite_is_null_with_its_reason(catalogue, rows, statistic):
    rollups = rollups_of(catalogue, rows)
    for column in ("mean", "median", "min", "max", "pooled"):
        assert rollups[column].map(lambda v: v is None or pd.isna(v) or math.isfinite(v)).all(), column
    row = global_row(rollups)
    assert pd.isna(row[statistic]) and row["suppressed"]
    assert f"{statistic}:{NOT_FINITE}" in row["suppression_reason"].split(";")


def test_the_audit_accepts_a_release_with_huge_values_and_keeps_the_reason(catalogue):
    rows = [
        ("A", 1.7e308, 1e308, 1e-10),
        ("B", 1.7e308, 1e308, 1e-10),
        ("C", 1.1e308, 1.0, 1e-10),
        ("D", 1.0, 1.0, 1e-10),
    ]
    rollups = rollups_of(catalogue, rows)
    values = pd.DataFrame(
        [
            {
                "cycle": "C",
                "reporting_year": 2022,
                "member_code": m,
                "kpi_id": KPI,
                "series": "total",
                "value": v,
                "status": "reported",
                "disclosure": "public" if m != "D" else "secretariat",
                "flags": "",
                "numerator": n,
                "denominator": d,
                "level_code": None,
            }
            for m, v, n, d in rows
        ]
    )
    memberships = pd.DataFrame(
        [
            {"member_code": m, "group_type": t, "group_code": c}
            for m, *_ in rows
            for t, c in (
                ("global", "all"),
                ("region", "R"),
                ("income_group", "high"),
                ("landlocked", "false"),
                ("admin_type", "customs"),
            )
        ]
    )
    facts = load_series_facts(values, memberships, rollups, {})
    withheld = withheld_frame(control_disclosure(facts, 3), "C")
    tables = []
    for tier in TIERS:
        published = tier_rollups(rollups, withheld, tier)
        numbers = published[["mean", "median", "min", "max", "pooled"]].to_numpy(dtype=float, na_value=np.nan)
        assert not np.isinf(numbers).any()
        assert published["suppression_reason"].str.contains(f"pooled:{NOT_FINITE}").all(), tier
        tables += [
            PublishedTable(tier, f"{tier}/kpi_values", "kpi_values", tier_kpi_values(values, tier)),
            PublishedTable(tier, f"{tier}/rollups", "rollups", published),
        ]
    assert audit_tiers(tables, facts, values, rollups, 3) == []
