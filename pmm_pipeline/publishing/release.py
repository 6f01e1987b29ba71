"""Writing a tier's release of a cycle: data files, a manifest with hashes and row counts, switched in at once.

The release is built in a hidden folder beside the tier's folder and renamed into place, so
readers never see a half-written release. Before the switch, the built files can be handed to a
check (the disclosure audit): if it finds a problem the release is refused and nothing changes.
Data files hold no timestamps and are sorted, so the same inputs and code give byte-identical
files; time and run id live in `manifest.json` only.
"""

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
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
) -> dict:
    """Write every table as CSV and Parquet plus `manifest.json` into `tier_dir`, replacing it whole.

    `verify` gets the folder of the built release before it is switched in and returns its
    problems; any problem raises ReleaseRefusedError and leaves the release in place untouched.
    """
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
    problems = list(verify(building)) if verify else []
    if problems:
        shutil.rmtree(building)
        raise ReleaseRefusedError(tier_dir, problems)
    _switch_in(building, tier_dir)
    return manifest


# Text columns of the published tables: read back as text, whatever they look like ("2023" stays a string).
TEXT_COLUMNS = (
    "cycle", "member_code", "kpi_id", "series", "status", "disclosure", "flags",
    "group_type", "group_code", "suppression_reason",
)


def read_table_file(path: Path) -> pd.DataFrame:
    """A published CSV or Parquet file as a reader gets it back (formula neutralization undone in CSV)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    frame = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(_undo_neutralization)
    return frame


def _undo_neutralization(value: object) -> object:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def read_release_files(tier_dir: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every data file of a release read back (name -> frame), and whatever about the folder is amiss.

    Amiss: a file not listed in manifest.json or whose bytes differ from the listed SHA-256, a
    listed file that is missing, and any file that is not a CSV or Parquet table (what cannot be
    read cannot be checked, so it must not be published).
    """
    problems: list[str] = []
    manifest_path = tier_dir / "manifest.json"
    try:
        listed = json.loads(manifest_path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return {}, [f"{manifest_path}: no readable manifest ({err})"]
    frames: dict[str, pd.DataFrame] = {}
    present = {p.relative_to(tier_dir).as_posix(): p for p in sorted(tier_dir.rglob("*")) if p.is_file()}
    for name in sorted(set(listed) - set(present)):
        problems.append(f"{tier_dir / name}: listed in manifest.json but missing")
    for name, path in present.items():
        if name == "manifest.json":
            continue
        if name not in listed:
            problems.append(f"{path}: not listed in manifest.json")
        elif sha256_file(path) != listed[name].get("sha256"):
            problems.append(f"{path}: bytes differ from the SHA-256 in manifest.json")
        if path.suffix not in (".csv", ".parquet"):
            problems.append(f"{path}: not a table the disclosure audit can read, so it cannot be published")
            continue
        try:
            frames[name] = read_table_file(path)
        except Exception as err:  # any unreadable file is a problem to report, not a crash
            problems.append(f"{path}: cannot be read back ({type(err).__name__}: {err})")
    return frames, problems


def _switch_in(building: Path, tier_dir: Path) -> None:
    """Replace `tier_dir` by `building`; the old release stays whole until the new one is in place."""
    retired = tier_dir.parent / f".{tier_dir.name}.retired-{building.name.rsplit('-', 1)[-1]}"
    if tier_dir.exists():
        os.replace(tier_dir, retired)
    os.replace(building, tier_dir)
    if retired.exists():
        shutil.rmtree(retired)
