"""Releases of one series over time for the disclosure tests, and an attacker that holds every one of them.

`release_sequence` publishes each state (a disclosure_universe.Universe) in turn as the pipeline does:
decide with every earlier release on record (publishing/record.py, on disk), write the tiers' tables,
audit them, put them on record. `recover` is written independently of publishing.disclosure: it
reads only what a tier's readers got, in every release, knows which members reported and their
groups (n_reporting is published), and solves the linear system of every published mean (numpy least
squares) over the variables (member, value), substituting what any release showed, as an outsider and
as every coalition of up to k members (each knowing all of its own values).
"""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from pmm_pipeline.stages.disclosure.audit import PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.control import TIERS, control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS
from pmm_pipeline.stages.disclosure.record import read_history, release_record, with_history, write_record
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline_tests.disclosure_universe import CYCLE, Universe

AUDIENCES = ("public", "wco")


def sees(disclosure: str, audience: str) -> bool:
    return TIERS.index(audience) >= TIERS.index(disclosure)


def release_sequence(
    states: list[Universe], folder: Path, min_group_size: int = 3, coalition: int = 1, history: bool = True
) -> list[dict[str, dict[str, pd.DataFrame]]]:
    """The tiers' tables of each release (tier -> kpi_values, rollups); every release passes the audit."""
    releases = []
    for state in states:
        earlier = read_history([folder], 2022) if history else {}
        facts = with_history(state.facts(), earlier)
        frame = withheld_frame(control_disclosure(facts, min_group_size, coalition), CYCLE)
        tables = {
            t: {"kpi_values": tier_kpi_values(state.values, t, frame), "rollups": tier_rollups(state.rollups, frame, t)}
            for t in TIERS
        }
        given = [PublishedTable(t, f"{t}/{k}", k, f) for t, pair in tables.items() for k, f in pair.items()]
        findings = audit_tiers(given, facts, state.values, state.rollups, min_group_size, coalition)
        assert findings == [], [f.describe() for f in findings]
        for tier in AUDITED_TIERS:
            write_record(folder, tier, release_record(facts, tables[tier], tier, CYCLE, 2022))
        releases.append(tables)
    return releases


def recover(states: list[Universe], releases, audience: str, coalition: int = 1) -> set[tuple[str, float]]:
    """Hidden variables (member, value) the readers of `audience` determine from every release together."""
    known: dict[tuple[str, float], float] = {}
    protected: set[tuple[str, float]] = set()
    equations: list[tuple[list[tuple[str, float]], float]] = []
    for state, tables in zip(states, releases, strict=True):
        readable = TIERS[: TIERS.index(audience) + 1]
        for tier in readable:
            shown = tables[tier]["kpi_values"]
            for row in shown[shown["status"] == "reported"].to_dict("records"):
                known[(row["member_code"], float(row["value"]))] = float(row["value"])
        for m in state.members:
            if m.status == "reported" and not sees(m.disclosure, audience):
                protected.add((m.code, float(m.value)))
        groups = {g: [m for m in ms if m.status == "reported"] for g, ms in state.groups().items()}
        for tier in readable:
            for row in tables[tier]["rollups"].to_dict("records"):
                if pd.isna(row["mean"]):
                    continue
                variables = [(m.code, float(m.value)) for m in groups[(row["group_type"], row["group_code"])]]
                equations.append((variables, row["mean"] * row["n_reporting"]))
    protected -= known.keys()
    unknown = sorted({v for vs, _ in equations for v in vs if v not in known} | protected)
    index = {v: i for i, v in enumerate(unknown)}
    rows = np.zeros((len(equations), len(unknown)))
    for r, (variables, _) in enumerate(equations):
        for v in variables:
            if v in index:
                rows[r, index[v]] += 1.0
    owners = sorted({m for m, _ in unknown})
    found = set()
    for size in range(coalition + 1):
        for coalition_members in itertools.combinations(owners, size):
            insiders = [index[v] for v in unknown if v[0] in coalition_members]
            system = np.vstack([rows, np.eye(len(unknown))[insiders]]) if insiders else rows
            for v in protected:
                if v[0] in coalition_members or v not in index:
                    continue
                if in_row_space(system, np.eye(len(unknown))[index[v]]):
                    found.add(v)
    return found


def in_row_space(rows: np.ndarray, target: np.ndarray) -> bool:
    if rows.shape[0] == 0:
        return False
    weights, *_ = np.linalg.lstsq(rows.T, target, rcond=None)
    return bool(np.allclose(rows.T @ weights, target, atol=1e-7))
