"""The audit of built releases: every figure a tier shows checked against what its readers may see or solve for."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.cells import EXACT, Precision, missing_cells, same_cells
from pmm_pipeline.stages.disclosure.facts import (
    AUDITED_TIERS,
    LEVEL_COUNTS,
    NUMERIC_STATISTICS,
    ORDER_STATISTICS,
    GroupKey,
    SeriesFacts,
    split_level_series,
    tier_rank,
    visible_in,
)
from pmm_pipeline.stages.disclosure.level_control import LevelSystem
from pmm_pipeline.stages.disclosure.value_control import NumericSystem
from pmm_pipeline.warehouse.tables import KPI_VALUES, PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS, ROLLUPS


@dataclass(frozen=True)
class PublishedTable:
    """One published table as its readers get it: a warehouse table or a file read back."""

    tier: str
    source: str  # e.g. publish_public.rollups or public/rollups.csv
    kind: str  # kpi_values or rollups
    frame: pd.DataFrame
    precision: Precision = EXACT  # what its numbers are held to (a workbook keeps 16 significant digits)


@dataclass(frozen=True)
class Finding:
    """One published cell that shows, or lets a reader work out, something hidden from that reader."""

    audience: str
    source: str
    problem: str
    kpi_id: str = ""
    series: str = ""
    group: str = ""
    statistic: str = ""
    member_code: str = ""

    def describe(self) -> str:
        where = " ".join(x for x in (self.kpi_id, self.series, self.group, self.statistic, self.member_code) if x)
        return f"[{self.audience} readers] {self.source}: {where}: {self.problem}"


def _aligned(frame: pd.DataFrame, truth: pd.DataFrame, keys: list[tuple], truth_keys: list[tuple]) -> pd.DataFrame:
    """`truth`'s row of each key in `keys`, in their order (a key of no true row: a row of NaN; the last row of a
    key given twice wins, as in a dict)."""
    at = {key: i for i, key in enumerate(truth_keys)}
    positions = [at.get(key, -1) for key in keys]
    return truth.reset_index(drop=True).reindex(positions).reset_index(drop=True)


def _audit_kpi_values(audience: str, table: PublishedTable, values: pd.DataFrame) -> list[Finding]:
    missing = set(PUBLISHED_KPI_COLUMNS) - set(table.frame.columns)
    if missing:
        return [Finding(audience, table.source, f"lacks column(s) {sorted(missing)}: cannot be audited")]
    findings = []
    extra = set(table.frame.columns) - set(PUBLISHED_KPI_COLUMNS)
    if extra:
        findings.append(Finding(audience, table.source, f"has columns beyond the contract: {sorted(extra)}"))
    frame = table.frame.reset_index(drop=True)
    key_columns = KPI_VALUES.key_in_cycle
    keys = list(zip(*(frame[c] for c in key_columns), strict=True))
    truth_keys = list(zip(*(values[c] for c in key_columns), strict=True))
    true = _aligned(frame, values, keys, truth_keys)
    known = set(truth_keys)
    # Every cell compared at once, column by column; the rows are then walked only to word the findings.
    differs = {c: ~same_cells(frame[c], true[c], table.precision) for c in PUBLISHED_KPI_COLUMNS}
    any_differs = np.logical_or.reduce(list(differs.values())) if differs else np.zeros(len(frame), dtype=bool)
    disclosures = true["disclosure"].tolist()
    seen = set()
    for i, key in enumerate(keys):
        where = {"kpi_id": str(key[1]), "series": str(key[2]), "member_code": str(key[0])}
        if key not in known:
            findings.append(Finding(audience, table.source, "row of no computed KPI value", **where))
        elif not visible_in(disclosures[i], table.tier):
            findings.append(
                Finding(
                    audience,
                    table.source,
                    f"value disclosed by the member to {disclosures[i]} only, shown in the {table.tier} tier",
                    **where,
                )
            )
        else:
            if key in seen:
                findings.append(Finding(audience, table.source, "row appears twice", **where))
            if any_differs[i]:
                findings += [
                    Finding(audience, table.source, f"{column} differs from the computed value", **where)
                    for column in PUBLISHED_KPI_COLUMNS
                    if differs[column][i]
                ]
        seen.add(key)
    return findings


@dataclass
class _Seen:
    """What the published rollups of the tiers an audience reads give away, per series."""

    findings: list[Finding] = field(default_factory=list)
    equations: dict[tuple[str, str], set[tuple[GroupKey, str]]] = field(default_factory=dict)
    level_counts: dict[tuple[str, str], set[tuple[GroupKey, str]]] = field(default_factory=dict)
    # Members whose value the readable kpi_values tables show, per series: what the reader knows of this release.
    shown: dict[tuple[str, str], set[str]] | None = None

    def visible(self, facts: SeriesFacts, member: str, audience: str) -> bool:
        if self.shown is None:  # no kpi_values table to go by: what the member's choice allows
            return visible_in(facts.reporters[member].disclosure, audience)
        # A value shown against its member's choice is a finding of its own; it still counts as hidden here.
        return member in self.shown.get((facts.kpi_id, facts.series), set()) and visible_in(
            facts.reporters[member].disclosure, audience
        )


def _audit_rollup_cells(
    audience: str,
    table: PublishedTable,
    facts_by_key: Mapping[tuple[str, str], SeriesFacts],
    rollups: pd.DataFrame,
    rollup_keys: list[tuple],
    min_group_size: int,
    seen: _Seen,
) -> None:
    """Check every published cell of a rollups table; note the equations and counts it gives the reader."""
    report = table.tier == audience  # a lower tier's cells were checked for its own readers already
    missing = set(PUBLISHED_ROLLUP_COLUMNS) - set(table.frame.columns)
    if missing:
        seen.findings.append(Finding(audience, table.source, f"lacks column(s) {sorted(missing)}: cannot be audited"))
        return
    categorical = {f.kpi_id for f in facts_by_key.values() if f.is_categorical}

    def find(problem: str, **where: str) -> None:
        if report:
            seen.findings.append(Finding(audience, table.source, problem, **where))

    frame = table.frame.reset_index(drop=True)
    keys = list(
        zip(
            frame["kpi_id"],
            frame["series"],
            [str(v) for v in frame["group_type"]],
            [str(v) for v in frame["group_code"]],
            strict=True,
        )
    )
    true = _aligned(frame, rollups, keys, rollup_keys)
    known = set(rollup_keys)
    # Every cell compared at once, column by column; the rows are then walked for what needs the facts.
    same = {
        c: same_cells(frame[c], true[c], table.precision)
        for c in ("n_participating", "n_reporting", *NUMERIC_STATISTICS)
    }
    empty = {c: missing_cells(frame[c]) for c in ("n_reporting", *NUMERIC_STATISTICS)}
    for i, (kpi_id, series, *group_parts) in enumerate(keys):
        group = (group_parts[0], group_parts[1])
        where = {"kpi_id": str(kpi_id), "series": str(series), "group": "/".join(group)}
        level = None
        series_key = (kpi_id, series)
        if kpi_id in categorical:
            kpi_series, level = split_level_series(str(series))
            series_key = (kpi_id, kpi_series)
        facts = facts_by_key.get(series_key)
        if (kpi_id, series, *group) not in known or facts is None or group not in facts.groups:
            find("row of no computed group statistic", **where)
            continue
        if not same["n_participating"][i]:
            find("n_participating differs from the true count", **where)
        contributors = len(facts.groups[group])
        if facts.is_categorical:
            shown = [c for c in ("n_reporting", "mean") if not empty[c][i]]
            for column in shown:
                if not same[column][i]:
                    find(f"{column} is not the true figure", statistic=column, **where)
            for column in ("median", "min", "max", "pooled"):
                if not empty[column][i]:
                    find(f"{column} of a categorical KPI", statistic=column, **where)
            if shown and level in (facts.levels or ()):
                if contributors < min_group_size:
                    find(
                        f"level count of a group of {contributors} (< {min_group_size}) members",
                        statistic=LEVEL_COUNTS,
                        **where,
                    )
                seen.level_counts.setdefault(series_key, set()).add((group, level))
            continue
        if not empty["n_reporting"][i] and not same["n_reporting"][i]:
            find("n_reporting differs from the true count", **where)
        for statistic in NUMERIC_STATISTICS:
            if empty[statistic][i]:
                continue
            cell = {"statistic": statistic, **where}
            if not same[statistic][i]:
                find("figure is not the true statistic", **cell)
                continue
            if contributors < min_group_size:
                find(f"{statistic} of a group of {contributors} (< {min_group_size}) reporting members", **cell)
            if statistic in ORDER_STATISTICS:
                for member in sorted(facts.holders(group, statistic)):
                    if not seen.visible(facts, member, audience):
                        seen.findings.append(
                            Finding(
                                audience,
                                table.source,
                                f"{statistic} is the value of a member hidden from {audience} readers",
                                member_code=member,
                                **cell,
                            )
                        )
            else:
                seen.equations.setdefault(series_key, set()).add((group, statistic))


def audit_tiers(
    tables: Sequence[PublishedTable],
    facts: Sequence[SeriesFacts],
    values: pd.DataFrame,
    rollups: pd.DataFrame,
    min_group_size: int,
    coalition: int = 1,
) -> list[Finding]:
    """Every way the published tables show a reader something hidden from it, for each audience.

    An audience reads the tables of its own tier and of every lower tier, and every earlier release
    in the facts' history. `facts`, `values` and `rollups` are the truth (from kpi.kpi_values and
    rollup.rollups). Besides the disclosure rules, every published figure must be the true one: a
    number the audit cannot explain is a finding. A hidden value that the earlier releases alone
    already determine is past mending and not a finding of this release. The reader is an outsider
    or a coalition of up to `coalition` members.
    """
    findings: list[Finding] = []
    facts_by_key = {(f.kpi_id, f.series): f for f in facts}
    rollup_keys = list(zip(*(rollups[c] for c in ROLLUPS.key_in_cycle), strict=True))
    for audience in TIERS:
        readable = [t for t in tables if tier_rank(t.tier) <= tier_rank(audience)]
        if not any(t.tier == audience for t in readable):
            continue
        seen = _Seen(shown=_shown_values(readable))
        for table in readable:
            if table.kind == "kpi_values" and table.tier == audience:
                seen.findings += _audit_kpi_values(audience, table, values)
            elif table.kind == "rollups":
                _audit_rollup_cells(audience, table, facts_by_key, rollups, rollup_keys, min_group_size, seen)
        findings += seen.findings
        if audience not in AUDITED_TIERS:
            continue
        for series in facts:
            key = (series.kpi_id, series.series)
            shown = None
            if seen.shown is not None:  # what the tables show and the member allows (a leak is a finding above)
                shown = {
                    m for m in seen.shown.get(key, set()) if m in series.reporters and seen.visible(series, m, audience)
                }
            if series.is_categorical:
                findings += _audit_level_counts(audience, series, seen.level_counts.get(key, set()), shown, coalition)
            else:
                findings += _audit_equations(audience, series, sorted(seen.equations.get(key, set())), shown, coalition)
    return findings


def _shown_values(tables: Sequence[PublishedTable]) -> dict[tuple[str, str], set[str]] | None:
    """Members with a reported value in the readable kpi_values tables, per series (None: no such table)."""
    frames = [t.frame for t in tables if t.kind == "kpi_values"]
    if not frames:
        return None
    shown: dict[tuple[str, str], set[str]] = {}
    for frame in frames:
        if not {"kpi_id", "series", "member_code", "status"} <= set(frame.columns):
            continue
        reported = frame[frame["status"] == "reported"]
        for kpi_id, series, member in zip(reported["kpi_id"], reported["series"], reported["member_code"], strict=True):
            shown.setdefault((str(kpi_id), str(series)), set()).add(str(member))
    return shown


def _new_exposures(system, groups, facts: SeriesFacts, audience: str, coalition: int) -> list[str]:
    """Members whose targets this release's figures determine, beyond what earlier releases determine alone."""
    past = type(system)(facts, audience, coalition, shown=[]).solved_variables([]) if facts.history else set()
    current = {facts.variable(m) for m in facts.reporters}
    return sorted(
        {m if (m, v) in current else f"{m} (earlier value)" for m, v in system.solved_variables(groups) - past}
    )


def _audit_equations(
    audience: str,
    facts: SeriesFacts,
    equations: list[tuple[GroupKey, str]],
    shown: set[str] | None = None,
    coalition: int = 1,
) -> list[Finding]:
    system = NumericSystem(facts, audience, coalition, shown)
    if not system.unknowns.targets.any() or not (equations or facts.history):
        return []
    groups = sorted({g for g, _ in equations})
    used = ", ".join(f"{s} of {'/'.join(g)}" for g, s in equations) or "no figure of this release"
    return [
        Finding(
            audience,
            "published means and pooled ratios",
            f"hidden value can be solved for from {used}, the visible values and the earlier releases",
            facts.kpi_id,
            facts.series,
            member_code=member,
        )
        for member in _new_exposures(system, groups, facts, audience, coalition)
    ]


def _audit_level_counts(
    audience: str,
    facts: SeriesFacts,
    published: set[tuple[GroupKey, str]],
    shown: set[str] | None = None,
    coalition: int = 1,
) -> list[Finding]:
    assert facts.levels is not None
    system = LevelSystem(facts, audience, coalition, shown)
    if not system.unknowns.targets.any() or not (published or facts.history):
        return []
    groups = sorted({g for g, _ in published})
    return [
        Finding(
            audience,
            "published level counts",
            "hidden level can be deduced from the published counts and the earlier releases",
            facts.kpi_id,
            facts.series,
            member_code=member,
        )
        for member in _new_exposures(system, groups, facts, audience, coalition)
    ]
