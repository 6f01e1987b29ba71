"""The KPI and rollup stages three ways on the same seeded warehouse: the pipeline's compiled SQL, one
hand-written DuckDB query per table, and plain pandas; used by `make bench` and by test_bench_equivalence.

The inputs are what the KPI stage reads (quality.admitted_answers, quality.member_summary, quality.findings,
staging.participation, staging.disclosure), seeded from sample submissions of every member in force: some
members do not take part, some are blocked by a (synthetic) blocking finding, some answers carry warnings,
and a few denominators are zero. A larger table repeats every member under `copies` member codes (e.g.
sub-national units reporting as members) in the same groups.

Each way writes its two result tables through the same warehouse/writes.py helpers (one transaction per table), so
the figures compare the computations, not the write paths: the pipeline into kpi.kpi_values and
rollup.rollups exactly as its assets do, the others into bench_sql.* and bench_pandas.*.

Neither baseline keeps a copy of the KPIs: both read the catalogue, so a new KPI file needs no edit here.
pandas evaluates every formula's parsed tree itself (node by node on columns, not through stages/kpis/compile.py),
whatever its shape. The hand-written DuckDB query knows four forms of formula (k * a[T] / b[T],
k * (a[T] - a[T-1]) / a[T-1], a[T], a level) and is compared on the KPIs whose formulas all have one of them.
"""

import math
import random
import time
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sqlglot import exp

from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.kpis.compile import render_kpi_values_sql
from pmm_pipeline.stages.rollups.compute import render_rollups_sql
from pmm_pipeline.stages.staging.select import membership_frame
from pmm_pipeline.warehouse.tables import (
    ADMITTED_ANSWERS,
    DISCLOSURE,
    FINDINGS,
    KPI_VALUES,
    MEMBER_SUMMARY,
    PARTICIPATION,
    ROLLUPS,
    Table,
)
from pmm_pipeline.warehouse.writes import (
    create_tables,
    replace_cycle_rows,
    replace_cycle_rows_from_sql,
    replace_cycle_rows_of_tables,
)

CYCLE = "2025"  # 186 members in force, catalogue 1.1 (every KPI of the shipped catalogue)
INPUT_TABLES = (PARTICIPATION, DISCLOSURE, MEMBER_SUMMARY, FINDINGS, ADMITTED_ANSWERS)
GROUP_COLUMNS = {
    "global": None,
    "region": "region_code",
    "income_group": "income_group",
    "landlocked": "landlocked",
    "admin_type": "admin_type",
}
WARNING_RULES = (
    "required_items_present",
    "t_minus_1_matches_earlier_cycle",
    "value_near_peer_median",
    "yoy_change_within_band",
    "magnitude_consistent_with_history",
)


@dataclass(frozen=True)
class Series:
    """One KPI series of the cycle's catalogue, as the baselines read it: from the KPI's file and parsed formula.

    `form` is the hand-written SQL's form of the formula when it has one (else None: pandas only): ratio =
    scale * a[T] / b[T]; variation = scale * (a[T] - a[T-1]) / a[T-1]; value = a[T]; level = the score of the
    level answered for a[T]. `parts`: a ratio KPI, whose numerator and denominator are kept.
    """

    kpi_id: str
    series: str
    formula: Formula
    parts: bool
    categorical: bool
    statistics: frozenset[str]
    form: str | None = None
    a: str | None = None
    b: str | None = None
    scale: float = 1.0

    def reads(self, year: int) -> list[tuple[str, int]]:
        """The (item, year) answers the value is computed from."""
        return [(r.item, year + r.offset) for r in self.formula.refs]


def _unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _ref(node: exp.Expression) -> ItemRef | None:
    """item[T] or item[T-1] as an ItemRef, else None (the tree was checked when the catalogue loaded)."""
    node = _unparen(node)
    if not isinstance(node, exp.Bracket):
        return None
    offset = 0 if node.expressions[0].sql().replace(" ", "") == "T" else -1
    return ItemRef(node.this.name, offset)


def _scaled(node: exp.Expression) -> tuple[float, exp.Expression]:
    """`k * x` as (k, x); any other x as (1, x)."""
    node = _unparen(node)
    if isinstance(node, exp.Mul) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return float(node.this.this), _unparen(node.expression)
    return 1.0, node


def _hand_form(formula: Formula, categorical: bool) -> dict[str, object]:
    """The fields of the hand-written SQL's form of a formula, or {} when it has none of them."""
    top = _unparen(formula.tree)
    if categorical:
        return {"form": "level", "a": formula.refs[0].item}
    if (ref := _ref(top)) is not None:
        return {"form": "value", "a": ref.item} if ref.offset == 0 else {}
    if not isinstance(top, exp.Div) or (whole := _ref(top.expression)) is None:
        return {}
    scale, part = _scaled(top.this)
    if (ref := _ref(part)) is not None and ref.offset == 0 and whole.offset == 0:
        return {"form": "ratio", "a": ref.item, "b": whole.item, "scale": scale}
    if isinstance(part, exp.Sub) and whole.offset == -1:
        now, before = _ref(part.this), _ref(part.expression)
        if now == ItemRef(whole.item, 0) and before == whole:
            return {"form": "variation", "a": whole.item, "scale": scale}
    return {}


def cycle_series(catalogue: Catalogue, version: str) -> list[Series]:
    """Every series of the KPIs of a catalogue version, in catalogue order."""
    return [
        Series(
            kpi.id,
            s.id,
            formula := catalogue.formulas[(kpi.id, s.id)],
            parts=kpi.shape.value == "ratio",
            categorical=kpi.shape.value == "categorical",
            statistics=frozenset(st.value for st in kpi.rollup.statistics),
            **_hand_form(formula, kpi.shape.value == "categorical"),
        )
        for kpi in catalogue.kpis_for_version(version)
        for s in kpi.series
    ]


def hand_sql_kpis(catalogue: Catalogue, version: str) -> list[str]:
    """The KPIs the hand-written DuckDB query computes: those whose every series has one of its forms."""
    series = cycle_series(catalogue, version)
    return [k for k in dict.fromkeys(s.kpi_id for s in series) if all(s.form for s in series if s.kpi_id == k)]


# ---------------------------------------------------------------------------------------------- seeding


def seed_inputs(
    conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue, answers: pd.DataFrame
) -> dict[str, int]:
    """Write the KPI stage's input tables for CYCLE from staged answers (staging.answers columns) of members.

    Deterministic: every 15th member in force sends nothing, every 20th participant is blocked, about 4 % of
    reported answers draw a warning (some two, some the same rule twice), every 31st participant has a zero
    denominator, and disclosure choices are drawn per member. Returns the row counts written.
    """
    cycle = reference.cycles.get(CYCLE)
    members = membership_frame(reference, cycle)
    absent = set(members["member_code"].iloc[3::15])
    answers = answers[~answers["member_code"].isin(absent)].copy()
    submissions = answers.groupby("member_code")["submission_id"].first()
    participation = members.assign(
        cycle=CYCLE,
        is_participating=members["member_code"].isin(submissions.index),
        submission_id=members["member_code"].map(submissions),
        version=1,
        submitted_at=pd.Timestamp("2026-02-01T10:00:00Z"),
    )
    participation.loc[~participation["is_participating"], "version"] = None
    participation.loc[~participation["is_participating"], "submitted_at"] = None
    participants = sorted(submissions.index)

    year = cycle.reporting_year
    for member in participants[5::31]:  # zero denominators: the KPI is undefined, never 0 or infinity
        for item, item_year in (
            ("declarations_total", year),
            ("declarations_electronic", year),
            ("declarations_physical_inspection", year),
            ("aeo_count", year - 1),
        ):
            at = (answers["member_code"] == member) & (answers["item"] == item) & (answers["year"] == item_year)
            answers.loc[at, ["value", "status"]] = [0.0, "reported"]

    blocked = set(participants[7::20])
    rng = random.Random("pmm-bench-findings")
    findings = []
    for row in answers[answers["status"] == "reported"].itertuples(index=False):
        draw = rng.random()
        if row.member_code in blocked and draw < 0.05:
            findings.append(_finding(row, "values_within_range", "blocking"))
        elif draw < 0.04:
            rules = rng.sample(WARNING_RULES, 2 if draw < 0.01 else 1)
            if draw < 0.005:  # the same rule found twice on one answer (e.g. for two KPIs reading it)
                rules.append(rules[0])
            findings += [_finding(row, rule, "warning") for rule in rules]
    for member in sorted(blocked):  # every blocked member has at least one blocking finding
        row = next(answers[answers["member_code"] == member].itertuples(index=False))
        findings.append(_finding(row, "part_not_above_whole", "blocking"))
    findings = pd.DataFrame(findings, columns=FINDINGS.column_names).drop_duplicates()

    counted = findings.groupby(["member_code", "severity"]).size().unstack(fill_value=0)
    summary = pd.DataFrame({"member_code": participants}).assign(
        cycle=CYCLE,
        submission_id=lambda f: f["member_code"].map(submissions),
        rules_run=11,
        blocking_failed=lambda f: f["member_code"].map(counted.get("blocking", {})).fillna(0).astype(int),
        warnings=lambda f: f["member_code"].map(counted.get("warning", {})).fillna(0).astype(int),
        justified=0,
        is_admitted=lambda f: ~f["member_code"].isin(blocked),
    )
    admitted = answers[~answers["member_code"].isin(blocked)]

    kpi_ids = sorted(k.id for k in catalogue.kpis_for_version(cycle.catalogue_version))
    choices = []
    for member in participants:
        rng_member = random.Random(f"pmm-bench-disclosure:{member}")
        choices += [(CYCLE, member, k, rng_member.choice(("public", "public", "wco", "secretariat"))) for k in kpi_ids]
    disclosure = pd.DataFrame(choices, columns=DISCLOSURE.column_names)

    rows = {
        PARTICIPATION: participation,
        DISCLOSURE: disclosure,
        MEMBER_SUMMARY: summary,
        FINDINGS: findings,
        ADMITTED_ANSWERS: admitted,
    }
    replace_cycle_rows_of_tables(conn, CYCLE, list(rows.items()))
    return {t.qualified: len(frame) for t, frame in rows.items()}


def _finding(answer: Any, rule: str, severity: str) -> dict[str, Any]:
    return {
        "cycle": CYCLE,
        "member_code": answer.member_code,
        "submission_id": answer.submission_id,
        "rule": rule,
        "severity": severity,
        "kpi_id": None,
        "item": answer.item,
        "year": answer.year,
        "value": answer.value,
        "message": f"{rule} (seeded by the benchmark)",
        "is_justified": False,
        "justification": None,
        "source_file": answer.source_file,
        "source_pointer": answer.source_pointer,
        "source_sheet": None,
        "source_cell": None,
        "source_line": None,
    }


def scale_inputs(conn: duckdb.DuckDBPyConnection, copies: int) -> dict[str, int]:
    """Replace every input table's CYCLE rows by `copies` copies, member codes suffixed `~0000`, `~0001`, ...

    The copies keep their member's groups, answers, findings and disclosure: a table `copies` times larger
    with the same shape (think sub-national units reporting as members). Returns the row counts.
    """
    counts = {}
    conn.execute("BEGIN TRANSACTION")
    try:
        for table in INPUT_TABLES:
            conn.execute(f"CREATE TEMP TABLE one_copy AS SELECT * FROM {table.qualified} WHERE cycle = ?", [CYCLE])
            conn.execute(f"DELETE FROM {table.qualified} WHERE cycle = ?", [CYCLE])
            conn.execute(
                f"""
                INSERT INTO {table.qualified} BY NAME
                SELECT one_copy.* REPLACE (member_code || '~' || lpad(copy::VARCHAR, 4, '0') AS member_code)
                FROM one_copy CROSS JOIN range($copies) AS copies(copy)
                ORDER BY one_copy.member_code, copy
                """,
                {"copies": copies},
            )
            conn.execute("DROP TABLE one_copy")
            counts[table.qualified] = conn.execute(
                f"SELECT count(*) FROM {table.qualified} WHERE cycle = ?", [CYCLE]
            ).fetchall()[0][0]
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("CHECKPOINT")
    return counts


# ---------------------------------------------------------------------------------------------- the three ways


def run_pipeline(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """What the compute_kpis and rollups assets do to the warehouse (their SQL and their writes)."""
    cycle = reference.cycles.get(CYCLE)
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    compiled = render_kpi_values_sql(kpis, catalogue.formulas, cycle.reporting_year)
    replace_cycle_rows_from_sql(conn, KPI_VALUES, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id})
    compiled = render_rollups_sql(kpis, catalogue.formulas)
    replace_cycle_rows_from_sql(conn, ROLLUPS, cycle.id, compiled.sql, {**compiled.params, "cycle": cycle.id})
    return {}


def result_tables(implementation: str) -> tuple[Table, Table]:
    """Where an implementation writes its kpi_values and rollups (same columns as the pipeline's tables)."""
    if implementation == "pipeline":
        return KPI_VALUES, ROLLUPS
    schema = f"bench_{'sql' if implementation == 'duckdb' else implementation}"
    return replace(KPI_VALUES, schema=schema), replace(ROLLUPS, schema=schema)


def _catalogue_params(catalogue: Catalogue, version: str, year: int) -> dict[str, object]:
    covered = set(hand_sql_kpis(catalogue, version))
    series = [s for s in cycle_series(catalogue, version) if s.kpi_id in covered]
    levels = [
        (s.kpi_id, level.code) for s in series if s.form == "level" for level in catalogue.items[s.a].answer_levels
    ]
    return {
        "kpi": [s.kpi_id for s in series],
        "series": [s.series for s in series],
        "form": [s.form for s in series],
        "scale": [s.scale for s in series],
        "parts": [s.parts for s in series],
        "a_item": [s.a for s in series],
        "b_item": [s.b if s.form == "ratio" else s.a if s.form == "variation" else None for s in series],
        "b_year": [year if s.form == "ratio" else year - 1 if s.form == "variation" else None for s in series],
        "statistics": [sorted(s.statistics) for s in series],
        "level_kpi": [k for k, _ in levels],
        "level_code": [c for _, c in levels],
    }


# One query per table, written by hand for the four forms: every (member, series) row picks its one or two
# answers by join, and the formula is chosen by the series' form.
HAND_KPI_VALUES_SQL = """
WITH series AS (
    SELECT unnest($kpi) AS kpi_id, unnest($series) AS series, unnest($form) AS form, unnest($scale) AS scale,
        unnest($parts) AS parts, unnest($a_item) AS a_item, unnest($b_item) AS b_item, unnest($b_year) AS b_year
),
members AS (
    SELECT p.member_code, p.submission_id
    FROM staging.participation AS p
    JOIN quality.member_summary AS q ON q.cycle = p.cycle AND q.member_code = p.member_code
    WHERE p.cycle = $cycle AND p.is_participating AND q.is_admitted
),
answers AS (
    SELECT member_code, item, year, value, value_text, status FROM quality.admitted_answers WHERE cycle = $cycle
),
inputs AS (
    SELECT m.member_code, m.submission_id, s.*,
        a.value AS a, a.status AS a_status, a.value_text AS a_level, b.value AS b, b.status AS b_status
    FROM members AS m
    CROSS JOIN series AS s
    LEFT JOIN answers AS a ON a.member_code = m.member_code AND a.item = s.a_item AND a.year = $year
    LEFT JOIN answers AS b ON b.member_code = m.member_code AND b.item = s.b_item AND b.year = s.b_year
),
computed AS (
    SELECT *,
        CASE form
            WHEN 'ratio' THEN scale * a / nullif(b, 0)
            WHEN 'variation' THEN scale * (a - b) / nullif(b, 0)
            ELSE a
        END AS raw_value
    FROM inputs
),
judged AS (
    SELECT *,
        CASE
            WHEN a_status = 'not_applicable' OR b_status = 'not_applicable' THEN 'not_applicable'
            WHEN coalesce(a_status, '') <> 'reported' OR (b_item IS NOT NULL AND coalesce(b_status, '') <> 'reported')
                THEN 'missing'
            WHEN raw_value IS NULL OR NOT isfinite(raw_value) THEN 'undefined'
            ELSE 'reported'
        END AS status
    FROM computed
),
flags AS (
    SELECT f.member_code, s.kpi_id, s.series, string_agg(DISTINCT f.rule, ';' ORDER BY f.rule) AS flags
    FROM quality.findings AS f
    JOIN series AS s ON f.item = s.a_item AND f.year = $year OR f.item = s.b_item AND f.year = s.b_year
    WHERE f.cycle = $cycle AND f.severity = 'warning'
    GROUP BY ALL
)
SELECT $cycle AS cycle, $year AS reporting_year, j.member_code, j.kpi_id, j.series,
    CASE WHEN status = 'reported' THEN raw_value END AS value,
    status,
    coalesce(d.disclosure, 'secretariat') AS disclosure,
    coalesce(flags.flags, '') AS flags,
    CASE WHEN status = 'reported' AND parts THEN scale * a END AS numerator,
    CASE WHEN status = 'reported' AND parts THEN b END AS denominator,
    CASE WHEN status = 'reported' AND form = 'level' THEN a_level END AS level_code,
    j.submission_id
FROM judged AS j
LEFT JOIN staging.disclosure AS d ON d.cycle = $cycle AND d.member_code = j.member_code AND d.kpi_id = j.kpi_id
LEFT JOIN flags ON flags.member_code = j.member_code AND flags.kpi_id = j.kpi_id AND flags.series = j.series
"""

HAND_ROLLUPS_SQL = """
WITH series AS (
    SELECT unnest($kpi) AS kpi_id, unnest($series) AS series, unnest($form) AS form, unnest($parts) AS parts,
        unnest($statistics) AS statistics
),
levels AS (SELECT unnest($level_kpi) AS kpi_id, unnest($level_code) AS level_code),
member_groups AS (
    SELECT member_code, unnest(['global', 'region', 'income_group', 'landlocked', 'admin_type']) AS group_type,
        unnest(['all', region_code, income_group, landlocked, admin_type]) AS group_code
    FROM staging.participation
    WHERE cycle = $cycle AND is_participating
),
grouped AS (
    SELECT v.*, s.form, s.parts, s.statistics, g.group_type, g.group_code
    FROM {kpi_values} AS v
    JOIN series AS s USING (kpi_id, series)
    JOIN member_groups AS g USING (member_code)
    WHERE v.cycle = $cycle
)
SELECT $cycle AS cycle, kpi_id, series, group_type, group_code,
    count(value) AS n_reporting, count(*) AS n_participating,
    CASE WHEN list_contains(any_value(statistics), 'mean') THEN favg(value) END AS mean,
    CASE WHEN list_contains(any_value(statistics), 'median') THEN quantile_cont(value, 0.5) END AS median,
    CASE WHEN list_contains(any_value(statistics), 'min') THEN min(value) END AS min,
    CASE WHEN list_contains(any_value(statistics), 'max') THEN max(value) END AS max,
    CASE WHEN list_contains(any_value(statistics), 'pooled') THEN fsum(numerator) / nullif(fsum(denominator), 0)
    END AS pooled,
    false AS suppressed, NULL AS suppression_reason
FROM grouped
WHERE form <> 'level'
GROUP BY kpi_id, series, group_type, group_code
UNION ALL
SELECT $cycle, g.kpi_id,
    CASE WHEN g.series = 'total' THEN l.level_code ELSE g.series || ':' || l.level_code END,
    group_type, group_code,
    count(*) FILTER (WHERE status = 'reported' AND g.level_code = l.level_code),
    count(*),
    100.0 * count(*) FILTER (WHERE status = 'reported' AND g.level_code = l.level_code)
        / nullif(count(*) FILTER (WHERE status = 'reported'), 0),
    NULL, NULL, NULL, NULL, false, NULL
FROM grouped AS g
JOIN levels AS l ON l.kpi_id = g.kpi_id
GROUP BY g.kpi_id, g.series, l.level_code, group_type, group_code
"""


def run_duckdb(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """The two hand-written queries, each replacing the cycle's rows of its bench_sql table."""
    cycle = reference.cycles.get(CYCLE)
    kpi_table, rollup_table = result_tables("duckdb")
    params = _catalogue_params(catalogue, cycle.catalogue_version, cycle.reporting_year)
    kpi_params = {k: params[k] for k in ("kpi", "series", "form", "scale", "parts", "a_item", "b_item", "b_year")}
    replace_cycle_rows_from_sql(
        conn, kpi_table, CYCLE, HAND_KPI_VALUES_SQL, {**kpi_params, "cycle": CYCLE, "year": cycle.reporting_year}
    )
    rollup_params = {k: params[k] for k in ("kpi", "series", "form", "parts", "statistics", "level_kpi", "level_code")}
    # The table name is the benchmark's own constant, not a value.
    sql = HAND_ROLLUPS_SQL.format(kpi_values=kpi_table.qualified)
    replace_cycle_rows_from_sql(conn, rollup_table, CYCLE, sql, {**rollup_params, "cycle": CYCLE})
    return {}


def run_pandas(conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue) -> dict[str, float]:
    """Read the inputs into pandas, compute both tables there, write them back; returns seconds per phase."""
    cycle = reference.cycles.get(CYCLE)

    def read(sql: str) -> pd.DataFrame:
        # Through Arrow: equal strings become one Python object (DuckDB's .df() makes one per cell: gigabytes
        # more at 10^7 answers).
        return conn.sql(sql, params=[CYCLE]).to_arrow_table().to_pandas()

    started = time.perf_counter()
    answers = read(
        "SELECT member_code, item, year, value, value_text, status FROM quality.admitted_answers WHERE cycle = ?"
    )
    participation = read("SELECT * FROM staging.participation WHERE cycle = ?")
    summary = read("SELECT member_code, is_admitted FROM quality.member_summary WHERE cycle = ?")
    findings = read(
        "SELECT member_code, item, year, rule FROM quality.findings WHERE cycle = ? AND severity = 'warning'"
    )
    disclosure = read("SELECT member_code, kpi_id, disclosure FROM staging.disclosure WHERE cycle = ?")
    read_s = time.perf_counter() - started

    started = time.perf_counter()
    series = cycle_series(catalogue, cycle.catalogue_version)
    kpi_values = pandas_kpi_values(answers, participation, summary, findings, disclosure, series, cycle.reporting_year)
    del answers, findings, disclosure  # no longer needed: let the rollups have the memory
    rollups = pandas_rollups(kpi_values, participation, series, catalogue)
    computed = time.perf_counter() - started

    started = time.perf_counter()
    kpi_table, rollup_table = result_tables("pandas")
    replace_cycle_rows(conn, kpi_table, CYCLE, kpi_values)
    replace_cycle_rows(conn, rollup_table, CYCLE, rollups)
    return {"read": read_s, "compute": computed, "write": time.perf_counter() - started}


def pandas_kpi_values(
    answers: pd.DataFrame,
    participation: pd.DataFrame,
    summary: pd.DataFrame,
    findings: pd.DataFrame,
    disclosure: pd.DataFrame,
    series: list[Series],
    year: int,
) -> pd.DataFrame:
    admitted = set(summary.loc[summary["is_admitted"], "member_code"])
    members = participation[participation["is_participating"] & participation["member_code"].isin(admitted)]
    members = members[["member_code", "submission_id"]].reset_index(drop=True)
    # One column per (item, year): a member's answers side by side (the gate admits one answer per item and year).
    wide = {
        field: answers.pivot(index="member_code", columns=["item", "year"], values=field).reindex(
            members["member_code"]
        )
        for field in ("value", "status", "value_text")
    }

    def answer(field: str, item: str | None, item_year: int | None) -> pd.Series:
        frame = wide[field]
        if item is not None and (item, item_year) in frame.columns:
            return frame[(item, item_year)].reset_index(drop=True)
        return pd.Series(np.nan, index=members.index, dtype=float if field == "value" else object)

    def item_value(ref: ItemRef) -> pd.Series:
        return answer("value", ref.item, year + ref.offset).astype(float)

    def as_column(x: pd.Series | float) -> pd.Series:  # a part of a formula may be a number alone
        return x if isinstance(x, pd.Series) else pd.Series(x, index=members.index, dtype=float)

    parts = []
    for s in series:
        reads = s.reads(year)
        with np.errstate(divide="ignore", invalid="ignore"):
            if s.parts:  # a ratio KPI: its value is its numerator over its denominator, both kept
                top = _unparen(s.formula.tree)
                numerator = as_column(evaluate(top.this, item_value))
                denominator = as_column(evaluate(top.expression, item_value))
                raw = numerator / denominator.where(denominator != 0)
            else:
                raw = as_column(evaluate(s.formula.tree, item_value))
        statuses = [answer("status", *ref) for ref in reads]
        not_applicable = np.logical_or.reduce([st.eq("not_applicable") for st in statuses])
        not_reported = np.logical_or.reduce([st.ne("reported") for st in statuses])
        status = np.select(
            [not_applicable, not_reported, ~np.isfinite(raw.to_numpy(dtype=float))],
            ["not_applicable", "missing", "undefined"],
            "reported",
        )
        reported = status == "reported"
        parts.append(
            pd.DataFrame(
                {
                    "member_code": members["member_code"],
                    "kpi_id": s.kpi_id,
                    "series": s.series,
                    "value": raw.where(reported),
                    "status": status,
                    "numerator": numerator.where(reported) if s.parts else np.nan,
                    "denominator": denominator.where(reported) if s.parts else np.nan,
                    "level_code": answer("value_text", *reads[0]).where(reported) if s.categorical else None,
                    "submission_id": members["submission_id"],
                }
            )
        )
    values = pd.concat(parts, ignore_index=True)

    reads = pd.DataFrame(
        [(s.kpi_id, s.series, item, item_year) for s in series for item, item_year in set(s.reads(year))],
        columns=["kpi_id", "series", "item", "year"],
    )
    flags = (
        findings.merge(reads, on=["item", "year"])
        .drop_duplicates(["member_code", "kpi_id", "series", "rule"])
        .sort_values("rule")
        .groupby(["member_code", "kpi_id", "series"])["rule"]
        .agg(";".join)
        .rename("flags")
        .reset_index()
    )
    values = values.merge(disclosure, on=["member_code", "kpi_id"], how="left").merge(
        flags, on=["member_code", "kpi_id", "series"], how="left"
    )
    return values.assign(
        cycle=CYCLE,
        reporting_year=year,
        disclosure=values["disclosure"].fillna("secretariat"),
        flags=values["flags"].fillna(""),
    )[KPI_VALUES.column_names]


def pandas_rollups(
    kpi_values: pd.DataFrame, participation: pd.DataFrame, series: list[Series], catalogue: Catalogue
) -> pd.DataFrame:
    """Group statistics, one grouping at a time: five times the rows never sit in memory together."""
    groups = participation[participation["is_participating"]].set_index("member_code")
    level_kpis = {s.kpi_id for s in series if s.categorical}
    statistics = ("mean", "median", "min", "max", "pooled")
    declaring = {stat: {s.kpi_id for s in series if stat in s.statistics} for stat in statistics}
    is_level = kpi_values["kpi_id"].isin(level_kpis)
    numeric = kpi_values.loc[~is_level, ["member_code", "kpi_id", "series", "value", "numerator", "denominator"]]
    levels = pd.DataFrame(
        [
            (s.kpi_id, level.code)
            for s in series
            if s.categorical
            for level in catalogue.items[s.formula.refs[0].item].answer_levels
        ],
        columns=["kpi_id", "level"],
    )
    categorical = kpi_values.loc[is_level, ["member_code", "kpi_id", "series", "status", "level_code"]].merge(
        levels, on="kpi_id"
    )
    categorical = categorical.assign(
        at_level=categorical["status"].eq("reported") & categorical["level_code"].eq(categorical["level"]),
        answered=categorical["status"].eq("reported"),
    )
    parts = []
    keys = ["kpi_id", "series", "group_type", "group_code"]
    for group_type, column in GROUP_COLUMNS.items():
        by_group = _in_groups(numeric, groups, group_type, column).groupby(keys, sort=False)
        stats = by_group.agg(
            n_reporting=("value", "count"),
            n_participating=("value", "size"),
            total=("value", exact_sum),
            min=("value", "min"),
            max=("value", "max"),
            numerator=("numerator", exact_sum),
            denominator=("denominator", exact_sum),
        )
        stats["mean"] = stats["total"] / stats["n_reporting"].where(stats["n_reporting"] > 0)
        # median() takes the mean of the two middle values, bit for bit what quantile_cont(value, 0.5) gives;
        # groupby quantile(0.5) interpolates as lo + (hi - lo) / 2 and can differ in the last bit.
        stats["median"] = by_group["value"].median()
        denominator = stats["denominator"].where(stats["denominator"] != 0)
        stats["pooled"] = stats["numerator"] / denominator
        for stat, kpis in declaring.items():  # a statistic the KPI does not declare is NULL
            stats[stat] = stats[stat].where(stats.index.get_level_values("kpi_id").isin(kpis))
        parts.append(stats.reset_index())

        counts = (
            _in_groups(categorical, groups, group_type, column)
            .groupby([*keys, "level"], sort=False)
            .agg(n_reporting=("at_level", "sum"), n_participating=("at_level", "size"), answered=("answered", "sum"))
            .reset_index()
        )
        counts["mean"] = (100.0 * counts["n_reporting"] / counts["answered"]).where(counts["answered"] > 0)
        counts["series"] = np.where(
            counts["series"] == "total", counts["level"], counts["series"] + ":" + counts["level"]
        )
        parts.append(counts)
    rollups = pd.concat(parts, ignore_index=True)
    return rollups.assign(cycle=CYCLE, suppressed=False, suppression_reason=None)[ROLLUPS.column_names]


def evaluate(node: exp.Expression, item_value) -> pd.Series | float:
    """A parsed formula (or part of one) on columns, node by node, with the catalogue's meaning: a zero
    denominator gives NaN (the KPI is then undefined), and least/greatest skip NaN as SQL skips NULL."""
    if isinstance(node, exp.Paren):
        return evaluate(node.this, item_value)
    if isinstance(node, exp.Bracket):
        return item_value(_ref(node))
    if isinstance(node, exp.Literal):
        return float(node.this)
    if isinstance(node, exp.Neg):
        return -evaluate(node.this, item_value)
    if isinstance(node, exp.Abs):
        return abs(evaluate(node.this, item_value))
    if isinstance(node, exp.Least | exp.Greatest):
        args = [evaluate(a, item_value) for a in [node.this, *node.expressions]]
        pick = np.fmin if isinstance(node, exp.Least) else np.fmax
        result = args[0]
        for arg in args[1:]:
            result = pick(result, arg)
        return result
    left, right = evaluate(node.this, item_value), evaluate(node.expression, item_value)
    if isinstance(node, exp.Add):
        return left + right
    if isinstance(node, exp.Sub):
        return left - right
    if isinstance(node, exp.Mul):
        return left * right
    if isinstance(node, exp.Div):
        if isinstance(right, pd.Series):
            return left / right.where(right != 0)
        return left / right if right != 0 else np.nan
    raise ValueError(f"{type(node).__name__} is not in the formula language: {node.sql()}")


def _in_groups(frame: pd.DataFrame, groups: pd.DataFrame, group_type: str, column: str | None) -> pd.DataFrame:
    """The rows with the group of their member in a grouping (looked up by member code, not joined in)."""
    code = "all" if column is None else frame["member_code"].map(groups[column])
    return frame.assign(group_type=group_type, group_code=code)


def exact_sum(values: pd.Series) -> float:
    """The correctly rounded sum (NaN when there is none), independent of the order of the values.

    pandas' own sum and mean (Kahan-compensated) can differ from it in the last bit.
    """
    present = values.dropna()
    return math.fsum(present.tolist()) if len(present) else np.nan


RUNNERS = {"pipeline": run_pipeline, "duckdb": run_duckdb, "pandas": run_pandas}


# ---------------------------------------------------------------------------------------------- equality


def compared_kpis(implementation: str, catalogue: Catalogue, reference: Reference) -> list[str] | None:
    """The KPIs an implementation is compared on: the hand-written SQL's forms only, or all (None)."""
    if implementation == "duckdb":
        return hand_sql_kpis(catalogue, reference.cycles.get(CYCLE).catalogue_version)
    return None


def differences(
    conn: duckdb.DuckDBPyConnection, implementation: str, kpi_ids: list[str] | None = None, shown: int = 5
) -> list[str]:
    """Rows of the implementation's two tables that are not exactly the pipeline's (both ways), as text;
    with `kpi_ids`, the rows of those KPIs only."""
    problems = []
    for theirs, ours in zip(result_tables(implementation), result_tables("pipeline"), strict=True):
        create_tables(conn, [theirs, ours])
        columns = ", ".join(ours.column_names)
        only = "" if kpi_ids is None else " AND list_contains($kpi_ids, kpi_id)"
        params = {"cycle": CYCLE} if kpi_ids is None else {"cycle": CYCLE, "kpi_ids": kpi_ids or [""]}
        for left, right in ((theirs, ours), (ours, theirs)):
            rows = conn.execute(
                f"SELECT {columns} FROM {left.qualified} WHERE cycle = $cycle{only}"
                f" EXCEPT ALL SELECT {columns} FROM {right.qualified} WHERE cycle = $cycle{only}",
                params,
            ).df()
            if len(rows):
                sample = rows.sort_values(ours.column_names[:5]).head(shown).to_dict("records")
                problems.append(f"{len(rows)} row(s) of {left.qualified} not in {right.qualified}, e.g. {sample}")
    return problems
