"""The random cases of the disclosure property tests: hypothesis strategies of universes of members (numeric values,
levels) and of release histories (a first state and a few changed ones), with the regions and income groups they
draw from, and `PROPERTY_SETTINGS`, the hypothesis settings every property test runs with. Used by
test_disclosure_properties.py and test_disclosure_settled.py.
"""

import dataclasses

from hypothesis import HealthCheck
from hypothesis import strategies as st

from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline_tests.disclosure_universe import M, Universe

PROPERTY_SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
REGIONS, INCOMES = ("R1", "R2", "R3"), ("I1", "I2")


@st.composite
def numeric_universes(draw):
    n = draw(st.integers(3, 11))
    # Values from a coarse grid and a few round ones, so that ties and values on the range's ends occur.
    grid = st.integers(0, 2000).map(lambda x: x / 20)
    value = st.one_of(grid, grid, grid, st.sampled_from([0.0, 50.0, 100.0]))
    members = [
        M(
            f"M{i:02d}",
            {"region": draw(st.sampled_from(REGIONS)), "income_group": draw(st.sampled_from(INCOMES))},
            draw(st.sampled_from(TIERS)),
            draw(value),
            status=draw(st.sampled_from(["reported"] * 6 + ["not_applicable", "missing"])),
            denominator=float(draw(st.integers(1, 1000))),
        )
        for i in range(n)
    ]
    statistics = draw(st.sampled_from([("mean", "median", "min", "max", "pooled"), ("mean", "median"), ("mean",)]))
    return Universe(members, statistics=statistics), draw(st.integers(1, 4))


@st.composite
def categorical_universes(draw):
    n = draw(st.integers(3, 10))
    levels = draw(st.sampled_from([("no", "yes"), ("low", "mid", "high")]))
    members = [
        M(
            f"M{i:02d}",
            {"region": draw(st.sampled_from(REGIONS)), "income_group": draw(st.sampled_from(INCOMES))},
            draw(st.sampled_from(TIERS)),
            status=draw(st.sampled_from(["reported"] * 5 + ["not_applicable"])),
            level=draw(st.sampled_from(levels)),
        )
        for i in range(n)
    ]
    return Universe(members, statistics=(), levels=levels), draw(st.integers(1, 3))


@st.composite
def release_histories(draw):
    """A first state of 4-9 members, then 1-3 further states, each changing a few members at random."""
    n = draw(st.integers(4, 9))
    grid = st.integers(0, 200).map(lambda x: x / 2)
    members = [
        M(
            f"M{i:02d}",
            {"region": draw(st.sampled_from(REGIONS[:2])), "income_group": draw(st.sampled_from(INCOMES))},
            draw(st.sampled_from(TIERS)),
            draw(grid),
        )
        for i in range(n)
    ]
    states = [members]
    for _ in range(draw(st.integers(1, 3))):
        current = list(states[-1])
        for _ in range(draw(st.integers(1, 3))):
            i = draw(st.integers(0, n - 1))
            change = draw(st.sampled_from(["resubmit", "withdraw", "come back", "choice"]))
            m = current[i]
            if change == "resubmit":
                current[i] = dataclasses.replace(m, value=draw(grid), status="reported")
            elif change == "withdraw":
                current[i] = dataclasses.replace(
                    m, value=None, status=draw(st.sampled_from(["not_available", "missing"]))
                )
            elif change == "come back":
                current[i] = dataclasses.replace(
                    m, value=m.value if m.value is not None else draw(grid), status="reported"
                )
            else:
                current[i] = dataclasses.replace(m, disclosure=draw(st.sampled_from(TIERS)))
        states.append(current)
    return states, draw(st.integers(2, 3))
