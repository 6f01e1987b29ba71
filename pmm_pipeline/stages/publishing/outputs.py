"""The reader formats of a tier's release (JSON, SDMX-CSV, Excel in three languages, the HTML report), as one writer."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.vocabulary import LANGUAGES
from pmm_pipeline.specs.catalogue.load import Catalogue
from pmm_pipeline.specs.reference.load import Reference
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.publishing.excel import excel_name, write_excel
from pmm_pipeline.stages.publishing.formats import (
    KpiLabels,
    ReaderNames,
    sdmx_name,
    write_json,
    write_sdmx_csv,
)
from pmm_pipeline.stages.publishing.report import ReportContext, reasons_in_words, render_report, report_file


def build_reader_outputs(
    cycle: Cycle,
    tier: str,
    catalogue: Catalogue,
    reference: Reference,
    completeness: pd.DataFrame | None,
    min_group_size: int,
) -> Callable[[Path, dict[str, pd.DataFrame]], dict[str, int]]:
    """The `extras` of write_release: writes every reader format of the tier's tables, returns rows per file."""
    kpis = catalogue.kpis_for_version(cycle.catalogue_version)
    labels = {k.id: KpiLabels(names={lang: getattr(k.names, lang) for lang in LANGUAGES}, unit=k.unit) for k in kpis}
    group_names = {
        (str(g.group_type), g.group_code): {lang: getattr(g, f"name_{lang}") for lang in LANGUAGES}
        for g in reference.groups
    }
    member_names = {
        code: {lang: m.name(lang) for lang in LANGUAGES} for code, m in reference.members_in_force(cycle).items()
    }

    names = ReaderNames(members=member_names, groups=group_names, reasons=reasons_in_words(min_group_size))

    def context(lang: str) -> ReportContext:
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
        )

    def write(folder: Path, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        rows: dict[str, int] = {}
        for name, frame in sorted(tables.items()):
            write_json(frame, folder / f"{name}.json", name)
            write_sdmx_csv(frame, folder / sdmx_name(name), name, cycle.reporting_year)
            rows[f"{name}.json"] = rows[sdmx_name(name)] = len(frame)
        for lang in LANGUAGES:
            write_excel(tables, folder / excel_name(lang), lang, cycle.id, tier, labels, names)
            rows[excel_name(lang)] = sum(len(f) for f in tables.values())
        # The readers' downloads, named in each report: the tables in every format and the other reports.
        downloads = [f"{name}{suffix}" for name in sorted(tables) for suffix in (".csv", ".parquet")]
        downloads += sorted(rows) + [report_file(lang) for lang in LANGUAGES]
        for lang in LANGUAGES:
            (folder / report_file(lang)).write_text(render_report(tables, context(lang), downloads), encoding="utf-8")
            rows[report_file(lang)] = sum(len(f) for f in tables.values())
        return rows

    return write
