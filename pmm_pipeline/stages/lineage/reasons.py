"""Why a traced value has no number: its inputs not applicable or not reported, a denominator that is zero, the
result beyond a double, or the blocking findings that kept the member out. The words of both `pmm trace` and the
provenance asset's summary (summary.py)."""

from collections.abc import Sequence

from pmm_pipeline.stages.lineage.recompute import REFERENCE
from pmm_pipeline.stages.lineage.trace_model import Gate, Input, Reason


def explain(status: str, states: Sequence[tuple[str, str]], zero: Sequence[str]) -> tuple[str, str, list[str]]:
    """(kind, message, inputs) of a value without a number, from its inputs' (reference, status) in formula order
    and the denominators found zero; the words of both `pmm trace` and the provenance asset's summary."""
    if status == "not_applicable":
        refs = [ref for ref, state in states if state == "not_applicable"]
        return "input_not_applicable", f"the member declared {', '.join(refs)} not applicable", refs
    if status == "missing":
        refs = [(ref, state) for ref, state in states if state in ("missing", "not_available")]
        shown = "; ".join(f"{ref} is {'not answered' if state == 'missing' else state}" for ref, state in refs)
        return "input_not_reported", f"no number to compute: {shown}", [ref for ref, _ in refs]
    if zero:
        named = set(REFERENCE.findall(zero[0]))  # whole references: total[T] is not import_total[T]
        inputs = [ref for ref, _ in states if ref in named] or [ref for ref, _ in states]
        return "zero_denominator", f"the denominator {zero[0]} is 0 (never shown as 0 or infinity)", inputs
    return (
        "not_finite",
        "the formula's result on these inputs is not a finite number (beyond the range of a double)",
        [ref for ref, _ in states],
    )


def reason_for(status: str, inputs: list[Input], zero: list[str], gate: Gate, member: str) -> Reason | None:
    if status == "reported":
        return None
    if status == "blocked":
        rules = ", ".join(dict.fromkeys(f.rule for f in gate.blocking_findings)) or "a blocking rule"
        return Reason(
            kind="member_blocked",
            message=f"the quality gate kept {member}'s submission out of the KPIs: {rules}"
            f" ({len(gate.blocking_findings)} blocking finding(s)); the member must correct and send it again",
            inputs=sorted({f"{f.item}[{f.year}]" for f in gate.blocking_findings if f.item}),
            findings=gate.blocking_findings,
        )
    kind, message, refs = explain(status, [(i.ref, i.status) for i in inputs], zero)
    return Reason(kind=kind, message=message, inputs=refs, denominator=zero[0] if kind == "zero_denominator" else None)
