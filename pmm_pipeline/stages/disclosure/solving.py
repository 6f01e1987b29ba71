"""What the value and level solvers share: who knows each column, the answers the process keeps between questions,
and the switch that sends every question to scipy's solvers as before programs.py (the reference tests compare to).

What a reader can solve for is in value_solving.py (hidden values, by rank and linear programming) and
level_solving.py (hidden levels of categorical KPIs, by integer programming).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np


def owners_of(n: int, owners: Sequence[int] | np.ndarray | None) -> np.ndarray:
    """Who knows each column: by default every column is its own member's (one value each)."""
    return np.arange(n) if owners is None else np.asarray(owners, dtype=int)


COLUMNS_OF: dict[bytes, dict[int, np.ndarray]] = {}  # by owners: one system asks many questions with the same


# Answers of solvable_levels by input. The same question comes back within a run (`pmm run` executes every
# step in one process: the withheld decisions, then each tier's release audits): 59 of 202 calls in a profiled
# run of a sample cycle, each up to a few integer programs. The answer does not depend on `found`: the
# alternatives in it are valid ones, so they change which integer programs are solved, not the answer.
SOLVED_LEVELS: dict[tuple, np.ndarray] = {}
SOLVED_LEVELS_KEPT = 10_000
PROCESS_CACHES = (SOLVED_LEVELS, COLUMNS_OF)  # what the process keeps between questions (the benchmark empties)


# Set by solved_as_before() (tests and the benchmark): every question answered by a solver as before, the
# reference that the settled-without-a-solver answers must equal.
_SOLVED_AS_BEFORE = False


@contextmanager
def solved_as_before() -> Iterator[None]:
    """Within: every question goes to scipy's solvers one call each, nothing settled otherwise or reused."""
    global _SOLVED_AS_BEFORE
    saved, _SOLVED_AS_BEFORE = _SOLVED_AS_BEFORE, True
    kept = dict(SOLVED_LEVELS)
    SOLVED_LEVELS.clear()
    try:
        yield
    finally:
        _SOLVED_AS_BEFORE = saved
        SOLVED_LEVELS.clear()
        SOLVED_LEVELS.update(kept)


def answers_as_before() -> bool:
    """Whether every question is to go to scipy's solvers one call each (inside solved_as_before())."""
    return _SOLVED_AS_BEFORE
