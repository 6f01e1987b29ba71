"""Writing a tier's release of a cycle: data files, a manifest with hashes and row counts, switched in at once.

The release is built in a hidden folder beside the tier's folder and renamed into place, so
readers never see a half-written release. Data files hold no timestamps and are sorted, so the
same inputs and code give byte-identical files; time and run id live in `manifest.json` only.
"""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralize_spreadsheet_text(value: object) -> object:
    """Prefix text that a spreadsheet would execute as a formula; numbers are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object:
            safe[column] = safe[column].map(neutralize_spreadsheet_text)
    # repr-precision floats: the CSV carries unrounded doubles that read back bit for bit.
    safe.to_csv(path, index=False, lineterminator="\n", float_format=None)


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


def write_release(tier_dir: Path, tables: dict[str, pd.DataFrame], info: ReleaseInfo) -> dict:
    """Write every table as CSV and Parquet plus `manifest.json` into `tier_dir`, replacing it whole."""
    building = tier_dir.parent / f".{tier_dir.name}.building-{info.run_id}"
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    files: dict[str, dict] = {}
    for name, frame in sorted(tables.items()):
        for suffix, writer in ((".csv", write_csv), (".parquet", write_parquet)):
            path = building / f"{name}{suffix}"
            writer(frame, path)
            files[path.name] = {"sha256": sha256_file(path), "rows": len(frame)}
    manifest = {
        "format": "pmm-release",
        "format_version": 1,
        **info.__dict__,
        "files": files,
    }
    (building / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _switch_in(building, tier_dir)
    return manifest


def _switch_in(building: Path, tier_dir: Path) -> None:
    """Replace `tier_dir` by `building`; the old release stays whole until the new one is in place."""
    retired = tier_dir.parent / f".{tier_dir.name}.retired-{building.name.rsplit('-', 1)[-1]}"
    if tier_dir.exists():
        os.replace(tier_dir, retired)
    os.replace(building, tier_dir)
    if retired.exists():
        shutil.rmtree(retired)
