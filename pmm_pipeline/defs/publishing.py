"""Dagster wiring of publication: disclosure control, each tier's tables (blocking audit), each tier's release folder.

    disclosure.withheld ──► publish_public.{kpi_values,rollups} ──► publish_public.releases
                        ├─► publish_wco.{...} (after public)     ──► publish_wco.releases (after public's)
                        └─► publish_secretariat.{...} (after wco) ─► publish_secretariat.releases (after wco's)

A tier's tables carry blocking checks that audit them together with the lower tiers' tables; its
release audits the files it is about to switch in together with the lower tiers' released files,
and refuses to switch in if anything is found (a blocking check stops only the run it is in).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
import duckdb
import pandas as pd

from pmm_pipeline.core.provenance import code_version
from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.core.vocabulary import LANGUAGES, TIERS
from pmm_pipeline.orchestration.checks import ROLLUPS_CHECK, VALUES_CHECK
from pmm_pipeline.orchestration.instance import WAREHOUSE_POOL
from pmm_pipeline.orchestration.resources.disclosure_policy import DisclosurePolicy
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, cycle_inputs, folder_digest, reusable
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.catalogue.models import KpiSpec, Shape
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.disclosure.audit import Finding, PublishedTable, audit_tiers
from pmm_pipeline.stages.disclosure.control import control_disclosure, withheld_frame
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS, SeriesFacts, load_series_facts, tier_rank
from pmm_pipeline.stages.disclosure.record import RECORD_DIR, read_history, release_record, with_history, write_record
from pmm_pipeline.stages.disclosure.tiers import tier_kpi_values, tier_rollups
from pmm_pipeline.stages.publishing.definitions import kpi_definitions
from pmm_pipeline.stages.publishing.folders import check_listed
from pmm_pipeline.stages.publishing.outputs import build_reader_outputs
from pmm_pipeline.stages.publishing.profiles import PROFILES_FOLDER, ProfileInputs, member_profile, write_profiles
from pmm_pipeline.stages.publishing.readback import (
    identical_tables,
    read_back_precision,
    read_release_files,
    table_kind,
)
from pmm_pipeline.stages.publishing.release import ReleaseInfo, ReleaseRefusedError, sha256_file, write_release
from pmm_pipeline.stages.publishing.series import SERIES_FOLDER, earlier_cycles, write_series
from pmm_pipeline.stages.rollups.compute import GROUPS_CTE
from pmm_pipeline.warehouse.tables import COMPLETENESS, KPI_VALUES, PARTICIPATION, ROLLUPS, WITHHELD, published_tables
from pmm_pipeline.warehouse.writes import append_rows, replace_cycle_rows

MEMBERSHIPS_SQL = f"""
WITH participants AS (
    SELECT * FROM staging.participation WHERE cycle = $cycle AND is_participating
),
{GROUPS_CTE.strip()}
SELECT member_code, group_type, group_code FROM groups
"""
MAX_FINDINGS_SHOWN = 50  # as a table in the UI
MAX_FINDINGS_LISTED = 1000


def categorical_levels(kpis: Sequence[KpiSpec], catalogue: Catalogue) -> dict[str, tuple[str, ...]]:
    """Level codes of each categorical KPI, as stages/rollups/compute.py rolls them up."""
    items = {k.id: k.item(catalogue.formulas[(k.id, k.series[0].id)].refs[0].item) for k in kpis}
    return {k.id: tuple(lv.code for lv in items[k.id].answer_levels) for k in kpis if k.shape == Shape.categorical}


@dataclass(frozen=True)
class CycleTruth:
    """The unsuppressed facts of a cycle that disclosure control decides on and the audit checks against."""

    values: pd.DataFrame
    rollups: pd.DataFrame
    facts: list[SeriesFacts]


def earlier_releases(storage: PmmStorage, reference: Reference, cycle_id: str) -> dict:
    """Every release recorded for this cycle and the other cycles of its reporting year.

    The record is written by stages/disclosure/record.py.
    """
    year = reference.cycles.get(cycle_id).reporting_year
    cycles = [c.id for c in reference.cycles.cycles if c.reporting_year == year]
    return read_history([storage.layout.published_dir(c) for c in sorted(cycles)], year)


def history_inputs(storage: PmmStorage, reference: Reference, cycle_id: str) -> dict[str, str]:
    """The releases on record of the other cycles of the reporting year (record files are named by their SHA-256).

    This cycle's own record is not in the key: it grows only by the releases of the very result a re-run would
    reuse (a release of the same figures writes no new file), and any other change to this cycle's result
    changes its data inputs, so the step computes again with the whole record, as it always reads it.
    """
    year = reference.cycles.get(cycle_id).reporting_year
    others = sorted(c.id for c in reference.cycles.cycles if c.reporting_year == year and c.id != cycle_id)
    names = [
        f"{c}/{p.parent.name}/{p.name}"
        for c in others
        for p in sorted((storage.layout.published_dir(c) / RECORD_DIR).glob("*/*.json"))
    ]
    return {"history:other_cycles_of_the_year": digest_text(*names)}


# What load_truth reads: every asset that calls it depends on these (a test checks deps against the SQL run).
TRUTH_INPUTS = (KPI_VALUES, ROLLUPS, PARTICIPATION)


def load_truth(
    conn: duckdb.DuckDBPyConnection, cycle_id: str, levels: dict[str, tuple[str, ...]], history: dict | None = None
) -> CycleTruth:
    """The cycle's unsuppressed facts; with `history`, every earlier release of each series is attached to it."""
    require_tables(conn, cycle_id, [KPI_VALUES, ROLLUPS], with_rows=[PARTICIPATION])
    # Sorted here: the KPI stage writes its rows unsorted, and disclosure decisions must not depend on that order.
    values = conn.execute(
        "SELECT * FROM kpi.kpi_values WHERE cycle = ? ORDER BY kpi_id, series, member_code", [cycle_id]
    ).df()
    rollups = conn.execute("SELECT * FROM rollup.rollups WHERE cycle = ?", [cycle_id]).df()
    memberships = conn.execute(MEMBERSHIPS_SQL, {"cycle": cycle_id}).df()
    facts = load_series_facts(values, memberships, rollups, levels)
    return CycleTruth(values, rollups, with_history(facts, history or {}))


def findings_metadata(findings: Sequence[Finding]) -> dict[str, dg.MetadataValue]:
    shown = pd.DataFrame([f.__dict__ for f in findings[:MAX_FINDINGS_SHOWN]])
    return {
        "findings": dg.MetadataValue.int(len(findings)),
        "offending_cells": dg.MetadataValue.md(markdown_table(shown)),
        "all_findings": dg.MetadataValue.json([f.describe() for f in findings[:MAX_FINDINGS_LISTED]]),
    }


def build_publishing_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    def levels_of(cycle_id: str) -> dict[str, tuple[str, ...]]:
        version = reference.cycles.get(cycle_id).catalogue_version
        return categorical_levels(catalogue.kpis_for_version(version), catalogue)

    disclosure_inputs = _disclosure_inputs_of(reference, catalogue)

    @dg.asset(
        key=WITHHELD.key,
        description=WITHHELD.row,
        group_name=WITHHELD.schema,
        deps=[t.key for t in TRUTH_INPUTS],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
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
        history = earlier_releases(storage, reference, cycle_id)
        with warehouse.get_connection() as conn:
            truth = load_truth(conn, cycle_id, levels_of(cycle_id), history)
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
        assets += _build_tier_assets(tier, reference, catalogue, partitions, levels_of, disclosure_inputs)
    return [
        *assets,
        _build_profiles_asset(reference, catalogue, partitions),
        _build_series_asset(reference, partitions),
    ]


def _disclosure_inputs_of(reference: Reference, catalogue: Catalogue):
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
            earlier_releases(storage, reference, cycle_id)
            found |= history_inputs(storage, reference, cycle_id)
        return found | ({"reference:groups_and_members": readers_digest} if readers else {})

    return inputs


PROFILES_KEY = dg.AssetKey(["published", "profiles"])
SERIES_KEY = dg.AssetKey(["published", "series"])


def cycles_in_order(reference: Reference) -> list[str]:
    """Cycle ids oldest first: by reporting year, then as configured."""
    position = {c.id: i for i, c in enumerate(reference.cycles.cycles)}
    return sorted(position, key=lambda c: (reference.cycles.get(c).reporting_year, position[c]))


def _refused(refused: ReleaseRefusedError) -> dg.Failure:
    return dg.Failure(
        description=str(refused),
        metadata={"problems": dg.MetadataValue.json(refused.problems[:MAX_FINDINGS_SHOWN])},
        allow_retries=False,
    )


def _profiles_dir(storage: PmmStorage, cycle_id: str):
    return storage.layout.published_dir(cycle_id) / PROFILES_FOLDER


def _build_profiles_asset(reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition):
    wco_release = published_tables("wco")[2].key
    disclosure_inputs = _disclosure_inputs_of(reference, catalogue)

    def profiles_inputs(context, conn, storage: PmmStorage, **resources):
        order = cycles_in_order(reference)
        earlier = order[: order.index(context.partition_key)]
        previous = {
            f"folder:published/{c}/{PROFILES_FOLDER}": folder_digest(_profiles_dir(storage, c)) for c in earlier
        }
        # The record of releases is not read here; the policy's min group size is.
        return disclosure_inputs(context, conn, storage, readers=True, history=False, **resources) | previous

    @dg.asset(
        key=PROFILES_KEY,
        description="Writes published/<cycle>/profiles/<member>/ (profile.json, profile_<lang>.html in the member's"
        " language and English) for every participating member: its own values beside the wco tier's released"
        " figures of each group it belongs to, and its change since its previous cycle; manifest.json lists every"
        " file, checked before the folder is switched in.",
        group_name="published",
        deps=[wco_release, PARTICIPATION.key, KPI_VALUES.key],
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
        kinds={"json", "html"},
    )
    @reusable(profiles_inputs, lambda context, storage, **_: [_profiles_dir(storage, context.partition_key)])
    def profiles(
        context: dg.AssetExecutionContext,
        storage: PmmStorage,
        warehouse: Warehouse,
        disclosure_policy: DisclosurePolicy,
    ):
        cycle = reference.cycles.get(context.partition_key)
        published_dir = storage.layout.published_dir(cycle.id)
        frames, problems = read_release_files(published_dir / "wco")
        if problems:
            raise _refused(ReleaseRefusedError(published_dir / PROFILES_FOLDER, problems))
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle.id, [KPI_VALUES], with_rows=[PARTICIPATION])
            values = conn.execute(
                "SELECT * FROM kpi.kpi_values WHERE cycle = ? ORDER BY kpi_id, series, member_code", [cycle.id]
            ).df()
            memberships = conn.execute(MEMBERSHIPS_SQL, {"cycle": cycle.id}).df()
        members = sorted(set(memberships.member_code))
        in_force = reference.members_in_force(cycle)
        previous, previous_definitions = _previous_profiles(storage, reference, cycle.id, members)
        kpis = catalogue.kpis_for_version(cycle.catalogue_version)
        definitions = kpi_definitions(kpis)
        inputs = ProfileInputs(
            cycle=cycle.id,
            reporting_year=cycle.reporting_year,
            kpis=kpis,
            values=values[values.member_code.isin(members)],
            wco_rollups=frames["rollups.parquet"],
            memberships=memberships,
            languages={m: in_force[m].language for m in members if m in in_force},
            group_names={
                (str(g.group_type), g.group_code): {lang: getattr(g, f"name_{lang}") for lang in LANGUAGES}
                for g in reference.groups
            },
            # Every member in force: the check of the pages looks for any of their codes outside its own profile.
            member_names={m: {lang: row.name(lang) for lang in LANGUAGES} for m, row in in_force.items()},
            min_group_size=disclosure_policy.min_group_size,
            definitions=definitions,
            previous=previous,
            previous_definitions=previous_definitions,
        )
        header = {
            "format": "pmm-profiles",
            "format_version": 1,
            "cycle": cycle.id,
            "run_id": context.run_id,
            "code_version": code_version(),
            "catalogue_version": cycle.catalogue_version,
            "kpi_definitions": definitions,
            "wco_manifest_sha256": sha256_file(published_dir / "wco" / "manifest.json"),
        }
        try:
            manifest = write_profiles(published_dir / PROFILES_FOLDER, context.run_id, members, inputs, header)
        except ReleaseRefusedError as refused:
            raise _refused(refused) from None
        return dg.MaterializeResult(
            metadata={
                "profiles": dg.MetadataValue.int(len(members)),
                "files": dg.MetadataValue.int(len(manifest["files"])),
                "folder": dg.MetadataValue.path(str(published_dir / PROFILES_FOLDER)),
            }
        )

    return profiles


def _previous_profiles(
    storage: PmmStorage, reference: Reference, cycle_id: str, members: Sequence[str]
) -> tuple[dict[str, dict], dict[str, str]]:
    """The members' profiles of the nearest earlier cycle that has profiles, and the KPI definitions it used."""
    order = cycles_in_order(reference)
    for earlier in reversed(order[: order.index(cycle_id)]):
        folder = storage.layout.published_dir(earlier) / PROFILES_FOLDER
        if not (folder / "manifest.json").exists():
            continue
        manifest, problems = check_listed(folder)
        if problems:
            raise _refused(ReleaseRefusedError(folder, problems))
        found = {m: member_profile(storage.layout.published_dir(earlier), m) for m in members}
        return {m: d for m, d in found.items() if d is not None}, manifest.get("kpi_definitions") or {}
    return {}, {}


def _build_series_asset(reference: Reference, partitions: dg.PartitionsDefinition):
    def series_inputs(context, conn, storage: PmmStorage, **_):
        released = {
            f"folder:published/{c}/{t}": folder_digest(storage.layout.published_dir(c) / t)
            for c in cycles_in_order(reference)
            for t in TIERS
        }
        return common_inputs() | released

    def series_dirs(context, storage: PmmStorage, **_):
        return [storage.layout.data_dir / "published" / SERIES_FOLDER / t for t in TIERS]

    @dg.asset(
        key=SERIES_KEY,
        description="Rewrites published/series/<tier>/ for every tier: kpi_values and rollups of every published"
        " cycle in one table each (CSV, Parquet, manifest.json), with catalogue_version and"
        " comparable_with_previous, read from the cycles' released tier folders; rebuilt whenever a cycle is"
        " published.",
        group_name="published",
        deps=[published_tables(t)[2].key for t in TIERS],
        partitions_def=partitions,
        kinds={"csv", "parquet"},
    )
    @reusable(series_inputs, series_dirs)
    def series(context: dg.AssetExecutionContext, storage: PmmStorage):
        if SERIES_FOLDER in reference.cycles.ids:  # published/series/ would be that cycle's folder too
            raise dg.Failure(f"a cycle may not be called {SERIES_FOLDER!r}: rename it in the cycles file")
        root = storage.layout.data_dir / "published"
        joined: dict[str, list[str]] = {}
        for tier in TIERS:
            folders = [
                (c, storage.layout.published_dir(c) / tier)
                for c in cycles_in_order(reference)
                if (storage.layout.published_dir(c) / tier / "manifest.json").exists()
            ]
            try:
                write_series(root / SERIES_FOLDER / tier, context.run_id, tier, folders)
            except ReleaseRefusedError as refused:
                raise _refused(refused) from None
            joined[tier] = [c for c, _ in folders]
        return dg.MaterializeResult(metadata={"cycles": dg.MetadataValue.json(joined)})

    return series


def _build_tier_assets(
    tier: str,
    reference: Reference,
    catalogue: Catalogue,
    partitions: dg.PartitionsDefinition,
    levels_of: Callable[[str], dict[str, tuple[str, ...]]],
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
        name=f"publish_{tier}_tables",
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
        pool=WAREHOUSE_POOL,
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
        history = earlier_releases(storage, reference, cycle_id)
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle_id, [WITHHELD])
            truth = load_truth(conn, cycle_id, levels_of(cycle_id), history)
            withheld = conn.execute("SELECT * FROM disclosure.withheld WHERE cycle = ?", [cycle_id]).df()
            replace_cycle_rows(conn, kpi_table, cycle_id, tier_kpi_values(truth.values, tier, withheld))
            replace_cycle_rows(conn, rollup_table, cycle_id, tier_rollups(truth.rollups, withheld, tier))
            for table in (kpi_table, rollup_table):
                yield dg.MaterializeResult(asset_key=table.key, metadata=written_table_metadata(conn, table, cycle_id))
            published = [
                PublishedTable(t, table.qualified, table.name, _read_cycle_rows(conn, table, cycle_id))
                for t in TIERS[: tier_rank(tier) + 1]
                for table in published_tables(t)[:2]
            ]
        findings = audit_tiers(
            published,
            truth.facts,
            truth.values,
            truth.rollups,
            disclosure_policy.min_group_size,
            disclosure_policy.coalition_size,
        )
        findings = [f for f in findings if f.audience == tier]  # the lower tiers' own checks cover their readers
        for check, asset_key, mine in (
            (VALUES_CHECK, kpi_table.key, [f for f in findings if f.source == kpi_table.qualified]),
            (ROLLUPS_CHECK, rollup_table.key, [f for f in findings if f.source != kpi_table.qualified]),
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
        order = cycles_in_order(reference)
        earlier = order[: order.index(context.partition_key)]
        return disclosure_inputs(context, conn, storage=storage, readers=True, **resources) | {
            f"folder:published/{c}/{tier}": folder_digest(storage.layout.published_dir(c) / tier)
            for c in earlier
            if (storage.layout.published_dir(c) / tier / "manifest.json").exists()
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
        pool=WAREHOUSE_POOL,
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
        history = earlier_releases(storage, reference, cycle.id)
        # Everything the step reads from the warehouse, read once over one connection: the formats, the report
        # and the audit all work from these frames.
        with warehouse.get_connection() as conn:
            truth = load_truth(conn, cycle.id, levels_of(cycle.id), history)
            tables = {
                table.name: conn.execute(
                    f"SELECT * FROM {table.qualified} WHERE cycle = ? ORDER BY ALL", [cycle.id]
                ).df()
                for table in (kpi_table, rollup_table)
            }
            # The report's coverage table; the warehouse may predate the collection stage.
            completeness = _read_optional(conn, "collection.completeness", cycle.id)
        info = ReleaseInfo(
            cycle=cycle.id,
            tier=tier,
            run_id=context.run_id,
            code_version=code_version(),
            catalogue_version=cycle.catalogue_version,
            catalogue_digest=catalogue_digest(catalogue),
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            kpi_definitions=kpi_definitions(catalogue.kpis_for_version(cycle.catalogue_version)),
        )
        published_dir = storage.layout.published_dir(cycle.id)

        def audit_files(building) -> list[str]:
            """The release's own files and the lower tiers' released files, as readers will get them."""
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
                disclosure_policy.min_group_size,
                disclosure_policy.coalition_size,
            )
            # Every file its readers get, the lower tiers' too (they may have changed since their release).
            return problems + [f.describe() for f in findings]

        tier_dir = published_dir / tier
        order = cycles_in_order(reference)
        before = [
            (c, storage.layout.published_dir(c) / tier)
            for c in order[: order.index(cycle.id)]
            if (storage.layout.published_dir(c) / tier / "manifest.json").exists()
        ]
        try:
            earlier = earlier_cycles(before)  # the report's trends: what this tier published before
        except ReleaseRefusedError as refused:
            raise _refused(refused) from None
        extras = build_reader_outputs(
            cycle,
            tier,
            catalogue,
            reference,
            completeness,
            disclosure_policy.min_group_size,
            code_version=info.code_version,
            earlier=earlier,
        )

        def put_on_record(_building) -> None:
            """What this release shows, kept for every later release's disclosure control.

            The record's format is stages/disclosure/record.py's.
            """
            if tier in AUDITED_TIERS:
                write_record(
                    published_dir, tier, release_record(truth.facts, tables, tier, cycle.id, cycle.reporting_year)
                )

        try:
            manifest = write_release(
                tier_dir, tables, info, verify=audit_files, extras=extras, before_switch=put_on_record
            )
        except ReleaseRefusedError as refused:
            raise dg.Failure(
                description=str(refused),
                metadata={"problems": dg.MetadataValue.json(refused.problems[:MAX_FINDINGS_SHOWN])},
                allow_retries=False,
            ) from None
        log_row = pd.DataFrame(
            [
                {
                    "cycle": cycle.id,
                    "run_id": context.run_id,
                    "released_at": dt.datetime.now(dt.UTC),
                    "path": str(tier_dir),
                    "manifest_sha256": sha256_file(tier_dir / "manifest.json"),
                    "code_version": info.code_version,
                    "catalogue_digest": info.catalogue_digest,
                }
            ]
        )
        with warehouse.get_connection() as conn:
            append_rows(conn, release_table, log_row)
            metadata = written_table_metadata(conn, release_table, cycle.id)
        metadata["release_dir"] = dg.MetadataValue.path(str(tier_dir))
        metadata["files"] = dg.MetadataValue.json(manifest["files"])
        lower_dirs = [f"published/{cycle.id}/{t}" for t in TIERS[: tier_rank(tier)]]
        metadata["audited_with"] = dg.MetadataValue.json(lower_dirs)
        return dg.MaterializeResult(metadata=metadata)

    return [publish_tables, release]


def _read_cycle_rows(conn: duckdb.DuckDBPyConnection, table, cycle_id: str) -> pd.DataFrame:
    return conn.execute(f"SELECT * FROM {table.qualified} WHERE cycle = ?", [cycle_id]).df()


def _read_optional(conn: duckdb.DuckDBPyConnection, qualified: str, cycle_id: str) -> pd.DataFrame | None:
    schema, name = qualified.split(".")
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchall()[0][0]
    return conn.execute(f"SELECT * FROM {qualified} WHERE cycle = ? ORDER BY ALL", [cycle_id]).df() if exists else None
