"""The unknowns of a tier's readers: the values they do not know over this release and the earlier ones, the
columns of both the numeric and the level systems."""

from collections.abc import Iterable

import numpy as np

from pmm_pipeline.stages.disclosure.facts import SeriesFacts, tier_rank, visible_in


class Unknowns:
    """The values a tier's readers do not know, over the release being decided and every earlier one.

    A reader of `audience` knows every value shown by its tier and the lower tiers, now (`shown`, by
    default every member whose choice allows the tier) or in an earlier release: such a variable is a
    constant, whatever the member's choice is now (a release cannot be taken back). Every other
    variable is a column; it is a target (must not be determined) when the member's choice hid it from
    the tier, now or at an earlier release. `owners` is the member of each column: a member knows all
    its own values (a coalition member knows its old and its corrected value).
    """

    def __init__(self, facts: SeriesFacts, audience: str, shown: Iterable[str] | None, history: bool):
        if shown is None:
            shown = [m for m, r in facts.reporters.items() if visible_in(r.disclosure, audience)]
        self.earlier = [r for r in facts.history if tier_rank(r.tier) <= tier_rank(audience)] if history else []
        known = {r.variable(m) for r in self.earlier for m in r.shown if m in r.values}
        known |= {facts.variable(m) for m in shown if m in facts.reporters}
        self.index: dict[tuple[str, object], int] = {}
        self.labels: list[str] = []
        self.values: list[float] = []
        self.levels: list[int] = []
        targets: list[bool] = []

        def column(variable: tuple[str, object], value: float, disclosure: str) -> int | None:
            if variable in known:
                return None
            if variable not in self.index:
                self.index[variable] = len(self.labels)
                self.labels.append(variable[0])
                self.values.append(value)
                if facts.levels is not None:
                    self.levels.append(facts.levels.index(variable[1]) if variable[1] in facts.levels else 0)
                targets.append(False)
            position = self.index[variable]
            targets[position] = targets[position] or not visible_in(disclosure, audience)
            return position

        self.current = {m: column(facts.variable(m), r.value, r.disclosure) for m, r in sorted(facts.reporters.items())}
        self.earlier_columns = [
            {m: column(r.variable(m), v, d) for m, (v, _, d) in sorted(r.values.items())} for r in self.earlier
        ]
        self.targets = np.array(targets, dtype=bool)
        member_ids = {m: i for i, m in enumerate(sorted(set(self.labels)))}
        self.owners = np.array([member_ids[m] for m in self.labels], dtype=int)
        everything = [r.value for r in facts.reporters.values()] + [
            v for r in self.earlier for v, _, _ in r.values.values()
        ]
        self.lower, self.upper = (min(everything), max(everything)) if everything else (0.0, 0.0)

    @property
    def size(self) -> int:
        return len(self.labels)

    def current_row(self, members: Iterable[str]) -> np.ndarray:
        row = np.zeros(self.size)
        row[[c for m in members if (c := self.current.get(m)) is not None]] = 1.0
        return row

    def earlier_rows(self) -> np.ndarray:
        rows = []
        for release, columns in zip(self.earlier, self.earlier_columns, strict=True):
            for members in release.sums:
                row = np.zeros(self.size)
                row[[c for m in members if (c := columns.get(m)) is not None]] = 1.0
                rows.append(row)
        return np.array(rows).reshape(len(rows), self.size)
