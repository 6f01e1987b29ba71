"""A tier's tables: the member values its readers may see and the rollups with what it withholds marked."""

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.facts import LEVEL_COUNTS, NUMERIC_STATISTICS, VALUE, visible_in
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS, ROLLUPS


def tier_kpi_values(values: pd.DataFrame, tier: str, withheld: pd.DataFrame | None = None) -> pd.DataFrame:
    """The contract's kpi_values rows a tier may show: only members whose choice allows the tier, less the values
    `withheld` from it (statistic `value`: with an earlier release they would reveal a hidden value)."""
    # Every choice is visible in the secretariat tier, even one it does not know (that means secretariat).
    visible = values["disclosure"].isin([d for d in TIERS if visible_in(d, tier)]) | (tier == TIERS[-1])
    if withheld is not None and len(withheld):
        mine = withheld[(withheld["tier"] == tier) & (withheld["statistic"] == VALUE)]
        gone = set(zip(mine["group_code"], mine["kpi_id"], mine["series"], strict=True))
        keys = zip(values["member_code"], values["kpi_id"], values["series"], strict=True)
        visible &= np.array([k not in gone for k in keys], dtype=bool)
    return values.loc[visible, PUBLISHED_KPI_COLUMNS].sort_values(["kpi_id", "series", "member_code"])


def tier_rollups(rollups: pd.DataFrame, withheld: pd.DataFrame, tier: str) -> pd.DataFrame:
    """rollup.rollups with the tier's withheld statistics set to NULL, `suppressed` and the reasons filled in.

    A categorical row's withheld `level_counts` are its n_reporting (the count at the level) and
    its mean (the share); a numeric row keeps n_reporting, the coverage every reader knows.
    """
    key = ROLLUPS.key_in_cycle
    out = rollups[PUBLISHED_ROLLUP_COLUMNS].sort_values(key).reset_index(drop=True)
    position = {k: i for i, k in enumerate(zip(*(out[c] for c in key), strict=True))}
    entries: dict[int, list[tuple[str, str]]] = {}
    # A statistic the rollups could not represent (`not_finite`) is NULL in every tier already; its reason stays.
    for row, given in enumerate(out["suppression_reason"]):
        if isinstance(given, str) and given:
            entries[row] = [tuple(entry.split(":", 1)) for entry in given.split(";") if ":" in entry]
    mine = withheld[(withheld["tier"] == tier) & (withheld["statistic"] != VALUE)]  # values: tier_kpi_values
    for *row_key, statistic, reason in zip(*(mine[c] for c in (*key, "statistic", "reason")), strict=True):
        row = position.get(tuple(row_key))
        if row is None:
            raise ValueError(f"withheld {statistic} for a rollup row that does not exist: {row_key}")
        entries.setdefault(row, []).append((statistic, reason))
    columns = {c: out[c].to_numpy(dtype=float, na_value=np.nan) for c in (*NUMERIC_STATISTICS, "n_reporting")}
    order = {s: i for i, s in enumerate((*NUMERIC_STATISTICS, LEVEL_COUNTS))}
    reasons = np.full(len(out), None, dtype=object)
    for row, found in entries.items():
        found.sort(key=lambda e: order.get(e[0], len(order)))
        for statistic, _ in found:
            for column in ("n_reporting", "mean") if statistic == LEVEL_COUNTS else (statistic,):
                columns[column][row] = np.nan
        reasons[row] = ";".join(f"{s}:{r}" for s, r in found)
    for column, array in columns.items():
        out[column] = pd.array(array, dtype="Int64") if column == "n_reporting" else array
    out["suppressed"] = np.array([r is not None for r in reasons], dtype=bool)
    out["suppression_reason"] = reasons
    return out
