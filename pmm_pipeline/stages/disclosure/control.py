"""Disclosure control of a cycle's release: what each tier may show, and the audit that proves nothing hidden leaks.

Tiers are nested, `public` ⊂ `wco` ⊂ `secretariat`, and the readers of a tier also read every lower
tier. A member's KPI value appears in a tier only if its disclosure choice allows it (a KPI left out
is `secretariat`); hidden members' rows are left out entirely, so neither their value nor their
status (not_applicable, missing, undefined) nor their flags can show.

Group statistics are the true statistics over all members (rollup.rollups). A statistic is withheld
from a tier, with the reason in `suppression_reason`, when:
- `min_group_size`: the group has fewer contributing (reporting) members than the policy minimum;
- `hidden_member`: it is an order statistic (min, max, median) whose value belongs to a member
  hidden in the tier (a tie with a hidden member counts: the value is the hidden member's too);
- `differencing`: it is a mean, a pooled ratio or a categorical level count that, with the values
  visible in the tier (and a member's knowledge of its own value), reveals a hidden value;
- `complementary`: it is withheld because, combined with the other figures the tier's readers see
  (its own and the lower tiers'), it would let them solve for a hidden value.

The reader modelled knows: which members belong to each group and which reported each KPI
(n_reporting is published), every value visible in its tier, every published figure of its tier and
of the lower tiers, a-priori bounds on the values as tight as the series' true range, and may be a
member knowing its own hidden value. A hidden value is disclosed when it is the same in every
assignment of hidden values consistent with all that. A mean gives the sum of the group's values, a
pooled ratio the sums of its numerators and denominators over the same members: linear equations
over hidden answers, solved by rank (a value is determined iff its unit vector lies in the row
space). Bounds are checked by linear programming on the cone of feasible directions, categorical
level counts by integer programming (is there another assignment of levels giving the same counts?).

This module is the entry point, control_disclosure: it decides what each tier withholds, numeric KPIs in
value_control.py and categorical ones in level_control.py, with what both share (reasons, decisions, control over
time) in decisions.py and the unknowns of a tier's readers in unknowns.py. The facts it works from are in facts.py,
what a reader can solve for in value_solving.py and level_solving.py, the tiers' tables in tiers.py and the audit of
built releases in audit.py.
Everything here is plain functions over DataFrames and numpy arrays; the assets wire it to Dagster.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.decisions import REASONS
from pmm_pipeline.stages.disclosure.facts import VALUE, SeriesFacts, tier_rank
from pmm_pipeline.stages.disclosure.level_control import control_categorical
from pmm_pipeline.stages.disclosure.value_control import control_numeric


@dataclass(frozen=True)
class Withheld:
    """One statistic of one rollup row withheld from one tier, and why."""

    tier: str
    kpi_id: str
    series: str  # as in rollup.rollups (for categorical KPIs, the level row)
    group_type: str
    group_code: str
    statistic: str
    reason: str


def control_disclosure(facts: Sequence[SeriesFacts], min_group_size: int, coalition: int = 1) -> list[Withheld]:
    """Every statistic withheld from every tier, decided for all tiers together (readers see lower tiers).

    `coalition` is the attacker model's k: an outside reader, or up to k members pooling what they know.
    A member value withheld from a tier (over time, see control_over_time) is statistic `value` of group
    ("member", member code).
    """
    withheld = []
    for series in facts:
        if series.is_categorical:
            assert series.levels is not None
            decisions = control_categorical(series, min_group_size, coalition)
            for (tier, group, statistic), reason in decisions.reasons.items():
                if statistic == VALUE:
                    withheld.append(Withheld(tier, series.kpi_id, series.series, *group, statistic, reason))
                    continue
                withheld += [
                    Withheld(tier, series.kpi_id, series.rollup_series(level), *group, statistic, reason)
                    for level in series.levels
                ]
        else:
            decisions = control_numeric(series, min_group_size, coalition)
            withheld += [
                Withheld(tier, series.kpi_id, series.series, *group, statistic, reason)
                for (tier, group, statistic), reason in decisions.reasons.items()
            ]
    return sorted(
        withheld, key=lambda w: (tier_rank(w.tier), w.kpi_id, w.series, w.group_type, w.group_code, w.statistic)
    )


def withheld_frame(withheld: Sequence[Withheld], cycle: str) -> pd.DataFrame:
    columns = ["cycle", *Withheld.__dataclass_fields__]
    return pd.DataFrame([{"cycle": cycle, **asdict(w)} for w in withheld], columns=columns)


def summarize_withheld(
    withheld: pd.DataFrame, published_rollups: Mapping[str, pd.DataFrame], categorical: Iterable[str]
) -> dict[str, str]:
    """Per tier: withheld statistics by reason, and how many regional means of numeric KPIs are published."""
    summary = {}
    categorical = set(categorical)
    for tier in TIERS:
        mine = withheld[withheld["tier"] == tier]
        counts = mine.groupby("reason").size()
        by_reason = ", ".join(f"{r} {int(counts[r])}" for r in REASONS if r in counts) or "none"
        line = f"{len(mine)} statistics withheld ({by_reason})"
        rollups = published_rollups.get(tier)
        if rollups is not None:
            regional = rollups[(rollups["group_type"] == "region") & ~rollups["kpi_id"].isin(categorical)]
            has_mean = regional["mean"].notna() | regional["suppression_reason"].fillna("").str.contains("mean:")
            line += f"; regional means published: {int(regional['mean'].notna().sum())} of {int(has_mean.sum())}"
        summary[tier] = line
    return summary
