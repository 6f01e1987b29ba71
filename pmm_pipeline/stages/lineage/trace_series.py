"""One series of a trace (trace.py): each input the formula reads with its answer, place and findings, the formula
evaluated again on them (recompute.py), the rules that judged them, and where the value went (publication.py)."""

import math
from collections.abc import Mapping

from pmm_pipeline.specs.catalogue.formula import Formula, ItemRef
from pmm_pipeline.specs.catalogue.models import KpiSpec
from pmm_pipeline.stages.lineage.as_written import ArchivedFile, exact_decimal
from pmm_pipeline.stages.lineage.publication import Publication
from pmm_pipeline.stages.lineage.reasons import reason_for
from pmm_pipeline.stages.lineage.recompute import evaluate
from pmm_pipeline.stages.lineage.trace_model import Finding, Gate, Input, Place, RuleResult, Series
from pmm_pipeline.stages.quality.rules import RULES


def trace_finding(row: Mapping) -> Finding:
    return Finding(
        rule=row["rule"],
        severity=row["severity"],
        kpi_id=row.get("kpi_id"),
        item=row.get("item"),
        year=None if row.get("year") is None else int(row["year"]),
        value=None if row.get("value") is None else float(row["value"]),
        message=row.get("message") or "",
        is_justified=None if row.get("is_justified") is None else bool(row["is_justified"]),
        justification=row.get("justification"),
    )


def trace_input(
    ref: ItemRef,
    reporting_year: int,
    answer: Mapping | None,
    version,
    findings: list[dict],
    archived: ArchivedFile | None,
) -> Input:
    year = reporting_year + ref.offset
    mine = [trace_finding(f) for f in findings if f.get("item") == ref.item and f.get("year") == year]
    if answer is None:
        return Input(
            ref=str(ref),
            item=ref.item,
            year=year,
            year_ref="T" if ref.offset == 0 else f"T{ref.offset}",
            status="missing",
            value=None,
            value_exact=None,
            level=None,
            comment=None,
            place=None,
            as_written=None,
            submission_id=None,
            submission_version=None,
            findings=mine,
        )
    value = answer.get("value")
    place = (
        Place(
            file=answer["source_file"],
            pointer=answer.get("source_pointer"),
            sheet=answer.get("source_sheet"),
            cell=answer.get("source_cell"),
            line=answer.get("source_line"),
        )
        if answer.get("source_file")
        else None
    )
    return Input(
        ref=str(ref),
        item=ref.item,
        year=year,
        year_ref="T" if ref.offset == 0 else f"T{ref.offset}",
        status=answer["status"],
        value=None if value is None else float(value),
        value_exact=exact_decimal(value),
        as_written=(
            archived.text_at(place.pointer, place.sheet, place.cell, place.line)
            if archived is not None and place is not None and answer["status"] == "reported"
            else None
        ),
        level=answer.get("value_text"),
        comment=answer.get("comment"),
        place=place,
        submission_id=answer.get("submission_id"),
        submission_version=answer.get("version", version),
        findings=mine,
    )


def trace_series(
    kpi: KpiSpec,
    series_id: str,
    formula_text: str,
    formula: Formula,
    reporting_year: int,
    value_row: Mapping | None,
    answers: Mapping,
    findings: list[dict],
    version,
    gate: Gate,
    publication: Publication,
    member: Mapping,
    archived: ArchivedFile | None,
) -> Series:
    inputs = [
        trace_input(
            ref, reporting_year, answers.get((ref.item, reporting_year + ref.offset)), version, findings, archived
        )
        for ref in formula.refs
    ]
    numbers = {ItemRef(i.item, i.year - reporting_year): i.value for i in inputs if i.status == "reported"}
    recomputed, zero = evaluate(formula, numbers)
    status = value_row["status"] if value_row else "blocked"
    years = {(i.item, i.year) for i in inputs}
    concerned = [f for f in findings if (f.get("item"), f.get("year")) in years or f.get("kpi_id") == kpi.id]
    rules = []
    for rule in RULES:
        count = sum(1 for f in concerned if f["rule"] == rule.id)
        rules.append(
            RuleResult(
                rule=rule.id,
                severity=rule.severity.value,
                engine=rule.engine.value,
                result="finding" if count else "no_finding",
                findings=count,
            )
        )
    value = None if not value_row or value_row.get("value") is None else float(value_row["value"])
    return Series(
        series=series_id,
        formula=formula_text,
        status=status,
        value=value,
        recomputed_value=recomputed if recomputed is None or math.isfinite(recomputed) else None,
        numerator=(value_row or {}).get("numerator"),
        denominator=(value_row or {}).get("denominator"),
        level_code=(value_row or {}).get("level_code"),
        disclosure=(value_row or {}).get("disclosure"),
        flags=[f for f in str((value_row or {}).get("flags") or "").split(";") if f],
        reason=reason_for(status, inputs, zero, gate, member["member_code"]),
        inputs=inputs,
        rules=rules,
        publication=publication.tiers(series_id, value_row),
        rollups=publication.rollups(series_id, value_row, member),
    )
