"""Resubmission history of a cycle: who sent which file when, what became of it, and what changed between versions."""

import pandas as pd

from pmm_pipeline.warehouse.tables import RECEIVED_FILES, REJECTIONS, SOURCE_COLUMNS, SUBMISSION_CHANGES, SUBMISSIONS

# Every file version received, with its submission (same file) or rejection; a duplicate takes the
# member of the file whose bytes it repeats.
SUBMISSION_HISTORY_SQL = f"""
WITH versions AS (
    SELECT * FROM {SUBMISSIONS.qualified} WHERE cycle = $cycle
), rejected AS (
    SELECT * FROM {REJECTIONS.qualified} WHERE cycle = $cycle
), changes AS (
    SELECT submission_id, count(*) AS n_changes FROM {SUBMISSION_CHANGES.qualified} WHERE cycle = $cycle GROUP BY submission_id
), files AS (
    SELECT cycle, sha256, file_name, received_at, outcome FROM {RECEIVED_FILES.qualified} WHERE cycle = $cycle
    UNION ALL  -- landing entries that are no files have no hash and are not in received_files
    SELECT cycle, sha256, file_name, received_at, 'rejected' FROM rejected WHERE sha256 IS NULL
)
SELECT
    f.cycle,
    coalesce(s.member_code, r.member_code, same_bytes.member_code) AS member_code,
    f.received_at, f.file_name, f.sha256, s.format, s.submitted_at, s.sent_by, f.outcome, r.reason_code,
    s.version, s.is_latest, s.n_answers,
    CASE WHEN s.version > 1 THEN coalesce(c.n_changes, 0) END AS n_changes
FROM files AS f
LEFT JOIN versions AS s ON s.submission_id = f.sha256 AND s.file_name = f.file_name
LEFT JOIN rejected AS r ON r.sha256 IS NOT DISTINCT FROM f.sha256 AND r.file_name = f.file_name
LEFT JOIN (SELECT DISTINCT ON (submission_id) submission_id, member_code FROM versions) AS same_bytes
    ON same_bytes.submission_id = f.sha256
LEFT JOIN changes AS c ON c.submission_id = s.submission_id
ORDER BY member_code NULLS LAST, f.received_at, f.file_name
"""  # noqa: E501 -- the SQL text is left as written

_ANSWER_KEY = ["item", "year"]
_COMPARED = ["status", "value", "value_text"]


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Element-wise inequality where two missing values are equal."""
    both_missing = a.isna() & b.isna()
    return ~both_missing & (a.isna() | b.isna() | (a != b))


def answer_changes(submissions: pd.DataFrame, answers: pd.DataFrame, cycle: str) -> pd.DataFrame:
    """Differences between each accepted version and the member's version before it.

    `submissions` has member_code, submission_id, version; `answers` the raw answers of the cycle.
    """
    rows = []
    source_names = [c.name for c in SOURCE_COLUMNS]
    for member, versions in submissions.sort_values("version").groupby("member_code"):
        ordered = list(versions[["version", "submission_id"]].itertuples(index=False))
        for previous, current in zip(ordered, ordered[1:], strict=False):
            before = answers[answers.submission_id == previous.submission_id]
            after = answers[answers.submission_id == current.submission_id]
            merged = before[_ANSWER_KEY + _COMPARED + source_names].merge(
                after[_ANSWER_KEY + _COMPARED + source_names],
                on=_ANSWER_KEY,
                how="outer",
                suffixes=("_before", "_after"),
                indicator=True,
            )
            changed = merged["_merge"] != "both"
            for column in _COMPARED:
                changed |= (merged["_merge"] == "both") & _differs(
                    merged[f"{column}_before"], merged[f"{column}_after"]
                )
            merged = merged[changed]
            if merged.empty:
                continue
            frame = pd.DataFrame(
                {
                    "cycle": cycle,
                    "member_code": member,
                    "version": current.version,
                    "previous_version": previous.version,
                    "submission_id": current.submission_id,
                    "previous_submission_id": previous.submission_id,
                    "item": merged["item"],
                    "year": merged["year"],
                    "change": merged["_merge"].map({"left_only": "removed", "right_only": "added", "both": "changed"}),
                    "previous_status": merged["status_before"],
                    "status": merged["status_after"],
                    "previous_value": merged["value_before"],
                    "value": merged["value_after"],
                    "previous_value_text": merged["value_text_before"],
                    "value_text": merged["value_text_after"],
                }
            )
            removed = merged["_merge"] == "left_only"
            for name in source_names:  # where the answer is now, or where it was if it is gone
                frame[name] = merged[f"{name}_after"].where(~removed, merged[f"{name}_before"])
            rows.append(frame)
    if not rows:
        return pd.DataFrame(columns=SUBMISSION_CHANGES.column_names)
    changes = pd.concat(rows, ignore_index=True)[SUBMISSION_CHANGES.column_names]
    return changes.sort_values(["member_code", "version", "item", "year"]).reset_index(drop=True)
