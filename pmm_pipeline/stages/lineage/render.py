"""A trace as text for a terminal: per series the value or the reason, each input with its place, the rules,
where the value was published. Member-supplied text is printed inert (core.text's `printable`)."""

from pmm_pipeline.core.text import printable
from pmm_pipeline.stages.lineage.trace_model import Finding, Input, Place, RollupFeed, Submission, Trace
from pmm_pipeline.stages.quality.rules import RULES


def _place(place: Place) -> str:
    parts = [f"file {printable(place.file)}"]
    if place.sheet:
        parts.append(f"sheet {printable(place.sheet)}, cell {printable(place.cell)}")
    if place.line is not None:
        parts.append(f"line {place.line}")
    if place.pointer:
        parts.append(f"JSON pointer {printable(place.pointer)}")
    return ", ".join(parts)


def _answer(item: Input) -> str:
    if item.status == "reported":
        shown = item.value_exact if item.level is None else f"{printable(item.level)} (score {item.value_exact})"
        if item.as_written is not None and item.as_written not in (item.value_exact, item.level, f'"{item.level}"'):
            shown += f", written {printable(item.as_written)}"
        return f"{shown} (reported)"
    return f"({item.status})"


def _finding_line(finding: Finding) -> str:
    where = f" on {finding.item}[{finding.year}]" if finding.item else ""
    return f"{finding.rule} ({finding.severity}){where}: {printable(finding.message)}"


def render_trace(trace: Trace) -> str:
    """The trace as text: per series the value or the reason, each input with its place, rules, publication."""
    lines = [
        f"{trace.kpi_id} ({trace.kpi_name}): member {trace.member_code}, cycle {trace.cycle},"
        f" reporting year T = {trace.reporting_year}"
    ]
    if trace.member_state == "blocked":
        lines.append(
            f"member blocked by the quality gate: {trace.gate.blocking_failed} blocking finding(s), no KPI value"
        )
        lines += [f"  {_finding_line(f)}" for f in trace.gate.blocking_findings]
    for series in trace.series:
        value = repr(series.value) if series.status == "reported" else "none"
        lines += [f"series {series.series}: value {value}, status {series.status}", f"  formula: {series.formula}"]
        if series.reason is not None and series.reason.kind != "member_blocked":
            lines.append(f"  why: {series.reason.message}")
        if series.recomputed_value is not None and series.value is not None and series.recomputed_value != series.value:
            lines.append(f"  WARNING: the formula on the inputs below gives {series.recomputed_value!r}")
        lines.append("  answers used:")
        for item in series.inputs:
            lines.append(f"    {item.item}[{item.year_ref}] = year {item.year}: {_answer(item)}")
            lines.append(f"      from {_place(item.place)}" if item.place else "      not answered in the submission")
            if item.comment:
                lines.append(f"      comment: {printable(item.comment)}")
            if item.findings:
                flagged = list(dict.fromkeys(f.rule for f in item.findings))
                passed = len(RULES) - len(flagged)
                lines.append(f"      quality: flagged by {', '.join(flagged)}; passed the other {passed} rules")
                lines += [f"        {_finding_line(f)}" for f in item.findings]
            else:
                lines.append(f"      quality: passed all {len(RULES)} rules")
        on_kpi = [r.rule for r in series.rules if r.result == "finding"]
        if on_kpi:
            lines.append(f"  rules with findings on these inputs or this KPI: {', '.join(on_kpi)}")
        lines.append("  published:")
        for tier in series.publication:
            where = "; ".join(f"{f.path} {'line' if f.path.endswith('.csv') else 'row'} {f.row}" for f in tier.files)
            lines.append(f"    {tier.tier}: {tier.state}: {printable(tier.message)}" + (f" ({where})" if where else ""))
            lines += [
                f"      WARNING: {f.path} does not show the warehouse's value"
                for f in tier.files
                if f.value_matches is False
            ]
        if series.rollups:
            lines.append("  feeds the group statistics:")
            for feed in series.rollups:
                lines.append(
                    f"    {feed.group_type} {feed.group_code} [{feed.series}], counts in {feed.counts_in},"
                    f" n_reporting {feed.n_reporting} of {feed.n_participating}: {_rollup_tiers(feed)}"
                )
        elif series.status == "blocked":
            lines.append("  feeds no group statistic: a blocked member has no value")
    sub = trace.submission
    lines += [
        f"submission: version {sub.version} submitted {_shown_time(sub.submitted_at)}, sha256 {sub.submission_id}",
        f"  file {printable(sub.file_name)} ({sub.format}), received {_shown_time(sub.received_at)}"
        + _channel(sub)
        + (f", sent by {printable(sub.sent_by)}" if sub.sent_by else ""),
        f"  archived copy: {printable(sub.archive_path)}"
        + (f" ({sub.archive_state})" if sub.archive_state else "")
        + ("" if sub.archive_intact else ", WARNING: it no longer hashes to the submission's SHA-256"),
        *platform_audit_lines(trace),
        f"quality rules checked: {', '.join(r.rule for r in trace.rules_checked)}",
        f"run {trace.run.run_id}, code version {trace.run.code_version},"
        f" catalogue version {trace.run.catalogue_version} (digest {trace.run.catalogue_digest})",
    ]
    return "\n".join(lines)


def platform_audit_lines(trace) -> list[str]:
    """The platform's audit trail for the file, one line per entry (member text printed inert)."""
    if not trace.platform_audit:
        return []
    lines = ["  member platform's audit trail for this file:"]
    for entry in trace.platform_audit:
        detail = ", ".join(f"{k} {printable(str(v))}" for k, v in sorted(entry.detail.items()) if v not in (None, ""))
        lines.append(
            f"    {_shown_time(entry.at)} {entry.what} by {printable(entry.login or '?')}"
            f" from {printable(entry.ip or '?')}" + (f": {detail}" if detail else "")
        )
    return lines


def _channel(sub: Submission) -> str:
    """Where the platform received the file and which account sent it, when the raw record says (channel, account)."""
    where = {"platform": " through the member platform", "landing": " copied into the landing folder"}
    text = where.get(sub.channel or "", f" through {printable(sub.channel)}" if sub.channel else "")
    return text + (f", account {printable(sub.account)}" if sub.account else "")


def _rollup_tiers(feed: RollupFeed) -> str:
    """What each tier shows of a rollup row; tiers that show the same are named together."""
    shown: dict[str, list[str]] = {}
    for tier in feed.tiers:
        text = ", ".join(tier.published) or "nothing"
        if tier.suppressed:
            text += " (suppressed " + ", ".join(f"{s}: {r}" for s, r in tier.suppressed.items()) + ")"
        if not tier.released:
            text += " (not released)"
        shown.setdefault(text, []).append(tier.tier)
    return "; ".join(f"{', '.join(tiers)}: {text}" for text, tiers in shown.items())


def _shown_time(iso: str | None) -> str:
    """An ISO time as the trace has always printed it (`2024-02-01 09:00:00+00:00`)."""
    return "unknown" if iso is None else iso.replace("T", " ")
