"""The reader formats of a tier's release (JSON, SDMX-CSV and its structure, Excel in three languages, the HTML report),
as one writer."""

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.publishing.definitions import kpi_definitions
from pmm_pipeline.stages.publishing.excel import excel_name, write_excel
from pmm_pipeline.stages.publishing.formats import KpiLabels, ReaderNames, write_json
from pmm_pipeline.stages.publishing.report import (
    ReportContext,
    reasons_in_words,
    render_report,
    report_file,
    report_rows,
)
from pmm_pipeline.stages.publishing.sdmx import sdmx_name, write_sdmx_csv
from pmm_pipeline.stages.publishing.sdmx_structure import STRUCTURE_FILE, StructureInputs, code_count, structure_message
from pmm_pipeline.stages.publishing.series import EarlierCycles


def build_reader_outputs(
    cycle: Cycle,
    tier: str,
    catalogue: Catalogue,
    reference: Reference,
    completeness: pd.DataFrame | None,
    min_group_size: int,
    code_version: str | None = None,
    earlier: EarlierCycles | None = None,
) -> Callable[[Path, dict[str, pd.DataFrame]], dict[str, int]]:
    """The `extras` of write_release: writes every reader format of the tier's tables, returns rows per file.
    `earlier`: what the tier published in the cycles before, which the report's trends draw."""
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    definitions = kpi_definitions(kpis)
    labels = {k.id: KpiLabels(names={lang: getattr(k.names, lang) for lang in LANGUAGES}, unit=k.unit) for k in kpis}
    group_names = {
        (str(g.group_type), g.group_code): {lang: getattr(g, f"name_{lang}") for lang in LANGUAGES}
        for g in reference.groups
    }
    member_names = {
        code: {lang: m.name(lang) for lang in LANGUAGES} for code, m in reference.members_in_force(cycle).items()
    }

    names = ReaderNames(members=member_names, groups=group_names, reasons=reasons_in_words(min_group_size))

    def structure_of(tables: dict[str, pd.DataFrame]) -> StructureInputs:
        # The members' code list names only the members the tier's files name: a member the tier leaves out
        # (its choices hide it) is named in no file of the tier, its structure included.
        shown = members_named(tables)
        return StructureInputs(
            cycle=cycle,
            cycles=reference.cycles.cycles,
            kpis=kpis,
            members={c: m for c, m in reference.members_in_force(cycle).items() if c in shown},
            groups=reference.groups,
            min_group_size=min_group_size,
        )

    def context(lang: str, trends: pd.DataFrame | None, release_id: str) -> ReportContext:
        return ReportContext(
            cycle=cycle.id,
            reporting_year=cycle.reporting_year,
            tier=tier,
            kpis=kpis,
            group_names=group_names,
            min_group_size=min_group_size,
            completeness=completeness,
            lang=lang,
            member_names=member_names,
            publication_date=cycle.publication_date.isoformat(),
            catalogue_version=cycle.catalogue_version,
            release_id=release_id,
            code_version=code_version,
            trends=trends,
        )

    def write(folder: Path, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        rows: dict[str, int] = {}
        for name, frame in sorted(tables.items()):
            write_json(frame, folder / f"{name}.json", name)
            write_sdmx_csv(frame, folder / sdmx_name(name), name, cycle.reporting_year)
            rows[f"{name}.json"] = rows[sdmx_name(name)] = len(frame)
        # The SDMX structure (code lists, DSDs, dataflows) the SDMX-CSV files are read with.
        structure = structure_of(tables)
        (folder / STRUCTURE_FILE).write_bytes(structure_message(structure))
        rows[STRUCTURE_FILE] = code_count(structure)
        for lang in LANGUAGES:
            write_excel(tables, folder / excel_name(lang), lang, cycle.id, tier, labels, names)
            rows[excel_name(lang)] = sum(len(f) for f in tables.values())
        # The readers' downloads, named in each report: the tables in every format and the other reports.
        downloads = [f"{name}{suffix}" for name in sorted(tables) for suffix in (".csv", ".parquet")]
        downloads += sorted(rows) + [report_file(lang) for lang in LANGUAGES]
        release_id = content_id(tables)
        trends = None if earlier is None else earlier.trends(cycle.id, tables["rollups"], definitions)
        drawn = report_rows(tables, kpis, trends)  # what every language's report draws, selected once
        for lang in LANGUAGES:
            (folder / report_file(lang)).write_text(
                render_report(tables, context(lang, trends, release_id), downloads, drawn), encoding="utf-8"
            )
            rows[report_file(lang)] = sum(len(f) for f in tables.values())
        return rows

    return write


def members_named(tables: dict[str, pd.DataFrame]) -> set[str]:
    """The member codes a tier's tables name: its KPI rows' members and any rollup row of one member."""
    named: set[str] = set()
    for frame in tables.values():
        if "member_code" in frame.columns:
            named |= set(frame["member_code"].dropna().astype(str))
        if {"group_type", "group_code"} <= set(frame.columns):
            named |= set(frame.loc[frame["group_type"] == "member", "group_code"].dropna().astype(str))
    return named


def content_id(tables: dict[str, pd.DataFrame]) -> str:
    """The release's identifier for citation: a digest of the tables it publishes, so that the same figures
    released again are cited alike and a re-run gives the same report bytes (a run id would differ each time)."""
    digest = hashlib.sha256()
    for name, frame in sorted(tables.items()):
        digest.update(name.encode() + b"\x00")
        digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()[:16]
