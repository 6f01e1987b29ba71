"""Rules across answers, cycles and members, in DuckDB SQL: year-on-year band, revision of T-1, distance from
the region's median, and magnitude against the member's own history.

The queries read frames registered by `run_cross_rules`: `_quality_candidates` (member_code, item, year,
value: the cycle's reported numeric answers that passed the blocking per-answer rules, so one wrong figure is
reported once), `_quality_history` (cycle, cycle_rank, member_code, item, year, value: reported answers
admitted in earlier cycles, cycle_rank 1 for the latest) and `_quality_members` (member_code, region_code).
Each query returns every comparison it made, with `is_violation`, so that the gate knows which rules ran for
which member. Values are bound as parameters;
the SQL text holds only generated column names and the formulas' arithmetic.
"""

from dataclasses import dataclass

import duckdb
import pandas as pd

from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef, render_sql
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.quality.rules import (
    MAD_SCALE,
    MAGNITUDE_FACTOR,
    PEER_MIN_SPREAD_FACTOR,
    REVISION_TOLERANCE_PCT,
)

CANDIDATES = "_quality_candidates"
HISTORY = "_quality_history"
MEMBERS = "_quality_members"
CANDIDATE_COLUMNS = ["member_code", "item", "year", "value"]
HISTORY_COLUMNS = ["cycle", "cycle_rank", "member_code", "item", "year", "value"]


def _looks_like_unit_slip(value: str, reference: str) -> str:
    """SQL: the two figures (columns) differ by MAGNITUDE_FACTOR or more: magnitude_consistent_with_history's case."""
    ratio = f"greatest({value} / {reference}, {reference} / {value})"
    return f"({value} > 0 AND {reference} > 0 AND {ratio} >= $magnitude_factor)"


YOY_SQL = f"""
WITH bands AS (
    SELECT unnest($band_kpis) AS kpi_id, unnest($band_items) AS item, unnest($band_pcts) AS band_pct
),
pairs AS (
    SELECT cur.member_code, b.kpi_id, cur.item, cur.year, cur.value,
        prev.value AS reference_value, prev.year AS reference_year, b.band_pct,
        100 * (cur.value - prev.value) / prev.value AS change_pct
    FROM bands AS b
    JOIN {CANDIDATES} AS cur ON cur.item = b.item AND cur.year = $t
    JOIN {CANDIDATES} AS prev
        ON prev.member_code = cur.member_code AND prev.item = cur.item AND prev.year = $t_minus_1
    WHERE prev.value <> 0
)
SELECT *, abs(change_pct) > band_pct AND NOT {_looks_like_unit_slip("value", "reference_value")} AS is_violation
FROM pairs
ORDER BY member_code, kpi_id, item
"""

# The reference of an answer is the member's latest other figure for the item: an earlier year of this
# submission, else the closest year admitted in an earlier cycle (the latest such cycle first).
MAGNITUDE_SQL = f"""
WITH own AS (
    SELECT member_code, item, year, value, 0 AS cycle_rank, NULL::VARCHAR AS cycle FROM {CANDIDATES}
    UNION ALL
    SELECT member_code, item, year, value, cycle_rank, cycle FROM {HISTORY}
),
compared AS (
    SELECT c.member_code, c.item, c.year, c.value,
        o.value AS reference_value, o.year AS reference_year, o.cycle AS reference_cycle
    FROM {CANDIDATES} AS c
    JOIN own AS o
        ON o.member_code = c.member_code AND o.item = c.item
        AND ((o.cycle_rank = 0 AND o.year < c.year) OR (o.cycle_rank > 0 AND o.year <= c.year))
    QUALIFY row_number() OVER (PARTITION BY c.member_code, c.item, c.year ORDER BY o.year DESC, o.cycle_rank) = 1
)
SELECT *, value / nullif(reference_value, 0) AS ratio,
    {_looks_like_unit_slip("value", "reference_value")} AS is_violation
FROM compared
ORDER BY member_code, item, year
"""

REVISION_SQL = f"""
WITH earlier AS (
    SELECT * FROM {HISTORY}
    QUALIFY row_number() OVER (PARTITION BY member_code, item, year ORDER BY cycle_rank) = 1
)
SELECT c.member_code, c.item, c.year, c.value,
    e.value AS reference_value, e.year AS reference_year, e.cycle AS reference_cycle,
    100 * (c.value - e.value) / nullif(e.value, 0) AS revision_pct,
    abs(c.value - e.value) > $tolerance_pct / 100 * abs(e.value)
        AND NOT {_looks_like_unit_slip("c.value", "e.value")} AS is_violation
FROM {CANDIDATES} AS c
JOIN earlier AS e USING (member_code, item, year)
WHERE c.year = $t_minus_1
ORDER BY c.member_code, c.item
"""


@dataclass(frozen=True)
class CompiledSql:
    sql: str
    params: dict[str, object]


def yoy_bands(kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula]) -> list[tuple[str, str, float]]:
    """(KPI, item, band %) for each item a KPI with max_yoy_change_pct uses at both T and T-1."""
    bands = set()
    for kpi in kpis:
        if kpi.quality.max_yoy_change_pct is None:
            continue
        refs = {ref for s in kpi.series for ref in formulas[(kpi.id, s.id)].refs}
        for ref in refs:
            if ref.offset == 0 and ItemRef(ref.item, -1) in refs:
                bands.add((kpi.id, ref.item, kpi.quality.max_yoy_change_pct))
    return sorted(bands)


def peer_compared_kpis(kpis: list[KpiSpec]) -> list[KpiSpec]:
    """Ratio and value KPIs with a peer setting; a variation is judged by its year-on-year band instead."""
    return [k for k in kpis if k.shape in (Shape.ratio, Shape.value) and k.quality.peer_max_mads is not None]


def lead_item(formula: Formula) -> ItemRef:
    """The answer a finding on a KPI value is attached to: the formula's first item at T (its numerator)."""
    return next((r for r in formula.refs if r.offset == 0), formula.refs[0])


def render_peer_sql(kpis: list[KpiSpec], formulas: dict[tuple[str, str], Formula], cycle: Cycle) -> CompiledSql | None:
    """Each member's value of every peer-compared KPI series against the median and MAD of its region (log scale)."""
    compared = peer_compared_kpis(kpis)
    if not compared:
        return None
    refs = sorted({ref for k in compared for s in k.series for ref in formulas[(k.id, s.id)].refs})
    index = {ref: i for i, ref in enumerate(refs)}
    params: dict[str, object] = {"mad_scale": MAD_SCALE, "min_spread_factor": PEER_MIN_SPREAD_FACTOR}
    pivot = []
    for i, ref in enumerate(refs):
        params[f"item{i}"], params[f"year{i}"] = ref.item, cycle.reporting_year + ref.offset
        pivot.append(f"max(value) FILTER (WHERE item = $item{i} AND year = $year{i}) AS v{i}")
    branches = []
    for j, (kpi, series) in enumerate((k, s) for k in compared for s in k.series):
        formula = formulas[(kpi.id, series.id)]
        lead = lead_item(formula)
        params.update(
            {
                f"kpi{j}": kpi.id,
                f"series{j}": series.id,
                f"lead_item{j}": lead.item,
                f"lead_year{j}": cycle.reporting_year + lead.offset,
                f"max_mads{j}": kpi.quality.peer_max_mads,
                f"min_members{j}": kpi.quality.peer_min_members,
            }
        )
        expression = render_sql(formula.tree, lambda ref: f"v{index[ref]}")
        branches.append(
            f"SELECT member_code, $kpi{j} AS kpi_id, $series{j} AS series, $lead_item{j} AS item,"
            f" $lead_year{j} AS year, {expression} AS kpi_value, $max_mads{j} AS max_mads,"
            f" $min_members{j} AS min_members FROM answers_wide"
        )
    union = "\n    UNION ALL\n    ".join(branches)
    sql = f"""
WITH answers_wide AS (
    SELECT member_code,
        {("," + chr(10) + "        ").join(pivot)}
    FROM {CANDIDATES}
    GROUP BY member_code
),
series_values AS (
    {union}
),
in_regions AS (
    -- Cross-country figures are skewed (a few administrations far above the rest): compare them on a log
    -- scale, where twice the median is as far as half of it. Zero and negative values are not judged.
    SELECT s.*, p.region_code, ln(s.kpi_value) AS log_value
    FROM series_values AS s
    JOIN {MEMBERS} AS p ON p.member_code = s.member_code
    WHERE s.kpi_value > 0 AND isfinite(s.kpi_value)
),
region_stats AS (
    SELECT kpi_id, series, region_code, count(*) AS n_peers,
        quantile_cont(log_value, 0.5) AS log_median,
        -- a spread read off a handful of close values would flag plausible ones: never below a floor
        greatest($mad_scale * mad(log_value), ln($min_spread_factor)) AS log_spread
    FROM in_regions
    GROUP BY kpi_id, series, region_code
),
judged AS (
    SELECT r.member_code, r.kpi_id, r.series, r.item, r.year, c.value, r.kpi_value, r.region_code,
        s.n_peers, exp(s.log_median) AS peer_median, exp(s.log_spread) AS peer_spread_factor, r.max_mads,
        (r.log_value - s.log_median) / s.log_spread AS robust_z
    FROM in_regions AS r
    JOIN region_stats AS s USING (kpi_id, series, region_code)
    LEFT JOIN {CANDIDATES} AS c ON c.member_code = r.member_code AND c.item = r.item AND c.year = r.year
    WHERE s.n_peers >= r.min_members
)
SELECT *, abs(robust_z) > max_mads AS is_violation
FROM judged
ORDER BY member_code, kpi_id, series
"""
    return CompiledSql(sql=sql, params=params)


def run_cross_rules(
    cycle: Cycle,
    kpis: list[KpiSpec],
    formulas: dict[tuple[str, str], Formula],
    candidates: pd.DataFrame,
    history: pd.DataFrame,
    regions: pd.DataFrame,
    skip: frozenset[str] = frozenset(),
) -> dict[str, pd.DataFrame]:
    """Every comparison of the four cross rules, by rule id, each with `is_violation`.

    Runs in a private in-memory DuckDB: the frames are all it reads, so it needs no warehouse connection.
    `skip`: the peer rule's id to leave it out (one file alone has no peers: its findings would be dropped; its
    query is the costliest of the four, ~0.1 s of the platform's verdict).
    """
    t_minus_1, t = cycle.years
    bands = yoy_bands(kpis, formulas)
    peer = None if "value_near_peer_median" in skip else render_peer_sql(kpis, formulas, cycle)
    with duckdb.connect() as conn:
        conn.register(CANDIDATES, candidates[CANDIDATE_COLUMNS])
        conn.register(HISTORY, history[HISTORY_COLUMNS])
        conn.register(MEMBERS, regions[["member_code", "region_code"]])
        compared = {
            "magnitude_consistent_with_history": conn.execute(
                MAGNITUDE_SQL, {"magnitude_factor": MAGNITUDE_FACTOR}
            ).df(),
            "t_minus_1_matches_earlier_cycle": conn.execute(
                REVISION_SQL,
                {"t_minus_1": t_minus_1, "tolerance_pct": REVISION_TOLERANCE_PCT, "magnitude_factor": MAGNITUDE_FACTOR},
            ).df(),
        }
        if bands:
            compared["yoy_change_within_band"] = conn.execute(
                YOY_SQL,
                {
                    "band_kpis": [k for k, _, _ in bands],
                    "band_items": [i for _, i, _ in bands],
                    "band_pcts": [b for _, _, b in bands],
                    "t": t,
                    "t_minus_1": t_minus_1,
                    "magnitude_factor": MAGNITUDE_FACTOR,
                },
            ).df()
        if peer is not None:
            compared["value_near_peer_median"] = conn.execute(peer.sql, peer.params).df()
    return compared
