"""Feedback reports built as plain data, without Dagster: who gets one, what its row says, how the
folder is replaced.
"""

import datetime as dt
import json
import zipfile
from io import BytesIO

import pandas as pd

from pmm_pipeline.stages.feedback.members import CycleProblems, build_member_reports, report_path, write_feedback_folder

HISTORY_COLUMNS = ["member_code", "file_name", "received_at", "outcome", "version", "is_latest", "reason_code"]


def problems(rejected: list[str], found: list[str]) -> CycleProblems:
    rejections = pd.DataFrame(
        [
            {
                "member_code": m,
                "file_name": f"{m}_2023.json",
                "reason_code": "not_json",
                "message": "is not valid JSON",
                "problems": json.dumps([{"code": "not_json", "message": "is not valid JSON"}]),
            }
            for m in rejected
        ],
        columns=["member_code", "file_name", "reason_code", "message", "problems"],
    )
    findings = pd.DataFrame(
        [
            {
                "member_code": m,
                "rule": "values_within_range",
                "severity": "warning",
                "item": "aeo_count",
                "year": 2022,
                "value": "-1",
                "message": "below the item's range",
            }
            for m in found
        ],
        columns=["member_code", "rule", "severity", "item", "year", "value", "message"],
    )
    return CycleProblems(rejections, findings, pd.DataFrame(columns=HISTORY_COLUMNS))


def test_one_report_per_known_member_with_problems(reference, catalogue, tmp_path):
    cycle = reference.cycles.get("2023")
    memberships = reference.members_in_force(cycle)
    items = catalogue.items_for_version(cycle.catalogue_version)
    # "../KEN" is not a member code (and would escape the folder); "XXX" is no member.
    given = problems(rejected=["KEN", "../KEN", "XXX"], found=["KEN", "UGA"])
    reports, rows = build_member_reports(given, memberships, items, tmp_path, "2023", dt.date(2024, 2, 1))
    assert set(reports) == {report_path(tmp_path, "KEN", "2023"), report_path(tmp_path, "UGA", "2023")}
    assert all(zipfile.is_zipfile(BytesIO(data)) for data in reports.values())
    by_member = {r["member_code"]: r for r in rows}
    assert (by_member["KEN"]["n_problems"], by_member["KEN"]["n_blocking"]) == (2, 1)
    assert (by_member["UGA"]["n_problems"], by_member["UGA"]["n_blocking"]) == (1, 0)
    assert by_member["KEN"]["language"] == memberships["KEN"].language


def test_no_problems_no_report(reference, catalogue, tmp_path):
    cycle = reference.cycles.get("2023")
    reports, rows = build_member_reports(
        problems([], []),
        reference.members_in_force(cycle),
        catalogue.items_for_version(cycle.catalogue_version),
        tmp_path,
        "2023",
        dt.date(2024, 2, 1),
    )
    assert reports == {} and rows == []


def test_the_folder_is_replaced_whole(tmp_path):
    feedback_dir = tmp_path / "feedback"
    write_feedback_folder(feedback_dir, {report_path(feedback_dir, "KEN", "2023"): b"first"}, "run-1")
    write_feedback_folder(feedback_dir, {report_path(feedback_dir, "UGA", "2023"): b"second"}, "run-2")
    files = sorted(p.relative_to(feedback_dir).as_posix() for p in feedback_dir.rglob("*") if p.is_file())
    assert files == ["UGA/feedback_UGA_2023.xlsx"]
    assert report_path(feedback_dir, "UGA", "2023").read_bytes() == b"second"
