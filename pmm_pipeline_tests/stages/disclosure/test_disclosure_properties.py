"""Property tests: over random groups, values and disclosure choices, no tier's figures give away a hidden value.

The attacker here is written independently of pmm_pipeline.stages.disclosure.control: it reads only
what a tier's readers get (the tier's tables and every lower tier's), knows which members reported
(n_reporting is published) and their groups, and tries to recover each hidden value
- by solving the linear system of the published means and pooled ratios (numpy least squares: a
  value is recovered when its unit vector is a combination of the equations), as an outsider or
  as a hidden member who knows its own value;
- the same with linear programming, granting the reader the true range of the series as bounds
  (scipy linprog: min and max of each hidden value over everything consistent);
- by matching published order statistics against hidden values;
- for level counts, by enumerating every assignment of levels to the hidden members.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pmm_pipeline.stages.disclosure.audit import PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.control import TIERS, control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline_tests.disclosure_history import recover, release_sequence
from pmm_pipeline_tests.disclosure_universe import CYCLE, M, Universe
from pmm_pipeline_tests.stages.disclosure.universe_strategies import (
    PROPERTY_SETTINGS,
    categorical_universes,
    numeric_universes,
    release_histories,
)

# Hundreds of derandomized cases through least squares and linear programs: about 60 s of CPU on the machine
# `make test` is timed on, so out of `make test-fast`. The case counts are the suite's budget: 250, 150 and 50 cases
# (numeric, level counts, numeric coalitions) since 2026-12-03; the same derandomized search passed at 600, 400 and
# 80 on that code. Raise them (or run with hypothesis' settings overridden) when the disclosure control changes.
pytestmark = pytest.mark.slow

AUDIENCES = ("public", "wco")


def rank_of(tier: str) -> int:
    return TIERS.index(tier)


def sees(disclosure: str, audience: str) -> bool:
    return rank_of(audience) >= rank_of(disclosure)


def publish(
    universe: Universe, min_group_size: int, coalition: int = 1
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    facts = universe.facts()
    frame = withheld_frame(control_disclosure(facts, min_group_size, coalition), CYCLE)
    tables = {t: (tier_kpi_values(universe.values, t), tier_rollups(universe.rollups, frame, t)) for t in TIERS}
    given_tables = [
        PublishedTable(t, f"{t}/{kind}", kind, f)
        for t, pair in tables.items()
        for kind, f in zip(("kpi_values", "rollups"), pair, strict=True)
    ]
    findings = audit_tiers(given_tables, facts, universe.values, universe.rollups, min_group_size, coalition)
    assert findings == [], [f.describe() for f in findings]
    return tables


def readable_rollups(tables, audience: str) -> pd.DataFrame:
    return pd.concat([tables[t][1] for t in TIERS[: rank_of(audience) + 1]], ignore_index=True)


def group_members(universe: Universe) -> dict[tuple[str, str], list[M]]:
    return {g: [m for m in ms if m.status == "reported"] for g, ms in universe.groups().items()}


def in_row_space(rows: np.ndarray, target: np.ndarray) -> bool:
    if rows.shape[0] == 0:
        return False
    weights, *_ = np.linalg.lstsq(rows.T, target, rcond=None)
    return bool(np.allclose(rows.T @ weights, target, atol=1e-7))


def range_by_lp(rows, rhs, lower, upper, k, h, fixed: dict[int, float]) -> float:
    bounds = [(fixed[j], fixed[j]) if j in fixed else (lower, upper) for j in range(k)]
    ends = []
    for sign in (1.0, -1.0):
        objective = np.zeros(k)
        objective[h] = sign
        result = linprog(
            objective, A_eq=rows if len(rows) else None, b_eq=rhs if len(rows) else None, bounds=bounds, method="highs"
        )
        assert result.status == 0, result.message
        ends.append(result.x[h])
    return ends[1] - ends[0]


def coalitions(k: int, size: int, coalition: int) -> list[tuple[int, ...]]:
    """Every coalition of up to `coalition` of the `k` hidden members (the empty one: an outside reader)."""
    return [c for n in range(min(coalition, size) + 1) for c in itertools.combinations(range(k), n)]


def attack_numeric(universe: Universe, tables, audience: str, coalition: int = 1) -> None:
    members = {m.code: m for m in universe.members}
    # The reader's own copy of what it sees: kpi rows only of members visible to it.
    shown = pd.concat([tables[t][0] for t in TIERS[: rank_of(audience) + 1]])
    assert all(sees(members[c].disclosure, audience) for c in shown.member_code)
    hidden = [m for m in universe.members if m.status == "reported" and not sees(m.disclosure, audience)]
    if not hidden:
        return
    index = {m.code: i for i, m in enumerate(hidden)}
    truth = np.array([m.value for m in hidden])
    reporters = group_members(universe)
    rows, rhs = [], []
    for r in readable_rollups(tables, audience).to_dict("records"):
        group = (r["group_type"], r["group_code"])
        in_group = reporters[group]
        visible = [m for m in in_group if sees(m.disclosure, audience)]
        for statistic in ("min", "max", "median"):
            if pd.notna(r[statistic]):
                # An order statistic shown must not be (also) the value of a hidden member of the group.
                assert all(m.value != r[statistic] for m in in_group if m.code in index), (statistic, group)
        row = np.zeros(len(hidden))
        for m in in_group:
            if m.code in index:
                row[index[m.code]] = 1.0
        if pd.notna(r["mean"]):  # n * mean - visible values = sum of the hidden values
            rows.append(row)
            rhs.append(r["mean"] * r["n_reporting"] - sum(m.value for m in visible))
        if pd.notna(r["pooled"]):  # a pooled ratio: sums of numerators and denominators over the same members
            rows.append(row)
            rhs.append(float(row @ truth))
    rows_a = np.array(rows).reshape(len(rows), len(hidden))
    rhs_a = np.array(rhs)
    np.testing.assert_allclose(rows_a @ truth, rhs_a, rtol=1e-9, atol=1e-6)  # the reader's equations hold
    lower = min(m.value for m in universe.members if m.status == "reported")
    upper = max(m.value for m in universe.members if m.status == "reported")
    on_bounds = sum(1 for v in truth if v in (lower, upper))
    for insiders in coalitions(len(hidden), len(hidden), coalition):
        known = np.vstack([rows_a, np.eye(len(hidden))[list(insiders)]]) if insiders else rows_a
        for h in range(len(hidden)):
            if h in insiders:
                continue
            assert not in_row_space(known, np.eye(len(hidden))[h]), (audience, hidden[h].code, insiders)
            # With fewer than two hidden values on the range's ends, the bounds cannot pin anything.
            if on_bounds >= 2 and lower < upper:
                fixed = {i: truth[i] for i in insiders}
                width = range_by_lp(rows_a, rhs_a, lower, upper, len(hidden), h, fixed)
                assert width > 1e-7, (audience, hidden[h].code, insiders, "pinned by bounds")


@settings(max_examples=250, **PROPERTY_SETTINGS)
@given(numeric_universes())
def test_no_hidden_value_can_be_recovered_from_numeric_figures(case):
    universe, min_group_size = case
    tables = publish(universe, min_group_size)
    true = {(r["group_type"], r["group_code"]): r for r in universe.rollups.to_dict("records")}
    for tier in TIERS:
        for r in tables[tier][1].to_dict("records"):
            for statistic in ("mean", "median", "min", "max", "pooled"):
                if pd.notna(r[statistic]):  # what is published is the true statistic of a big enough group
                    assert r[statistic] == true[(r["group_type"], r["group_code"])][statistic]
                    assert r["n_reporting"] >= min_group_size
    for audience in AUDIENCES:
        attack_numeric(universe, tables, audience)


def attack_levels(universe: Universe, tables, audience: str, coalition: int = 1) -> None:
    assert universe.levels is not None
    hidden = [m for m in universe.members if m.status == "reported" and not sees(m.disclosure, audience)]
    if not hidden:
        return
    q = len(universe.levels)
    truth = np.array([universe.levels.index(m.level) for m in hidden])
    reporters = group_members(universe)
    constraints = []  # (indicator of hidden members, level, count among them)
    for r in readable_rollups(tables, audience).to_dict("records"):
        if pd.isna(r["n_reporting"]) and pd.isna(r["mean"]):
            continue
        in_group = reporters[(r["group_type"], r["group_code"])]
        count = r["n_reporting"] if pd.notna(r["n_reporting"]) else round(r["mean"] * len(in_group) / 100)
        level = universe.levels.index(r["series"])
        visible_at = sum(1 for m in in_group if sees(m.disclosure, audience) and m.level == r["series"])
        mask = np.array([m in in_group for m in hidden])
        constraints.append((mask, level, count - visible_at))
    assignments = np.array(list(itertools.product(range(q), repeat=len(hidden))))
    consistent = np.ones(len(assignments), dtype=bool)
    for mask, level, count in constraints:
        consistent &= ((assignments == level) & mask).sum(axis=1) == count
    possible = assignments[consistent]
    assert (possible == truth).all(axis=1).any()  # the truth is among them
    for insiders in coalitions(len(hidden), len(hidden), coalition):
        mine = possible
        for i in insiders:
            mine = mine[mine[:, i] == truth[i]]
        for h in range(len(hidden)):
            if h not in insiders:
                assert len(set(mine[:, h])) > 1, (audience, hidden[h].code, "deduced by", insiders)


@settings(max_examples=150, **PROPERTY_SETTINGS)
@given(categorical_universes())
def test_no_hidden_level_can_be_deduced_from_level_counts(case):
    universe, min_group_size = case
    tables = publish(universe, min_group_size)
    for audience in AUDIENCES:
        attack_levels(universe, tables, audience)


# --- coalitions (the attacker model's k, PMM_COALITION_SIZE) ------------------------------------------------


@settings(max_examples=50, **PROPERTY_SETTINGS)
@given(numeric_universes(), st.sampled_from([1, 2]))
def test_no_coalition_of_up_to_k_members_recovers_a_hidden_value(case, coalition):
    """With k, a mean needs no hidden contributor or at least k + 2, and k colluding members' values are known."""
    universe, min_group_size = case
    tables = publish(universe, min_group_size, coalition)
    for audience in AUDIENCES:
        attack_numeric(universe, tables, audience, coalition)


@settings(max_examples=60, **PROPERTY_SETTINGS)
@given(categorical_universes(), st.sampled_from([1, 2]))
def test_no_coalition_of_up_to_k_members_deduces_a_hidden_level(case, coalition):
    universe, min_group_size = case
    tables = publish(universe, min_group_size, coalition)
    for audience in AUDIENCES:
        attack_levels(universe, tables, audience, coalition)


# --- re-releases: resubmissions, withdrawals and choice changes, with every earlier release held ---------------


@settings(max_examples=40, **PROPERTY_SETTINGS)
@given(release_histories())
def test_no_sequence_of_re_releases_reveals_a_hidden_value(case):
    """An attacker holding every earlier release (and every value any of them showed) solves the union of their
    means, as an outsider and as any one member, and finds no value hidden when it was released or now."""
    import tempfile
    from pathlib import Path

    states, min_group_size = case
    universes = [Universe(s, statistics=("mean",)) for s in states]
    with tempfile.TemporaryDirectory() as folder:
        releases = release_sequence(universes, Path(folder), min_group_size)
    for audience in AUDIENCES:
        assert recover(universes, releases, audience, coalition=1) == set()
