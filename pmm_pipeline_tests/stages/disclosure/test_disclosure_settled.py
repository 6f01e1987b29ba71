"""The disclosure decisions settled with fewer solver calls are the decisions of a solver call per question.

solving.solved_as_before() answers every question as before programs.py: one scipy milp call per
level-count question, nothing settled by the linear relaxation or reused across questions. Every
decision (withheld cell and its reason, in every tier) must be the same both ways: on a cycle shaped
like the real one (the reference data's groups), on random universes with coalitions of one to three
members, and with earlier releases known to the readers.
"""

import dataclasses
import random
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmm_pipeline.core.settings import Settings
from pmm_pipeline.specs.reference.load import load_reference
from pmm_pipeline.stages.disclosure import programs, solving, value_solving
from pmm_pipeline.stages.disclosure.control import TIERS, control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS
from pmm_pipeline.stages.disclosure.record import read_history, release_record, with_history, write_record
from pmm_pipeline.stages.disclosure.solving import solved_as_before
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline_tests.disclosure_universe import CYCLE, M, Universe
from pmm_pipeline_tests.stages.disclosure.universe_strategies import (
    PROPERTY_SETTINGS,
    categorical_universes,
    numeric_universes,
    release_histories,
)

# Every case is decided twice, once with a solver call per question: about a minute of CPU in all.
pytestmark = pytest.mark.slow


def decided_both_ways(facts, min_group_size: int, coalition: int):
    """(decisions as settled now, decisions with a solver call per question, programs solved now by kind)."""
    for cache in solving.PROCESS_CACHES:  # decided from scratch, not from answers an earlier case left
        cache.clear()
    before = Counter(programs.SOLVES)
    now = control_disclosure(facts, min_group_size, coalition)
    solved = Counter(programs.SOLVES) - before
    with solved_as_before():
        reference = control_disclosure(facts, min_group_size, coalition)
    return now, reference, solved


def reference_cycle(members: int, seed: int, levels: tuple[str, ...] | None) -> Universe:
    """`members` members of the reference data in force for cycle 2025, with their real groups, drawn values."""
    settings_ = Settings.from_env({})
    reference = load_reference(settings_.reference_dir, settings_.cycles_file)
    in_force = sorted(reference.members_in_force(reference.cycles.get("2025")).values(), key=lambda m: m.member_code)
    rng = random.Random(seed)
    chosen = rng.sample(in_force, members)
    group_types = ("region", "income_group", "landlocked", "admin_type")
    return Universe(
        [
            M(
                m.member_code,
                {t: m.group_code(t) for t in group_types},
                rng.choice(("public", "public", "wco", "secretariat")),
                None if levels else float(rng.randint(0, 40)),
                status="reported" if rng.random() < 0.9 else "missing",
                denominator=float(rng.randint(1, 50)),
                level=rng.choice(levels) if levels else None,
            )
            for m in chosen
        ],
        statistics=() if levels else ("mean", "median", "min", "max", "pooled"),
        levels=levels,
    )


THREE_LEVELS = ("not_implemented", "partially_implemented", "fully_implemented")


@pytest.mark.parametrize("coalition", [1, 2])
@pytest.mark.parametrize("levels", [None, ("no", "yes"), THREE_LEVELS])
def test_a_cycle_of_the_reference_groups_is_decided_the_same(levels, coalition):
    universe = reference_cycle(120, seed=17, levels=levels)
    now, reference, solved = decided_both_ways(universe.facts(), 3, coalition)
    assert now == reference
    assert len(now) > 0
    if levels:  # the case reaches the level programs: relaxations, and fractional ones branched on
        assert solved["relaxation"] > 0 and solved["branch"] > 0


@pytest.mark.parametrize("coalition", [1, 2])
def test_fractional_relaxations_left_to_highs_branch_and_bound_are_decided_the_same(monkeypatch, coalition):
    monkeypatch.setattr(programs, "NODE_LIMIT", 0)  # every fractional relaxation goes to HiGHS's integer program
    universe = reference_cycle(120, seed=17, levels=THREE_LEVELS)
    now, reference, solved = decided_both_ways(universe.facts(), 3, coalition)
    assert now == reference
    assert solved["integer"] > 0


@settings(max_examples=60, **PROPERTY_SETTINGS)
@given(numeric_universes(), st.sampled_from([1, 2, 3]))
def test_random_numeric_universes_are_decided_the_same(case, coalition):
    universe, min_group_size = case
    now, reference, _ = decided_both_ways(universe.facts(), min_group_size, coalition)
    assert now == reference


@settings(max_examples=80, **PROPERTY_SETTINGS)
@given(categorical_universes(), st.sampled_from([1, 2, 3]))
def test_random_categorical_universes_are_decided_the_same(case, coalition):
    universe, min_group_size = case
    now, reference, _ = decided_both_ways(universe.facts(), min_group_size, coalition)
    assert now == reference


def decided_over_time(universes: list[Universe], min_group_size: int, coalition: int) -> None:
    """Each release decided both ways with every earlier release known; the records written as a release would."""
    with tempfile.TemporaryDirectory() as folder:
        for state in universes:
            facts = with_history(state.facts(), read_history([Path(folder)], 2022))
            now, reference, _ = decided_both_ways(facts, min_group_size, coalition)
            assert now == reference
            frame = withheld_frame(now, CYCLE)
            for tier in AUDITED_TIERS:
                tables = {
                    "kpi_values": tier_kpi_values(state.values, tier, frame),
                    "rollups": tier_rollups(state.rollups, frame, tier),
                }
                write_record(Path(folder), tier, release_record(facts, tables, tier, CYCLE, 2022))


@settings(max_examples=30, **PROPERTY_SETTINGS)
@given(release_histories(), st.sampled_from([1, 2]))
def test_releases_over_time_are_decided_the_same(case, coalition):
    states, min_group_size = case
    decided_over_time([Universe(s, statistics=("mean", "pooled")) for s in states], min_group_size, coalition)


@st.composite
def level_histories(draw):
    """A categorical first state of 5-10 members, then 1-2 states with a few levels or choices changed."""
    universe, _ = draw(categorical_universes())
    levels = universe.levels
    states = [list(universe.members)]
    for _ in range(draw(st.integers(1, 2))):
        current = list(states[-1])
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, len(current) - 1))
            if draw(st.booleans()):
                current[i] = dataclasses.replace(current[i], level=draw(st.sampled_from(levels)))
            else:
                current[i] = dataclasses.replace(current[i], disclosure=draw(st.sampled_from(TIERS)))
        states.append(current)
    return [Universe(s, statistics=(), levels=levels) for s in states], draw(st.integers(1, 3))


@settings(max_examples=30, **PROPERTY_SETTINGS)
@given(level_histories(), st.sampled_from([1, 2]))
def test_level_counts_over_time_are_decided_the_same(case, coalition):
    universes, min_group_size = case
    decided_over_time(universes, min_group_size, coalition)


@settings(max_examples=200, **PROPERTY_SETTINGS)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.tuples(
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.sampled_from([0.0, 0.0, 5.0, 10.0, 10.0, 2.5]), min_size=n, max_size=n),
        )
    ),
    st.integers(0, 3),
)
def test_one_sum_in_closed_form_is_what_rank_and_linear_programs_give(case, coalition):
    in_sum, values = case
    rows = np.array([in_sum], dtype=float)
    values = np.array(values)
    lower, upper = float(values.min()), float(values.max())
    settled = value_solving.solvable_values(rows, values, lower, upper, coalition=coalition)
    equations = value_solving.solved_by_equations(rows, coalition=coalition)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(value_solving, "_one_sum", lambda rows, owners: None)  # the general path: SVD and linear programs
        assert np.array_equal(settled, value_solving.solvable_values(rows, values, lower, upper, coalition=coalition))
        assert np.array_equal(equations, value_solving.solved_by_equations(rows, coalition=coalition))
