"""Hand-made releases and the hashes of released files, for the release tests: `kpi_rows`, `rollup_rows` and `info`
make the tables and the ReleaseInfo of a small release, `release_hashes` gives the SHA-256 of every data file of a
release (its metadata files left out). Used by test_release_reproducible.py (also inside its CHILD script, a process
killed while releasing), test_release_refusals.py and pmm_pipeline_tests/end_to_end/test_kill_and_corrupt.py.
"""

from pathlib import Path

import pandas as pd

from pmm_pipeline.stages.disclosure.control import TIERS
from pmm_pipeline.stages.publishing.release import ReleaseInfo, sha256_file
from pmm_pipeline.warehouse.tables import PUBLISHED_KPI_COLUMNS, PUBLISHED_ROLLUP_COLUMNS

METADATA_FILES = {"manifest.json", "changes.json"}  # where the run id and time belong


def release_hashes(published: Path, tiers=TIERS) -> dict[str, str]:
    return {
        p.relative_to(published).as_posix(): sha256_file(p)
        for tier in tiers
        for p in sorted((published / tier).iterdir())
        if p.name not in METADATA_FILES
    }


def kpi_rows(values: dict[str, float | None]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "cycle": "2023",
                "reporting_year": 2022,
                "member_code": m,
                "kpi_id": "k",
                "series": "total",
                "value": v,
                "status": "reported" if v is not None else "missing",
                "disclosure": "public",
                "flags": "",
            }
            for m, v in values.items()
        ],
        columns=PUBLISHED_KPI_COLUMNS,
    )


def rollup_rows(mean: float | None, reason: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "cycle": "2023",
                "kpi_id": "k",
                "series": "total",
                "group_type": "global",
                "group_code": "all",
                "n_reporting": 3,
                "n_participating": 4,
                "mean": mean,
                "median": 2.0,
                "min": None,
                "max": None,
                "pooled": None,
                "suppressed": reason is not None,
                "suppression_reason": reason,
            }
        ],
        columns=PUBLISHED_ROLLUP_COLUMNS,
    )


def info(run_id: str) -> ReleaseInfo:
    return ReleaseInfo("2023", "public", run_id, "test", "1.0", "digest", "2025-01-15T00:00:00+00:00")
