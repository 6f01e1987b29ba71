"""Writing a tier's release of a cycle: data files, a manifest with hashes and row counts, switched in at once.

The release is built in a hidden folder beside the tier's folder and renamed into place, so
readers never see a half-written release. Before the switch, the built files can be handed to a
check (the disclosure audit): if it finds a problem the release is refused and nothing changes.
Data files hold no timestamps and are sorted, so the same inputs and code give byte-identical
files; time and run id live in `manifest.json` only.
"""

import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.files import building_folder, recover_folder, switch_folder_in
from pmm_pipeline.stages.publishing.cells import neutralize_spreadsheet_text
from pmm_pipeline.stages.publishing.diff import diff_release

CHANGES_FILE = "changes.json"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):  # text in any dtype (object, string, category)
            safe[column] = safe[column].map(neutralize_spreadsheet_text)
    # repr-precision floats: the CSV carries unrounded doubles that read back bit for bit.
    safe.to_csv(path, index=False, lineterminator="\r\n", float_format=None)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ReleaseInfo:
    cycle: str
    tier: str
    run_id: str
    code_version: str
    catalogue_version: str
    catalogue_digest: str
    created_at: str
    # KPI id -> digest of its definition (definitions.py): what later cycles compare with (series.py).
    kpi_definitions: dict[str, str] = field(default_factory=dict)


class ReleaseRefusedError(Exception):
    """The check of a built release found problems: the release was not switched in."""

    def __init__(self, tier_dir: Path, problems: Sequence[str]):
        self.tier_dir, self.problems = tier_dir, list(problems)
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"release of {tier_dir} refused, {len(self.problems)} problem(s):\n{shown}{more}")


def write_release(
    tier_dir: Path,
    tables: dict[str, pd.DataFrame],
    info: ReleaseInfo,
    verify: Callable[[Path], Sequence[str]] | None = None,
    extras: Callable[[Path, dict[str, pd.DataFrame]], dict[str, int]] | None = None,
    before_switch: Callable[[Path], None] | None = None,
) -> dict:
    """Write every table as CSV and Parquet, `extras`' files, `changes.json` and `manifest.json`,
    replacing `tier_dir` whole.

    `extras` writes further files (other formats, the report) into the folder being built and returns
    their row counts by name. `changes.json` says what changed against the release in place.
    `verify` gets the folder of the built release before it is switched in and returns its
    problems; any problem raises ReleaseRefusedError and leaves the release in place untouched.
    `before_switch` runs once the release passed `verify`, just before it is switched in (the record
    of what the release shows is written there: see stages/disclosure/record.py).
    """
    tier_dir.parent.mkdir(parents=True, exist_ok=True)
    # Runs release outside the warehouse's turn, so two may release one tier at once: they take turns
    # here. The kernel drops the lock of a killed process, so whatever the lock holder finds half-built
    # belongs to a dead run.
    with (tier_dir.parent / f".{tier_dir.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recover_folder(tier_dir)
        return _write_release(tier_dir, tables, info, verify, extras, before_switch)


def _write_release(tier_dir, tables, info, verify, extras, before_switch) -> dict:
    building = building_folder(tier_dir, info.run_id)
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    rows: dict[str, int] = {}
    for name, frame in sorted(tables.items()):
        for suffix, writer in ((".csv", write_csv), (".parquet", write_parquet)):
            writer(frame, building / f"{name}{suffix}")
            rows[f"{name}{suffix}"] = len(frame)
    if extras:
        try:
            rows |= extras(building, tables)
        except ValueError as err:  # a table the other formats cannot hold as it is: refused, nothing switched
            shutil.rmtree(building)
            raise ReleaseRefusedError(tier_dir, [str(err)]) from err
    previous_tables, previous_manifest = _previous_release(tier_dir, tables)
    changes = diff_release(previous_tables, tables, previous_manifest)
    (building / CHANGES_FILE).write_text(json.dumps(changes, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    rows[CHANGES_FILE] = sum(len(v) for t in changes["tables"].values() for v in t.values())
    files = {name: {"sha256": sha256_file(building / name), "rows": n} for name, n in sorted(rows.items())}
    manifest = {
        "format": "pmm-release",
        "format_version": 1,
        **info.__dict__,
        "files": files,
    }
    (building / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    problems = list(verify(building)) if verify else []
    if problems:
        shutil.rmtree(building)
        raise ReleaseRefusedError(tier_dir, problems)
    if before_switch is not None:
        try:
            before_switch(building)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    switch_folder_in(building, tier_dir)
    return manifest


def _previous_release(tier_dir: Path, tables: dict[str, pd.DataFrame]) -> tuple[dict | None, dict | None]:
    """The tables and manifest of the release in place, if there is a readable one."""
    try:
        manifest = json.loads((tier_dir / "manifest.json").read_text())
        return {name: pd.read_parquet(tier_dir / f"{name}.parquet") for name in tables}, manifest
    except (OSError, ValueError, KeyError):
        return None, None
