"""What changed in a tier's release against the tier's previous release: `changes.json` beside the data.

Both sides are the tier's own published tables (the previous release as read back from its folder,
the new one as about to be switched in), and the file shows only what the tier may show now: a row
that left the tier (its member withdrew an answer, or chose a narrower tier) is listed by its key
alone, and a changed row gives its earlier figure only for the columns that still hold a figure (a
statistic withheld now, or a value gone, is named among the changed columns, never quoted).
"""

from collections.abc import Mapping

import pandas as pd

from pmm_pipeline.stages.publishing.formats import json_ready
from pmm_pipeline.warehouse.tables import KPI_VALUES, ROLLUPS

KEYS = {"kpi_values": KPI_VALUES.key_in_cycle, "rollups": ROLLUPS.key_in_cycle}
COMPARED = {
    "kpi_values": ["reporting_year", "value", "status", "disclosure", "flags"],
    "rollups": [
        "n_reporting",
        "n_participating",
        "mean",
        "median",
        "min",
        "max",
        "pooled",
        "suppressed",
        "suppression_reason",
    ],
}
SUPPRESSION = ("suppressed", "suppression_reason")


def comparable(frame: pd.DataFrame | None, table: str) -> pd.DataFrame | None:
    """The frame if it has the contract's columns (a release of another shape has nothing to compare)."""
    if frame is None or not set(KEYS[table] + COMPARED[table]) <= set(frame.columns):
        return None
    return frame


def _records(frame: pd.DataFrame | None, table: str) -> dict[tuple, dict]:
    if frame is None:
        return {}
    columns = KEYS[table] + COMPARED[table]
    return {
        tuple(json_ready(r[k]) for k in KEYS[table]): {c: json_ready(r[c]) for c in COMPARED[table]}
        for r in frame[columns].to_dict("records")
    }


def diff_table(old: pd.DataFrame | None, new: pd.DataFrame, table: str) -> dict:
    """Rows added and removed (by key), and rows whose published columns changed (before and after)."""
    before, after = _records(old, table), _records(new, table)
    keys = KEYS[table]

    def keyed(key: tuple) -> dict:
        return dict(zip(keys, key, strict=True))

    changes: dict[str, list] = {
        "added": [{**keyed(k), **after[k]} for k in sorted(after.keys() - before.keys(), key=str)],
        # By key only: the row's earlier figures are not the tier's to show any more.
        "removed": [keyed(k) for k in sorted(before.keys() - after.keys(), key=str)],
        "changed": [],
    }
    if table == "rollups":
        changes["suppressions_changed"] = []
    for k in sorted(before.keys() & after.keys(), key=str):
        differs = [c for c in COMPARED[table] if before[k][c] != after[k][c]]
        if not differs:
            continue
        changes["changed"].append(
            {
                **keyed(k),
                "columns": differs,
                # An earlier figure only where the column still holds one now (withheld now = not quoted).
                "before": {c: before[k][c] for c in differs if after[k][c] is not None or c in SUPPRESSION},
                "after": {c: after[k][c] for c in differs},
            }
        )
        if table == "rollups" and any(c in SUPPRESSION for c in differs):
            changes["suppressions_changed"].append(
                {
                    **keyed(k),
                    "before": before[k]["suppression_reason"],
                    "after": after[k]["suppression_reason"],
                }
            )
    return changes


def diff_release(
    previous: Mapping[str, pd.DataFrame] | None, new: Mapping[str, pd.DataFrame], previous_manifest: dict | None
) -> dict:
    """The content of changes.json: the previous release it compares with, then per table what changed."""
    tables = {
        name: diff_table(comparable((previous or {}).get(name), name), new[name], name)
        for name in sorted(KEYS)
        if comparable(new.get(name), name) is not None
    }
    summary = {name: {kind: len(rows) for kind, rows in changes.items()} for name, changes in tables.items()}
    return {
        "format": "pmm-release-changes",
        "format_version": 1,
        "previous_release": None
        if previous_manifest is None
        else {k: previous_manifest.get(k) for k in ("run_id", "created_at", "code_version", "catalogue_digest")},
        "summary": summary,
        "tables": tables,
    }
