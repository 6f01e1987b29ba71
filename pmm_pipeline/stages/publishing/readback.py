"""Reading a released tier back as its readers get it: every file, checked against the manifest and changes.json."""

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pmm_pipeline.stages.disclosure.cells import EXACT, Precision
from pmm_pipeline.stages.publishing import excel, formats, report, report_read, sdmx_check
from pmm_pipeline.stages.publishing.cells import undo_neutralization
from pmm_pipeline.stages.publishing.diff import KEYS, SUPPRESSION, comparable, diff_table
from pmm_pipeline.stages.publishing.formats import typed_table
from pmm_pipeline.stages.publishing.release import CHANGES_FILE, sha256_file
from pmm_pipeline.stages.publishing.sdmx_structure import STRUCTURE_FILE

# Text columns of the published tables: read back as text, whatever they look like ("2023" stays a string).
TEXT_COLUMNS = (
    "cycle",
    "member_code",
    "kpi_id",
    "series",
    "status",
    "disclosure",
    "flags",
    "group_type",
    "group_code",
    "suppression_reason",
    "catalogue_version",  # of the series tables (series.py): "1.0" is a version, not a number
)


def read_table_file(path: Path) -> pd.DataFrame:
    """A published CSV or Parquet file as a reader gets it back (formula neutralization undone in CSV)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # round_trip: the default parser can miss a double's last bit; the file spells every one exactly.
    frame = pd.read_csv(
        path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""], float_precision="round_trip"
    )
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(undo_neutralization)
    return frame


def table_kind(name: str) -> str:
    """`kpi_values` or `rollups` for a table read back from a release (`rollups.csv`, `tables_fr.xlsx#rollups`, ...)."""
    return name.split("#", 1)[1] if "#" in name else name.split(".", 1)[0]


# pysdmx parses a number column with no empty cell by pandas' default parser, which can miss a double's last
# bit (about one 17-digit value in six): the audit keeps its earlier tolerance for SDMX-CSV files alone.
SDMX_READ_BACK = Precision(rtol=1e-12)


def read_back_precision(names: Sequence[str]) -> Precision:
    """What the numbers of files read back alike are held to: every bit if one of them is an exact format."""
    files = [name.split("#", 1)[0] for name in names]
    workbooks = [f for f in files if f.endswith(".xlsx")]
    sdmx = [f for f in files if f.endswith(".sdmx.csv")]
    if len(workbooks) + len(sdmx) < len(files):
        return EXACT
    return Precision(digits=excel.SIGNIFICANT_DIGITS if workbooks else None, rtol=SDMX_READ_BACK.rtol if sdmx else 0.0)


def read_release_files(tier_dir: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every table of a release read back as readers get it (name -> frame), and whatever about the folder is amiss.

    Names are file names, or `file#table` for a file holding several tables (the workbooks, the
    report). Amiss: a file not listed in manifest.json or whose bytes differ from the listed SHA-256,
    a listed file that is missing, a changes.json that does not match the release's tables, and any
    file the audit cannot read (what cannot be read cannot be checked, so it must not be published).
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
        digest = sha256_file(path)
        if name not in listed:
            problems.append(f"{path}: not listed in manifest.json")
        elif digest != listed[name].get("sha256"):
            problems.append(f"{path}: bytes differ from the SHA-256 in manifest.json")
        if name == CHANGES_FILE:  # not a table: checked against the tables below
            continue
        # An SDMX-CSV file is checked against the structure beside it: what it reads back as depends on both.
        structure = tier_dir / STRUCTURE_FILE
        beside = (sha256_file(structure) if structure.exists() else None,) if name.endswith(".sdmx.csv") else ()
        read, amiss = _read_back(name, path, digest, beside)
        frames |= read
        problems += [f"{path}: {p}" for p in amiss]
    problems += _check_changes(tier_dir, frames)
    return frames, problems


# Tables read back from files, by (file name, SHA-256 of its bytes): a tier's released files are read
# again as the lower tiers of every later tier's audit; the same bytes always read back the same.
_READ_BACK_CACHE: OrderedDict[tuple, tuple[dict[str, pd.DataFrame], list[str]]] = OrderedDict()


_READ_BACK_LOCK = threading.Lock()


READ_BACK_CACHE_SIZE = 64


def _read_back(name: str, path: Path, digest: str, beside: tuple = ()) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The tables of one release file (name -> frame) and what is amiss with it, read once per content (its own,
    and `beside`: the digests of the files it is checked against)."""
    key = (name, digest, *beside)
    with _READ_BACK_LOCK:
        cached = _READ_BACK_CACHE.get(key)
        if cached is not None:
            _READ_BACK_CACHE.move_to_end(key)
    if cached is None:
        cached = _parse_release_file(name, path)
        if sha256_file(path) != digest:  # what was read is not what was hashed (and checked against the manifest)
            return {}, ["changed while being read back, so it cannot be audited"]
        if not cached[1]:  # a failure (perhaps of the machine: no memory, an I/O error) is tried again next time
            with _READ_BACK_LOCK:
                _READ_BACK_CACHE[key] = cached
                while len(_READ_BACK_CACHE) > READ_BACK_CACHE_SIZE:
                    _READ_BACK_CACHE.popitem(last=False)
    frames, amiss = cached
    return {n: f.copy() for n, f in frames.items()}, list(amiss)


def _parse_release_file(name: str, path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    try:
        if name.endswith(".sdmx.csv"):
            _table, frame, amiss = sdmx_check.read_checked(path, path.parent / STRUCTURE_FILE)
            return ({} if frame is None else {name: frame}), amiss
        if name == STRUCTURE_FILE:
            return {}, sdmx_check.structure_problems(path)
        if path.suffix in (".csv", ".parquet"):
            return {name: read_table_file(path)}, []
        if path.suffix == ".json":
            return {name: formats.read_json(path)[1]}, []
        if path.suffix == ".xlsx":
            return {f"{name}#{t}": f for t, f in excel.read_excel(path).items()}, []
        if report.report_language(name) is not None:
            tables, amiss = report_read.read_report(path)
            return {f"{name}#{t}": f for t, f in tables.items()}, amiss
        return {}, ["not a file the disclosure audit can read, so it cannot be published"]
    except Exception as err:  # any unreadable file is a problem to report, not a crash
        return {}, [f"cannot be read back ({type(err).__name__}: {err})"]


def identical_tables(frames: Mapping[str, pd.DataFrame]) -> list[list[str]]:
    """The names of `frames` grouped by table and content: every file of a group gives its readers the same table.

    Auditing one frame of a group audits them all. Frames are compared cell by cell in the contract's
    types, numbers to the last bit; a frame that does not take those types stands alone.
    """

    groups: list[tuple[str, pd.DataFrame | None, list[str]]] = []
    for name, frame in frames.items():
        try:
            typed = typed_table(frame).reset_index(drop=True)
        except (ValueError, TypeError):
            groups.append((table_kind(name), None, [name]))
            continue
        same = next(
            (
                names
                for kind, other, names in groups
                if kind == table_kind(name)
                and other is not None
                and list(other.columns) == list(typed.columns)
                and other.equals(typed)
            ),
            None,
        )
        if same is None:
            groups.append((table_kind(name), typed, [name]))
        else:
            same.append(name)
    return [names for _, _, names in groups]


def _check_changes(tier_dir: Path, frames: dict[str, pd.DataFrame]) -> list[str]:
    """changes.json must say of this release's rows exactly what its tables hold (nothing else slips in)."""

    path = tier_dir / CHANGES_FILE
    if not path.exists():
        return [f"{path}: missing"]
    try:
        tables = json.loads(path.read_text())["tables"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [f"{path}: not readable ({err})"]
    problems = []
    for table in KEYS:
        current = comparable(frames.get(f"{table}.parquet"), table)
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
            # An earlier figure of a column that holds none now (withheld, or gone) is not the tier's to show.
            elif any(row.get(c) is None for c in entry.get("before", {}) if c not in SUPPRESSION):
                problems.append(f"{path}: {table} row {key} quotes an earlier figure the release withholds now")
        for entry in changes.get("removed", []):
            if tuple(entry.get(k) for k in KEYS[table]) in shown:
                problems.append(f"{path}: {table} row removed in changes.json is still in the release")
            if set(entry) - set(KEYS[table]):
                problems.append(f"{path}: {table} row removed in changes.json quotes more than its key")
    return problems
