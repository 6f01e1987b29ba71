"""Dagster wiring of the collection status: completeness and timeliness per region, and the daily reminder list."""

import datetime as dt
import hashlib

import dagster as dg
import pandas as pd

from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.core.reuse import digest_text
from pmm_pipeline.orchestration.checks import MEMBERS_ADD_UP_CHECK
from pmm_pipeline.orchestration.resources.storage import PmmStorage
from pmm_pipeline.orchestration.resources.warehouse import Warehouse
from pmm_pipeline.orchestration.reuse import common_inputs, cycle_inputs, reusable
from pmm_pipeline.orchestration.table_assets import markdown_table, require_tables, table_spec, written_table_metadata
from pmm_pipeline.orchestration.tags import AS_OF_TAG
from pmm_pipeline.specs.catalogue.load import Catalogue, catalogue_digest
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.stages.collection.status import COMPLETENESS_SQL, OUTSTANDING_MEMBERS_SQL
from pmm_pipeline.stages.questionnaire.template import render_questionnaire
from pmm_pipeline.warehouse.tables import (
    COMPLETENESS,
    KPI_VALUES,
    OUTSTANDING_MEMBERS,
    PARTICIPATION,
    QUESTIONNAIRES,
    REJECTIONS,
    SUBMISSIONS,
)
from pmm_pipeline.warehouse.writes import replace_cycle_rows, replace_cycle_rows_from_sql

HEADLINE_FIGURES = (
    "members_expected",
    "members_received",
    "members_received_on_time",
    "members_participating",
    "members_outstanding",
    "versions_late",
    "versions_frozen_out",
    "members_opting_out",
    "kpis_opted_out",
)


def _questionnaires_dir(storage: PmmStorage, cycle_id: str):
    return storage.layout.published_dir(cycle_id) / "questionnaires"


def build_collection_assets(
    reference: Reference, catalogue: Catalogue, partitions: dg.PartitionsDefinition
) -> list[dg.AssetsDefinition]:
    @dg.multi_asset(
        name="collection_status",
        specs=[
            table_spec(COMPLETENESS, deps=[SUBMISSIONS.key, PARTICIPATION.key, KPI_VALUES.key]),
            table_spec(OUTSTANDING_MEMBERS, deps=[SUBMISSIONS.key, PARTICIPATION.key, REJECTIONS.key]),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                MEMBERS_ADD_UP_CHECK,
                asset=COMPLETENESS.key,
                description="In every group, members received + outstanding = expected, and on time <= received.",
            )
        ],
        partitions_def=partitions,
        description="Counts, per region, the members expected, received, received on time and used, and lists"
        " the members that have not submitted yet (the daily reminder list of the collection window).",
    )
    def collection_status(context: dg.AssetExecutionContext, warehouse: Warehouse):
        cycles = reference.cycles
        cycle = cycles.get(context.partition_key)
        # A scheduled run stands for its calendar day; any other run lists as of today.
        as_of = context.run.tags.get(AS_OF_TAG)
        listed_on = dt.date.fromisoformat(as_of) if as_of else cycles.local_day(dt.datetime.now(dt.UTC))
        with warehouse.get_connection() as conn:
            require_tables(conn, cycle.id, [SUBMISSIONS, REJECTIONS, KPI_VALUES], with_rows=[PARTICIPATION])
            replace_cycle_rows_from_sql(conn, COMPLETENESS, cycle.id, COMPLETENESS_SQL, {"cycle": cycle.id})
            replace_cycle_rows_from_sql(
                conn,
                OUTSTANDING_MEMBERS,
                cycle.id,
                OUTSTANDING_MEMBERS_SQL,
                {"cycle": cycle.id, "listed_on": listed_on, "closes_on": cycle.last_collection_day},
            )
            not_adding_up = conn.execute(
                f"""
                SELECT group_type, group_code, members_expected, members_received, members_outstanding,
                       members_received_on_time
                FROM {COMPLETENESS.qualified}
                WHERE cycle = ? AND (members_received + members_outstanding <> members_expected
                                     OR members_received_on_time > members_received)
                """,
                [cycle.id],
            ).df()
            by_group = conn.execute(
                f"SELECT * FROM {COMPLETENESS.qualified} WHERE cycle = ? ORDER BY group_type, group_code", [cycle.id]
            ).df()
            completeness = written_table_metadata(conn, COMPLETENESS, cycle.id)
            outstanding = written_table_metadata(conn, OUTSTANDING_MEMBERS, cycle.id, preview_rows=200)
        overall = by_group[by_group.group_type == "global"].iloc[0]
        completeness.update({name: dg.MetadataValue.int(int(overall[name])) for name in HEADLINE_FIGURES})
        completeness["received_pct"] = dg.MetadataValue.float(float(overall["received_pct"]))
        completeness["received_on_time_pct"] = dg.MetadataValue.float(float(overall["received_on_time_pct"]))
        completeness["closes_at"] = dg.MetadataValue.text(cycles.closes_at(cycle).isoformat())
        completeness["inputs_frozen_at"] = dg.MetadataValue.text(cycles.inputs_frozen_at(cycle).isoformat())
        completeness["by_region"] = dg.MetadataValue.md(
            markdown_table(by_group[by_group.group_type == "region"].drop(columns=["cycle", "group_type"]))
        )
        outstanding["listed_on"] = dg.MetadataValue.text(listed_on.isoformat())
        yield dg.MaterializeResult(asset_key=COMPLETENESS.key, metadata=completeness)
        yield dg.MaterializeResult(asset_key=OUTSTANDING_MEMBERS.key, metadata=outstanding)
        yield dg.AssetCheckResult(
            asset_key=COMPLETENESS.key,
            check_name=MEMBERS_ADD_UP_CHECK,
            passed=not_adding_up.empty,
            metadata={"groups_not_adding_up": dg.MetadataValue.md(markdown_table(not_adding_up))},
        )

    # A questionnaire names the member in its language and lists the catalogue's items for the cycle.
    fixed = {"catalogue_digest": catalogue_digest(catalogue), "reference:members": digest_text(reference.memberships)}

    def questionnaire_inputs(context: dg.AssetExecutionContext, conn, **_) -> dict[str, str]:
        return common_inputs() | cycle_inputs(reference.cycles.get(context.partition_key)) | fixed

    @dg.asset(
        key=QUESTIONNAIRES.key,
        description="Writes, at the opening of the cycle, the Excel questionnaire of every member in force in its"
        f" language (`pmm template` for each). {QUESTIONNAIRES.row}",
        group_name=QUESTIONNAIRES.schema,
        partitions_def=partitions,
        kinds={"duckdb", "excel"},
        owners=table_spec(QUESTIONNAIRES).owners,
        tags=table_spec(QUESTIONNAIRES).tags,
        metadata=table_spec(QUESTIONNAIRES).metadata,
    )
    @reusable(questionnaire_inputs, lambda context, storage, **_: [_questionnaires_dir(storage, context.partition_key)])
    def questionnaires(context: dg.AssetExecutionContext, storage: PmmStorage, warehouse: Warehouse):
        cycle = reference.cycles.get(context.partition_key)
        folder = _questionnaires_dir(storage, cycle.id)
        rows = []
        for member in sorted(reference.members_in_force(cycle).values(), key=lambda m: m.member_code):
            data = render_questionnaire(catalogue, reference, cycle.id, member.member_code)
            path = folder / f"{member.member_code}_{cycle.id}_{member.language}.xlsx"
            write_atomically(path, data)
            rows.append(
                {
                    "cycle": cycle.id,
                    "member_code": member.member_code,
                    "language": member.language,
                    "path": str(path),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size_bytes": len(data),
                }
            )
        with warehouse.get_connection() as conn:
            replace_cycle_rows(conn, QUESTIONNAIRES, cycle.id, pd.DataFrame(rows, columns=QUESTIONNAIRES.column_names))
            metadata = written_table_metadata(conn, QUESTIONNAIRES, cycle.id)
        metadata["folder"] = dg.MetadataValue.path(str(folder))
        by_language = pd.Series([r["language"] for r in rows]).value_counts()
        metadata["by_language"] = dg.MetadataValue.json({lang: int(n) for lang, n in by_language.items()})
        return dg.MaterializeResult(metadata=metadata)

    return [collection_status, questionnaires]
