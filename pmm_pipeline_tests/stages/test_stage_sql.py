"""The stages' SQL run directly on a few given rows in an in-memory DuckDB, compared with rows worked out by hand.

Each statement is written into its declared table the way its asset writes it (replace_cycle_rows_from_sql), so
a statement whose columns drift from the table's declaration fails here too. The input tables are created from
their declarations (warehouse/tables/); a row gives only the columns the case is about, the rest are NULL.
Rows of another cycle are given everywhere a statement filters by cycle, and must never show.
"""

import datetime as dt
import math

import duckdb
import pytest

from pmm_pipeline.stages.collection.status import COMPLETENESS_SQL, OUTSTANDING_MEMBERS_SQL
from pmm_pipeline.stages.kpis.compile import render_kpi_values_sql
from pmm_pipeline.stages.lineage.provenance import formula_refs, write_provenance
from pmm_pipeline.stages.rollups.compute import render_rollups_sql
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    COMPLETENESS,
    DISCLOSURE,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    OUTSTANDING_MEMBERS,
    PARTICIPATION,
    PROVENANCE,
    REJECTIONS,
    ROLLUPS,
    SUBMISSIONS,
    Table,
)
from pmm_pipeline.warehouse.writes import create_tables, replace_cycle_rows_from_sql

CYCLE = "2023"
OTHER = "2022"  # a cycle whose rows every statement must leave out
T = 2022  # the reporting year of cycle 2023
RATIO, VARIATION, LEVELS = "electronic_declaration_rate", "aeo_count_variation", "risk_management_implementation"


def warehouse(rows: dict[Table, list[dict]]) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the declared tables and these rows (columns not given are NULL)."""
    conn = duckdb.connect()
    create_tables(conn, list(rows))
    for table, table_rows in rows.items():
        for row in table_rows:
            assert set(row) <= set(table.column_names), (
                f"{table.qualified} has no column {set(row) - set(table.column_names)}"
            )
            # Column names come from the declarations (checked just above); the values are bound.
            names = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            conn.execute(f"INSERT INTO {table.qualified} ({names}) VALUES ({marks})", list(row.values()))
    return conn


def read(conn: duckdb.DuckDBPyConnection, table: Table, columns: list[str], order: str) -> list[tuple]:
    # Identifiers only: declared column names and an ORDER BY written in this module.
    assert set(columns) <= set(table.column_names)
    return conn.execute(
        f"SELECT {', '.join(columns)} FROM {table.qualified} WHERE cycle = ? ORDER BY {order}", [CYCLE]
    ).fetchall()


@pytest.fixture(scope="module")
def kpis(catalogue):
    """A ratio KPI, a variation over T and T-1 (not a ratio at the top) and a categorical KPI."""
    by_id = {k.id: k for k in catalogue.kpis_for_version("1.0")}
    return [by_id[RATIO], by_id[VARIATION], by_id[LEVELS]]


def answer(member, item, year, value=None, status="reported", value_text=None, cycle=CYCLE, sub=None, **source):
    return {
        "cycle": cycle,
        "member_code": member,
        "item": item,
        "year": year,
        "value": value,
        "value_text": value_text,
        "status": status,
        "submission_id": sub or f"s{member}",
        **source,
    }


def participant(member, region="R1", participating=True, cycle=CYCLE, **more):
    return {
        "cycle": cycle,
        "member_code": member,
        "member_name": f"{member} name",
        "region_code": region,
        "income_group": more.pop("income_group", "low" if region == "R1" else "upper"),
        "landlocked": "not_landlocked",
        "admin_type": "customs",
        "language": "en",
        "is_participating": participating,
        "submission_id": f"s{member}" if participating else None,
        **more,
    }


def finding(member, rule, item, year, severity="warning", cycle=CYCLE):
    return {"cycle": cycle, "member_code": member, "rule": rule, "item": item, "year": year, "severity": severity}


# --- kpi.kpi_values -----------------------------------------------------------------------------------------------


def test_kpi_values_follow_the_answer_states_the_gate_and_the_disclosure_choices(catalogue, kpis):
    conn = warehouse(
        {
            PARTICIPATION: [
                participant("KEN"),
                participant("UGA"),
                participant("ARG"),
                participant("BRA"),  # admitted, but no answer at all
                participant("DEU"),  # blocked by the gate: no row even though it has answers
                participant("FRA", participating=False),  # not participating: no row
                participant("KEN", cycle=OTHER),
            ],
            MEMBER_SUMMARY: [
                *({"cycle": CYCLE, "member_code": m, "is_admitted": True} for m in ("KEN", "UGA", "ARG", "BRA", "FRA")),
                {"cycle": CYCLE, "member_code": "DEU", "is_admitted": False},
            ],
            ADMITTED_ANSWERS: [
                answer("KEN", "declarations_electronic", T, 900.0),
                answer("KEN", "declarations_total", T, 1000.0),
                answer("KEN", "declarations_total", T - 1, 1.0),  # read by no formula
                answer("KEN", "aeo_count", T, 60.0),
                answer("KEN", "aeo_count", T - 1, 40.0),
                answer("KEN", "risk_management_level", T, 2.0, value_text="fully_implemented"),
                answer("KEN", "declarations_electronic", T, 1.0, cycle=OTHER),
                answer("UGA", "declarations_electronic", T, status="not_applicable"),
                answer("UGA", "declarations_total", T, 500.0),
                answer("UGA", "aeo_count", T, 10.0),
                answer("UGA", "aeo_count", T - 1, 0.0),  # zero denominator
                answer("UGA", "risk_management_level", T, status="not_available"),
                answer("ARG", "declarations_electronic", T, 0.0),
                answer("ARG", "declarations_total", T, 0.0),  # 0 / 0
                answer("ARG", "aeo_count", T, 5.0),  # T-1 not answered
                answer("ARG", "risk_management_level", T, 0.0, value_text="not_implemented"),
                answer("DEU", "declarations_electronic", T, 10.0),
                answer("DEU", "declarations_total", T, 10.0),
                answer("FRA", "declarations_electronic", T, 10.0),
                answer("FRA", "declarations_total", T, 10.0),
            ],
            DISCLOSURE: [
                {"cycle": CYCLE, "member_code": "KEN", "kpi_id": RATIO, "disclosure": "public"},
                {"cycle": CYCLE, "member_code": "KEN", "kpi_id": VARIATION, "disclosure": "wco"},
                {"cycle": CYCLE, "member_code": "BRA", "kpi_id": RATIO, "disclosure": "wco"},
                {"cycle": OTHER, "member_code": "UGA", "kpi_id": RATIO, "disclosure": "public"},
            ],
            FINDINGS: [
                finding("KEN", "b_rule", "declarations_total", T),
                finding("KEN", "a_rule", "declarations_total", T),
                finding("KEN", "a_rule", "declarations_electronic", T),  # the same rule twice: listed once
                finding("KEN", "yoy_change", "aeo_count", T),
                finding("KEN", "z_blocking", "aeo_count", T - 1, severity="blocking"),  # not a warning: no flag
                finding("KEN", "other_cycle", "declarations_total", T, cycle=OTHER),
                finding("UGA", "u_rule", "declarations_total", T - 1),  # a (item, year) no formula reads
            ],
        }
    )
    compiled = render_kpi_values_sql(kpis, catalogue.formulas, T)
    written = replace_cycle_rows_from_sql(conn, KPI_VALUES, CYCLE, compiled.sql, {**compiled.params, "cycle": CYCLE})
    columns = ["member_code", "kpi_id", "series", "value", "status", "disclosure", "flags", "numerator"]
    columns += ["denominator", "level_code", "submission_id", "reporting_year"]
    rows = read(conn, KPI_VALUES, columns, "member_code, kpi_id, series")
    s, w, p = "secretariat", "wco", "public"
    assert rows == [
        ("ARG", VARIATION, "total", None, "missing", s, "", None, None, None, "sARG", T),
        ("ARG", RATIO, "total", None, "undefined", s, "", None, None, None, "sARG", T),
        ("ARG", LEVELS, "total", 0.0, "reported", s, "", None, None, "not_implemented", "sARG", T),
        ("BRA", VARIATION, "total", None, "missing", s, "", None, None, None, "sBRA", T),
        ("BRA", RATIO, "total", None, "missing", w, "", None, None, None, "sBRA", T),
        ("BRA", LEVELS, "total", None, "missing", s, "", None, None, None, "sBRA", T),
        ("KEN", VARIATION, "total", 50.0, "reported", w, "yoy_change", None, None, None, "sKEN", T),
        ("KEN", RATIO, "total", 90.0, "reported", p, "a_rule;b_rule", 90000.0, 1000.0, None, "sKEN", T),
        ("KEN", LEVELS, "total", 2.0, "reported", s, "", None, None, "fully_implemented", "sKEN", T),
        ("UGA", VARIATION, "total", None, "undefined", s, "", None, None, None, "sUGA", T),
        ("UGA", RATIO, "total", None, "not_applicable", s, "", None, None, None, "sUGA", T),
        ("UGA", LEVELS, "total", None, "missing", s, "", None, None, None, "sUGA", T),
    ]
    assert written == len(rows)


def test_an_infinite_quotient_is_undefined_not_published(catalogue, kpis):
    """A ratio whose division overflows the double range is not a number a reader can use."""
    conn = warehouse(
        {
            PARTICIPATION: [participant("KEN")],
            MEMBER_SUMMARY: [{"cycle": CYCLE, "member_code": "KEN", "is_admitted": True}],
            ADMITTED_ANSWERS: [
                answer("KEN", "declarations_electronic", T, 1e308),
                answer("KEN", "declarations_total", T, 1e-10),
            ],
            DISCLOSURE: [],
            FINDINGS: [],
        }
    )
    compiled = render_kpi_values_sql(kpis[:1], catalogue.formulas, T)
    replace_cycle_rows_from_sql(conn, KPI_VALUES, CYCLE, compiled.sql, {**compiled.params, "cycle": CYCLE})
    assert read(conn, KPI_VALUES, ["member_code", "value", "status", "numerator"], "member_code") == [
        ("KEN", None, "undefined", None)
    ]


# --- rollup.rollups -----------------------------------------------------------------------------------------------


def kpi_value(member, kpi_id, value, status="reported", numerator=None, denominator=None, level=None, cycle=CYCLE):
    return {
        "cycle": cycle,
        "member_code": member,
        "kpi_id": kpi_id,
        "series": "total",
        "value": value,
        "status": status,
        "numerator": numerator,
        "denominator": denominator,
        "level_code": level,
    }


ROLLUP_COLUMNS = ["kpi_id", "series", "group_type", "group_code", "n_reporting", "n_participating"]
ROLLUP_COLUMNS += ["mean", "median", "min", "max", "pooled", "suppressed", "suppression_reason"]


def test_rollups_per_group_over_reported_values_only(catalogue, kpis):
    conn = warehouse(
        {
            PARTICIPATION: [
                participant("KEN", "R1"),
                participant("UGA", "R1"),
                participant("BRA", "R2"),
                participant("ARG", "R2"),
                participant("FRA", "R2", participating=False),  # its stray value counts nowhere
                participant("DEU", "R3", cycle=OTHER),
            ],
            KPI_VALUES: [
                kpi_value("KEN", RATIO, 90.0, numerator=90000.0, denominator=1000.0),
                kpi_value("UGA", RATIO, 50.0, numerator=25000.0, denominator=500.0),
                kpi_value("BRA", RATIO, 70.0, numerator=7000.0, denominator=100.0),
                kpi_value("ARG", RATIO, None, status="missing"),
                kpi_value("FRA", RATIO, 1.0, numerator=1.0, denominator=100.0),
                kpi_value("KEN", RATIO, 1.0, numerator=1.0, denominator=100.0, cycle=OTHER),
                kpi_value("KEN", VARIATION, 50.0),
                kpi_value("UGA", VARIATION, None, status="undefined"),
                kpi_value("BRA", VARIATION, 10.0),
                kpi_value("ARG", VARIATION, 20.0),
                kpi_value("KEN", LEVELS, 2.0, level="fully_implemented"),
                kpi_value("UGA", LEVELS, None, status="missing"),
                kpi_value("BRA", LEVELS, 2.0, level="fully_implemented"),
                kpi_value("ARG", LEVELS, 0.0, level="not_implemented"),
            ],
        }
    )
    compiled = render_rollups_sql(kpis, catalogue.formulas)
    replace_cycle_rows_from_sql(conn, ROLLUPS, CYCLE, compiled.sql, {**compiled.params, "cycle": CYCLE})
    rows = conn.execute(
        f"SELECT {', '.join(ROLLUP_COLUMNS)} FROM rollup.rollups WHERE cycle = ? ORDER BY ALL", [CYCLE]
    ).fetchall()

    # Members of each group: every member is in `all`, its region, its income group (low = R1, upper = R2),
    # not_landlocked and customs; so the last three groups hold the same members as `all`.
    groups = {
        ("global", "all"): ("KEN", "UGA", "BRA", "ARG"),
        ("region", "R1"): ("KEN", "UGA"),
        ("region", "R2"): ("BRA", "ARG"),
        ("income_group", "low"): ("KEN", "UGA"),
        ("income_group", "upper"): ("BRA", "ARG"),
        ("landlocked", "not_landlocked"): ("KEN", "UGA", "BRA", "ARG"),
        ("admin_type", "customs"): ("KEN", "UGA", "BRA", "ARG"),
    }
    # By hand, for the groups' three member sets: (n_reporting, n_participating, mean, median, min, max, pooled).
    ratio = {
        4: (3, 4, 70.0, 70.0, 50.0, 90.0, 122000.0 / 1600.0),
        ("KEN", "UGA"): (2, 2, 70.0, 70.0, 50.0, 90.0, 115000.0 / 1500.0),
        ("BRA", "ARG"): (1, 2, 70.0, 70.0, 70.0, 70.0, 70.0),
    }
    variation = {  # no pooled statistic declared for this KPI
        4: (3, 4, math.fsum([50.0, 10.0, 20.0]) / 3, 20.0, 10.0, 50.0, None),
        ("KEN", "UGA"): (1, 2, 50.0, 50.0, 50.0, 50.0, None),
        ("BRA", "ARG"): (2, 2, 15.0, 15.0, 10.0, 20.0, None),  # the median of two values is their mean
    }
    # Categorical: a row per level, its share of the members that reported a level; the other statistics NULL.
    level_counts = {
        4: {
            "fully_implemented": (2, 4, 200.0 / 3),
            "not_implemented": (1, 4, 100.0 / 3),
            "partially_implemented": (0, 4, 0.0),
        },
        ("KEN", "UGA"): {
            "fully_implemented": (1, 2, 100.0),
            "not_implemented": (0, 2, 0.0),
            "partially_implemented": (0, 2, 0.0),
        },
        ("BRA", "ARG"): {
            "fully_implemented": (1, 2, 50.0),
            "not_implemented": (1, 2, 50.0),
            "partially_implemented": (0, 2, 0.0),
        },
    }

    def of(table, members):
        return table[4] if len(members) == 4 else table[members]

    expected = []
    for (group_type, group_code), members in groups.items():
        expected.append((RATIO, "total", group_type, group_code, *of(ratio, members), False, None))
        expected.append((VARIATION, "total", group_type, group_code, *of(variation, members), False, None))
        for level, (n, n_all, share) in of(level_counts, members).items():
            expected.append(
                (LEVELS, level, group_type, group_code, n, n_all, share, None, None, None, None, False, None)
            )
    assert rows == sorted(expected, key=lambda r: tuple("" if v is None else v for v in r))


def test_rollups_of_a_group_with_no_reported_value_are_null_not_zero(catalogue, kpis):
    conn = warehouse(
        {
            PARTICIPATION: [participant("KEN", "R1"), participant("UGA", "R1")],
            KPI_VALUES: [
                kpi_value("KEN", RATIO, None, status="missing"),
                kpi_value("UGA", RATIO, None, status="undefined"),
                kpi_value("KEN", LEVELS, None, status="missing"),
            ],
        }
    )
    compiled = render_rollups_sql(kpis, catalogue.formulas)
    replace_cycle_rows_from_sql(conn, ROLLUPS, CYCLE, compiled.sql, {**compiled.params, "cycle": CYCLE})
    rows = conn.execute(
        f"SELECT {', '.join(ROLLUP_COLUMNS)} FROM rollup.rollups WHERE cycle = ? AND group_type = ? ORDER BY ALL",
        [CYCLE, "global"],
    ).fetchall()
    assert rows == [
        (RATIO, "total", "global", "all", 0, 2, None, None, None, None, None, False, None),
        (LEVELS, "fully_implemented", "global", "all", 0, 1, None, None, None, None, None, False, None),
        (LEVELS, "not_implemented", "global", "all", 0, 1, None, None, None, None, None, False, None),
        (LEVELS, "partially_implemented", "global", "all", 0, 1, None, None, None, None, None, False, None),
    ]


# --- collection.completeness and collection.outstanding_members ---------------------------------------------------


def submission(member, version=1, late=False, frozen_out=False, cycle=CYCLE):
    return {
        "cycle": cycle,
        "member_code": member,
        "submission_id": f"s{member}{version}",
        "version": version,
        "is_late": late,
        "is_frozen_out": frozen_out,
    }


COLLECTION_PARTICIPATION = [
    participant("KEN", "R1"),
    participant("UGA", "R1"),
    participant("BRA", "R2", participating=False),  # its one version came after the freeze
    participant("ARG", "R2", participating=False),  # sent nothing accepted
    participant("FRA", "R2"),  # sent late, before the freeze
    participant("MEX", "R2", participating=False),  # sent nothing accepted
    participant("DEU", "R3", cycle=OTHER),
]


def test_completeness_counts_received_on_time_late_frozen_out_and_opted_out_per_group():
    conn = warehouse(
        {
            PARTICIPATION: COLLECTION_PARTICIPATION,
            SUBMISSIONS: [
                submission("KEN", 1),
                submission("KEN", 2, late=True),
                submission("UGA", 1),
                submission("BRA", 1, late=True, frozen_out=True),
                submission("FRA", 1, late=True),
                submission("ARG", 1, cycle=OTHER),
            ],
            KPI_VALUES: [
                kpi_value("KEN", RATIO, None, status="not_applicable"),
                {**kpi_value("KEN", "aeo_trade_share", None, status="not_applicable"), "series": "import"},
                {**kpi_value("KEN", "aeo_trade_share", None, status="not_applicable"), "series": "export"},
                kpi_value("UGA", RATIO, 50.0),
                kpi_value("BRA", RATIO, None, status="not_applicable"),  # not participating: not counted
                kpi_value("FRA", RATIO, None, status="not_applicable", cycle=OTHER),
            ],
        }
    )
    replace_cycle_rows_from_sql(conn, COMPLETENESS, CYCLE, COMPLETENESS_SQL, {"cycle": CYCLE})
    columns = ["group_type", "group_code", "members_expected", "members_received", "members_received_on_time"]
    columns += ["members_participating", "members_outstanding", "versions_late", "versions_frozen_out"]
    columns += ["members_opting_out", "kpis_opted_out", "received_pct", "received_on_time_pct"]
    assert read(conn, COMPLETENESS, columns, "group_type, group_code") == [
        ("global", "all", 6, 4, 2, 3, 2, 3, 1, 1, 2, 400.0 / 6, 200.0 / 6),
        ("region", "R1", 2, 2, 2, 2, 0, 1, 0, 1, 2, 100.0, 100.0),
        ("region", "R2", 4, 2, 0, 1, 2, 2, 1, 0, 0, 50.0, 0.0),
    ]


def test_outstanding_members_are_those_with_nothing_accepted_with_files_attributed_by_name():
    conn = warehouse(
        {
            PARTICIPATION: COLLECTION_PARTICIPATION,
            SUBMISSIONS: [submission("KEN"), submission("UGA"), submission("BRA"), submission("FRA")],
            REJECTIONS: [
                {"cycle": CYCLE, "file_name": "arg_2023_v1.json"},  # ARG's, whatever the case
                {"cycle": CYCLE, "file_name": "FRA.xlsx"},  # FRA has an accepted version: not listed
                {"cycle": CYCLE, "file_name": "MEXICO.json"},  # no separator after the code: nobody's
                {"cycle": OTHER, "file_name": "MEX.json"},
            ],
        }
    )
    params = {"cycle": CYCLE, "listed_on": dt.date(2024, 3, 5), "closes_on": dt.date(2024, 3, 11)}
    replace_cycle_rows_from_sql(conn, OUTSTANDING_MEMBERS, CYCLE, OUTSTANDING_MEMBERS_SQL, params)
    columns = ["member_code", "member_name", "region_code", "language", "has_rejected_files", "listed_on"]
    columns += ["closes_on", "days_left"]
    march_5, march_11 = dt.date(2024, 3, 5), dt.date(2024, 3, 11)
    assert read(conn, OUTSTANDING_MEMBERS, columns, "region_code, member_code") == [
        ("ARG", "ARG name", "R2", "en", True, march_5, march_11, 6),
        ("MEX", "MEX name", "R2", "en", False, march_5, march_11, 6),
    ]


# --- lineage.provenance -------------------------------------------------------------------------------------------


def test_provenance_has_a_row_per_value_and_answer_read_with_its_place_version_and_flags(catalogue, kpis):
    submitted = dt.datetime(2024, 1, 5, 9, 0, tzinfo=dt.UTC)
    conn = warehouse(
        {
            KPI_VALUES: [
                {**kpi_value("KEN", RATIO, 90.0), "reporting_year": T, "submission_id": "sKEN"},
                {**kpi_value("KEN", VARIATION, None, status="missing"), "reporting_year": T, "submission_id": "sKEN"},
                {
                    **kpi_value("UGA", RATIO, None, status="not_applicable"),
                    "reporting_year": T,
                    "submission_id": "sUGA",
                },
                {**kpi_value("UGA", RATIO, 1.0, cycle=OTHER), "reporting_year": T - 1, "submission_id": "sOLD"},
            ],
            ADMITTED_ANSWERS: [
                answer("KEN", "declarations_electronic", T, 900.0, source_file="KEN.json", source_pointer="/answers/0"),
                answer(
                    "KEN", "declarations_total", T, 1000.0, source_file="KEN.xlsx", source_sheet="Q", source_cell="E7"
                ),
                answer("KEN", "aeo_count", T, 60.0, source_file="KEN.csv", source_line=4),
                answer("KEN", "aeo_count", T - 1, 40.0, sub="sKEN_v1", source_file="KEN_v1.json"),  # older version
                answer("UGA", "declarations_electronic", T, status="not_applicable", source_file="UGA.json"),
            ],
            SUBMISSIONS: [
                {
                    "cycle": CYCLE,
                    "member_code": "KEN",
                    "submission_id": "sKEN",
                    "version": 2,
                    "submitted_at": submitted,
                    "archive_path": "archive/2023/sKEN.json",
                },
                {
                    "cycle": CYCLE,
                    "member_code": "UGA",
                    "submission_id": "sUGA",
                    "version": 1,
                    "submitted_at": submitted,
                    "archive_path": "archive/2023/sUGA.json",
                },
            ],
            FINDINGS: [
                finding("KEN", "yoy_change", "aeo_count", T),
                finding("KEN", "a_rule", "aeo_count", T),
                finding("KEN", "z_blocking", "declarations_total", T, severity="blocking"),
                finding("KEN", "other_cycle", "declarations_electronic", T, cycle=OTHER),
            ],
        }
    )
    written = write_provenance(conn, CYCLE, formula_refs(kpis[:2], catalogue), "run-1", "0.1+abc", "1.0", "d" * 64)
    columns = ["kpi_id", "series", "member_code", "kpi_value", "kpi_status", "formula", "item", "year", "year_ref"]
    columns += ["answer_value", "answer_value_text", "answer_status", "source_file", "source_pointer", "source_sheet"]
    columns += ["source_cell", "source_line", "submission_id", "submission_version", "archive_path", "rules_flagged"]
    columns += ["run_id", "code_version", "catalogue_version", "catalogue_digest", "reporting_year"]
    rows = read(conn, PROVENANCE, columns, "kpi_id, series, member_code, item, year")
    variation = "100 * (aeo_count[T] - aeo_count[T-1]) / aeo_count[T-1]"
    ratio = "100 * declarations_electronic[T] / declarations_total[T]"
    run = ("run-1", "0.1+abc", "1.0", "d" * 64, T)
    ken = ("sKEN", 2, "archive/2023/sKEN.json")
    uga = ("sUGA", 1, "archive/2023/sUGA.json")
    no_place = (None, None, None, None, None)
    assert rows == [
        # The older version's T-1 answer is not the one the value was computed from: missing here.
        (
            VARIATION,
            "total",
            "KEN",
            None,
            "missing",
            variation,
            "aeo_count",
            T - 1,
            "T-1",
            None,
            None,
            "missing",
            *no_place,
            *ken,
            "",
            *run,
        ),
        (
            VARIATION,
            "total",
            "KEN",
            None,
            "missing",
            variation,
            "aeo_count",
            T,
            "T",
            60.0,
            None,
            "reported",
            "KEN.csv",
            None,
            None,
            None,
            4,
            *ken,
            "a_rule;yoy_change",
            *run,
        ),
        (
            RATIO,
            "total",
            "KEN",
            90.0,
            "reported",
            ratio,
            "declarations_electronic",
            T,
            "T",
            900.0,
            None,
            "reported",
            "KEN.json",
            "/answers/0",
            None,
            None,
            None,
            *ken,
            "",
            *run,
        ),
        (
            RATIO,
            "total",
            "KEN",
            90.0,
            "reported",
            ratio,
            "declarations_total",
            T,
            "T",
            1000.0,
            None,
            "reported",
            "KEN.xlsx",
            None,
            "Q",
            "E7",
            None,
            *ken,
            "",
            *run,
        ),
        (
            RATIO,
            "total",
            "UGA",
            None,
            "not_applicable",
            ratio,
            "declarations_electronic",
            T,
            "T",
            None,
            None,
            "not_applicable",
            "UGA.json",
            None,
            None,
            None,
            None,
            *uga,
            "",
            *run,
        ),
        (
            RATIO,
            "total",
            "UGA",
            None,
            "not_applicable",
            ratio,
            "declarations_total",
            T,
            "T",
            None,
            None,
            "missing",
            *no_place,
            *uga,
            "",
            *run,
        ),
    ]
    assert written == len(rows)
    stamps = conn.execute("SELECT DISTINCT epoch(submitted_at) FROM lineage.provenance WHERE cycle = ?", [CYCLE])
    assert stamps.fetchall() == [(submitted.timestamp(),)]
