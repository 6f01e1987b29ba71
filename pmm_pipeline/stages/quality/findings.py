"""Turning failed comparisons into findings a national contact point can act on, and summing them per member.

A finding is one rule violation on an answer (or a pair of answers, or an answer that is missing), with a
message in plain words saying what is wrong and what to do, the rule's severity for the KPI concerned, and the
member's justification (its comment on that answer) if any. A member with a blocking finding is not admitted.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from pmm_pipeline.specs.catalogue.models import Item, KpiSpec
from pmm_pipeline.specs.reference.models import Cycle
from pmm_pipeline.stages.ingestion.submission import Location
from pmm_pipeline.stages.quality.rules import RULES, Severity, severity_for
from pmm_pipeline.warehouse.tables import FINDINGS, MEMBER_SUMMARY

RESEND = "Correct it and send the submission again."
EXPLAIN = "If the figure is right, explain it in a comment on that answer."


@dataclass(frozen=True)
class MessageContext:
    cycle: Cycle
    items: Mapping[str, Item]
    kpis: Mapping[str, KpiSpec]

    def item(self, code: Any) -> str:
        item = self.items.get(code) if isinstance(code, str) else None
        return f"{item.labels.en} [{code}]" if item else f"item {code!r}"

    def kpi(self, kpi_id: Any, series: Any = None) -> str:
        kpi = self.kpis.get(kpi_id) if isinstance(kpi_id, str) else None
        name = kpi.names.en if kpi else str(kpi_id)
        return f"{name} ({series})" if series and series != "total" else name

    def quantity(self, kpi_id: str, value: float) -> str:
        return f"{value:,.4g} {self.kpis[kpi_id].unit}"

    def levels(self, code: Any) -> str:
        item = self.items.get(code) if isinstance(code, str) else None
        return ", ".join(level.code for level in item.answer_levels) if item else ""


def _number(value: Any) -> str:
    if value is None or pd.isna(value):
        return "(none)"
    return f"{float(value):,.15g}"


def _times(ratio: float) -> str:
    return f"about {ratio:,.0f} times" if ratio >= 1 else f"about 1/{1 / ratio:,.0f} of"


Message = Callable[[Mapping[str, Any], MessageContext], str]

# One message per part of a rule (PlannedExpectation.check, or the rule id for the cross rules).
MESSAGES: dict[str, Message] = {
    "not_a_participant": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is filed for member {r['member_code']} in a submission that is not"
        f" the latest accepted submission of a member taking part in cycle {c.cycle.id}. Check the member code"
        " and send the submission again."
    ),
    "unknown_item": lambda r, c: (
        f"{c.item(r['item'])} is not in the questionnaire of cycle {c.cycle.id}."
        " Use the item codes of this cycle's questionnaire and send the submission again."
    ),
    "year_outside_cycle": lambda r, c: (
        f"{c.item(r['item'])} is given for {r['year']}, but cycle {c.cycle.id} asks for {c.cycle.years[1]}"
        f" (and {c.cycle.years[0]} for variations). Correct the year and send the submission again."
    ),
    "unknown_status": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} has status {r['status']!r}; use reported, not_applicable or"
        " not_available and send the submission again."
    ),
    "unknown_level": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is answered {r['value_text']!r}, which is not one of its answers"
        f" ({c.levels(r['item']) or 'it takes a number'}). {RESEND}"
    ),
    "duplicate_answer": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is answered more than once ({r['places']})."
        " Keep one answer and send the submission again."
    ),
    "reported_without_value": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is marked reported but has no figure. Give the figure, or mark it"
        " not_available or not_applicable, and send the submission again."
    ),
    "value_with_other_status": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} has the figure {_number(r['value'])} but is marked {r['status']}."
        " Remove the figure or mark the answer reported, and send the submission again."
    ),
    "count_not_whole": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])}, but it counts"
        f" {c.items[r['item']].unit} and must be a whole number. {RESEND}"
    ),
    "level_missing": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is marked reported but names no level; choose one of"
        f" {c.levels(r['item'])}. {RESEND}"
    ),
    "below_minimum": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])}, below the smallest allowed value"
        f" {_number(r['min_allowed'])}. {RESEND}"
    ),
    "above_maximum": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])}, above the largest allowed value"
        f" {_number(r['max_allowed'])}. {RESEND}"
    ),
    "part_above_whole": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])}, more than"
        f" {c.item(r['whole_item'])} ({_number(r['whole_value'])}), of which it is a part."
        " Correct one of the two figures and send the submission again."
    ),
    "missing_answer": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is not answered, so {c.kpi(r['kpi_id'])} cannot be computed."
        " Give the figure, or mark it not_available or not_applicable with a comment."
    ),
    "missing_previous_year": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} (the year before {c.cycle.years[1]}) is not answered, so the"
        f" variation {c.kpi(r['kpi_id'])} cannot be computed. Give the {r['year']} figure too, or mark it"
        " not_available with a comment."
    ),
    "yoy_change_within_band": lambda r, c: (
        f"{c.item(r['item'])} changes by {r['change_pct']:+.1f}% between {r['reference_year']}"
        f" ({_number(r['reference_value'])}) and {r['year']} ({_number(r['value'])}), more than the"
        f" ±{r['band_pct']:g}% expected for {c.kpi(r['kpi_id'])}. Check both figures; if they are right, explain"
        f" the change in a comment on the {r['year']} answer."
    ),
    "t_minus_1_matches_earlier_cycle": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])} here but was"
        f" {_number(r['reference_value'])} in your submission for cycle {r['reference_cycle']}"
        + (f" (a revision of {r['revision_pct']:+.2f}%)" if pd.notna(r["revision_pct"]) else "")
        + ". If the figure was revised, say why in a comment on that answer; otherwise give the earlier figure."
    ),
    # Never the median, the number of peers nor the ratio to the median: they are computed over values the
    # member's tier may not show (see GROUP_FIGURES), and members read these messages.
    "value_near_peer_median": lambda r, c: (
        f"{c.kpi(r['kpi_id'], r['series'])} is {c.quantity(r['kpi_id'], r['kpi_value'])}, far from the median"
        " of the members of your region that report it."
        f" Check the figures behind it for {r['year']}, starting with {c.item(r['item'])}. {EXPLAIN}"
    ),
    "magnitude_consistent_with_history": lambda r, c: (
        f"{c.item(r['item'])} for {r['year']} is {_number(r['value'])}, {_times(r['ratio'])} the"
        f" {_number(r['reference_value'])} you reported for {r['reference_year']}"
        + (f" in cycle {r['reference_cycle']}" if isinstance(r["reference_cycle"], str) else "")
        + ". This often comes from a unit slip (thousands instead of units, or a share instead of a"
        f" percentage): check the unit. {EXPLAIN}"
    ),
}


# Figures of a comparison that are statistics over other members (the peer rule's region median, spread,
# count and the member's distance to them). Members read finding messages (feedback reports, the platform's
# verdicts), and these figures are computed over values hidden from them, so no message ever receives them:
# build_findings removes them from what a message is written from. They stay in the asset checks' metadata,
# which only operators read.
GROUP_FIGURES = frozenset({"n_peers", "peer_median", "peer_spread_factor", "robust_z", "log_median", "log_spread"})


def member_facing(details: Mapping[str, Any]) -> dict[str, Any]:
    """What a message may be written from: the comparison's row without its group figures."""
    return {k: v for k, v in details.items() if k not in GROUP_FIGURES}


def source_place(answer: Mapping[str, Any]) -> str:
    """Where in the file an answer sits (pointer, sheet and cell, or line), from its source_* columns."""

    def present(key: str) -> Any:
        value = answer.get(key)
        return None if value is None or pd.isna(value) else value

    line = present("source_line")
    return str(
        Location(
            pointer=present("source_pointer"),
            sheet=present("source_sheet"),
            cell=present("source_cell"),
            line=None if line is None else int(line),
        )
    )


def duplicate_places(duplicates: pd.DataFrame) -> pd.Series:
    """For each of the given answers, where every one of them to the same member, item and year sits in the file."""
    places = pd.Series(
        [source_place(row) for row in duplicates.to_dict("records")], index=duplicates.index, dtype=object
    )
    return places.groupby([duplicates["member_code"], duplicates["item"], duplicates["year"]]).transform(" and ".join)


@dataclass(frozen=True)
class Violation:
    """A failed comparison before it becomes a finding: which rule and check, and on what."""

    rule: str
    check: str
    member_code: str
    item: str | None
    year: int | None
    kpi_id: str | None
    details: Mapping[str, Any]  # the row the comparison was made on, for the message
    answer: Mapping[str, Any] | None = None  # the staged answer, when the violation was found on it


def build_findings(
    violations: list[Violation],
    answers: pd.DataFrame,
    submissions: pd.DataFrame,
    context: MessageContext,
) -> pd.DataFrame:
    """quality.findings rows: severity for the KPI, message, justification and the answer's place in the file.

    `answers` are the cycle's staged answers; `submissions` has member_code, submission_id and file_name
    (the file a missing answer is missing from).
    """
    key = ["member_code", "item", "year"]
    concerned = answers[answers["member_code"].isin({v.member_code for v in violations if v.answer is None})]
    by_answer = {
        (row["member_code"], row["item"], row["year"]): row for row in concerned.drop_duplicates(key).to_dict("records")
    }
    by_member = {row["member_code"]: row for row in submissions.to_dict("records")}
    rows = []
    for v in violations:
        answer = v.answer if v.answer is not None else by_answer.get((v.member_code, v.item, v.year), {})
        submission = by_member.get(v.member_code, {})
        comment, value = answer.get("comment"), answer.get("value")
        has_comment = isinstance(comment, str) and bool(comment.strip())
        rows.append(
            {
                "cycle": context.cycle.id,
                "member_code": v.member_code,
                "submission_id": answer.get("submission_id") or submission.get("submission_id"),
                "rule": v.rule,
                "severity": severity_for(v.rule, context.kpis.get(v.kpi_id) if v.kpi_id else None).value,
                "kpi_id": v.kpi_id,
                "item": v.item,
                "year": v.year,
                "value": None if value is None or pd.isna(value) else float(value),
                "message": MESSAGES[v.check](member_facing(v.details), context),
                "is_justified": has_comment,
                "justification": comment.strip() if has_comment else None,
                "source_file": answer.get("source_file") or submission.get("file_name"),
                **{c: answer.get(c) for c in ("source_pointer", "source_sheet", "source_cell", "source_line")},
            }
        )
    findings = pd.DataFrame(rows, columns=FINDINGS.column_names)
    findings = findings.astype({"year": "Int64", "value": "float64", "source_line": "Int64", "is_justified": bool})
    rule_order = {rule.id: i for i, rule in enumerate(RULES)}
    return findings.sort_values(
        ["member_code", "rule", "item", "year", "kpi_id"],
        key=lambda column: column.map(rule_order) if column.name == "rule" else column,
        na_position="first",
        ignore_index=True,
    )


def summarize_members(
    findings: pd.DataFrame, submissions: pd.DataFrame, rules_run: Mapping[str, set[str]], cycle_id: str
) -> pd.DataFrame:
    """quality.member_summary rows: one per participating member, admitted unless a finding blocks it."""
    is_warning = findings["severity"] == Severity.warning.value
    counts = (
        pd.DataFrame(
            {
                "member_code": findings["member_code"],
                "blocking_failed": findings["severity"] == Severity.blocking.value,
                "warnings": is_warning,
                "justified": is_warning & findings["is_justified"],
            }
        )
        .groupby("member_code")
        .sum()
    )
    ran = pd.Series([member for members in rules_run.values() for member in members], dtype=object).value_counts()
    summary = submissions[["member_code", "submission_id"]].assign(cycle=cycle_id).set_index("member_code")
    summary = summary.join(counts).fillna({"blocking_failed": 0, "warnings": 0, "justified": 0})
    summary["rules_run"] = ran.reindex(summary.index, fill_value=0)
    summary = summary.astype({c: "int32" for c in ("blocking_failed", "warnings", "justified", "rules_run")})
    summary["is_admitted"] = summary["blocking_failed"] == 0
    return summary.reset_index()[MEMBER_SUMMARY.column_names].sort_values("member_code", ignore_index=True)
