"""The workspace of the released-once tests (conftest's released_once_workspace): its cycles file, its settings and
environment, and FRA's second version that lands in it after the first release. Shared by the release, reuse and
kill-and-corrupt tests and by conftest.py, so declared here rather than in one of those test modules."""

import os
from dataclasses import replace
from pathlib import Path

from pmm_pipeline_tests.conftest import settings_for
from pmm_pipeline_tests.paths import FIXTURES

# FRA's second version lowers its (public) rate of electronic declarations from 100 % to 90 %: the
# second run's release differs from the first one's in every tier. The cycle is reopened (cycles.yaml
# `reopened_until`) so that a version arriving today is used rather than frozen out.
FRA_V2 = (
    (FIXTURES / "cycle_2023" / "landing" / "FRA.json")
    .read_text()
    .replace('"submitted_at": "2024-02-15T08:00:00Z"', '"submitted_at": "2024-02-20T08:00:00Z"')
    .replace(
        '{"item": "declarations_electronic", "year": 2022, "value": 2000}',
        '{"item": "declarations_electronic", "year": 2022, "value": 1800}',
    )
)


def workspace(root: Path) -> dict[str, str]:
    """The environment of a `pmm run` child over the workspace."""
    return {
        **os.environ,
        "PMM_DATA_DIR": str(root / "data"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "PMM_CYCLES_FILE": str(root / "cycles.yaml"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }


def workspace_settings(root: Path):
    """The settings of an in-process run over the workspace."""
    return replace(settings_for(root / "data"), cycles_file=root / "cycles.yaml")
