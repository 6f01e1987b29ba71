"""Small hand-described sets of members for the disclosure tests, turned into the frames the pipeline produces.

The group statistics are computed here with numpy, independently of the rollup SQL, the same way
the contract defines them: unweighted mean, linear (quantile_cont) median, min, max, pooled ratio
= sum of numerators / sum of denominators; categorical rows per level (count and % of reporters).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pmm_pipeline.stages.disclosure.facts import load_series_facts

KPI = "kpi_x"
CYCLE = "2023"


@dataclass(frozen=True)
class M:
    """One member's answer to the KPI: its groups (global is added), disclosure and value or level."""

    code: str
    groups: dict[str, str]
    disclosure: str
    value: float | None = None  # None: not reported (status below)
    status: str = "reported"
    denominator: float = 1.0
    level: str | None = None


@dataclass
class Universe:
    members: Sequence[M]
    statistics: Sequence[str] = ("mean", "median", "min", "max", "pooled")
    levels: tuple[str, ...] | None = None  # categorical KPI
    values: pd.DataFrame = field(init=False)
    memberships: pd.DataFrame = field(init=False)
    rollups: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        self.values = pd.DataFrame([self._value_row(m) for m in self.members])
        self.memberships = pd.DataFrame(
            [
                {"member_code": m.code, "group_type": t, "group_code": c}
                for m in self.members
                for t, c in {"global": "all", **m.groups}.items()
            ]
        )
        self.rollups = pd.DataFrame(self._rollup_rows())

    def _reported(self, m: M) -> bool:
        return m.status == "reported"

    def _value_row(self, m: M) -> dict:
        reported = self._reported(m)
        value = None
        if reported:
            value = float(self.levels.index(m.level)) if self.levels else float(m.value)
        return {
            "cycle": CYCLE,
            "reporting_year": 2022,
            "member_code": m.code,
            "kpi_id": KPI,
            "series": "total",
            "value": value,
            "status": m.status,
            "disclosure": m.disclosure,
            "flags": "",
            "numerator": value * m.denominator if reported and not self.levels else None,
            "denominator": m.denominator if reported and not self.levels else None,
            "level_code": m.level if reported and self.levels else None,
            "submission_id": f"sub-{m.code}",
        }

    def groups(self) -> dict[tuple[str, str], list[M]]:
        out: dict[tuple[str, str], list[M]] = {}
        for m in self.members:
            for group in {"global": "all", **m.groups}.items():
                out.setdefault(group, []).append(m)
        return out

    def _rollup_rows(self) -> list[dict]:
        rows = []
        for (group_type, group_code), members in sorted(self.groups().items()):
            reporting = [m for m in members if self._reported(m)]
            base = {
                "cycle": CYCLE,
                "kpi_id": KPI,
                "group_type": group_type,
                "group_code": group_code,
                "n_participating": len(members),
                "median": None,
                "min": None,
                "max": None,
                "pooled": None,
                "suppressed": False,
                "suppression_reason": None,
            }
            if self.levels:
                for level in self.levels:
                    count = sum(1 for m in reporting if m.level == level)
                    share = 100.0 * count / len(reporting) if reporting else None
                    rows.append({**base, "series": level, "n_reporting": count, "mean": share})
                continue
            values = np.array([m.value for m in reporting], dtype=float)
            stats = {"mean": None, "median": None, "min": None, "max": None, "pooled": None}
            if len(values):
                stats = {
                    "mean": float(values.mean()),
                    "median": float(np.median(values)),
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "pooled": float(
                        sum(m.value * m.denominator for m in reporting) / sum(m.denominator for m in reporting)
                    ),
                }
            stats = {k: (v if k in self.statistics else None) for k, v in stats.items()}
            rows.append({**base, **stats, "series": "total", "n_reporting": len(reporting)})
        return rows

    def facts(self):
        levels = {KPI: self.levels} if self.levels else {}
        return load_series_facts(self.values, self.memberships, self.rollups, levels)
