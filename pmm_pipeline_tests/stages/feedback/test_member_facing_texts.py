"""Feedback and quality messages never quote a group figure: members read them, and the figures are computed
over values their tier may not show (the peer rule's regional median, count and spread)."""

import io
import re
import zipfile

import pandas as pd

from pmm_pipeline.stages.feedback.report import render_feedback, rows_from_findings
from pmm_pipeline.stages.quality.findings import GROUP_FIGURES, MessageContext, Violation, build_findings, member_facing
from pmm_pipeline_tests.stages.quality.gate_cases import baseline, seeded  # noqa: F401 (fixtures)

PLANTED_MEDIAN = 74.13891  # a "median over hidden values": must never reach any text a member reads
CYCLE = "2025"


def workbook_text(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return " ".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist() if n.endswith(".xml"))


def test_the_peer_message_gets_no_group_figure(reference, catalogue):
    cycle = reference.cycles.get(CYCLE)
    context = MessageContext(
        cycle,
        catalogue.items_for_version(cycle.catalogue_version),
        {k.id: k for k in catalogue.kpis_for_version(cycle.catalogue_version)},
    )
    details = {
        "member_code": "FRA",
        "kpi_id": "electronic_declaration_rate",
        "series": "total",
        "item": "declarations_electronic",
        "year": cycle.reporting_year,
        "value": 10.0,
        "kpi_value": 1.25,
        "region_code": "EUR",
        "n_peers": 9,
        "peer_median": PLANTED_MEDIAN,
        "peer_spread_factor": 2.0,
        "robust_z": -5.9,
        "max_mads": 5.0,
    }
    violation = Violation(
        "value_near_peer_median",
        "value_near_peer_median",
        "FRA",
        "declarations_electronic",
        cycle.reporting_year,
        "electronic_declaration_rate",
        details,
    )
    findings = build_findings(
        [violation],
        pd.DataFrame(columns=["member_code", "item", "year"]),
        pd.DataFrame(columns=["member_code", "submission_id", "file_name"]),
        context,
    )
    message = findings.loc[0, "message"]
    assert "1.25" in message and "median" in message  # it says what is wrong, with the member's own figure
    assert "74.1" not in message and "9 members" not in message and "times" not in message
    assert member_facing(details).keys().isdisjoint(GROUP_FIGURES)
    for lang in ("en", "fr", "es"):
        report = render_feedback(
            "FRA", "France", CYCLE, lang, rows_from_findings(findings), [], context.items, cycle.collection.opens
        )
        assert "74.1" not in workbook_text(report), lang


def test_no_finding_of_a_gate_run_quotes_a_figure_other_than_the_members_own(seeded):  # noqa: F811
    outcome, members, _ = seeded
    findings = outcome.findings
    peer = findings[findings["rule"] == "value_near_peer_median"]
    assert len(peer) == 1
    message = peer.iloc[0]["message"]
    # Numbers in the message: the member's own KPI value and the reporting year only.
    member, year = peer.iloc[0]["member_code"], int(peer.iloc[0]["year"])
    answers = outcome.admitted_answers
    total = answers[
        (answers["member_code"] == member) & (answers["item"] == "declarations_total") & (answers["year"] == year)
    ]["value"].iloc[0]
    own = f"{100 * 1.0 / total:,.4g}"  # the seeded 1.0 electronic declarations, as the message writes a quantity
    numbers = {n.rstrip(",.") for n in re.findall(r"\d[\d,.]*", message)}
    assert numbers == {str(year), own}, message
    assert "members of your region that report it" in message
