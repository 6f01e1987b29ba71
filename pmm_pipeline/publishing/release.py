"""Writing a tier's release of a cycle: data files, a manifest with hashes and row counts, switched in at once.

The release is built in a hidden folder beside the tier's folder and renamed into place, so
readers never see a half-written release. Before the switch, the built files can be handed to a
check (the disclosure audit): if it finds a problem the release is refused and nothing changes.
Data files hold no timestamps and are sorted, so the same inputs and code give byte-identical
files; time and run id live in `manifest.json` only.
"""

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CHANGES_FILE = "changes.json"


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
    extras: Callable[[Path, dict[str, pd.DataFrame]], dict[str, int]] | None = None,
) -> dict:
    """Write every table as CSV and Parquet, `extras`' files, `changes.json` and `manifest.json`, replacing `tier_dir` whole.

    `extras` writes further files (other formats, the report) into the folder being built and returns
    their row counts by name. `changes.json` says what changed against the release in place.
    `verify` gets the folder of the built release before it is switched in and returns its
    problems; any problem raises ReleaseRefusedError and leaves the release in place untouched.
    """
    tier_dir.parent.mkdir(parents=True, exist_ok=True)
    # Runs release outside the warehouse's turn, so two may release one tier at once: they take turns
    # here. The kernel drops the lock of a killed process, so whatever the lock holder finds half-built
    # belongs to a dead run.
    with (tier_dir.parent / f".{tier_dir.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recover_release(tier_dir)
        return _write_release(tier_dir, tables, info, verify, extras)


def _write_release(tier_dir, tables, info, verify, extras) -> dict:
    from pmm_pipeline.publishing.diff import diff_release

    building = tier_dir.parent / f".{tier_dir.name}.building-{info.run_id}"
    if building.exists():
        shutil.rmtree(building)
    building.mkdir(parents=True)
    rows: dict[str, int] = {}
    for name, frame in sorted(tables.items()):
        for suffix, writer in ((".csv", write_csv), (".parquet", write_parquet)):
            writer(frame, building / f"{name}{suffix}")
            rows[f"{name}{suffix}"] = len(frame)
    if extras:
        rows |= extras(building, tables)
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
            frame[column] = frame[column].map(undo_neutralization)
    return frame


def undo_neutralization(value: object) -> object:
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def table_kind(name: str) -> str:
    """`kpi_values` or `rollups` for a table read back from a release (`rollups.csv`, `tables_fr.xlsx#rollups`, ...)."""
    return name.split("#", 1)[1] if "#" in name else name.split(".", 1)[0]


def read_release_files(tier_dir: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every table of a release read back as readers get it (name -> frame), and whatever about the folder is amiss.

    Names are file names, or `file#table` for a file holding several tables (the workbooks, the
    report). Amiss: a file not listed in manifest.json or whose bytes differ from the listed SHA-256,
    a listed file that is missing, a changes.json that does not match the release's tables, and any
    file the audit cannot read (what cannot be read cannot be checked, so it must not be published).
    """
    from pmm_pipeline.publishing import formats, report

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
        if name == CHANGES_FILE:  # not a table: checked against the tables below
            continue
        try:
            if name.endswith(".sdmx.csv"):
                frames[name] = formats.read_sdmx_csv(path)[1]
            elif path.suffix in (".csv", ".parquet"):
                frames[name] = read_table_file(path)
            elif path.suffix == ".json":
                frames[name] = formats.read_json(path)[1]
            elif path.suffix == ".xlsx":
                frames |= {f"{name}#{t}": f for t, f in formats.read_excel(path).items()}
            elif name == report.REPORT_FILE:
                tables, amiss = report.read_report(path)
                frames |= {f"{name}#{t}": f for t, f in tables.items()}
                problems += [f"{path}: {p}" for p in amiss]
            else:
                problems.append(f"{path}: not a file the disclosure audit can read, so it cannot be published")
        except Exception as err:  # any unreadable file is a problem to report, not a crash
            problems.append(f"{path}: cannot be read back ({type(err).__name__}: {err})")
    problems += _check_changes(tier_dir, frames)
    return frames, problems


def _check_changes(tier_dir: Path, frames: dict[str, pd.DataFrame]) -> list[str]:
    """changes.json must say of this release's rows exactly what its tables hold (nothing else slips in)."""
    from pmm_pipeline.publishing.diff import KEYS, _comparable, diff_table

    path = tier_dir / CHANGES_FILE
    if not path.exists():
        return [f"{path}: missing"]
    try:
        tables = json.loads(path.read_text())["tables"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"{path}: not readable ({err})"]
    problems = []
    for table in KEYS:
        current = _comparable(frames.get(f"{table}.parquet"), table)
        if current is None:
            continue
        changes = tables.get(table, {})
        # What the file says was added or is now must be what the release holds: re-derive it from the
        # file's "after" sides alone, and compare with the table.
        after = diff_table(None, current, table)["added"]
        shown = {tuple(r[k] for k in KEYS[table]): r for r in after}
        for entry in changes.get("added", []):
            key = tuple(entry.get(k) for k in KEYS[table])
            if shown.get(key) != entry:
                problems.append(f"{path}: {table} row {key} added in changes.json is not as in the release")
        for entry in changes.get("changed", []):
            key = tuple(entry.get(k) for k in KEYS[table])
            row = shown.get(key)
            if row is None or any(row[c] != v for c, v in entry.get("after", {}).items()):
                problems.append(f"{path}: {table} row {key} changed in changes.json is not as in the release")
        for entry in changes.get("removed", []):
            if tuple(entry.get(k) for k in KEYS[table]) in shown:
                problems.append(f"{path}: {table} row removed in changes.json is still in the release")
    return problems


def _previous_release(tier_dir: Path, tables: dict[str, pd.DataFrame]) -> tuple[dict | None, dict | None]:
    """The tables and manifest of the release in place, if there is a readable one."""
    try:
        manifest = json.loads((tier_dir / "manifest.json").read_text())
        return {name: pd.read_parquet(tier_dir / f"{name}.parquet") for name in tables}, manifest
    except (OSError, ValueError, KeyError):
        return None, None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS):  # file system or kernel without the flag
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(a))


def _switch_in(building: Path, tier_dir: Path) -> None:
    """Replace `tier_dir` by `building` in one step: readers and a killed run see the old or the new release.

    Where folders cannot be exchanged atomically, the old release is renamed aside first; a run killed
    between the two renames leaves it there, and recover_release() puts it back before the next release.
    """
    run = building.name.rsplit("-", 1)[-1]
    retired = tier_dir.parent / f".{tier_dir.name}.retired-{run}"
    if tier_dir.exists() and _exchange(building, tier_dir):
        shutil.rmtree(building)  # now holds the old release
        return
    if tier_dir.exists():
        os.replace(tier_dir, retired)
    os.replace(building, tier_dir)
    if retired.exists():
        shutil.rmtree(retired)


def recover_release(tier_dir: Path) -> None:
    """Clean up after a run killed while releasing: put back a release left aside, drop half-built folders.

    Only while holding the tier's release lock (write_release does), so no living run is building.
    """
    parent = tier_dir.parent
    if not parent.exists():
        return
    retired = sorted(parent.glob(f".{tier_dir.name}.retired-*"))
    if retired and not tier_dir.exists():
        os.replace(retired[-1], tier_dir)
        retired = retired[:-1]
    for leftover in [*retired, *parent.glob(f".{tier_dir.name}.building-*")]:
        shutil.rmtree(leftover, ignore_errors=True)
