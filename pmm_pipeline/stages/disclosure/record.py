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
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from pmm_pipeline.core.errors import ReleaseRecordError
from pmm_pipeline.core.files import write_atomically
from pmm_pipeline.stages.disclosure.facts import AUDITED_TIERS, EarlierRelease, SeriesFacts, split_level_series

RECORD_DIR = "record"
FORMAT = "pmm-disclosure-record"


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def release_record(facts: Sequence[SeriesFacts], tables: Mapping[str, pd.DataFrame], tier: str, cycle: str,
                   reporting_year: int) -> dict:
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
        series.append({
            "kpi_id": f.kpi_id,
            "series": f.series,
            "values": {m: [r.value, r.level, r.disclosure] for m, r in sorted(f.reporters.items())},
            "shown": sorted(shown.get(key, set()) & f.reporters.keys()),
            "sums": [] if f.is_categorical else members,
            "counts": members if f.is_categorical else [],
        })
    return {"format": FORMAT, "format_version": 1, "cycle": cycle, "reporting_year": reporting_year, "tier": tier,
            "series": series}


def write_record(published_dir: Path, tier: str, record: dict) -> Path:
    """Store one release's record (idempotent: the same content is the same file)."""
    data = (json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()
    digest = hashlib.sha256(data).hexdigest()
    path = published_dir / RECORD_DIR / tier / f"{digest}.json"
    if not (path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        write_atomically(path, data)
    return path


def read_history(published_dirs: Iterable[Path], reporting_year: int) -> dict[tuple[str, str], list[EarlierRelease]]:
    """Every earlier release recorded under these cycles' folders for this reporting year, by (KPI, series)."""
    history: dict[tuple[str, str], list[EarlierRelease]] = {}
    for published_dir in published_dirs:
        for tier in AUDITED_TIERS:
            folder = published_dir / RECORD_DIR / tier
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
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


def with_history(facts: Sequence[SeriesFacts], history: Mapping[tuple[str, str], Sequence[EarlierRelease]]
                 ) -> list[SeriesFacts]:
    """The facts with every earlier release of their series attached."""
    from dataclasses import replace

    return [replace(f, history=tuple(history.get((f.kpi_id, f.series), ()))) for f in facts]



