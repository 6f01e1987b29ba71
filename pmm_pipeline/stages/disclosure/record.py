"""The durable record of everything each tier released: what readers of a tier already hold.

A reader keeps every earlier release, so disclosure control and the release guard treat every figure
already released for a cycle (and for the other cycles of the same reporting year) as known. This
record is what they read it from: one file per release of a tier,

    published/<cycle>/record/<tier>/<sha256>.json

holding, per KPI series, every reporting member's value in force at that release (value, level and
disclosure choice), which members' values the tier showed, and the reporting members behind each
mean or pooled ratio (or level counts) the tier showed. It lies outside the tier folders that are
served, because it holds hidden values: it stays on the Secretariat's share with the warehouse.

It is written just before the release is switched in, atomically (temporary name, fsync, rename),
and named by the SHA-256 of its content, so a re-run that releases the same figures writes no new
file, and a file altered on disk is detected (its bytes no longer hash to its name) and stops the
release with an error naming it. A run killed between the record and the switch leaves a record of
a release no reader saw: counted as released all the same, which can only ever withhold more. The
warehouse is not involved: a warehouse rebuilt from the archive finds the same record.

A file removed from the record must not go unseen either (a later release could then reveal what the
removed one hid), so each tier's folder has an append-only `index.jsonl`: one line per record file in
the order written, each line naming the record and the SHA-256 of the line before it. A record listed
but missing, a line removed or altered (the chain breaks) or an index missing beside record files is an
error naming the file. A record file present but not yet listed (a run killed between writing it and
appending its line) is counted and listed by the next release.
"""

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.errors import ReleaseRecordError
from pmm_pipeline.core.files import append_durably, write_atomically
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS, EarlierRelease, SeriesFacts, split_level_series

RECORD_DIR = "record"
INDEX_FILE = "index.jsonl"
FORMAT = "pmm-disclosure-record"


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def release_record(
    facts: Sequence[SeriesFacts], tables: Mapping[str, pd.DataFrame], tier: str, cycle: str, reporting_year: int
) -> dict:
    """The record of one tier's release: its tables' figures as equations over the values in force."""
    values, rollups = tables["kpi_values"], tables["rollups"]
    reported = values[values["status"] == "reported"]
    shown: dict[tuple[str, str], set[str]] = {}
    for kpi_id, series, member in zip(reported["kpi_id"], reported["series"], reported["member_code"], strict=True):
        shown.setdefault((kpi_id, series), set()).add(member)
    by_key = {(f.kpi_id, f.series): f for f in facts}
    categorical = {f.kpi_id for f in facts if f.is_categorical}
    groups: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for row in rollups.to_dict("records"):
        if row["kpi_id"] in categorical:
            key = (row["kpi_id"], split_level_series(str(row["series"]))[0])
            published = _present(row["n_reporting"]) or _present(row["mean"])
        else:
            key = (row["kpi_id"], row["series"])
            published = any(_present(row[s]) for s in ("mean", "pooled"))
        if published:
            groups.setdefault(key, set()).add((row["group_type"], row["group_code"]))
    series = []
    for key, f in sorted(by_key.items()):
        if not f.reporters:
            continue
        members = [list(f.groups[g]) for g in sorted(groups.get(key, set())) if g in f.groups and f.groups[g]]
        series.append(
            {
                "kpi_id": f.kpi_id,
                "series": f.series,
                "values": {m: [r.value, r.level, r.disclosure] for m, r in sorted(f.reporters.items())},
                "shown": sorted(shown.get(key, set()) & f.reporters.keys()),
                "sums": [] if f.is_categorical else members,
                "counts": members if f.is_categorical else [],
            }
        )
    return {
        "format": FORMAT,
        "format_version": 1,
        "cycle": cycle,
        "reporting_year": reporting_year,
        "tier": tier,
        "series": series,
    }


def write_record(published_dir: Path, tier: str, record: dict) -> Path:
    """Store one release's record and list it in the tier's index (idempotent: the same content is the same file)."""
    data = (json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()
    digest = hashlib.sha256(data).hexdigest()
    folder = published_dir / RECORD_DIR / tier
    if not (folder / INDEX_FILE).exists() and not _record_files(folder):
        append_durably(folder / INDEX_FILE, b"")  # the index comes first: a record file never stands without one
    listed = _read_index(folder)
    path = folder / f"{digest}.json"
    if not (path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        write_atomically(path, data)
    for unlisted in sorted(_record_files(folder) - set(listed)):  # this one, and any a killed run left unlisted
        _append_to_index(folder, unlisted, listed)
        listed.append(unlisted)
    return path


def _record_files(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.json")}


def _line_digest(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _append_to_index(folder: Path, digest: str, listed: Sequence[str]) -> None:
    index = folder / INDEX_FILE
    data = index.read_bytes()
    if data and not data.endswith(b"\n"):  # a line torn by a crash mid-append: cut off, its record is re-listed
        os.truncate(index, data.rfind(b"\n") + 1)
    lines = data.splitlines()[: len(listed)]
    previous = _line_digest(lines[-1]) if lines else None
    line = json.dumps({"record": digest, "previous": previous}, sort_keys=True, separators=(",", ":"))
    append_durably(folder / INDEX_FILE, line.encode() + b"\n")


def _read_index(folder: Path) -> list[str]:
    """The record files listed in the tier's index, in order, after checking the chain of its lines."""
    index = folder / INDEX_FILE
    if not index.exists():
        if _record_files(folder):
            raise ReleaseRecordError(
                f"{index}: the index of the earlier releases' records is missing beside {folder}'s record files."
                " Restore it from a backup: without it, a removed record would go unseen."
            )
        return []
    data = index.read_bytes()
    lines = data.splitlines()
    listed: list[str] = []
    previous = None
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            digest, link = entry["record"], entry["previous"]
        except (ValueError, KeyError, TypeError):
            if number == len(lines) and not data.endswith(b"\n"):
                break  # a last line cut short by a crash while it was appended: its record is unlisted
            raise ReleaseRecordError(f"{index}: line {number} is not an entry of the index") from None
        if link != previous:
            raise ReleaseRecordError(
                f"{index}: line {number} does not follow the line before it (a line was removed or altered)."
                " Restore the record from a backup: a later release could reveal what a removed one hid."
            )
        if not (folder / f"{digest}.json").exists():
            raise ReleaseRecordError(
                f"{folder / (digest + '.json')}: the record of an earlier release listed in {index} is missing."
                " Restore it from a backup: without it, a release could reveal what that one hid."
            )
        listed.append(digest)
        previous = _line_digest(line)
    return listed


def read_history(published_dirs: Iterable[Path], reporting_year: int) -> dict[tuple[str, str], list[EarlierRelease]]:
    """Every earlier release recorded under these cycles' folders for this reporting year, by (KPI, series)."""
    history: dict[tuple[str, str], list[EarlierRelease]] = {}
    for published_dir in published_dirs:
        for tier in AUDITED_TIERS:
            folder = published_dir / RECORD_DIR / tier
            if not folder.is_dir():
                continue
            listed = _read_index(folder)
            unlisted = sorted(_record_files(folder) - set(listed))  # left by a killed run: counted all the same
            for path in [folder / f"{digest}.json" for digest in [*listed, *unlisted]]:
                record = _read(path)
                try:
                    if record["reporting_year"] != reporting_year or record["tier"] != tier:
                        continue
                    for entry in record["series"]:
                        history.setdefault((entry["kpi_id"], entry["series"]), []).append(_earlier(entry, tier))
                except (KeyError, TypeError, ValueError) as err:
                    raise ReleaseRecordError(f"{path}: not a readable record of an earlier release ({err!r})") from None
    return history


def _read(path: Path) -> dict:
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != path.stem:
        raise ReleaseRecordError(
            f"{path}: the record of an earlier release no longer hashes to its name (altered on disk)."
            " Restore it from a backup: without it, a release could reveal what an earlier one hid."
        )
    try:
        record = json.loads(data)
        if record.get("format") != FORMAT or not isinstance(record.get("series"), list):
            raise ValueError("not a disclosure record")
        return record
    except (ValueError, AttributeError) as err:
        raise ReleaseRecordError(f"{path}: not a readable record of an earlier release ({err})") from None


def _earlier(entry: dict, tier: str) -> EarlierRelease:
    return EarlierRelease(
        tier=tier,
        values={m: (float(v), level, str(d)) for m, (v, level, d) in entry["values"].items()},
        shown=frozenset(entry["shown"]),
        sums=tuple(tuple(g) for g in entry["sums"]),
        counts=tuple(tuple(g) for g in entry["counts"]),
    )


def with_history(
    facts: Sequence[SeriesFacts], history: Mapping[tuple[str, str], Sequence[EarlierRelease]]
) -> list[SeriesFacts]:
    """The facts with every earlier release of their series attached."""
    from dataclasses import replace

    return [replace(f, history=tuple(history.get((f.kpi_id, f.series), ()))) for f in facts]
