"""The disclosure audit of one tier as its readers get it: its tables in the warehouse before anything is released,
and its built release files with the lower tiers' released files before the release is switched in."""

from pathlib import Path

import duckdb

from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.stages.disclosure.audit import Finding, PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.facts import tier_rank
from pmm_pipeline.stages.publishing.readback import (
    identical_tables,
    read_back_precision,
    read_release_files,
    table_kind,
)
from pmm_pipeline.stages.publishing.warehouse_inputs import CycleTruth, load_cycle_rows
from pmm_pipeline.warehouse.tables import published_tables


def tier_tables_as_published(conn: duckdb.DuckDBPyConnection, tier: str, cycle_id: str) -> list[PublishedTable]:
    """The cycle's tables of the tier and of every lower tier, as the warehouse holds them."""
    return [
        PublishedTable(t, table.qualified, table.name, load_cycle_rows(conn, table, cycle_id))
        for t in TIERS[: tier_rank(tier) + 1]
        for table in published_tables(t)[:2]
    ]


def audit_tier_tables(
    published: list[PublishedTable], truth: CycleTruth, tier: str, min_group_size: int, coalition_size: int
) -> tuple[list[Finding], list[Finding]]:
    """The audit's findings for the tier's readers: those in its kpi_values, and those in its rollups (or that
    its rollups let them work out with the lower tiers' tables)."""
    findings = audit_tiers(
        published,
        truth.facts,
        truth.values,
        truth.rollups,
        min_group_size,
        coalition_size,
    )
    findings = [f for f in findings if f.audience == tier]  # the lower tiers' own checks cover their readers
    kpi_source = published_tables(tier)[0].qualified
    return [f for f in findings if f.source == kpi_source], [f for f in findings if f.source != kpi_source]


def audit_release_files(
    published_dir: Path, tier: str, building: Path, truth: CycleTruth, min_group_size: int, coalition_size: int
) -> list[str]:
    """The problems of the release being built in `building` and the lower tiers' released files, as readers
    will get them: files that do not read back, files of no table of the contract, and the audit's findings."""
    kpi_table, rollup_table, _ = published_tables(tier)
    folders = {t: published_dir / t for t in TIERS[: tier_rank(tier)]} | {tier: building}
    problems: list[str] = []
    published: list[PublishedTable] = []
    for t, folder in folders.items():
        frames, amiss = read_release_files(folder)
        problems += amiss
        # Files that read back as the same table are audited once, named together.
        published += [
            PublishedTable(
                t,
                f"{t}/{' = '.join(names)}",
                table_kind(names[0]),
                frames[names[0]],
                read_back_precision(names),
            )
            for names in identical_tables(frames)
        ]
        problems += [
            f"{folder}/{name}: not a table of the contract"
            for name in frames
            if table_kind(name) not in (kpi_table.name, rollup_table.name)
        ]
    findings = audit_tiers(
        published,
        truth.facts,
        truth.values,
        truth.rollups,
        min_group_size,
        coalition_size,
    )
    # Every file its readers get, the lower tiers' too (they may have changed since their release).
    return problems + [f.describe() for f in findings]
