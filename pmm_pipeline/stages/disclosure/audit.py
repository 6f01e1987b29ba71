"""The audit of built releases: every figure a tier shows checked against what its readers may see or solve for."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.control import LevelSystem, NumericSystem
from pmm_pipeline.stages.disclosure.facts import (
    AUDITED_TIERS,
    LEVEL_COUNTS,
    NUMERIC_STATISTICS,
    ORDER_STATISTICS,
    GroupKey,
    SeriesFacts,
    is_number,
    split_level_series,
    tier_rank,
    visible_in,
)
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS


@dataclass(frozen=True)
class PublishedTable:
    """One published table as its readers get it: a warehouse table or a file read back."""

    tier: str
    source: str  # e.g. publish_public.rollups or public/rollups.csv
    kind: str  # kpi_values or rollups
    frame: pd.DataFrame


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


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or value == "" or (isinstance(value, float) and np.isnan(value))


def _same(published: object, true: object) -> bool:
    if _missing(published) or _missing(true):
        return _missing(published) and _missing(true)
    if is_number(published) and is_number(true):
        # numpy.isclose(published, true, rtol=1e-12, atol=0) for finite numbers, written out: this runs for
        # every published cell, and a numpy call on two scalars cost a quarter of the release steps' time.
        published, true = float(published), float(true)
        return abs(published - true) <= 1e-12 * abs(true)
    return str(published) == str(true)


def _audit_kpi_values(audience: str, table: PublishedTable, values: pd.DataFrame) -> list[Finding]:
    missing = set(PUBLISHED_KPI_COLUMNS) - set(table.frame.columns)
    if missing:
        return [Finding(audience, table.source, f"lacks column(s) {sorted(missing)}: cannot be audited")]
    findings = []
    extra = set(table.frame.columns) - set(PUBLISHED_KPI_COLUMNS)
    if extra:
        findings.append(Finding(audience, table.source, f"has columns beyond the contract: {sorted(extra)}"))
    truth = {(r["member_code"], r["kpi_id"], r["series"]): r for r in values.to_dict("records")}
    seen = set()
    for row in table.frame.to_dict("records"):
        key = (row["member_code"], row["kpi_id"], row["series"])
        where = {"kpi_id": str(row["kpi_id"]), "series": str(row["series"]), "member_code": str(row["member_code"])}
        true = truth.get(key)
        if true is None:
            findings.append(Finding(audience, table.source, "row of no computed KPI value", **where))
        elif not visible_in(true["disclosure"], table.tier):
            findings.append(
                Finding(
                    audience,
                    table.source,
                    f"value disclosed by the member to {true['disclosure']} only, shown in the {table.tier} tier",
                    **where,
                )
            )
        else:
            if key in seen:
                findings.append(Finding(audience, table.source, "row appears twice", **where))
            findings += [
                Finding(audience, table.source, f"{column} differs from the computed value", **where)
                for column in PUBLISHED_KPI_COLUMNS
                if not _same(row[column], true[column])
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
    true_rows: Mapping[tuple, dict],
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

    for row in table.frame.to_dict("records"):
        group = (str(row["group_type"]), str(row["group_code"]))
        where = {"kpi_id": str(row["kpi_id"]), "series": str(row["series"]), "group": "/".join(group)}
        true = true_rows.get((row["kpi_id"], row["series"], *group))
        level = None
        series_key = (row["kpi_id"], row["series"])
        if row["kpi_id"] in categorical:
            kpi_series, level = split_level_series(str(row["series"]))
            series_key = (row["kpi_id"], kpi_series)
        facts = facts_by_key.get(series_key)
        if true is None or facts is None or group not in facts.groups:
            find("row of no computed group statistic", **where)
            continue
        if not _same(row["n_participating"], true["n_participating"]):
            find("n_participating differs from the true count", **where)
        contributors = len(facts.groups[group])
        if facts.is_categorical:
            shown = [c for c in ("n_reporting", "mean") if not _missing(row[c])]
            for column in shown:
                if not _same(row[column], true[column]):
                    find(f"{column} is not the true figure", statistic=column, **where)
            for column in ("median", "min", "max", "pooled"):
                if not _missing(row[column]):
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
        if not _missing(row["n_reporting"]) and not _same(row["n_reporting"], true["n_reporting"]):
            find("n_reporting differs from the true count", **where)
        for statistic in NUMERIC_STATISTICS:
            if _missing(row[statistic]):
                continue
            cell = {"statistic": statistic, **where}
            if not _same(row[statistic], true[statistic]):
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
    true_rows = {(r["kpi_id"], r["series"], r["group_type"], r["group_code"]): r for r in rollups.to_dict("records")}
    for audience in TIERS:
        readable = [t for t in tables if tier_rank(t.tier) <= tier_rank(audience)]
        if not any(t.tier == audience for t in readable):
            continue
        seen = _Seen(shown=_shown_values(readable))
        for table in readable:
            if table.kind == "kpi_values" and table.tier == audience:
                seen.findings += _audit_kpi_values(audience, table, values)
            elif table.kind == "rollups":
                _audit_rollup_cells(audience, table, facts_by_key, true_rows, min_group_size, seen)
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
