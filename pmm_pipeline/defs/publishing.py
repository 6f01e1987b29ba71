"""Dagster wiring of publication: disclosure control, each tier's tables (blocking audit), each tier's release folder.

    disclosure.withheld ──► publish_public.{kpi_values,rollups} ──► publish_public.releases
                        ├─► publish_wco.{...} (after public)     ──► publish_wco.releases (after public's)
                        └─► publish_secretariat.{...} (after wco) ─► publish_secretariat.releases (after wco's)

A tier's tables carry blocking checks that audit them together with the lower tiers' tables; its
release audits the files it is about to switch in together with the lower tiers' released files,
and refuses to switch in if anything is found (a blocking check stops only the run it is in).
What each step does is stages/publishing's (warehouse_inputs, history, tier_audit, tier_release):
here it is given its resources and its results are reported. What readers get built from the
released tiers (profiles, series) is wired in defs/published.py.
"""

from collections.abc import Callable, Sequence

import dagster as dg
import duckdb
import pandas as pd

from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.core.vocabulary import TIERS
from pmm_pipeline.orchestration.checks import ROLLUPS_CHECK, VALUES_CHECK
from pmm_pipeline.orchestration.resources.disclosure_policy import DisclosurePolicy
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, cycle_inputs, folder_digest, reusable
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.disclosure.audit import Finding
from pmm_pipeline.stages.disclosure.control import control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import tier_rank
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline.stages.publishing.history import (
    cycles_before,
    earlier_releases,
    history_inputs,
    released_folders,
)
from pmm_pipeline.stages.publishing.release import ReleaseRefusedError
from pmm_pipeline.stages.publishing.tier_audit import audit_tier_tables, tier_tables_as_published
from pmm_pipeline.stages.publishing.tier_release import release_info, release_log_row, release_tier
from pmm_pipeline.stages.publishing.warehouse_inputs import (
    TRUTH_INPUTS,
    CycleTruth,
    cycle_levels,
    load_cycle_rows,
    load_optional_table,
    load_tier_tables,
    load_truth,
)
from pmm_pipeline.warehouse.tables import COMPLETENESS, KPI_VALUES, PARTICIPATION, ROLLUPS, WITHHELD, published_tables
from pmm_pipeline.warehouse.writes import append_rows, replace_cycle_rows

MAX_FINDINGS_SHOWN = 50  # as a table in the UI
MAX_FINDINGS_LISTED = 1000


def findings_metadata(findings: Sequence[Finding]) -> dict[str, dg.MetadataValue]:
    shown = pd.DataFrame([f.__dict__ for f in findings[:MAX_FINDINGS_SHOWN]])
    return {
        "findings": dg.MetadataValue.int(len(findings)),
        "offending_cells": dg.MetadataValue.md(markdown_table(shown)),
        "all_findings": dg.MetadataValue.json([f.describe() for f in findings[:MAX_FINDINGS_LISTED]]),
    }


def _load_truth(
    conn: duckdb.DuckDBPyConnection, reference: Reference, catalogue: Catalogue, cycle_id: str, history: dict
) -> CycleTruth:
    """The cycle's truth (load_truth); first the step fails, naming them, if the tables it reads are absent."""
    require_tables(conn, cycle_id, [KPI_VALUES, ROLLUPS], with_rows=[PARTICIPATION])
    return load_truth(conn, cycle_id, cycle_levels(catalogue, reference.cycles.get(cycle_id)), history)


def build_publishing_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    disclosure_inputs = disclosure_inputs_of(reference, catalogue)

    @dg.asset(
        key=WITHHELD.key,
        description=WITHHELD.row,
        group_name=WITHHELD.schema,
        deps=[t.key for t in TRUTH_INPUTS],
        partitions_def=partitions,
        kinds={"duckdb"},
        metadata=table_spec(WITHHELD).metadata,
        owners=table_spec(WITHHELD).owners,
    )
    @reusable(disclosure_inputs)
    def withheld(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        storage: PmmStorage,
        disclosure_policy: DisclosurePolicy,
    ):
        cycle_id = context.partition_key
        history = earlier_releases(storage.layout, reference, cycle_id)
        with warehouse.get_connection() as conn:
            truth = _load_truth(conn, reference, catalogue, cycle_id, history)
        # Deciding takes seconds (linear and integer programs): done without holding the warehouse.
        frame = withheld_frame(
            control_disclosure(
                truth.facts, disclosure_policy.min_group_size, coalition=disclosure_policy.coalition_size
            ),
            cycle_id,
        )
        with warehouse.get_connection() as conn:
            replace_cycle_rows(conn, WITHHELD, cycle_id, frame)
            metadata = written_table_metadata(conn, WITHHELD, cycle_id)
        by_reason = frame.groupby(["tier", "reason"]).size().rename("statistics").reset_index()
        metadata["by_tier_and_reason"] = dg.MetadataValue.md(markdown_table(by_reason))
        metadata["min_group_size"] = dg.MetadataValue.int(disclosure_policy.min_group_size)
        metadata["coalition_size"] = dg.MetadataValue.int(disclosure_policy.coalition_size)
        # How many (series, earlier release) pairs disclosure control took as known to the readers.
        metadata["earlier_series_releases"] = dg.MetadataValue.int(sum(len(r) for r in history.values()))
        return dg.MaterializeResult(metadata=metadata)

    assets: list[dg.AssetsDefinition] = [withheld]
    for tier in TIERS:
        assets += _build_tier_assets(tier, reference, catalogue, partitions, disclosure_inputs)
    return assets


def disclosure_inputs_of(reference: Reference, catalogue: Catalogue):
    """The inputs of every disclosure step besides its tables: the policy, the catalogue, the other cycles' record
    (`history`); with `readers=True` also the reference data that reader-facing files name (members, groups)."""
    digest = catalogue_digest(catalogue)
    readers_digest = digest_text(reference.groups, reference.memberships)

    def inputs(
        context, conn, storage: PmmStorage, disclosure_policy: DisclosurePolicy, readers=False, history=True, **_
    ):
        cycle_id = context.partition_key
        settings = {
            "min_group_size": disclosure_policy.min_group_size,
            "coalition_size": disclosure_policy.coalition_size,
        }
        found = common_inputs(**settings) | cycle_inputs(reference.cycles.get(cycle_id)) | {"catalogue_digest": digest}
        if history:
            # Read, and so verified (hashes, index chain), on every run, reused or not: an altered or removed
            # record stops the step naming the file, as it does when the step computes.
            earlier_releases(storage.layout, reference, cycle_id)
            found |= history_inputs(storage.layout, reference, cycle_id)
        return found | ({"reference:groups_and_members": readers_digest} if readers else {})

    return inputs


def refusal_failure(refused: ReleaseRefusedError) -> dg.Failure:
    """A folder refused before its switch (release, profiles, series), as the step's failure: never retried, since
    a second try would find the same problems."""
    return dg.Failure(
        description=str(refused),
        metadata={"problems": dg.MetadataValue.json(refused.problems[:MAX_FINDINGS_SHOWN])},
        allow_retries=False,
    )


def _build_tier_assets(
    tier: str,
    reference: Reference,
    catalogue: Catalogue,
    partitions: dg.PartitionsDefinition,
    disclosure_inputs: Callable[..., dict[str, str]],
) -> list[dg.AssetsDefinition]:
    """The tier's tables (with their blocking checks) and its release."""
    kpi_table, rollup_table, release_table = published_tables(tier)
    lower = [published_tables(t) for t in TIERS[: tier_rank(tier)]]
    # The tables of a tier are audited with every lower tier's tables, which must be written first.
    lower_tables = [key for k, r, _ in lower for key in (k.key, r.key)]
    # A release audits its files with the lower tiers' released files (their record, on disk, not a table):
    # the release of the tier just below must be done first.
    lower_release = [r.key for _, _, r in lower[-1:]]
    truth = [t.key for t in TRUTH_INPUTS]

    @dg.multi_asset(
        name=f"{kpi_table.schema}_tables",
        specs=[
            table_spec(kpi_table, deps=[*truth, WITHHELD.key, *lower_tables]),
            table_spec(rollup_table, deps=[*truth, WITHHELD.key, *lower_tables]),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                VALUES_CHECK,
                asset=kpi_table.key,
                description=f"Every row is a value its member allows in the {tier} tier, equal to the computed one.",
            ),
            dg.AssetCheckSpec(
                ROLLUPS_CHECK,
                asset=rollup_table.key,
                description=f"No figure of the {tier} tier or a lower one shows or lets a {tier} reader solve for a"
                " value hidden from it (group sizes, order statistics, differencing, level counts).",
            ),
        ],
        partitions_def=partitions,
        description=f"Selects what the {tier} tier may see into its own schema: the values its readers may see and"
        " the group statistics with disclosure.withheld applied; audited before anything is released.",
    )
    @reusable(disclosure_inputs)
    def publish_tables(
        context: dg.AssetExecutionContext,
        warehouse: Warehouse,
        storage: PmmStorage,
        disclosure_policy: DisclosurePolicy,
    ):
        cycle_id = context.partition_key
        history = earlier_releases(storage.layout, reference, cycle_id)
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle_id, [WITHHELD])
            truth = _load_truth(conn, reference, catalogue, cycle_id, history)
            withheld = load_cycle_rows(conn, WITHHELD, cycle_id)
            replace_cycle_rows(conn, kpi_table, cycle_id, tier_kpi_values(truth.values, tier, withheld))
            replace_cycle_rows(conn, rollup_table, cycle_id, tier_rollups(truth.rollups, withheld, tier))
            for table in (kpi_table, rollup_table):
                yield dg.MaterializeResult(asset_key=table.key, metadata=written_table_metadata(conn, table, cycle_id))
            published = tier_tables_as_published(conn, tier, cycle_id)
        values_findings, rollups_findings = audit_tier_tables(
            published, truth, tier, disclosure_policy.min_group_size, disclosure_policy.coalition_size
        )
        for check, asset_key, mine in (
            (VALUES_CHECK, kpi_table.key, values_findings),
            (ROLLUPS_CHECK, rollup_table.key, rollups_findings),
        ):
            yield dg.AssetCheckResult(
                asset_key=asset_key,
                check_name=check,
                passed=not mine,
                metadata=findings_metadata(mine),
                # A broken guarantee says what broke at a glance; the cells are in `offending_cells`.
                description=f"{len(mine)} finding(s) of the disclosure audit in the {tier} tier: the tier shows,"
                " or lets its readers work out, a value hidden from them; nothing of it is released"
                if mine
                else None,
            )

    def release_inputs(context, conn, storage: PmmStorage, **resources) -> dict[str, str]:
        """Besides the disclosure inputs, the tier's earlier releases, whose figures the report's trends show."""
        earlier = released_folders(storage.layout, cycles_before(reference, context.partition_key), tier)
        return disclosure_inputs(context, conn, storage=storage, readers=True, **resources) | {
            f"folder:published/{c}/{tier}": folder_digest(folder) for c, folder in earlier
        }

    @dg.asset(
        key=release_table.key,
        description=f"Writes published/<cycle>/{tier}/ (kpi_values and rollups as CSV, Parquet, JSON, SDMX-CSV with its"
        " SDMX structure (structure.xml) and"
        " Excel in en/fr/es, the HTML report, changes.json against the previous release, manifest.json)"
        f" after auditing those very files with the lower tiers' released files, and logs the release;"
        f" {release_table.row}",
        group_name=release_table.schema,
        deps=[kpi_table.key, rollup_table.key, *truth, COMPLETENESS.key, *lower_release],
        partitions_def=partitions,
        kinds={"duckdb", "csv", "parquet"},
        owners=table_spec(release_table).owners,
        metadata=table_spec(release_table).metadata,
    )
    @reusable(release_inputs)
    def release(
        context: dg.AssetExecutionContext,
        storage: PmmStorage,
        warehouse: Warehouse,
        disclosure_policy: DisclosurePolicy,
    ):
        cycle = reference.cycles.get(context.partition_key)
        # Read again here: the lower tiers' releases of this run are on record by now (they add nothing the
        # audit does not read in their files anyway), and a record altered on disk stops the release.
        history = earlier_releases(storage.layout, reference, cycle.id)
        # Everything the step reads from the warehouse, read once over one connection: the formats, the report
        # and the audit all work from these frames.
        with warehouse.get_connection() as conn:
            truth = _load_truth(conn, reference, catalogue, cycle.id, history)
            tables = load_tier_tables(conn, tier, cycle.id)
            # The report's coverage table; the warehouse may predate the collection stage.
            completeness = load_optional_table(conn, COMPLETENESS, cycle.id)
        info = release_info(cycle, tier, context.run_id, catalogue)
        try:
            manifest = release_tier(
                storage.layout,
                reference,
                catalogue,
                info,
                truth,
                tables,
                completeness,
                disclosure_policy.min_group_size,
                disclosure_policy.coalition_size,
            )
        except ReleaseRefusedError as refused:
            raise refusal_failure(refused) from None
        tier_dir = storage.layout.published_dir(cycle.id) / tier
        with warehouse.get_connection() as conn:
            append_rows(conn, release_table, release_log_row(info, tier_dir))
            metadata = written_table_metadata(conn, release_table, cycle.id)
        metadata["release_dir"] = dg.MetadataValue.path(str(tier_dir))
        metadata["files"] = dg.MetadataValue.json(manifest["files"])
        lower_dirs = [f"published/{cycle.id}/{t}" for t in TIERS[: tier_rank(tier)]]
        metadata["audited_with"] = dg.MetadataValue.json(lower_dirs)
        return dg.MaterializeResult(metadata=metadata)

    return [publish_tables, release]
